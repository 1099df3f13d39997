package catalog

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestRegionsList(t *testing.T) {
	rs := Regions()
	if len(rs) != 34 {
		t.Fatalf("got %d regions, want 34", len(rs))
	}
	if !sort.SliceIsSorted(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name }) {
		t.Error("Regions() is not sorted by name")
	}
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "us-gov-") || strings.HasPrefix(r.Name, "cn-") {
			t.Errorf("non-commercial region %s listed", r.Name)
		}
		if r.Endpoint != "ec2."+r.Name+".amazonaws.com" {
			t.Errorf("%s: endpoint %q", r.Name, r.Endpoint)
		}
		if r.OptInStatus != OptInNotRequired && r.OptInStatus != OptedIn {
			t.Errorf("%s: opt-in status %q", r.Name, r.OptInStatus)
		}
		min := 3
		if r.Name == "us-west-1" {
			min = 2
		}
		if len(r.Zones) < min {
			t.Errorf("%s: %d zones, want at least %d", r.Name, len(r.Zones), min)
		}
	}
}

func TestRegionFacts(t *testing.T) {
	tests := []struct {
		name  string
		optIn string
		zones []string
	}{
		{"us-east-1", OptInNotRequired, []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"}},
		{"us-east-2", OptInNotRequired, []string{"us-east-2a", "us-east-2b", "us-east-2c"}},
		{"us-west-1", OptInNotRequired, []string{"us-west-1b", "us-west-1c"}},
		{"us-west-2", OptInNotRequired, []string{"us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"}},
		{"ap-northeast-1", OptInNotRequired, []string{"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}},
		{"ap-northeast-2", OptInNotRequired, []string{"ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"}},
		{"ca-central-1", OptInNotRequired, []string{"ca-central-1a", "ca-central-1b", "ca-central-1d"}},
		{"eu-west-1", OptInNotRequired, []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
		{"sa-east-1", OptInNotRequired, []string{"sa-east-1a", "sa-east-1b", "sa-east-1c"}},
		{"af-south-1", OptedIn, []string{"af-south-1a", "af-south-1b", "af-south-1c"}},
		{"ap-east-1", OptedIn, nil},
		{"me-south-1", OptedIn, nil},
		{"eu-south-1", OptedIn, nil},
		{"ap-south-2", OptedIn, nil},
		{"il-central-1", OptedIn, nil},
		{"mx-central-1", OptedIn, nil},
		{"ap-southeast-7", OptedIn, nil},
		{"ap-northeast-3", OptInNotRequired, nil},
	}
	for _, tc := range tests {
		r, ok := LookupRegion(tc.name)
		if !ok {
			t.Errorf("LookupRegion(%q) not found", tc.name)
			continue
		}
		if r.OptInStatus != tc.optIn {
			t.Errorf("%s: OptInStatus %q, want %q", tc.name, r.OptInStatus, tc.optIn)
		}
		if tc.zones == nil {
			continue
		}
		var got []string
		for _, z := range r.Zones {
			got = append(got, z.ZoneName)
		}
		if !slices.Equal(got, tc.zones) {
			t.Errorf("%s: zones %v, want %v", tc.name, got, tc.zones)
		}
	}
	if _, ok := LookupRegion("us-gov-west-1"); ok {
		t.Error("GovCloud region found")
	}
	if _, ok := LookupRegion("mars-1"); ok {
		t.Error("unknown region found")
	}
}

func TestZones(t *testing.T) {
	names := map[string]bool{}
	ids := map[string]bool{}
	for _, r := range Regions() {
		prefix := ""
		for _, z := range r.Zones {
			if names[z.ZoneName] {
				t.Errorf("duplicate zone name %s", z.ZoneName)
			}
			if ids[z.ZoneId] {
				t.Errorf("duplicate zone ID %s", z.ZoneId)
			}
			names[z.ZoneName], ids[z.ZoneId] = true, true
			if !strings.HasPrefix(z.ZoneName, r.Name) || len(z.ZoneName) != len(r.Name)+1 {
				t.Errorf("zone %s not named after region %s", z.ZoneName, r.Name)
			}
			p, _, ok := strings.Cut(z.ZoneId, "-az")
			if !ok {
				t.Errorf("zone ID %s malformed", z.ZoneId)
			}
			if prefix == "" {
				prefix = p
			} else if p != prefix {
				t.Errorf("%s: mixed zone-ID prefixes %s and %s", r.Name, prefix, p)
			}
			if z.RegionName != r.Name || z.GroupName != r.Name || z.NetworkBorderGroup != r.Name {
				t.Errorf("%s: region/group fields %+v", z.ZoneName, z)
			}
			if z.ZoneType != "availability-zone" || z.State != "available" || z.OptInStatus != OptInNotRequired {
				t.Errorf("%s: type/state fields %+v", z.ZoneName, z)
			}
		}
	}
	prefixes := map[string]string{
		"us-east-1": "use1", "us-east-2": "use2", "us-west-1": "usw1", "us-west-2": "usw2",
		"eu-west-1": "euw1", "eu-central-1": "euc1", "ap-northeast-1": "apne1",
		"ap-south-1": "aps1", "sa-east-1": "sae1", "ca-central-1": "cac1",
		"ap-southeast-2": "apse2", "me-south-1": "mes1",
	}
	for region, p := range prefixes {
		r, _ := LookupRegion(region)
		for _, z := range r.Zones {
			if !strings.HasPrefix(z.ZoneId, p+"-az") {
				t.Errorf("%s: zone ID %s, want prefix %s", z.ZoneName, z.ZoneId, p)
			}
		}
	}
}

func TestLookupZone(t *testing.T) {
	z, ok := LookupZone("us-east-1a")
	if !ok || z.ZoneId != "use1-az1" || z.RegionName != "us-east-1" {
		t.Fatalf("LookupZone(us-east-1a) = %+v, %v", z, ok)
	}
	z2, ok := LookupZone("use1-az1")
	if !ok || z2 != z {
		t.Errorf("LookupZone by ID = %+v, %v; want %+v", z2, ok, z)
	}
	if z3, ok := LookupZone("US-EAST-1A"); !ok || z3 != z {
		t.Errorf("LookupZone is not case-insensitive")
	}
	if z, ok := LookupZone("apne1-az4"); !ok || z.ZoneName != "ap-northeast-1a" {
		t.Errorf("LookupZone(apne1-az4) = %+v, %v", z, ok)
	}
	for _, bad := range []string{"", "us-east-1g", "us-west-1a", "apne1-az3", "usw1-az2"} {
		if _, ok := LookupZone(bad); ok {
			t.Errorf("LookupZone(%q) found", bad)
		}
	}
}

func TestRegionsAreCopies(t *testing.T) {
	rs := Regions()
	rs[0].Zones[0].ZoneName = "changed"
	r, _ := LookupRegion(rs[0].Name)
	if r.Zones[0].ZoneName == "changed" {
		t.Error("Regions() exposes internal state")
	}
}

// expectedSizes lists every size each family really has (it matches the
// instance type names the EC2 API model defines).
var expectedSizes = map[string][]string{
	"t2":    {"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"},
	"t3":    {"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"},
	"t3a":   {"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"},
	"t4g":   {"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"},
	"m5":    {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "metal"},
	"m6i":   {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "metal"},
	"m7g":   {"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"},
	"c5":    {"large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "12xlarge", "18xlarge", "24xlarge", "metal"},
	"c6i":   {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "metal"},
	"c7g":   {"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"},
	"r5":    {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "metal"},
	"r6i":   {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "metal"},
	"x2idn": {"16xlarge", "24xlarge", "32xlarge", "metal"},
	"z1d":   {"large", "xlarge", "2xlarge", "3xlarge", "6xlarge", "12xlarge", "metal"},
	"i3":    {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "metal"},
	"i4i":   {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "metal"},
	"h1":    {"2xlarge", "4xlarge", "8xlarge", "16xlarge"},
	"d3":    {"xlarge", "2xlarge", "4xlarge", "8xlarge"},
	"g4dn":  {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"},
	"g5":    {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"},
	"p3":    {"2xlarge", "8xlarge", "16xlarge"},
	"p4d":   {"24xlarge"},
	"f1":    {"2xlarge", "4xlarge", "16xlarge"},
	"inf2":  {"xlarge", "8xlarge", "24xlarge", "48xlarge"},
}

func TestFamiliesComplete(t *testing.T) {
	var want []string
	for f, sizes := range expectedSizes {
		want = append(want, f)
		if got := FamilySizes(f); !slices.Equal(got, sizes) {
			t.Errorf("%s sizes = %v, want %v", f, got, sizes)
		}
		for _, s := range sizes {
			if _, ok := LookupInstanceType(f + "." + s); !ok {
				t.Errorf("%s.%s missing", f, s)
			}
		}
	}
	sort.Strings(want)
	if got := Families(); !slices.Equal(got, want) {
		t.Errorf("Families() = %v, want %v", got, want)
	}
}

func TestInstanceTypesSortedAndUnique(t *testing.T) {
	all := InstanceTypes()
	if len(all) == 0 {
		t.Fatal("no instance types")
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].InstanceType >= all[i].InstanceType {
			t.Errorf("not sorted/unique at %s, %s", all[i-1].InstanceType, all[i].InstanceType)
		}
	}
	n := 0
	for _, s := range expectedSizes {
		n += len(s)
	}
	if len(all) != n {
		t.Errorf("%d instance types, want %d", len(all), n)
	}
	if _, ok := LookupInstanceType("m5.huge"); ok {
		t.Error("unknown type found")
	}
}

// TestInstanceTypeInvariants checks relationships every entry must satisfy.
func TestInstanceTypeInvariants(t *testing.T) {
	for _, it := range InstanceTypes() {
		name := it.InstanceType
		v := it.VCpuInfo
		if v.DefaultVCpus != v.DefaultCores*v.DefaultThreadsPerCore {
			t.Errorf("%s: vCPUs %d != cores %d × threads %d", name, v.DefaultVCpus, v.DefaultCores, v.DefaultThreadsPerCore)
		}
		if v.ValidCores != nil && !slices.Contains(v.ValidCores, v.DefaultCores) {
			t.Errorf("%s: ValidCores %v lacks default %d", name, v.ValidCores, v.DefaultCores)
		}
		if v.ValidThreadsPerCore != nil && !slices.Contains(v.ValidThreadsPerCore, v.DefaultThreadsPerCore) {
			t.Errorf("%s: ValidThreadsPerCore %v lacks default", name, v.ValidThreadsPerCore)
		}
		if it.MemoryInfo.SizeInMiB <= 0 {
			t.Errorf("%s: no memory", name)
		}
		if it.BareMetal != strings.HasSuffix(name, ".metal") {
			t.Errorf("%s: BareMetal %v", name, it.BareMetal)
		}
		if it.BareMetal && (it.Hypervisor != "" || v.ValidCores != nil) {
			t.Errorf("%s: bare metal with hypervisor %q / CPU options", name, it.Hypervisor)
		}
		if !it.BareMetal && it.Hypervisor != "nitro" && it.Hypervisor != "xen" {
			t.Errorf("%s: hypervisor %q", name, it.Hypervisor)
		}
		arm := slices.Contains(it.ProcessorInfo.SupportedArchitectures, "arm64")
		if arm != (it.ProcessorInfo.Manufacturer == "AWS") {
			t.Errorf("%s: arm64 %v but manufacturer %s", name, arm, it.ProcessorInfo.Manufacturer)
		}
		if arm && (!slices.Equal(it.SupportedBootModes, []string{"uefi"}) || v.DefaultThreadsPerCore != 1) {
			t.Errorf("%s: Graviton boot modes %v / threads %d", name, it.SupportedBootModes, v.DefaultThreadsPerCore)
		}
		if it.ProcessorInfo.SustainedClockSpeedInGhz < 2 || it.ProcessorInfo.SustainedClockSpeedInGhz > 4.5 {
			t.Errorf("%s: clock %v", name, it.ProcessorInfo.SustainedClockSpeedInGhz)
		}
		if e := it.EbsInfo.EbsOptimizedInfo; e != nil {
			if e.BaselineBandwidthInMbps <= 0 || e.BaselineBandwidthInMbps > e.MaximumBandwidthInMbps ||
				e.BaselineIops <= 0 || e.BaselineIops > e.MaximumIops {
				t.Errorf("%s: EBS figures %+v", name, *e)
			}
			if e.BaselineThroughputInMBps != float64(e.BaselineBandwidthInMbps)/8 ||
				e.MaximumThroughputInMBps != float64(e.MaximumBandwidthInMbps)/8 {
				t.Errorf("%s: EBS throughput %+v", name, *e)
			}
		} else if it.EbsInfo.EbsOptimizedSupport != Unsupported {
			t.Errorf("%s: EBS-optimised without figures", name)
		}
		if (it.Hypervisor == "nitro" || it.BareMetal) != (it.EbsInfo.NvmeSupport == Required) {
			t.Errorf("%s: EBS NVMe %q on %q", name, it.EbsInfo.NvmeSupport, it.Hypervisor)
		}
		n := it.NetworkInfo
		if n.MaximumNetworkInterfaces <= 0 || n.Ipv4AddressesPerInterface <= 0 || n.NetworkPerformance == "" {
			t.Errorf("%s: network %+v", name, n)
		}
		if len(n.NetworkCards) != n.MaximumNetworkCards {
			t.Errorf("%s: %d network cards listed, %d declared", name, len(n.NetworkCards), n.MaximumNetworkCards)
		}
		sum := 0
		for _, c := range n.NetworkCards {
			sum += c.MaximumNetworkInterfaces
		}
		if sum != n.MaximumNetworkInterfaces {
			t.Errorf("%s: card interfaces sum %d != %d", name, sum, n.MaximumNetworkInterfaces)
		}
		if n.EfaSupported != (n.EfaInfo != nil) {
			t.Errorf("%s: EfaSupported %v with EfaInfo %v", name, n.EfaSupported, n.EfaInfo)
		}
		if it.InstanceStorageSupported != (it.InstanceStorageInfo != nil) {
			t.Errorf("%s: instance storage flag mismatch", name)
		}
		if s := it.InstanceStorageInfo; s != nil {
			var total int64
			for _, d := range s.Disks {
				total += int64(d.Count) * d.SizeInGB
				if d.Type != "ssd" && d.Type != "hdd" {
					t.Errorf("%s: disk type %q", name, d.Type)
				}
			}
			if total != s.TotalSizeInGB {
				t.Errorf("%s: disks sum to %d GB, total says %d", name, total, s.TotalSizeInGB)
			}
			if it.AutoRecoverySupported {
				t.Errorf("%s: auto recovery with instance store", name)
			}
		}
		if g := it.GpuInfo; g != nil {
			var mem int64
			for _, d := range g.Gpus {
				mem += int64(d.Count) * d.MemoryInfo.SizeInMiB
			}
			if mem != g.TotalGpuMemoryInMiB {
				t.Errorf("%s: GPU memory total %d != %d", name, g.TotalGpuMemoryInMiB, mem)
			}
		}
		family := familyOf(name)
		isT := family[0] == 't'
		if it.BurstablePerformanceSupported != isT || (it.Burstable != nil) != isT {
			t.Errorf("%s: burstable flags wrong", name)
		}
		if isT == slices.Contains(it.PlacementGroupInfo.SupportedStrategies, "cluster") {
			t.Errorf("%s: placement strategies %v", name, it.PlacementGroupInfo.SupportedStrategies)
		}
		if !slices.Equal(it.SupportedUsageClasses, []string{"on-demand", "spot"}) || !it.CurrentGeneration {
			t.Errorf("%s: usage classes / generation", name)
		}
		if it.HibernationSupported && (it.BareMetal || it.MemoryInfo.SizeInMiB >= 150*1024) {
			t.Errorf("%s: hibernation on metal or ≥150 GiB", name)
		}
		if it.FreeTierEligible != (name == "t2.micro" || name == "t3.micro") {
			t.Errorf("%s: FreeTierEligible %v", name, it.FreeTierEligible)
		}
	}
}

func TestPinnedFigures(t *testing.T) {
	tests := []struct {
		name     string
		vcpus    int
		cores    int
		memMiB   int64
		net      string
		arch     string
		enis     int
		ipv4     int
		hv       string
		ebsBase  int // 0: not EBS-optimised
		ebsMax   int
		iopsBase int
		iopsMax  int
	}{
		{"t2.micro", 1, 1, 1024, "Low to Moderate", "i386", 2, 2, "xen", 0, 0, 0, 0},
		{"t2.medium", 2, 2, 4096, "Low to Moderate", "i386", 3, 6, "xen", 0, 0, 0, 0},
		{"t3.micro", 2, 1, 1024, "Up to 5 Gigabit", "x86_64", 2, 2, "nitro", 87, 2085, 500, 11800},
		{"t3.large", 2, 1, 8192, "Up to 5 Gigabit", "x86_64", 3, 12, "nitro", 695, 2780, 4000, 15700},
		{"t4g.small", 2, 2, 2048, "Up to 5 Gigabit", "arm64", 3, 4, "nitro", 174, 2085, 1000, 11800},
		{"t4g.medium", 2, 2, 4096, "Up to 5 Gigabit", "arm64", 3, 6, "nitro", 347, 2085, 2000, 11800},
		{"t4g.xlarge", 4, 4, 16384, "Up to 5 Gigabit", "arm64", 4, 15, "nitro", 695, 2780, 4000, 15700},
		{"m5.large", 2, 1, 8192, "Up to 10 Gigabit", "x86_64", 3, 10, "nitro", 650, 4750, 3600, 18750},
		{"m5.xlarge", 4, 2, 16384, "Up to 10 Gigabit", "x86_64", 4, 15, "nitro", 1150, 4750, 6000, 18750},
		{"m5.metal", 96, 48, 393216, "25 Gigabit", "x86_64", 15, 50, "", 19000, 19000, 80000, 80000},
		{"m6i.32xlarge", 128, 64, 524288, "50 Gigabit", "x86_64", 15, 50, "nitro", 40000, 40000, 160000, 160000},
		{"m7g.medium", 1, 1, 4096, "Up to 12.5 Gigabit", "arm64", 2, 4, "nitro", 315, 10000, 2500, 40000},
		{"c5.9xlarge", 36, 18, 73728, "12 Gigabit", "x86_64", 8, 30, "nitro", 9500, 9500, 40000, 40000},
		{"c7g.large", 2, 2, 4096, "Up to 12.5 Gigabit", "arm64", 3, 10, "nitro", 630, 10000, 3600, 40000},
		{"r5.24xlarge", 96, 48, 786432, "25 Gigabit", "x86_64", 15, 50, "nitro", 19000, 19000, 80000, 80000},
		{"r6i.large", 2, 1, 16384, "Up to 12.5 Gigabit", "x86_64", 3, 10, "nitro", 650, 10000, 3600, 40000},
		{"x2idn.32xlarge", 128, 64, 2097152, "100 Gigabit", "x86_64", 15, 50, "nitro", 80000, 80000, 260000, 260000},
		{"z1d.large", 2, 1, 16384, "Up to 10 Gigabit", "x86_64", 3, 10, "nitro", 800, 3170, 3333, 13333},
		{"i3.large", 2, 1, 15616, "Up to 10 Gigabit", "x86_64", 3, 10, "xen", 425, 425, 3000, 3000},
		{"i3.metal", 72, 36, 524288, "25 Gigabit", "x86_64", 15, 50, "", 19000, 19000, 80000, 80000},
		{"i4i.32xlarge", 128, 64, 1048576, "75 Gigabit", "x86_64", 15, 50, "nitro", 40000, 40000, 160000, 160000},
		{"h1.16xlarge", 64, 32, 262144, "25 Gigabit", "x86_64", 15, 50, "xen", 14000, 14000, 80000, 80000},
		{"d3.xlarge", 4, 2, 32768, "Up to 15 Gigabit", "x86_64", 4, 3, "nitro", 850, 2800, 5000, 15000},
		{"g4dn.8xlarge", 32, 16, 131072, "50 Gigabit", "x86_64", 4, 15, "nitro", 9500, 9500, 40000, 40000},
		{"g5.48xlarge", 192, 96, 786432, "100 Gigabit", "x86_64", 7, 50, "nitro", 19000, 19000, 80000, 80000},
		{"p3.8xlarge", 32, 16, 249856, "10 Gigabit", "x86_64", 8, 30, "xen", 7000, 7000, 40000, 40000},
		{"p4d.24xlarge", 96, 48, 1179648, "4x 100 Gigabit", "x86_64", 60, 50, "nitro", 19000, 19000, 80000, 80000},
		{"f1.2xlarge", 8, 4, 124928, "Up to 10 Gigabit", "x86_64", 4, 15, "xen", 1700, 1700, 12000, 12000},
		{"inf2.xlarge", 4, 2, 16384, "Up to 15 Gigabit", "x86_64", 4, 15, "nitro", 1250, 10000, 6000, 40000},
		{"inf2.24xlarge", 96, 48, 393216, "50 Gigabit", "x86_64", 15, 50, "nitro", 30000, 30000, 120000, 120000},
	}
	for _, tc := range tests {
		it, ok := LookupInstanceType(tc.name)
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if it.VCpuInfo.DefaultVCpus != tc.vcpus || it.VCpuInfo.DefaultCores != tc.cores {
			t.Errorf("%s: %d vCPU / %d cores, want %d / %d", tc.name, it.VCpuInfo.DefaultVCpus, it.VCpuInfo.DefaultCores, tc.vcpus, tc.cores)
		}
		if it.MemoryInfo.SizeInMiB != tc.memMiB {
			t.Errorf("%s: %d MiB, want %d", tc.name, it.MemoryInfo.SizeInMiB, tc.memMiB)
		}
		if it.NetworkInfo.NetworkPerformance != tc.net {
			t.Errorf("%s: network %q, want %q", tc.name, it.NetworkInfo.NetworkPerformance, tc.net)
		}
		if !slices.Contains(it.ProcessorInfo.SupportedArchitectures, tc.arch) {
			t.Errorf("%s: architectures %v lack %s", tc.name, it.ProcessorInfo.SupportedArchitectures, tc.arch)
		}
		if it.NetworkInfo.MaximumNetworkInterfaces != tc.enis || it.NetworkInfo.Ipv4AddressesPerInterface != tc.ipv4 {
			t.Errorf("%s: %d ENIs × %d IPv4, want %d × %d", tc.name, it.NetworkInfo.MaximumNetworkInterfaces,
				it.NetworkInfo.Ipv4AddressesPerInterface, tc.enis, tc.ipv4)
		}
		if it.Hypervisor != tc.hv {
			t.Errorf("%s: hypervisor %q, want %q", tc.name, it.Hypervisor, tc.hv)
		}
		e := it.EbsInfo.EbsOptimizedInfo
		if tc.ebsBase == 0 {
			if e != nil || it.EbsInfo.EbsOptimizedSupport != Unsupported {
				t.Errorf("%s: unexpectedly EBS-optimised", tc.name)
			}
			continue
		}
		if e == nil {
			t.Errorf("%s: no EBS-optimised figures", tc.name)
			continue
		}
		if e.BaselineBandwidthInMbps != tc.ebsBase || e.MaximumBandwidthInMbps != tc.ebsMax ||
			e.BaselineIops != tc.iopsBase || e.MaximumIops != tc.iopsMax {
			t.Errorf("%s: EBS %+v, want %d/%d Mbps %d/%d IOPS", tc.name, *e, tc.ebsBase, tc.ebsMax, tc.iopsBase, tc.iopsMax)
		}
	}
}

func TestSpecialFeatures(t *testing.T) {
	get := func(name string) InstanceType {
		t.Helper()
		it, ok := LookupInstanceType(name)
		if !ok {
			t.Fatalf("%s missing", name)
		}
		return it
	}

	// Instance storage.
	i3 := get("i3.large")
	if s := i3.InstanceStorageInfo; s == nil || s.TotalSizeInGB != 475 || len(s.Disks) != 1 ||
		s.Disks[0] != (DiskInfo{SizeInGB: 475, Count: 1, Type: "ssd"}) || s.NvmeSupport != Required {
		t.Errorf("i3.large storage %+v", i3.InstanceStorageInfo)
	}
	if !slices.Contains(i3.SupportedRootDeviceTypes, "instance-store") || i3.NetworkInfo.EnaSupport != Supported {
		t.Errorf("i3.large root devices %v / ENA %s", i3.SupportedRootDeviceTypes, i3.NetworkInfo.EnaSupport)
	}
	if s := get("h1.2xlarge").InstanceStorageInfo; s == nil || s.Disks[0].Type != "hdd" || s.NvmeSupport != Unsupported {
		t.Errorf("h1.2xlarge storage %+v", s)
	}
	if s := get("d3.8xlarge").InstanceStorageInfo; s == nil || s.TotalSizeInGB != 48000 || s.Disks[0].Type != "hdd" {
		t.Errorf("d3.8xlarge storage %+v", s)
	}
	if s := get("x2idn.24xlarge").InstanceStorageInfo; s == nil || s.TotalSizeInGB != 2850 {
		t.Errorf("x2idn.24xlarge storage %+v", s)
	}
	if get("m5.large").InstanceStorageSupported || get("t3.micro").InstanceStorageInfo != nil {
		t.Error("EBS-only types report instance storage")
	}

	// GPUs.
	p4d := get("p4d.24xlarge")
	if g := p4d.GpuInfo; g == nil || len(g.Gpus) != 1 || g.Gpus[0].Name != "A100" || g.Gpus[0].Manufacturer != "NVIDIA" ||
		g.Gpus[0].Count != 8 || g.Gpus[0].MemoryInfo.SizeInMiB != 40960 || g.TotalGpuMemoryInMiB != 327680 {
		t.Errorf("p4d.24xlarge GPUs %+v", p4d.GpuInfo)
	}
	if n := p4d.NetworkInfo; n.MaximumNetworkCards != 4 || !n.EfaSupported || n.EfaInfo.MaximumEfaInterfaces != 4 ||
		n.NetworkCards[3].MaximumNetworkInterfaces != 15 || n.NetworkCards[0].NetworkPerformance != "100 Gigabit" {
		t.Errorf("p4d.24xlarge network %+v", n)
	}
	if s := p4d.InstanceStorageInfo; s == nil || s.TotalSizeInGB != 8000 {
		t.Errorf("p4d.24xlarge storage %+v", s)
	}
	if g := get("g4dn.12xlarge").GpuInfo; g == nil || g.Gpus[0].Name != "T4" || g.Gpus[0].Count != 4 || g.TotalGpuMemoryInMiB != 65536 {
		t.Errorf("g4dn.12xlarge GPUs %+v", g)
	}
	if g := get("g5.xlarge").GpuInfo; g == nil || g.Gpus[0].Name != "A10G" || g.Gpus[0].Count != 1 {
		t.Errorf("g5.xlarge GPUs %+v", g)
	}
	if g := get("p3.16xlarge").GpuInfo; g == nil || g.Gpus[0].Name != "V100" || g.Gpus[0].Count != 8 {
		t.Errorf("p3.16xlarge GPUs %+v", g)
	}
	if get("m5.large").GpuInfo != nil {
		t.Error("m5.large has GPUs")
	}

	// FPGAs and Neuron devices.
	if f := get("f1.16xlarge").FpgaInfo; f == nil || f.Fpgas[0].Count != 8 || f.Fpgas[0].Manufacturer != "Xilinx" ||
		f.TotalFpgaMemoryInMiB != 8*65536 {
		t.Errorf("f1.16xlarge FPGAs %+v", f)
	}
	if n := get("inf2.48xlarge").NeuronInfo; n == nil || n.NeuronDevices[0].Name != "Inferentia2" ||
		n.NeuronDevices[0].Count != 12 || n.NeuronDevices[0].CoreInfo.Count != 2 || n.TotalNeuronDeviceMemoryInMiB != 12*32768 {
		t.Errorf("inf2.48xlarge Neuron %+v", n)
	}

	// Graviton, Xen and T2 specifics.
	c7g := get("c7g.large")
	if !slices.Equal(c7g.ProcessorInfo.SupportedArchitectures, []string{"arm64"}) || c7g.ProcessorInfo.Manufacturer != "AWS" ||
		!slices.Equal(c7g.SupportedBootModes, []string{"uefi"}) {
		t.Errorf("c7g.large processor %+v boot %v", c7g.ProcessorInfo, c7g.SupportedBootModes)
	}
	t2 := get("t2.micro")
	if !slices.Equal(t2.ProcessorInfo.SupportedArchitectures, []string{"i386", "x86_64"}) ||
		!slices.Equal(t2.SupportedVirtualizationTypes, []string{"hvm"}) ||
		t2.NetworkInfo.EnaSupport != Unsupported || t2.EbsInfo.EbsOptimizedSupport != Unsupported ||
		!slices.Equal(t2.SupportedBootModes, []string{"legacy-bios"}) || t2.VCpuInfo.ValidCores != nil ||
		t2.DedicatedHostsSupported || !t2.HibernationSupported {
		t.Errorf("t2.micro %+v", t2)
	}
	if a := get("t2.large").ProcessorInfo.SupportedArchitectures; !slices.Equal(a, []string{"x86_64"}) {
		t.Errorf("t2.large architectures %v", a)
	}
	m5 := get("m5.large")
	if m5.NetworkInfo.EnaSupport != Required || m5.EbsInfo.NvmeSupport != Required || m5.NitroTpmSupport != Supported ||
		!slices.Equal(m5.SupportedBootModes, []string{"legacy-bios", "uefi"}) || !m5.HibernationSupported ||
		!m5.AutoRecoverySupported || !slices.Equal(m5.VCpuInfo.ValidThreadsPerCore, []int{1, 2}) {
		t.Errorf("m5.large %+v", m5)
	}
	if !get("t3.micro").DedicatedHostsSupported || get("t3a.micro").DedicatedHostsSupported || get("t4g.micro").DedicatedHostsSupported {
		t.Error("only T3 among burstable families runs on Dedicated Hosts")
	}
	if get("m6i.32xlarge").NetworkInfo.EfaSupported == false || get("m6i.24xlarge").NetworkInfo.EfaSupported {
		t.Error("m6i EFA support wrong")
	}
}

func TestBurstableCredits(t *testing.T) {
	tests := []struct {
		name     string
		credits  float64
		max      int
		baseline float64
	}{
		{"t2.nano", 3, 72, 5},
		{"t2.micro", 6, 144, 10},
		{"t2.small", 12, 288, 20},
		{"t2.medium", 24, 576, 20},
		{"t2.large", 36, 864, 30},
		{"t2.xlarge", 54, 1296, 22.5},
		{"t2.2xlarge", 81, 1944, 16.875},
		{"t3.nano", 6, 144, 5},
		{"t3.micro", 12, 288, 10},
		{"t3.small", 24, 576, 20},
		{"t3.medium", 24, 576, 20},
		{"t3.large", 36, 864, 30},
		{"t3.xlarge", 96, 2304, 40},
		{"t3.2xlarge", 192, 4608, 40},
		{"t3a.micro", 12, 288, 10},
		{"t3a.2xlarge", 192, 4608, 40},
		{"t4g.nano", 6, 144, 5},
		{"t4g.large", 36, 864, 30},
		{"t4g.2xlarge", 192, 4608, 40},
	}
	for _, tc := range tests {
		it, ok := LookupInstanceType(tc.name)
		if !ok || it.Burstable == nil {
			t.Errorf("%s: missing or not burstable", tc.name)
			continue
		}
		b := *it.Burstable
		if b.CPUCreditsPerHour != tc.credits || b.MaxEarnedCredits != tc.max || b.BaselinePerformancePercent != tc.baseline {
			t.Errorf("%s: %+v, want credits %v max %d baseline %v", tc.name, b, tc.credits, tc.max, tc.baseline)
		}
	}
	if it, _ := LookupInstanceType("m5.large"); it.Burstable != nil {
		t.Error("m5.large has credit figures")
	}
}

func TestInstanceTypesAreCopies(t *testing.T) {
	it, _ := LookupInstanceType("p4d.24xlarge")
	it.GpuInfo.Gpus[0].Count = 1
	it.ProcessorInfo.SupportedArchitectures[0] = "changed"
	it.EbsInfo.EbsOptimizedInfo.MaximumIops = 1
	again, _ := LookupInstanceType("p4d.24xlarge")
	if again.GpuInfo.Gpus[0].Count != 8 || again.ProcessorInfo.SupportedArchitectures[0] != "x86_64" ||
		again.EbsInfo.EbsOptimizedInfo.MaximumIops != 80000 {
		t.Error("LookupInstanceType exposes internal state")
	}
	all := InstanceTypes()
	all[0].SupportedBootModes[0] = "changed"
	if InstanceTypes()[0].SupportedBootModes[0] == "changed" {
		t.Error("InstanceTypes exposes internal state")
	}
}

func TestOfferings(t *testing.T) {
	for _, r := range Regions() {
		for _, name := range []string{"t3.micro", "m5.large", "c7g.large", "r6i.metal"} {
			if !OfferedInRegion(name, r.Name) {
				t.Errorf("%s not offered in %s", name, r.Name)
			}
			for _, z := range r.Zones {
				if !OfferedInZone(name, z) {
					t.Errorf("%s not offered in %s", name, z.ZoneName)
				}
			}
		}
	}
	cases := []struct {
		typ, region string
		want        bool
	}{
		{"p4d.24xlarge", "us-east-1", true},
		{"p4d.24xlarge", "af-south-1", false},
		{"f1.2xlarge", "us-east-1", true},
		{"f1.2xlarge", "ap-southeast-7", false},
		{"x2idn.16xlarge", "eu-west-1", true},
		{"x2idn.16xlarge", "me-south-1", false},
		{"h1.2xlarge", "us-west-2", true},
		{"h1.2xlarge", "eu-south-2", false},
		{"m5.large", "mars-1", false},
		{"m5.huge", "us-east-1", false},
	}
	for _, c := range cases {
		if got := OfferedInRegion(c.typ, c.region); got != c.want {
			t.Errorf("OfferedInRegion(%s, %s) = %v, want %v", c.typ, c.region, got, c.want)
		}
	}
	z, _ := LookupZone("af-south-1a")
	if OfferedInZone("p4d.24xlarge", z) {
		t.Error("p4d offered in af-south-1a")
	}
	if OfferedInZone("m5.large", Zone{ZoneName: "nowhere-1a"}) {
		t.Error("offered in unknown zone")
	}
	byID := Zone{ZoneId: "use1-az4"}
	if !OfferedInZone("p4d.24xlarge", byID) {
		t.Error("OfferedInZone does not resolve a zone given only by ID")
	}
}
