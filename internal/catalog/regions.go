// Package catalog holds static facts about AWS that strato reproduces:
// the commercial regions with their availability zones, and the EC2
// instance types with the figures DescribeInstanceTypes reports for them.
//
// Everything here is read-only data built at package initialisation. The
// exported functions hand out copies, so callers may modify what they get.
package catalog

import (
	"sort"
	"strings"
)

// Values of Region.OptInStatus and Zone.OptInStatus, as DescribeRegions and
// DescribeAvailabilityZones spell them.
const (
	OptInNotRequired = "opt-in-not-required"
	OptedIn          = "opted-in"
	NotOptedIn       = "not-opted-in"
)

// Region is one AWS commercial region as DescribeRegions reports it, plus
// its availability zones.
type Region struct {
	Name        string // e.g. "us-east-1"
	Endpoint    string // e.g. "ec2.us-east-1.amazonaws.com"
	OptInStatus string // OptInNotRequired or OptedIn
	Zones       []Zone // in zone-name order
}

// Zone is one availability zone, with the fields of EC2's
// AvailabilityZone shape. Field names follow AWS's spelling so they map
// one-to-one onto the API output.
type Zone struct {
	ZoneName           string // e.g. "us-east-1a"
	ZoneId             string // e.g. "use1-az1"
	ZoneType           string // always "availability-zone"
	State              string // always "available"
	OptInStatus        string // always OptInNotRequired for availability zones
	RegionName         string
	GroupName          string // equal to the region name for availability zones
	NetworkBorderGroup string // equal to the region name for availability zones
}

// regionSpec is the compact source form of a region: the zone letters and
// the AZ ID number each letter maps to.
type regionSpec struct {
	name   string
	idBase string // AZ ID prefix, e.g. "use1"
	optIn  bool   // an opt-in region (launched after March 2019)
	// zones maps each zone letter, in order, to the number of its AZ ID.
	zones []letterID
}

type letterID struct {
	letter byte
	id     int
}

// seq builds the common mapping a→az1, b→az2, ... for n zones.
func seq(n int) []letterID {
	out := make([]letterID, n)
	for i := range out {
		out[i] = letterID{byte('a' + i), i + 1}
	}
	return out
}

// zs builds an explicit mapping from alternating letters and ID numbers.
func zs(pairs ...any) []letterID {
	out := make([]letterID, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, letterID{pairs[i].(byte), pairs[i+1].(int)})
	}
	return out
}

// regionSpecs lists every commercial AWS region (no GovCloud, no China) as
// of late 2025, with the availability zones an account can launch into.
//
// Zone-name to zone-ID mapping: in AWS's oldest regions (us-east-1,
// us-west-1, us-west-2, eu-west-1, sa-east-1, ap-northeast-1,
// ap-southeast-1, ap-southeast-2) the letter→AZ-ID mapping is shuffled per
// account, so no single mapping is "right"; strato fixes one mapping for
// every account, as recorded here. For the other regions AWS uses one
// mapping for all accounts; the entries below follow it where it is known
// to differ from the plain a→az1, b→az2 order, otherwise the plain order
// is used.
//
// Zone counts and gaps:
//   - us-east-1 has six zones (a–f, use1-az1…az6).
//   - us-west-1 has two usable zones (usw1-az1 and usw1-az3; usw1-az2 is
//     closed to new customers). Accounts see them under different letters;
//     strato uses us-west-1b and us-west-1c, the pair most accounts created
//     in recent years see.
//   - us-west-2 and ap-northeast-2 have four zones.
//   - ap-northeast-1 exposes a, c and d (apne1-az3 is closed to new
//     accounts), using the mapping a→az4, c→az1, d→az2.
//   - ca-central-1 has a, b and d (cac1-az1, az2, az4; there is no az3).
//   - every other region has three zones.
var regionSpecs = []regionSpec{
	{"af-south-1", "afs1", true, seq(3)},
	{"ap-east-1", "ape1", true, seq(3)},
	{"ap-east-2", "ape2", true, seq(3)},
	{"ap-northeast-1", "apne1", false, zs(byte('a'), 4, byte('c'), 1, byte('d'), 2)},
	{"ap-northeast-2", "apne2", false, seq(4)},
	{"ap-northeast-3", "apne3", false, zs(byte('a'), 3, byte('b'), 1, byte('c'), 2)},
	{"ap-south-1", "aps1", false, zs(byte('a'), 1, byte('b'), 3, byte('c'), 2)},
	{"ap-south-2", "aps2", true, seq(3)},
	{"ap-southeast-1", "apse1", false, seq(3)},
	{"ap-southeast-2", "apse2", false, seq(3)},
	{"ap-southeast-3", "apse3", true, seq(3)},
	{"ap-southeast-4", "apse4", true, seq(3)},
	{"ap-southeast-5", "apse5", true, seq(3)},
	{"ap-southeast-6", "apse6", true, seq(3)},
	{"ap-southeast-7", "apse7", true, seq(3)},
	{"ca-central-1", "cac1", false, zs(byte('a'), 1, byte('b'), 2, byte('d'), 4)},
	{"ca-west-1", "caw1", true, seq(3)},
	{"eu-central-1", "euc1", false, zs(byte('a'), 2, byte('b'), 3, byte('c'), 1)},
	{"eu-central-2", "euc2", true, seq(3)},
	{"eu-north-1", "eun1", false, seq(3)},
	{"eu-south-1", "eus1", true, seq(3)},
	{"eu-south-2", "eus2", true, seq(3)},
	{"eu-west-1", "euw1", false, seq(3)},
	{"eu-west-2", "euw2", false, zs(byte('a'), 2, byte('b'), 3, byte('c'), 1)},
	{"eu-west-3", "euw3", false, seq(3)},
	{"il-central-1", "ilc1", true, seq(3)},
	{"me-central-1", "mec1", true, seq(3)},
	{"me-south-1", "mes1", true, seq(3)},
	{"mx-central-1", "mxc1", true, seq(3)},
	{"sa-east-1", "sae1", false, seq(3)},
	{"us-east-1", "use1", false, zs(byte('a'), 1, byte('b'), 2, byte('c'), 4, byte('d'), 6, byte('e'), 3, byte('f'), 5)},
	{"us-east-2", "use2", false, seq(3)},
	{"us-west-1", "usw1", false, zs(byte('b'), 1, byte('c'), 3)},
	{"us-west-2", "usw2", false, seq(4)},
}

var (
	regions     []Region          // sorted by name
	regionIndex map[string]int    // region name → index in regions
	zoneIndex   map[string][2]int // zone name or ID → (region index, zone index)
)

func init() {
	regions = make([]Region, 0, len(regionSpecs))
	for _, s := range regionSpecs {
		r := Region{
			Name:        s.name,
			Endpoint:    "ec2." + s.name + ".amazonaws.com",
			OptInStatus: OptInNotRequired,
		}
		if s.optIn {
			// strato treats every opt-in region as already opted in.
			r.OptInStatus = OptedIn
		}
		for _, z := range s.zones {
			r.Zones = append(r.Zones, Zone{
				ZoneName:           s.name + string(z.letter),
				ZoneId:             s.idBase + "-az" + itoa(z.id),
				ZoneType:           "availability-zone",
				State:              "available",
				OptInStatus:        OptInNotRequired,
				RegionName:         s.name,
				GroupName:          s.name,
				NetworkBorderGroup: s.name,
			})
		}
		sort.Slice(r.Zones, func(i, j int) bool { return r.Zones[i].ZoneName < r.Zones[j].ZoneName })
		regions = append(regions, r)
	}
	sort.Slice(regions, func(i, j int) bool { return regions[i].Name < regions[j].Name })
	regionIndex = make(map[string]int, len(regions))
	zoneIndex = make(map[string][2]int)
	for i, r := range regions {
		regionIndex[r.Name] = i
		for j, z := range r.Zones {
			zoneIndex[z.ZoneName] = [2]int{i, j}
			zoneIndex[z.ZoneId] = [2]int{i, j}
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (r Region) clone() Region {
	r.Zones = append([]Zone(nil), r.Zones...)
	return r
}

// Regions returns every region, sorted by name.
func Regions() []Region {
	out := make([]Region, len(regions))
	for i, r := range regions {
		out[i] = r.clone()
	}
	return out
}

// LookupRegion returns the region with the given name, e.g. "eu-west-1".
func LookupRegion(name string) (Region, bool) {
	i, ok := regionIndex[name]
	if !ok {
		return Region{}, false
	}
	return regions[i].clone(), true
}

// KnownRegion reports whether a region exists, without copying it (every request
// asks).
func KnownRegion(name string) bool {
	_, ok := regionIndex[name]
	return ok
}

// LookupZone returns the availability zone with the given zone name
// ("us-east-1a") or zone ID ("use1-az1"). Matching is case-insensitive.
func LookupZone(nameOrID string) (Zone, bool) {
	ix, ok := zoneIndex[strings.ToLower(nameOrID)]
	if !ok {
		return Zone{}, false
	}
	return regions[ix[0]].Zones[ix[1]], true
}
