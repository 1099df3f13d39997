package catalog

// Storage optimised families: i3, i4i, h1, d3.
//
// Source: AWS "Amazon EC2 instance type specifications" (storage optimized
// page: network, EBS and instance-store tables) and the product pages for
// processors and clock speeds.

var storageFamilies = []*family{
	{
		// Intel Xeon E5-2686 v4 (Broadwell). Virtualised sizes run on Xen
		// with ENA; i3.metal is a Nitro bare-metal host with 72 vCPUs and
		// 512 GiB. Memory of the Xen sizes is 15.25 GiB per 2 vCPUs. EBS
		// bandwidth does not burst (baseline = maximum).
		name: "i3", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.3,
		xen: true, threads: 2, enaXen: Supported, ebsOptimized: Default,
		instanceStoreAMIs: true, hibernation: true, dedicatedHosts: true,
		disk: "ssd", diskNvme: Required,
		sizes: []size{
			{"large", 2, 15616, "Up to 10 Gigabit", 3, 10, 425, 0, 3000, 0, 1, 475, 0, false, nil},
			{"xlarge", 4, 31232, "Up to 10 Gigabit", 4, 15, 850, 0, 6000, 0, 1, 950, 0, false, nil},
			{"2xlarge", 8, 62464, "Up to 10 Gigabit", 4, 15, 1700, 0, 12000, 0, 1, 1900, 0, false, nil},
			{"4xlarge", 16, 124928, "Up to 10 Gigabit", 8, 30, 3500, 0, 16000, 0, 2, 1900, 0, false, nil},
			{"8xlarge", 32, 249856, "10 Gigabit", 8, 30, 7000, 0, 32500, 0, 4, 1900, 0, false, nil},
			{"16xlarge", 64, 499712, "25 Gigabit", 15, 50, 14000, 0, 65000, 0, 8, 1900, 0, false, nil},
			{"metal", 72, gib(512), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 8, 1900, 0, false, nil},
		},
	},
	{
		// Intel Xeon Ice Lake, Nitro SSDs.
		name: "i4i", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.5,
		threads: 2, ebsOptimized: Default, dedicatedHosts: true, enclaves: true,
		flexibleCores: true, encryptionInTransit: true, disk: "ssd", diskNvme: Required,
		sizes: []size{
			{"large", 2, gib(16), "Up to 10 Gigabit", 3, 10, 625, 10000, 2500, 40000, 1, 468, 0, false, nil},
			{"xlarge", 4, gib(32), "Up to 10 Gigabit", 4, 15, 1250, 10000, 5000, 40000, 1, 937, 0, false, nil},
			{"2xlarge", 8, gib(64), "Up to 12 Gigabit", 4, 15, 2500, 10000, 10000, 40000, 1, 1875, 0, false, nil},
			{"4xlarge", 16, gib(128), "Up to 25 Gigabit", 8, 30, 5000, 10000, 20000, 40000, 1, 3750, 0, false, nil},
			{"8xlarge", 32, gib(256), "18.75 Gigabit", 8, 30, 10000, 0, 40000, 0, 2, 3750, 0, false, nil},
			{"12xlarge", 48, gib(384), "28.12 Gigabit", 8, 30, 15000, 0, 60000, 0, 3, 3750, 0, false, nil},
			{"16xlarge", 64, gib(512), "37.5 Gigabit", 15, 50, 20000, 0, 80000, 0, 4, 3750, 0, false, nil},
			{"24xlarge", 96, gib(768), "56.25 Gigabit", 15, 50, 30000, 0, 120000, 0, 6, 3750, 0, false, nil},
			{"32xlarge", 128, gib(1024), "75 Gigabit", 15, 50, 40000, 0, 160000, 0, 8, 3750, 0, true, nil},
			{"metal", 128, gib(1024), "75 Gigabit", 15, 50, 40000, 0, 160000, 0, 8, 3750, 0, true, nil},
		},
	},
	{
		// Intel Xeon E5-2686 v4 on Xen with ENA; 2 TB hard disks.
		name: "h1", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.3,
		xen: true, threads: 2, enaXen: Supported, ebsOptimized: Default,
		instanceStoreAMIs: true, dedicatedHosts: true, disk: "hdd", diskNvme: Unsupported,
		sizes: []size{
			{"2xlarge", 8, gib(32), "Up to 10 Gigabit", 4, 15, 1750, 0, 12000, 0, 1, 2000, 0, false, nil},
			{"4xlarge", 16, gib(64), "Up to 10 Gigabit", 8, 30, 3500, 0, 20000, 0, 2, 2000, 0, false, nil},
			{"8xlarge", 32, gib(128), "10 Gigabit", 8, 30, 7000, 0, 40000, 0, 4, 2000, 0, false, nil},
			{"16xlarge", 64, gib(256), "25 Gigabit", 15, 50, 14000, 0, 80000, 0, 8, 2000, 0, false, nil},
		},
	},
	{
		// Intel Xeon Platinum 8259CL (Cascade Lake), 2 TB hard disks behind
		// Nitro (exposed as NVMe). D3 has unusually low interface and
		// address limits (e.g. 4 interfaces × 3 addresses on d3.xlarge).
		name: "d3", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.1,
		threads: 2, ebsOptimized: Default, dedicatedHosts: true, enclaves: true,
		encryptionInTransit: true, disk: "hdd", diskNvme: Required,
		sizes: []size{
			{"xlarge", 4, gib(32), "Up to 15 Gigabit", 4, 3, 850, 2800, 5000, 15000, 3, 2000, 0, false, nil},
			{"2xlarge", 8, gib(64), "Up to 15 Gigabit", 4, 5, 1700, 2800, 10000, 15000, 6, 2000, 0, false, nil},
			{"4xlarge", 16, gib(128), "Up to 15 Gigabit", 4, 10, 2800, 0, 15000, 0, 12, 2000, 0, false, nil},
			{"8xlarge", 32, gib(256), "25 Gigabit", 3, 20, 5000, 0, 30000, 0, 24, 2000, 0, false, nil},
		},
	},
}
