package catalog

// Accelerated computing families: g4dn, g5, p3, p4d, f1, inf2.
//
// Source: AWS "Amazon EC2 instance type specifications" (accelerated
// computing page: accelerator, network, EBS and instance-store tables) and
// the product pages for processors and clock speeds. Accelerator names and
// per-device memory are spelled as DescribeInstanceTypes reports them.

var acceleratedFamilies = []*family{
	{
		// Intel Xeon Platinum 8259CL, NVIDIA T4 (16 GiB), local NVMe SSD.
		name: "g4dn", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.5,
		threads: 2, ebsOptimized: Default, dedicatedHosts: true,
		encryptionInTransit: true, disk: "ssd", diskNvme: Required,
		gpu: &GpuDeviceInfo{Name: "T4", Manufacturer: "NVIDIA", MemoryInfo: MemoryInfo{SizeInMiB: 16384}},
		sizes: []size{
			{"xlarge", 4, gib(16), "Up to 25 Gigabit", 3, 10, 950, 3500, 3000, 20000, 1, 125, 1, false, nil},
			{"2xlarge", 8, gib(32), "Up to 25 Gigabit", 3, 10, 1150, 3500, 6000, 20000, 1, 225, 1, false, nil},
			{"4xlarge", 16, gib(64), "Up to 25 Gigabit", 3, 10, 4750, 0, 20000, 0, 1, 225, 1, false, nil},
			{"8xlarge", 32, gib(128), "50 Gigabit", 4, 15, 9500, 0, 40000, 0, 1, 900, 1, true, nil},
			{"12xlarge", 48, gib(192), "50 Gigabit", 8, 30, 9500, 0, 40000, 0, 1, 900, 4, true, nil},
			{"16xlarge", 64, gib(256), "50 Gigabit", 4, 15, 9500, 0, 40000, 0, 1, 900, 1, true, nil},
			{"metal", 96, gib(384), "100 Gigabit", 15, 50, 19000, 0, 80000, 0, 2, 900, 8, true, nil},
		},
	},
	{
		// AMD EPYC 7R32, NVIDIA A10G (24 GiB), local NVMe SSD.
		name: "g5", manufacturer: "AMD", arch: []string{"x86_64"}, clock: 3.3,
		threads: 2, ebsOptimized: Default, dedicatedHosts: true, flexibleCores: true,
		encryptionInTransit: true, disk: "ssd", diskNvme: Required,
		gpu: &GpuDeviceInfo{Name: "A10G", Manufacturer: "NVIDIA", MemoryInfo: MemoryInfo{SizeInMiB: 24576}},
		sizes: []size{
			{"xlarge", 4, gib(16), "Up to 10 Gigabit", 4, 15, 700, 3500, 3000, 15000, 1, 250, 1, false, nil},
			{"2xlarge", 8, gib(32), "Up to 10 Gigabit", 4, 15, 850, 3500, 3500, 15000, 1, 450, 1, false, nil},
			{"4xlarge", 16, gib(64), "Up to 25 Gigabit", 8, 30, 4750, 0, 20000, 0, 1, 600, 1, false, nil},
			{"8xlarge", 32, gib(128), "25 Gigabit", 8, 30, 16000, 0, 65000, 0, 1, 900, 1, true, nil},
			{"12xlarge", 48, gib(192), "40 Gigabit", 15, 50, 16000, 0, 65000, 0, 1, 3800, 4, true, nil},
			{"16xlarge", 64, gib(256), "25 Gigabit", 8, 30, 16000, 0, 65000, 0, 1, 1900, 1, true, nil},
			{"24xlarge", 96, gib(384), "50 Gigabit", 15, 50, 19000, 0, 80000, 0, 1, 3800, 4, true, nil},
			{"48xlarge", 192, gib(768), "100 Gigabit", 7, 50, 19000, 0, 80000, 0, 2, 3800, 8, true, nil},
		},
	},
	{
		// Intel Xeon E5-2686 v4 on Xen with ENA, NVIDIA V100 (16 GiB).
		// Memory is 61 GiB per GPU.
		name: "p3", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.7,
		xen: true, threads: 2, enaXen: Supported, ebsOptimized: Default, dedicatedHosts: true,
		gpu: &GpuDeviceInfo{Name: "V100", Manufacturer: "NVIDIA", MemoryInfo: MemoryInfo{SizeInMiB: 16384}},
		sizes: []size{
			{"2xlarge", 8, 62464, "Up to 10 Gigabit", 4, 15, 1750, 0, 10000, 0, 0, 0, 1, false, nil},
			{"8xlarge", 32, 249856, "10 Gigabit", 8, 30, 7000, 0, 40000, 0, 0, 0, 4, false, nil},
			{"16xlarge", 64, 499712, "25 Gigabit", 8, 30, 14000, 0, 80000, 0, 0, 0, 8, false, nil},
		},
	},
	{
		// Intel Xeon Platinum 8275CL, 8 NVIDIA A100 (40 GiB), four 100
		// Gigabit network cards with 15 interfaces each and EFA on every
		// card, 8 × 1000 GB NVMe SSD.
		name: "p4d", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.0,
		threads: 2, ebsOptimized: Default, encryptionInTransit: true,
		disk: "ssd", diskNvme: Required,
		gpu: &GpuDeviceInfo{Name: "A100", Manufacturer: "NVIDIA", MemoryInfo: MemoryInfo{SizeInMiB: 40960}},
		sizes: []size{
			{"24xlarge", 96, gib(1152), "4x 100 Gigabit", 60, 50, 19000, 0, 80000, 0, 8, 1000, 8, true, &sizeExtra{cards: 4, efaIfs: 4}},
		},
	},
	{
		// Intel Xeon E5-2686 v4 on Xen with ENA, Xilinx Virtex UltraScale+
		// VU9P FPGAs with 64 GiB each, local NVMe SSD.
		name: "f1", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.3,
		xen: true, threads: 2, enaXen: Supported, ebsOptimized: Default,
		instanceStoreAMIs: true, dedicatedHosts: true, disk: "ssd", diskNvme: Required,
		fpga: &FpgaDeviceInfo{Name: "Virtex UltraScale (VU9P)", Manufacturer: "Xilinx", MemoryInfo: MemoryInfo{SizeInMiB: 65536}},
		sizes: []size{
			{"2xlarge", 8, 124928, "Up to 10 Gigabit", 4, 15, 1700, 0, 12000, 0, 1, 470, 1, false, nil},
			{"4xlarge", 16, 249856, "Up to 10 Gigabit", 8, 30, 3500, 0, 44000, 0, 1, 940, 2, false, nil},
			{"16xlarge", 64, 999424, "25 Gigabit", 8, 50, 14000, 0, 75000, 0, 4, 940, 8, false, nil},
		},
	},
	{
		// AMD EPYC 7R13, AWS Inferentia2: 2 NeuronCore-v2 and 32 GiB of
		// memory per device.
		name: "inf2", manufacturer: "AMD", arch: []string{"x86_64"}, clock: 3.6,
		threads: 2, ebsOptimized: Default, flexibleCores: true, encryptionInTransit: true,
		neuron: &NeuronDeviceInfo{Name: "Inferentia2", CoreInfo: NeuronDeviceCoreInfo{Count: 2, Version: 2}, MemoryInfo: MemoryInfo{SizeInMiB: 32768}},
		sizes: []size{
			{"xlarge", 4, gib(16), "Up to 15 Gigabit", 4, 15, 1250, 10000, 6000, 40000, 0, 0, 1, false, nil},
			{"8xlarge", 32, gib(128), "Up to 25 Gigabit", 8, 30, 5000, 10000, 20000, 40000, 0, 0, 1, false, nil},
			{"24xlarge", 96, gib(384), "50 Gigabit", 15, 50, 30000, 0, 120000, 0, 0, 0, 6, false, nil},
			{"48xlarge", 192, gib(768), "100 Gigabit", 15, 50, 60000, 0, 240000, 0, 0, 0, 12, false, nil},
		},
	},
}
