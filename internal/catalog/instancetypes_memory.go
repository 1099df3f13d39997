package catalog

// Memory optimised families: r5, r6i, x2idn, z1d.
//
// Source: AWS "Amazon EC2 instance type specifications" (memory optimized
// page: network, EBS and instance-store tables) and the product pages for
// processors and clock speeds. r5 shares its network/EBS table with m5 and
// r6i with m6i (see instancetypes_general.go).

var memoryFamilies = []*family{
	{
		name: "r5", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.1,
		threads: 2, ebsOptimized: Default, hibernation: true, dedicatedHosts: true,
		enclaves: true, sizes: gen5Sizes(8),
	},
	{
		name: "r6i", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.5,
		threads: 2, ebsOptimized: Default, hibernation: true, dedicatedHosts: true,
		enclaves: true, flexibleCores: true, encryptionInTransit: true,
		sizes: gen6iSizes(8),
	},
	{
		// Intel Ice Lake, 16 GiB per vCPU, local NVMe SSD.
		name: "x2idn", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.5,
		threads: 2, ebsOptimized: Default, dedicatedHosts: true, enclaves: true,
		flexibleCores: true, encryptionInTransit: true, disk: "ssd", diskNvme: Required,
		sizes: []size{
			{"16xlarge", 64, gib(1024), "50 Gigabit", 15, 50, 40000, 0, 173333, 0, 1, 1900, 0, false, nil},
			{"24xlarge", 96, gib(1536), "75 Gigabit", 15, 50, 60000, 0, 260000, 0, 2, 1425, 0, false, nil},
			{"32xlarge", 128, gib(2048), "100 Gigabit", 15, 50, 80000, 0, 260000, 0, 2, 1900, 0, true, nil},
			{"metal", 128, gib(2048), "100 Gigabit", 15, 50, 80000, 0, 260000, 0, 2, 1900, 0, true, nil},
		},
	},
	{
		// Intel Xeon Platinum 8151 with a 4.0 GHz sustained all-core
		// frequency, 8 GiB per vCPU, local NVMe SSD.
		name: "z1d", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 4.0,
		threads: 2, ebsOptimized: Default, dedicatedHosts: true, enclaves: true,
		disk: "ssd", diskNvme: Required,
		sizes: []size{
			{"large", 2, gib(16), "Up to 10 Gigabit", 3, 10, 800, 3170, 3333, 13333, 1, 75, 0, false, nil},
			{"xlarge", 4, gib(32), "Up to 10 Gigabit", 4, 15, 1580, 3170, 6667, 13333, 1, 150, 0, false, nil},
			{"2xlarge", 8, gib(64), "Up to 10 Gigabit", 4, 15, 3170, 0, 13333, 0, 1, 300, 0, false, nil},
			{"3xlarge", 12, gib(96), "Up to 10 Gigabit", 8, 30, 4750, 0, 20000, 0, 1, 450, 0, false, nil},
			{"6xlarge", 24, gib(192), "10 Gigabit", 8, 30, 9500, 0, 40000, 0, 1, 900, 0, false, nil},
			{"12xlarge", 48, gib(384), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 2, 900, 0, false, nil},
			{"metal", 48, gib(384), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 2, 900, 0, false, nil},
		},
	},
}
