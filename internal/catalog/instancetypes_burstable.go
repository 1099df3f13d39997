package catalog

// Burstable performance families: t2, t3, t3a, t4g.
//
// Sources: AWS "Amazon EC2 instance type specifications" (general purpose)
// for vCPU, memory, network and EBS figures; AWS "Key concepts and
// definitions for burstable performance instances" for CPU credits earned
// per hour (the baseline percentage follows from it) and for the maximum
// earned credits, which is 24 hours of earnings.

// burst marks a size's CPU credits earned per hour.
func burst(credits float64) *sizeExtra { return &sizeExtra{credits: credits} }

var burstableFamilies = []*family{
	{
		name: "t2", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.5,
		xen: true, threads: 1, burstable: true, enaXen: Unsupported,
		ebsOptimized: Unsupported, hibernation: true,
		// Sizes up to medium also run 32-bit (i386) AMIs. DescribeInstanceTypes
		// reports 2.5 GHz for nano–small and 2.3 GHz from medium up.
		sizes: []size{
			{"nano", 1, 512, "Low to Moderate", 2, 2, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 3, arch: []string{"i386", "x86_64"}}},
			{"micro", 1, 1024, "Low to Moderate", 2, 2, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 6, arch: []string{"i386", "x86_64"}, freeTier: true}},
			{"small", 1, 2048, "Low to Moderate", 3, 4, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 12, arch: []string{"i386", "x86_64"}}},
			{"medium", 2, 4096, "Low to Moderate", 3, 6, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 24, arch: []string{"i386", "x86_64"}, clock: 2.3}},
			{"large", 2, 8192, "Low to Moderate", 3, 12, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 36, clock: 2.3}},
			{"xlarge", 4, 16384, "Moderate", 3, 15, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 54, clock: 2.3}},
			{"2xlarge", 8, 32768, "Moderate", 3, 15, 0, 0, 0, 0, 0, 0, 0, false, &sizeExtra{credits: 81, clock: 2.3}},
		},
	},
	{
		name: "t3", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 2.5,
		threads: 2, burstable: true, ebsOptimized: Default, hibernation: true,
		// T3 is the only burstable family available on Dedicated Hosts.
		dedicatedHosts: true,
		sizes: []size{
			{"nano", 2, 512, "Up to 5 Gigabit", 2, 2, 43, 2085, 250, 11800, 0, 0, 0, false, burst(6)},
			{"micro", 2, 1024, "Up to 5 Gigabit", 2, 2, 87, 2085, 500, 11800, 0, 0, 0, false, &sizeExtra{credits: 12, freeTier: true}},
			{"small", 2, 2048, "Up to 5 Gigabit", 3, 4, 174, 2085, 1000, 11800, 0, 0, 0, false, burst(24)},
			{"medium", 2, 4096, "Up to 5 Gigabit", 3, 6, 347, 2085, 2000, 11800, 0, 0, 0, false, burst(24)},
			{"large", 2, 8192, "Up to 5 Gigabit", 3, 12, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(36)},
			{"xlarge", 4, 16384, "Up to 5 Gigabit", 4, 15, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(96)},
			{"2xlarge", 8, 32768, "Up to 5 Gigabit", 4, 15, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(192)},
		},
	},
	{
		name: "t3a", manufacturer: "AMD", arch: []string{"x86_64"}, clock: 2.2,
		threads: 2, burstable: true, ebsOptimized: Default, hibernation: true,
		// t3a.small has two interfaces where t3.small has three.
		sizes: []size{
			{"nano", 2, 512, "Up to 5 Gigabit", 2, 2, 45, 2085, 250, 11800, 0, 0, 0, false, burst(6)},
			{"micro", 2, 1024, "Up to 5 Gigabit", 2, 2, 90, 2085, 500, 11800, 0, 0, 0, false, burst(12)},
			{"small", 2, 2048, "Up to 5 Gigabit", 2, 4, 175, 2085, 1000, 11800, 0, 0, 0, false, burst(24)},
			{"medium", 2, 4096, "Up to 5 Gigabit", 3, 6, 350, 2085, 2000, 11800, 0, 0, 0, false, burst(24)},
			{"large", 2, 8192, "Up to 5 Gigabit", 3, 12, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(36)},
			{"xlarge", 4, 16384, "Up to 5 Gigabit", 4, 15, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(96)},
			{"2xlarge", 8, 32768, "Up to 5 Gigabit", 4, 15, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(192)},
		},
	},
	{
		name: "t4g", manufacturer: "AWS", arch: []string{"arm64"}, clock: 2.5,
		threads: 1, burstable: true, ebsOptimized: Default, flexibleCores: true,
		// Graviton2: one thread per core, UEFI boot only.
		sizes: []size{
			{"nano", 2, 512, "Up to 5 Gigabit", 2, 2, 43, 2085, 250, 11800, 0, 0, 0, false, burst(6)},
			{"micro", 2, 1024, "Up to 5 Gigabit", 2, 2, 87, 2085, 500, 11800, 0, 0, 0, false, burst(12)},
			{"small", 2, 2048, "Up to 5 Gigabit", 3, 4, 174, 2085, 1000, 11800, 0, 0, 0, false, burst(24)},
			{"medium", 2, 4096, "Up to 5 Gigabit", 3, 6, 347, 2085, 2000, 11800, 0, 0, 0, false, burst(24)},
			{"large", 2, 8192, "Up to 5 Gigabit", 3, 12, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(36)},
			{"xlarge", 4, 16384, "Up to 5 Gigabit", 4, 15, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(96)},
			{"2xlarge", 8, 32768, "Up to 5 Gigabit", 4, 15, 695, 2780, 4000, 15700, 0, 0, 0, false, burst(192)},
		},
	},
}
