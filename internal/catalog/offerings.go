package catalog

// Instance type offerings (what DescribeInstanceTypeOfferings reports).
//
// Rule: every family in the catalogue is offered in every region, except
// the specialised families listed in restrictedFamilies, which are offered
// only in the regions listed for them. Within a region where a type is
// offered, it is offered in every availability zone.
//
// The region lists approximate AWS's public offerings for those families
// (their largest regions); they are deliberately conservative. AWS also
// leaves some types out of individual zones, which strato does not model.
var restrictedFamilies = map[string][]string{
	"f1": {"ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-2", "us-east-1", "us-west-2"},
	"h1": {"eu-west-1", "us-east-1", "us-east-2", "us-west-2"},
	"p3": {"ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
		"eu-central-1", "eu-west-1", "eu-west-2", "us-east-1", "us-east-2", "us-west-2"},
	"p4d": {"ap-northeast-1", "ap-northeast-2", "eu-central-1", "eu-west-1", "us-east-1", "us-east-2", "us-west-2"},
	"x2idn": {"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "eu-central-1",
		"eu-west-1", "eu-west-2", "us-east-1", "us-east-2", "us-west-2"},
	"inf2": {"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "eu-central-1",
		"eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-2"},
}

// OfferedInRegion reports whether the instance type is offered in the
// region. Unknown types and unknown regions are never offered.
func OfferedInRegion(typeName, region string) bool {
	if _, ok := typeIndex[typeName]; !ok {
		return false
	}
	if _, ok := regionIndex[region]; !ok {
		return false
	}
	only, restricted := restrictedFamilies[familyOf(typeName)]
	if !restricted {
		return true
	}
	for _, r := range only {
		if r == region {
			return true
		}
	}
	return false
}

// OfferedInZone reports whether the instance type is offered in the zone:
// true when the zone is one of the catalogue's and the type is offered in
// its region.
func OfferedInZone(typeName string, zone Zone) bool {
	z, ok := LookupZone(zone.ZoneName)
	if !ok {
		z, ok = LookupZone(zone.ZoneId)
	}
	if !ok {
		return false
	}
	return OfferedInRegion(typeName, z.RegionName)
}
