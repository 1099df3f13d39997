package catalog

// General purpose and compute optimised families: m5, m6i, m7g, c5, c6i,
// c7g.
//
// Source: AWS "Amazon EC2 instance type specifications" (general purpose
// and compute optimized pages: network, EBS and instance-store tables) and
// the product pages for processors and clock speeds. Sibling families that
// share one generation of hardware (m5/r5, m6i/c6i/r6i, m7g/c7g) have the
// same network and EBS figures per size; only the memory per vCPU differs,
// so they share the size tables below.

// gen5Sizes is the size table of m5 and r5 (Intel Skylake/Cascade Lake,
// Nitro): memory in GiB per vCPU is memPerVCPU.
func gen5Sizes(memPerVCPU int64) []size {
	m := func(vcpus int) int64 { return gib(int64(vcpus) * memPerVCPU) }
	return []size{
		{"large", 2, m(2), "Up to 10 Gigabit", 3, 10, 650, 4750, 3600, 18750, 0, 0, 0, false, nil},
		{"xlarge", 4, m(4), "Up to 10 Gigabit", 4, 15, 1150, 4750, 6000, 18750, 0, 0, 0, false, nil},
		{"2xlarge", 8, m(8), "Up to 10 Gigabit", 4, 15, 2300, 4750, 12000, 18750, 0, 0, 0, false, nil},
		{"4xlarge", 16, m(16), "Up to 10 Gigabit", 8, 30, 4750, 0, 18750, 0, 0, 0, 0, false, nil},
		{"8xlarge", 32, m(32), "10 Gigabit", 8, 30, 6800, 0, 30000, 0, 0, 0, 0, false, nil},
		{"12xlarge", 48, m(48), "12 Gigabit", 8, 30, 9500, 0, 40000, 0, 0, 0, 0, false, nil},
		{"16xlarge", 64, m(64), "20 Gigabit", 15, 50, 13600, 0, 60000, 0, 0, 0, 0, false, nil},
		{"24xlarge", 96, m(96), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 0, 0, 0, false, nil},
		{"metal", 96, m(96), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 0, 0, 0, false, nil},
	}
}

// gen6iSizes is the size table of m6i, c6i and r6i (Intel Ice Lake,
// Nitro v4). The 32xlarge and metal sizes support EFA.
func gen6iSizes(memPerVCPU int64) []size {
	m := func(vcpus int) int64 { return gib(int64(vcpus) * memPerVCPU) }
	return []size{
		{"large", 2, m(2), "Up to 12.5 Gigabit", 3, 10, 650, 10000, 3600, 40000, 0, 0, 0, false, nil},
		{"xlarge", 4, m(4), "Up to 12.5 Gigabit", 4, 15, 1250, 10000, 6000, 40000, 0, 0, 0, false, nil},
		{"2xlarge", 8, m(8), "Up to 12.5 Gigabit", 4, 15, 2500, 10000, 12000, 40000, 0, 0, 0, false, nil},
		{"4xlarge", 16, m(16), "Up to 12.5 Gigabit", 8, 30, 5000, 10000, 20000, 40000, 0, 0, 0, false, nil},
		{"8xlarge", 32, m(32), "12.5 Gigabit", 8, 30, 10000, 0, 40000, 0, 0, 0, 0, false, nil},
		{"12xlarge", 48, m(48), "18.75 Gigabit", 8, 30, 15000, 0, 60000, 0, 0, 0, 0, false, nil},
		{"16xlarge", 64, m(64), "25 Gigabit", 15, 50, 20000, 0, 80000, 0, 0, 0, 0, false, nil},
		{"24xlarge", 96, m(96), "37.5 Gigabit", 15, 50, 30000, 0, 120000, 0, 0, 0, 0, false, nil},
		{"32xlarge", 128, m(128), "50 Gigabit", 15, 50, 40000, 0, 160000, 0, 0, 0, 0, true, nil},
		{"metal", 128, m(128), "50 Gigabit", 15, 50, 40000, 0, 160000, 0, 0, 0, 0, true, nil},
	}
}

// graviton3Sizes is the size table of m7g and c7g (AWS Graviton3, Nitro
// v5). The 16xlarge and metal sizes support EFA.
func graviton3Sizes(memPerVCPU int64) []size {
	m := func(vcpus int) int64 { return gib(int64(vcpus) * memPerVCPU) }
	return []size{
		{"medium", 1, m(1), "Up to 12.5 Gigabit", 2, 4, 315, 10000, 2500, 40000, 0, 0, 0, false, nil},
		{"large", 2, m(2), "Up to 12.5 Gigabit", 3, 10, 630, 10000, 3600, 40000, 0, 0, 0, false, nil},
		{"xlarge", 4, m(4), "Up to 12.5 Gigabit", 4, 15, 1250, 10000, 6000, 40000, 0, 0, 0, false, nil},
		{"2xlarge", 8, m(8), "Up to 15 Gigabit", 4, 15, 2500, 10000, 12000, 40000, 0, 0, 0, false, nil},
		{"4xlarge", 16, m(16), "Up to 15 Gigabit", 8, 30, 5000, 10000, 20000, 40000, 0, 0, 0, false, nil},
		{"8xlarge", 32, m(32), "15 Gigabit", 8, 30, 10000, 0, 40000, 0, 0, 0, 0, false, nil},
		{"12xlarge", 48, m(48), "22.5 Gigabit", 8, 30, 15000, 0, 60000, 0, 0, 0, 0, false, nil},
		{"16xlarge", 64, m(64), "30 Gigabit", 15, 50, 20000, 0, 80000, 0, 0, 0, 0, true, nil},
		{"metal", 64, m(64), "30 Gigabit", 15, 50, 20000, 0, 80000, 0, 0, 0, 0, true, nil},
	}
}

// c5Sizes is the size table of c5. The 12xlarge, 24xlarge and metal sizes
// use 2nd-generation Xeon (Cascade Lake) with a 3.6 GHz sustained all-core
// turbo; the others run at 3.4 GHz.
func c5Sizes() []size {
	cl := &sizeExtra{clock: 3.6}
	return []size{
		{"large", 2, gib(4), "Up to 10 Gigabit", 3, 10, 650, 4750, 4000, 20000, 0, 0, 0, false, nil},
		{"xlarge", 4, gib(8), "Up to 10 Gigabit", 4, 15, 1150, 4750, 6000, 20000, 0, 0, 0, false, nil},
		{"2xlarge", 8, gib(16), "Up to 10 Gigabit", 4, 15, 2300, 4750, 10000, 20000, 0, 0, 0, false, nil},
		{"4xlarge", 16, gib(32), "Up to 10 Gigabit", 8, 30, 4750, 0, 20000, 0, 0, 0, 0, false, nil},
		{"9xlarge", 36, gib(72), "12 Gigabit", 8, 30, 9500, 0, 40000, 0, 0, 0, 0, false, nil},
		{"12xlarge", 48, gib(96), "12 Gigabit", 8, 30, 9500, 0, 40000, 0, 0, 0, 0, false, cl},
		{"18xlarge", 72, gib(144), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 0, 0, 0, false, nil},
		{"24xlarge", 96, gib(192), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 0, 0, 0, false, cl},
		{"metal", 96, gib(192), "25 Gigabit", 15, 50, 19000, 0, 80000, 0, 0, 0, 0, false, cl},
	}
}

var generalComputeFamilies = []*family{
	{
		name: "m5", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.1,
		threads: 2, ebsOptimized: Default, hibernation: true, dedicatedHosts: true,
		enclaves: true, sizes: gen5Sizes(4),
	},
	{
		name: "m6i", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.5,
		threads: 2, ebsOptimized: Default, hibernation: true, dedicatedHosts: true,
		enclaves: true, flexibleCores: true, encryptionInTransit: true,
		sizes: gen6iSizes(4),
	},
	{
		name: "m7g", manufacturer: "AWS", arch: []string{"arm64"}, clock: 2.6,
		threads: 1, ebsOptimized: Default, dedicatedHosts: true,
		enclaves: true, flexibleCores: true, encryptionInTransit: true,
		sizes: graviton3Sizes(4),
	},
	{
		name: "c5", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.4,
		threads: 2, ebsOptimized: Default, hibernation: true, dedicatedHosts: true,
		enclaves: true, sizes: c5Sizes(),
	},
	{
		name: "c6i", manufacturer: "Intel", arch: []string{"x86_64"}, clock: 3.5,
		threads: 2, ebsOptimized: Default, hibernation: true, dedicatedHosts: true,
		enclaves: true, flexibleCores: true, encryptionInTransit: true,
		sizes: gen6iSizes(2),
	},
	{
		name: "c7g", manufacturer: "AWS", arch: []string{"arm64"}, clock: 2.6,
		threads: 1, ebsOptimized: Default, dedicatedHosts: true,
		enclaves: true, flexibleCores: true, encryptionInTransit: true,
		sizes: graviton3Sizes(2),
	},
}
