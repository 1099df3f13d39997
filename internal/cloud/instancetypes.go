package cloud

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"strato/internal/catalog"
	"strato/internal/cloud/filter"
)

// Instance types are static facts (internal/catalog); these queries select, filter
// and paginate them the way DescribeInstanceTypes and DescribeInstanceTypeOfferings do.

// Page-size bounds from the EC2 model: DITMaxResults and DITOMaxResults.
const (
	instanceTypesMinResults     = 5
	instanceTypesMaxResults     = 100
	instanceOfferingsMinResults = 5
	instanceOfferingsMaxResults = 1000
)

// instanceTypeFields are DescribeInstanceTypes' filters, named as the EC2 API
// Reference lists them. Booleans are "true"/"false" and numbers are decimal, as the
// API prints them. An absent attribute (no instance store, no EBS-optimized figures,
// no hypervisor on bare metal) has no values, so not even "*" matches it.
//
// The reference also lists filters on attributes the catalogue has no data for. They
// are accepted and match on an empty value set, so no instance type passes them:
// ebs-info.attachment-limit-type, ebs-info.maximum-ebs-attachments,
// network-info.bandwidth-weightings, network-info.flexible-ena-queues-support,
// processor-info.supported-features, reboot-migration-support.
var instanceTypeFields = filter.Fields[catalog.InstanceType]{
	"auto-recovery-supported":         func(t catalog.InstanceType) []string { return boolValue(t.AutoRecoverySupported) },
	"bare-metal":                      func(t catalog.InstanceType) []string { return boolValue(t.BareMetal) },
	"burstable-performance-supported": func(t catalog.InstanceType) []string { return boolValue(t.BurstablePerformanceSupported) },
	"current-generation":              func(t catalog.InstanceType) []string { return boolValue(t.CurrentGeneration) },
	"dedicated-hosts-supported":       func(t catalog.InstanceType) []string { return boolValue(t.DedicatedHostsSupported) },
	"free-tier-eligible":              func(t catalog.InstanceType) []string { return boolValue(t.FreeTierEligible) },
	"hibernation-supported":           func(t catalog.InstanceType) []string { return boolValue(t.HibernationSupported) },
	"hypervisor":                      func(t catalog.InstanceType) []string { return stringValue(t.Hypervisor) },
	"instance-type":                   func(t catalog.InstanceType) []string { return []string{t.InstanceType} },
	"instance-storage-supported":      func(t catalog.InstanceType) []string { return boolValue(t.InstanceStorageSupported) },
	"memory-info.size-in-mib":         func(t catalog.InstanceType) []string { return intValue(t.MemoryInfo.SizeInMiB) },
	"nitro-enclaves-support":          func(t catalog.InstanceType) []string { return stringValue(t.NitroEnclavesSupport) },
	"nitro-tpm-support":               func(t catalog.InstanceType) []string { return stringValue(t.NitroTpmSupport) },
	"nitro-tpm-info.supported-versions": func(t catalog.InstanceType) []string {
		if t.NitroTpmInfo == nil {
			return nil
		}
		return t.NitroTpmInfo.SupportedVersions
	},
	"supported-boot-mode":           func(t catalog.InstanceType) []string { return t.SupportedBootModes },
	"supported-root-device-type":    func(t catalog.InstanceType) []string { return t.SupportedRootDeviceTypes },
	"supported-usage-class":         func(t catalog.InstanceType) []string { return t.SupportedUsageClasses },
	"supported-virtualization-type": func(t catalog.InstanceType) []string { return t.SupportedVirtualizationTypes },

	"processor-info.supported-architecture": func(t catalog.InstanceType) []string { return t.ProcessorInfo.SupportedArchitectures },
	"processor-info.sustained-clock-speed-in-ghz": func(t catalog.InstanceType) []string {
		return floatValue(t.ProcessorInfo.SustainedClockSpeedInGhz)
	},

	"vcpu-info.default-cores":            func(t catalog.InstanceType) []string { return intValue(t.VCpuInfo.DefaultCores) },
	"vcpu-info.default-threads-per-core": func(t catalog.InstanceType) []string { return intValue(t.VCpuInfo.DefaultThreadsPerCore) },
	"vcpu-info.default-vcpus":            func(t catalog.InstanceType) []string { return intValue(t.VCpuInfo.DefaultVCpus) },
	"vcpu-info.valid-cores":              func(t catalog.InstanceType) []string { return intList(t.VCpuInfo.ValidCores) },
	"vcpu-info.valid-threads-per-core":   func(t catalog.InstanceType) []string { return intList(t.VCpuInfo.ValidThreadsPerCore) },

	"instance-storage-info.disk.count":          diskValues(func(d catalog.DiskInfo) string { return strconv.Itoa(d.Count) }),
	"instance-storage-info.disk.size-in-gb":     diskValues(func(d catalog.DiskInfo) string { return strconv.FormatInt(d.SizeInGB, 10) }),
	"instance-storage-info.disk.type":           diskValues(func(d catalog.DiskInfo) string { return d.Type }),
	"instance-storage-info.encryption-support":  storageValue(func(s *catalog.InstanceStorageInfo) []string { return stringValue(s.EncryptionSupport) }),
	"instance-storage-info.nvme-support":        storageValue(func(s *catalog.InstanceStorageInfo) []string { return stringValue(s.NvmeSupport) }),
	"instance-storage-info.total-size-in-gb":    storageValue(func(s *catalog.InstanceStorageInfo) []string { return intValue(s.TotalSizeInGB) }),
	"ebs-info.ebs-optimized-support":            func(t catalog.InstanceType) []string { return stringValue(t.EbsInfo.EbsOptimizedSupport) },
	"ebs-info.encryption-support":               func(t catalog.InstanceType) []string { return stringValue(t.EbsInfo.EncryptionSupport) },
	"ebs-info.nvme-support":                     func(t catalog.InstanceType) []string { return stringValue(t.EbsInfo.NvmeSupport) },
	"ebs-info.ebs-optimized-info.baseline-iops": ebsOptimized(func(e *catalog.EbsOptimizedInfo) []string { return intValue(e.BaselineIops) }),
	"ebs-info.ebs-optimized-info.maximum-iops":  ebsOptimized(func(e *catalog.EbsOptimizedInfo) []string { return intValue(e.MaximumIops) }),
	"ebs-info.ebs-optimized-info.baseline-bandwidth-in-mbps": ebsOptimized(func(e *catalog.EbsOptimizedInfo) []string {
		return intValue(e.BaselineBandwidthInMbps)
	}),
	"ebs-info.ebs-optimized-info.maximum-bandwidth-in-mbps": ebsOptimized(func(e *catalog.EbsOptimizedInfo) []string {
		return intValue(e.MaximumBandwidthInMbps)
	}),
	"ebs-info.ebs-optimized-info.baseline-throughput-in-mbps": ebsOptimized(func(e *catalog.EbsOptimizedInfo) []string {
		return floatValue(e.BaselineThroughputInMBps)
	}),
	"ebs-info.ebs-optimized-info.maximum-throughput-in-mbps": ebsOptimized(func(e *catalog.EbsOptimizedInfo) []string {
		return floatValue(e.MaximumThroughputInMBps)
	}),

	"network-info.efa-info.maximum-efa-interfaces": func(t catalog.InstanceType) []string {
		if t.NetworkInfo.EfaInfo == nil {
			return nil
		}
		return intValue(t.NetworkInfo.EfaInfo.MaximumEfaInterfaces)
	},
	"network-info.efa-supported":                   func(t catalog.InstanceType) []string { return boolValue(t.NetworkInfo.EfaSupported) },
	"network-info.ena-support":                     func(t catalog.InstanceType) []string { return stringValue(t.NetworkInfo.EnaSupport) },
	"network-info.encryption-in-transit-supported": func(t catalog.InstanceType) []string { return boolValue(t.NetworkInfo.EncryptionInTransitSupported) },
	"network-info.ipv4-addresses-per-interface":    func(t catalog.InstanceType) []string { return intValue(t.NetworkInfo.Ipv4AddressesPerInterface) },
	"network-info.ipv6-addresses-per-interface":    func(t catalog.InstanceType) []string { return intValue(t.NetworkInfo.Ipv6AddressesPerInterface) },
	"network-info.ipv6-supported":                  func(t catalog.InstanceType) []string { return boolValue(t.NetworkInfo.Ipv6Supported) },
	"network-info.maximum-network-cards":           func(t catalog.InstanceType) []string { return intValue(t.NetworkInfo.MaximumNetworkCards) },
	"network-info.maximum-network-interfaces":      func(t catalog.InstanceType) []string { return intValue(t.NetworkInfo.MaximumNetworkInterfaces) },
	"network-info.network-performance":             func(t catalog.InstanceType) []string { return stringValue(t.NetworkInfo.NetworkPerformance) },

	// Documented, but the catalogue has no data: see the comment above.
	"ebs-info.attachment-limit-type":           noValues,
	"ebs-info.maximum-ebs-attachments":         noValues,
	"network-info.bandwidth-weightings":        noValues,
	"network-info.flexible-ena-queues-support": noValues,
	"processor-info.supported-features":        noValues,
	"reboot-migration-support":                 noValues,
}

func noValues(catalog.InstanceType) []string { return nil }

func boolValue(b bool) []string { return []string{strconv.FormatBool(b)} }

func stringValue(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func intValue[N int | int64](n N) []string { return []string{strconv.FormatInt(int64(n), 10)} }

// intList gives each element; the reference's example for valid-threads-per-core
// ("1" or "1,2") suggests the comma-joined list is also matched, so it is offered too.
func intList(ns []int) []string {
	if len(ns) == 0 {
		return nil
	}
	out := make([]string, 0, len(ns)+1)
	for _, n := range ns {
		out = append(out, strconv.Itoa(n))
	}
	if len(ns) > 1 {
		out = append(out, strings.Join(out, ","))
	}
	return out
}

// floatValue renders a number the way strato prints it (shortest form, "1250") and,
// when that has no fraction, as AWS's Java-style double too ("1250.0"), so a value
// copied from either matches.
func floatValue(f float64) []string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if strings.Contains(s, ".") {
		return []string{s}
	}
	return []string{s, s + ".0"}
}

func diskValues(get func(catalog.DiskInfo) string) func(catalog.InstanceType) []string {
	return func(t catalog.InstanceType) []string {
		if t.InstanceStorageInfo == nil {
			return nil
		}
		var out []string
		for _, d := range t.InstanceStorageInfo.Disks {
			out = append(out, get(d))
		}
		return out
	}
}

func storageValue(get func(*catalog.InstanceStorageInfo) []string) func(catalog.InstanceType) []string {
	return func(t catalog.InstanceType) []string {
		if t.InstanceStorageInfo == nil {
			return nil
		}
		return get(t.InstanceStorageInfo)
	}
}

func ebsOptimized(get func(*catalog.EbsOptimizedInfo) []string) func(catalog.InstanceType) []string {
	return func(t catalog.InstanceType) []string {
		if t.EbsInfo.EbsOptimizedInfo == nil {
			return nil
		}
		return get(t.EbsInfo.EbsOptimizedInfo)
	}
}

// DescribeInstanceTypes lists the instance types offered in the caller's region,
// ordered by name, optionally only the named ones, that match the filters; paginated
// (MaxResults 5..100). A named type that does not exist, or is not offered in the
// region, fails the call with InvalidInstanceType naming every such type.
//
// AWS does not document the "IDs with MaxResults" restriction for this call, so
// names and MaxResults may be combined.
func (c *Cloud) DescribeInstanceTypes(ctx context.Context, s Scope, names []string, filters []filter.Filter, page Page) ([]catalog.InstanceType, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	m, err := filter.Compile(filters, instanceTypeFields, nil)
	if err != nil {
		return nil, "", err
	}
	var candidates []catalog.InstanceType
	if len(names) == 0 {
		for _, t := range catalog.InstanceTypes() {
			if catalog.OfferedInRegion(t.InstanceType, s.Region) {
				candidates = append(candidates, t)
			}
		}
	} else {
		var unknown []string
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			t, ok := catalog.LookupInstanceType(n)
			if !ok || !catalog.OfferedInRegion(n, s.Region) {
				unknown = append(unknown, n)
				continue
			}
			candidates = append(candidates, t)
		}
		if len(unknown) > 0 {
			return nil, "", errorf("InvalidInstanceType", "The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", "))
		}
		sortByUniqueKey(candidates, func(t catalog.InstanceType) string { return t.InstanceType })
	}
	out := m.Filter(candidates)
	// The named types shape the result set, so a token is only good for the same names.
	op := "DescribeInstanceTypes"
	if len(names) > 0 {
		for _, t := range candidates { // sorted and without duplicates
			op += "\x00" + t.InstanceType
		}
	}
	return PageOf(c, s, op, filters, page, instanceTypesMinResults, instanceTypesMaxResults, out,
		func(t catalog.InstanceType) string { return t.InstanceType })
}

// InstanceTypeOffering says an instance type is offered at a location.
type InstanceTypeOffering struct {
	InstanceType string
	LocationType string // "region", "availability-zone" or "availability-zone-id"
	Location     string // the region name, zone name or zone ID
}

// Location types of DescribeInstanceTypeOfferings (the model's LocationType enum).
const (
	LocationRegion             = "region"
	LocationAvailabilityZone   = "availability-zone"
	LocationAvailabilityZoneID = "availability-zone-id"
	LocationOutpost            = "outpost"
)

var offeringFields = filter.Fields[InstanceTypeOffering]{
	"instance-type": func(o InstanceTypeOffering) []string { return []string{o.InstanceType} },
	"location":      func(o InstanceTypeOffering) []string { return []string{o.Location} },
}

// DescribeInstanceTypeOfferings lists which instance types are offered where in the
// caller's region: in the region itself (locationType "region", the default), in each
// of its zones by name ("availability-zone") or by ID ("availability-zone-id").
// strato has no Outposts, so "outpost" lists nothing. Ordered by location, then
// instance type; paginated (MaxResults 5..1000).
func (c *Cloud) DescribeInstanceTypeOfferings(ctx context.Context, s Scope, locationType string, filters []filter.Filter, page Page) ([]InstanceTypeOffering, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if locationType == "" {
		locationType = LocationRegion
	}
	var locations []string
	region, _ := catalog.LookupRegion(s.Region)
	switch locationType {
	case LocationRegion:
		if region.Name != "" {
			locations = []string{region.Name}
		}
	case LocationAvailabilityZone:
		for _, z := range region.Zones {
			locations = append(locations, z.ZoneName)
		}
	case LocationAvailabilityZoneID:
		for _, z := range region.Zones {
			locations = append(locations, z.ZoneId)
		}
	case LocationOutpost:
	default:
		return nil, "", errorf("InvalidParameterValue",
			"Value (%s) for parameter locationType is invalid. Valid values are: %s, %s, %s, %s",
			locationType, LocationRegion, LocationAvailabilityZone, LocationAvailabilityZoneID, LocationOutpost)
	}
	m, err := filter.Compile(filters, offeringFields, nil)
	if err != nil {
		return nil, "", err
	}
	// Every type offered in a region is offered in all of its zones (see catalog).
	var offered []string
	for _, t := range catalog.InstanceTypes() {
		if catalog.OfferedInRegion(t.InstanceType, region.Name) {
			offered = append(offered, t.InstanceType)
		}
	}
	sort.Strings(locations)
	var out []InstanceTypeOffering
	for _, loc := range locations {
		for _, name := range offered {
			o := InstanceTypeOffering{InstanceType: name, LocationType: locationType, Location: loc}
			if m.Match(o) {
				out = append(out, o)
			}
		}
	}
	return PageOf(c, s, "DescribeInstanceTypeOfferings\x00"+locationType, filters, page,
		instanceOfferingsMinResults, instanceOfferingsMaxResults, out,
		func(o InstanceTypeOffering) string { return o.Location + "\x00" + o.InstanceType })
}
