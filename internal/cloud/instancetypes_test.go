package cloud_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"strato/internal/catalog"
	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/cloud/filter"
)

var typesScope = cloud.Scope{Account: "123456789012", Region: "us-east-1"}

func typeNames(ts []catalog.InstanceType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.InstanceType
	}
	return out
}

// offeredWhere lists, in name order, the types offered in region that satisfy pred:
// the oracle the filter tests compare against.
func offeredWhere(region string, pred func(catalog.InstanceType) bool) []string {
	var out []string
	for _, t := range catalog.InstanceTypes() {
		if catalog.OfferedInRegion(t.InstanceType, region) && pred(t) {
			out = append(out, t.InstanceType)
		}
	}
	return out
}

func typeErrCode(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

func typeFilter(name string, values ...string) filter.Filter {
	return filter.Filter{Name: name, Values: values}
}

func TestDescribeInstanceTypesFilters(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		filters []filter.Filter
		want    func(catalog.InstanceType) bool // oracle over the catalogue
		exact   []string                        // or an exact answer
	}{
		{name: "no filters", want: func(catalog.InstanceType) bool { return true }},
		{name: "instance-type glob", filters: []filter.Filter{typeFilter("instance-type", "t3.*")},
			want: func(t catalog.InstanceType) bool { return strings.HasPrefix(t.InstanceType, "t3.") }},
		{name: "instance-type exact", filters: []filter.Filter{typeFilter("instance-type", "t3.micro", "m5.large")},
			exact: []string{"m5.large", "t3.micro"}},
		{name: "free tier", filters: []filter.Filter{typeFilter("free-tier-eligible", "true")},
			exact: []string{"t2.micro", "t3.micro"}},
		{name: "current generation", filters: []filter.Filter{typeFilter("current-generation", "true")},
			want: func(t catalog.InstanceType) bool { return t.CurrentGeneration }},
		// The catalogue holds no previous-generation or paravirtual types.
		{name: "previous generation", filters: []filter.Filter{typeFilter("current-generation", "false")}, exact: []string{}},
		{name: "bare metal", filters: []filter.Filter{typeFilter("bare-metal", "true")},
			want: func(t catalog.InstanceType) bool { return t.BareMetal }},
		{name: "hypervisor any excludes bare metal", filters: []filter.Filter{typeFilter("hypervisor", "*")},
			want: func(t catalog.InstanceType) bool { return !t.BareMetal }},
		{name: "hypervisor xen", filters: []filter.Filter{typeFilter("hypervisor", "xen")},
			want: func(t catalog.InstanceType) bool { return t.Hypervisor == "xen" }},
		{name: "burstable", filters: []filter.Filter{typeFilter("burstable-performance-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.BurstablePerformanceSupported }},
		{name: "arm64", filters: []filter.Filter{typeFilter("processor-info.supported-architecture", "arm64")},
			want: func(t catalog.InstanceType) bool {
				return slices.Contains(t.ProcessorInfo.SupportedArchitectures, "arm64")
			}},
		{name: "i386", filters: []filter.Filter{typeFilter("processor-info.supported-architecture", "i386")},
			want: func(t catalog.InstanceType) bool {
				return slices.Contains(t.ProcessorInfo.SupportedArchitectures, "i386")
			}},
		{name: "clock speed", filters: []filter.Filter{typeFilter("processor-info.sustained-clock-speed-in-ghz", "3.1")},
			want: func(t catalog.InstanceType) bool { return t.ProcessorInfo.SustainedClockSpeedInGhz == 3.1 }},
		{name: "integral clock speed either spelling", filters: []filter.Filter{typeFilter("processor-info.sustained-clock-speed-in-ghz", "4.0")},
			want: func(t catalog.InstanceType) bool { return t.ProcessorInfo.SustainedClockSpeedInGhz == 4 }},
		{name: "vcpus and memory", filters: []filter.Filter{typeFilter("vcpu-info.default-vcpus", "2"), typeFilter("memory-info.size-in-mib", "8192")},
			want: func(t catalog.InstanceType) bool {
				return t.VCpuInfo.DefaultVCpus == 2 && t.MemoryInfo.SizeInMiB == 8192
			}},
		{name: "default cores", filters: []filter.Filter{typeFilter("vcpu-info.default-cores", "48")},
			want: func(t catalog.InstanceType) bool { return t.VCpuInfo.DefaultCores == 48 }},
		{name: "threads per core", filters: []filter.Filter{typeFilter("vcpu-info.default-threads-per-core", "1")},
			want: func(t catalog.InstanceType) bool { return t.VCpuInfo.DefaultThreadsPerCore == 1 }},
		{name: "valid cores element", filters: []filter.Filter{typeFilter("vcpu-info.valid-cores", "3")},
			want: func(t catalog.InstanceType) bool { return slices.Contains(t.VCpuInfo.ValidCores, 3) }},
		{name: "valid threads joined", filters: []filter.Filter{typeFilter("vcpu-info.valid-threads-per-core", "1,2")},
			want: func(t catalog.InstanceType) bool {
				return reflect.DeepEqual(t.VCpuInfo.ValidThreadsPerCore, []int{1, 2})
			}},
		{name: "instance storage", filters: []filter.Filter{typeFilter("instance-storage-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.InstanceStorageSupported }},
		{name: "disk type hdd", filters: []filter.Filter{typeFilter("instance-storage-info.disk.type", "hdd")},
			want: func(t catalog.InstanceType) bool {
				return t.InstanceStorageInfo != nil && t.InstanceStorageInfo.Disks[0].Type == "hdd"
			}},
		{name: "disk count", filters: []filter.Filter{typeFilter("instance-storage-info.disk.count", "8")},
			want: func(t catalog.InstanceType) bool {
				return t.InstanceStorageInfo != nil && t.InstanceStorageInfo.Disks[0].Count == 8
			}},
		{name: "disk size", filters: []filter.Filter{typeFilter("instance-storage-info.disk.size-in-gb", "1900")},
			want: func(t catalog.InstanceType) bool {
				return t.InstanceStorageInfo != nil && t.InstanceStorageInfo.Disks[0].SizeInGB == 1900
			}},
		{name: "total storage", filters: []filter.Filter{typeFilter("instance-storage-info.total-size-in-gb", "15200")},
			want: func(t catalog.InstanceType) bool {
				return t.InstanceStorageInfo != nil && t.InstanceStorageInfo.TotalSizeInGB == 15200
			}},
		{name: "instance store nvme unsupported", filters: []filter.Filter{typeFilter("instance-storage-info.nvme-support", "unsupported")},
			want: func(t catalog.InstanceType) bool {
				return t.InstanceStorageInfo != nil && t.InstanceStorageInfo.NvmeSupport == "unsupported"
			}},
		{name: "instance store encryption", filters: []filter.Filter{typeFilter("instance-storage-info.encryption-support", "required")},
			want: func(t catalog.InstanceType) bool {
				return t.InstanceStorageInfo != nil && t.InstanceStorageInfo.EncryptionSupport == "required"
			}},
		{name: "ebs optimized unsupported", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-support", "unsupported")},
			want: func(t catalog.InstanceType) bool { return t.EbsInfo.EbsOptimizedSupport == "unsupported" }},
		{name: "ebs nvme", filters: []filter.Filter{typeFilter("ebs-info.nvme-support", "required")},
			want: func(t catalog.InstanceType) bool { return t.EbsInfo.NvmeSupport == "required" }},
		{name: "ebs encryption", filters: []filter.Filter{typeFilter("ebs-info.encryption-support", "supported")},
			want: func(t catalog.InstanceType) bool { return t.EbsInfo.EncryptionSupport == "supported" }},
		{name: "ebs baseline bandwidth", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-info.baseline-bandwidth-in-mbps", "650")},
			want: func(t catalog.InstanceType) bool {
				return t.EbsInfo.EbsOptimizedInfo != nil && t.EbsInfo.EbsOptimizedInfo.BaselineBandwidthInMbps == 650
			}},
		{name: "ebs max bandwidth", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-info.maximum-bandwidth-in-mbps", "4750")},
			want: func(t catalog.InstanceType) bool {
				return t.EbsInfo.EbsOptimizedInfo != nil && t.EbsInfo.EbsOptimizedInfo.MaximumBandwidthInMbps == 4750
			}},
		{name: "ebs baseline throughput fraction", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-info.baseline-throughput-in-mbps", "81.25")},
			want: func(t catalog.InstanceType) bool {
				return t.EbsInfo.EbsOptimizedInfo != nil && t.EbsInfo.EbsOptimizedInfo.BaselineThroughputInMBps == 81.25
			}},
		{name: "ebs max throughput integral", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-info.maximum-throughput-in-mbps", "1250", "1250.0")},
			want: func(t catalog.InstanceType) bool {
				return t.EbsInfo.EbsOptimizedInfo != nil && t.EbsInfo.EbsOptimizedInfo.MaximumThroughputInMBps == 1250
			}},
		{name: "ebs iops", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-info.baseline-iops", "3600"), typeFilter("ebs-info.ebs-optimized-info.maximum-iops", "40000")},
			want: func(t catalog.InstanceType) bool {
				e := t.EbsInfo.EbsOptimizedInfo
				return e != nil && e.BaselineIops == 3600 && e.MaximumIops == 40000
			}},
		{name: "ebs optimized info absent", filters: []filter.Filter{typeFilter("ebs-info.ebs-optimized-info.baseline-iops", "*")},
			want: func(t catalog.InstanceType) bool { return t.EbsInfo.EbsOptimizedInfo != nil }},
		{name: "efa", filters: []filter.Filter{typeFilter("network-info.efa-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.EfaSupported }},
		{name: "efa interfaces", filters: []filter.Filter{typeFilter("network-info.efa-info.maximum-efa-interfaces", "*")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.EfaInfo != nil }},
		{name: "ena support", filters: []filter.Filter{typeFilter("network-info.ena-support", "supported", "unsupported")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.EnaSupport != "required" }},
		{name: "network performance", filters: []filter.Filter{typeFilter("network-info.network-performance", "25 Gigabit")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.NetworkPerformance == "25 Gigabit" }},
		{name: "network cards", filters: []filter.Filter{typeFilter("network-info.maximum-network-cards", "4")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.MaximumNetworkCards == 4 }},
		{name: "network interfaces", filters: []filter.Filter{typeFilter("network-info.maximum-network-interfaces", "15")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.MaximumNetworkInterfaces == 15 }},
		{name: "ipv4 and ipv6 per interface", filters: []filter.Filter{typeFilter("network-info.ipv4-addresses-per-interface", "50"), typeFilter("network-info.ipv6-addresses-per-interface", "50")},
			want: func(t catalog.InstanceType) bool {
				return t.NetworkInfo.Ipv4AddressesPerInterface == 50 && t.NetworkInfo.Ipv6AddressesPerInterface == 50
			}},
		{name: "ipv6 supported", filters: []filter.Filter{typeFilter("network-info.ipv6-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.Ipv6Supported }},
		{name: "encryption in transit", filters: []filter.Filter{typeFilter("network-info.encryption-in-transit-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.NetworkInfo.EncryptionInTransitSupported }},
		{name: "root device instance-store", filters: []filter.Filter{typeFilter("supported-root-device-type", "instance-store")},
			want: func(t catalog.InstanceType) bool {
				return slices.Contains(t.SupportedRootDeviceTypes, "instance-store")
			}},
		{name: "usage class spot", filters: []filter.Filter{typeFilter("supported-usage-class", "spot")},
			want: func(t catalog.InstanceType) bool { return slices.Contains(t.SupportedUsageClasses, "spot") }},
		{name: "virtualization hvm", filters: []filter.Filter{typeFilter("supported-virtualization-type", "hvm")},
			want: func(t catalog.InstanceType) bool { return slices.Contains(t.SupportedVirtualizationTypes, "hvm") }},
		{name: "virtualization paravirtual", filters: []filter.Filter{typeFilter("supported-virtualization-type", "paravirtual")}, exact: []string{}},
		{name: "boot mode legacy only", filters: []filter.Filter{typeFilter("supported-boot-mode", "legacy-bios"), typeFilter("processor-info.supported-architecture", "x86_64")},
			want: func(t catalog.InstanceType) bool {
				return slices.Contains(t.SupportedBootModes, "legacy-bios") && slices.Contains(t.ProcessorInfo.SupportedArchitectures, "x86_64")
			}},
		{name: "hibernation", filters: []filter.Filter{typeFilter("hibernation-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.HibernationSupported }},
		{name: "dedicated hosts", filters: []filter.Filter{typeFilter("dedicated-hosts-supported", "false")},
			want: func(t catalog.InstanceType) bool { return !t.DedicatedHostsSupported }},
		{name: "auto recovery", filters: []filter.Filter{typeFilter("auto-recovery-supported", "true")},
			want: func(t catalog.InstanceType) bool { return t.AutoRecoverySupported }},
		{name: "nitro enclaves", filters: []filter.Filter{typeFilter("nitro-enclaves-support", "supported")},
			want: func(t catalog.InstanceType) bool { return t.NitroEnclavesSupport == "supported" }},
		{name: "nitro tpm", filters: []filter.Filter{typeFilter("nitro-tpm-support", "supported"), typeFilter("nitro-tpm-info.supported-versions", "2.0")},
			want: func(t catalog.InstanceType) bool { return t.NitroTpmSupport == "supported" }},
		{name: "AND of filters, OR of values", filters: []filter.Filter{typeFilter("instance-type", "m5.*", "c5.*"), typeFilter("vcpu-info.default-vcpus", "2", "4")},
			exact: []string{"c5.large", "c5.xlarge", "m5.large", "m5.xlarge"}},
		{name: "filter without values", filters: []filter.Filter{typeFilter("instance-type")}, exact: []string{}},
	}
	for _, name := range []string{"ebs-info.attachment-limit-type", "ebs-info.maximum-ebs-attachments", "network-info.bandwidth-weightings",
		"network-info.flexible-ena-queues-support", "processor-info.supported-features", "reboot-migration-support"} {
		tests = append(tests, struct {
			name    string
			filters []filter.Filter
			want    func(catalog.InstanceType) bool
			exact   []string
		}{name: "no data: " + name, filters: []filter.Filter{typeFilter(name, "*")}, exact: []string{}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := c.DescribeInstanceTypes(ctx, typesScope, nil, tc.filters, cloud.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Errorf("unpaginated call returned a token")
			}
			want := tc.exact
			if tc.want != nil {
				want = offeredWhere("us-east-1", tc.want)
				if len(want) == 0 {
					t.Fatal("oracle selects nothing: the case tests nothing")
				}
			}
			if g := typeNames(got); !slices.Equal(g, want) {
				t.Errorf("got %d types %v\nwant %d %v", len(g), g, len(want), want)
			}
		})
	}
}

func TestDescribeInstanceTypesNames(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	got, _, err := c.DescribeInstanceTypes(ctx, typesScope, []string{"t3.micro", "m5.large", "t3.micro"}, nil, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if g := typeNames(got); !slices.Equal(g, []string{"m5.large", "t3.micro"}) {
		t.Errorf("got %v", g)
	}
	got, _, err = c.DescribeInstanceTypes(ctx, typesScope, []string{"t3.micro", "m5.large"}, []filter.Filter{typeFilter("vcpu-info.default-vcpus", "2")}, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if g := typeNames(got); !slices.Equal(g, []string{"m5.large", "t3.micro"}) {
		t.Errorf("names with filter: got %v", g)
	}

	errTests := []struct {
		name  string
		scope cloud.Scope
		names []string
		msg   string
	}{
		{"unknown", typesScope, []string{"m9.huge"}, "The following supplied instance types do not exist: [m9.huge]"},
		{"several unknown", typesScope, []string{"m9.huge", "t3.micro", "x9.tiny"}, "The following supplied instance types do not exist: [m9.huge, x9.tiny]"},
		{"not offered in region", cloud.Scope{Account: typesScope.Account, Region: "eu-south-1"}, []string{"f1.2xlarge"},
			"The following supplied instance types do not exist: [f1.2xlarge]"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.DescribeInstanceTypes(ctx, tc.scope, tc.names, nil, cloud.Page{})
			if typeErrCode(err) != "InvalidInstanceType" || err.Error() != tc.msg {
				t.Errorf("got %v (code %q), want InvalidInstanceType %q", err, typeErrCode(err), tc.msg)
			}
		})
	}
}

func TestDescribeInstanceTypesRegion(t *testing.T) {
	c := cloudtest.New(t)
	s := cloud.Scope{Account: typesScope.Account, Region: "eu-south-1"}
	got, _, err := c.DescribeInstanceTypes(context.Background(), s, nil, nil, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	want := offeredWhere("eu-south-1", func(catalog.InstanceType) bool { return true })
	if g := typeNames(got); !slices.Equal(g, want) {
		t.Errorf("got %d types, want %d", len(g), len(want))
	}
	if slices.Contains(typeNames(got), "f1.2xlarge") {
		t.Error("f1.2xlarge is not offered in eu-south-1")
	}
}

func TestDescribeInstanceTypesInvalidFilter(t *testing.T) {
	c := cloudtest.New(t)
	for _, name := range []string{"gpu-info.count", "tag:Name", "Instance-Type"} {
		_, _, err := c.DescribeInstanceTypes(context.Background(), typesScope, nil, []filter.Filter{typeFilter(name, "x")}, cloud.Page{})
		if typeErrCode(err) != "InvalidParameterValue" || err.Error() != "The filter '"+name+"' is invalid" {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// pageAllTypes follows NextToken to the end and returns what every page held.
func pageAllTypes[T any](t *testing.T, size int32, call func(cloud.Page) ([]T, string, error)) ([]T, int) {
	t.Helper()
	var all []T
	pages := 0
	var token *string
	for {
		items, next, err := call(cloud.Page{MaxResults: &size, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(items) > int(size) {
			t.Fatalf("page of %d items for MaxResults %d", len(items), size)
		}
		all = append(all, items...)
		if next == "" {
			return all, pages
		}
		token = &next
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
	}
}

func TestDescribeInstanceTypesPagination(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	all, _, err := c.DescribeInstanceTypes(ctx, typesScope, nil, nil, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int32{5, 7, 100} {
		got, pages := pageAllTypes(t, size, func(p cloud.Page) ([]catalog.InstanceType, string, error) {
			return c.DescribeInstanceTypes(ctx, typesScope, nil, nil, p)
		})
		if !slices.Equal(typeNames(got), typeNames(all)) {
			t.Errorf("MaxResults %d: pages hold %d types, want %d", size, len(got), len(all))
		}
		if want := (len(all) + int(size) - 1) / int(size); pages != want {
			t.Errorf("MaxResults %d: %d pages, want %d", size, pages, want)
		}
	}

	// Names and MaxResults together page through the named types.
	names := []string{"c5.large", "m5.large", "r5.large", "t3.micro", "t3.small", "t3.nano", "m5.xlarge"}
	got, _ := pageAllTypes(t, 5, func(p cloud.Page) ([]catalog.InstanceType, string, error) {
		return c.DescribeInstanceTypes(ctx, typesScope, names, nil, p)
	})
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(typeNames(got), want) {
		t.Errorf("named pages: got %v, want %v", typeNames(got), want)
	}

	for _, bad := range []int32{4, 0, -1, 101} {
		_, _, err := c.DescribeInstanceTypes(ctx, typesScope, nil, nil, cloud.Page{MaxResults: &bad})
		if typeErrCode(err) != "InvalidParameterValue" {
			t.Errorf("MaxResults %d: got %v", bad, err)
		}
	}

	// A token is bound to its query: other filters, names or region refuse it.
	five := int32(5)
	_, next, err := c.DescribeInstanceTypes(ctx, typesScope, nil, nil, cloud.Page{MaxResults: &five})
	if err != nil || next == "" {
		t.Fatalf("first page: %v, token %q", err, next)
	}
	for name, call := range map[string]func() error{
		"other filters": func() error {
			_, _, err := c.DescribeInstanceTypes(ctx, typesScope, nil, []filter.Filter{typeFilter("bare-metal", "true")}, cloud.Page{NextToken: &next})
			return err
		},
		"other names": func() error {
			_, _, err := c.DescribeInstanceTypes(ctx, typesScope, []string{"t3.micro"}, nil, cloud.Page{NextToken: &next})
			return err
		},
		"other region": func() error {
			_, _, err := c.DescribeInstanceTypes(ctx, cloud.Scope{Account: typesScope.Account, Region: "us-west-2"}, nil, nil, cloud.Page{NextToken: &next})
			return err
		},
		"garbage": func() error {
			bad := "not-a-token"
			_, _, err := c.DescribeInstanceTypes(ctx, typesScope, nil, nil, cloud.Page{NextToken: &bad})
			return err
		},
	} {
		if err := call(); typeErrCode(err) != "InvalidPaginationToken" {
			t.Errorf("%s: got %v, want InvalidPaginationToken", name, err)
		}
	}
}

func TestDescribeInstanceTypeOfferings(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	region, _ := catalog.LookupRegion("us-east-1")
	nTypes := len(offeredWhere("us-east-1", func(catalog.InstanceType) bool { return true }))

	tests := []struct {
		name         string
		locationType string
		filters      []filter.Filter
		wantLen      int
		first        cloud.InstanceTypeOffering
	}{
		{name: "default is region", wantLen: nTypes,
			first: cloud.InstanceTypeOffering{InstanceType: "c5.12xlarge", LocationType: "region", Location: "us-east-1"}},
		{name: "region", locationType: "region", wantLen: nTypes,
			first: cloud.InstanceTypeOffering{InstanceType: "c5.12xlarge", LocationType: "region", Location: "us-east-1"}},
		{name: "zones", locationType: "availability-zone", wantLen: nTypes * len(region.Zones),
			first: cloud.InstanceTypeOffering{InstanceType: "c5.12xlarge", LocationType: "availability-zone", Location: region.Zones[0].ZoneName}},
		{name: "zone ids", locationType: "availability-zone-id", filters: []filter.Filter{typeFilter("instance-type", "t3.micro")}, wantLen: len(region.Zones),
			first: cloud.InstanceTypeOffering{InstanceType: "t3.micro", LocationType: "availability-zone-id", Location: "use1-az1"}},
		{name: "location filter", locationType: "availability-zone", filters: []filter.Filter{typeFilter("location", "us-east-1b"), typeFilter("instance-type", "m5.*")},
			wantLen: 9, first: cloud.InstanceTypeOffering{InstanceType: "m5.12xlarge", LocationType: "availability-zone", Location: "us-east-1b"}},
		{name: "location of another region", locationType: "region", filters: []filter.Filter{typeFilter("location", "eu-west-1")}},
		{name: "outposts: none", locationType: "outpost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := c.DescribeInstanceTypeOfferings(ctx, typesScope, tc.locationType, tc.filters, cloud.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantLen {
				t.Fatalf("got %d offerings, want %d", len(got), tc.wantLen)
			}
			if tc.wantLen > 0 && got[0] != tc.first {
				t.Errorf("first offering %+v, want %+v", got[0], tc.first)
			}
			if !slices.IsSortedFunc(got, func(a, b cloud.InstanceTypeOffering) int {
				return strings.Compare(a.Location+"\x00"+a.InstanceType, b.Location+"\x00"+b.InstanceType)
			}) {
				t.Error("offerings are not ordered by location, then type")
			}
		})
	}

	// A restricted family is absent where it is not offered.
	got, _, err := c.DescribeInstanceTypeOfferings(ctx, cloud.Scope{Account: typesScope.Account, Region: "eu-south-1"}, "", []filter.Filter{typeFilter("instance-type", "f1.*")}, cloud.Page{})
	if err != nil || len(got) != 0 {
		t.Errorf("f1 in eu-south-1: %v, %v", got, err)
	}

	_, _, err = c.DescribeInstanceTypeOfferings(ctx, typesScope, "planet", nil, cloud.Page{})
	if typeErrCode(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "locationType") {
		t.Errorf("bad location type: %v", err)
	}
	_, _, err = c.DescribeInstanceTypeOfferings(ctx, typesScope, "", []filter.Filter{typeFilter("zone-name", "x")}, cloud.Page{})
	if typeErrCode(err) != "InvalidParameterValue" {
		t.Errorf("bad filter: %v", err)
	}

	all, _, _ := c.DescribeInstanceTypeOfferings(ctx, typesScope, "availability-zone", nil, cloud.Page{})
	paged, pages := pageAllTypes(t, 100, func(p cloud.Page) ([]cloud.InstanceTypeOffering, string, error) {
		return c.DescribeInstanceTypeOfferings(ctx, typesScope, "availability-zone", nil, p)
	})
	if !slices.Equal(all, paged) || pages != (len(all)+99)/100 {
		t.Errorf("paged %d offerings in %d pages, want %d", len(paged), pages, len(all))
	}
	for _, bad := range []int32{4, 1001} {
		_, _, err := c.DescribeInstanceTypeOfferings(ctx, typesScope, "", nil, cloud.Page{MaxResults: &bad})
		if typeErrCode(err) != "InvalidParameterValue" {
			t.Errorf("MaxResults %d: got %v", bad, err)
		}
	}
	thousand := int32(1000)
	if _, _, err := c.DescribeInstanceTypeOfferings(ctx, typesScope, "", nil, cloud.Page{MaxResults: &thousand}); err != nil {
		t.Errorf("MaxResults 1000: %v", err)
	}
	// A token of one location type is no good for another.
	five := int32(5)
	_, next, _ := c.DescribeInstanceTypeOfferings(ctx, typesScope, "region", nil, cloud.Page{MaxResults: &five})
	if _, _, err := c.DescribeInstanceTypeOfferings(ctx, typesScope, "availability-zone", nil, cloud.Page{NextToken: &next}); typeErrCode(err) != "InvalidPaginationToken" {
		t.Errorf("token across location types: %v", err)
	}
}
