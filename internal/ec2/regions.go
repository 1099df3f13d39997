package ec2

import (
	"context"
	"strconv"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/catalog"
	"strato/internal/cloud"
	"strato/internal/cloud/filter"
)

func init() { areas = append(areas, (*Service).registerRegions) }

func (s *Service) registerRegions(d *awsapi.EC2) {
	handle(d, "DescribeRegions", s.describeRegions)
	handle(d, "DescribeAvailabilityZones", s.describeAvailabilityZones)
	handle(d, "DescribeAccountAttributes", s.describeAccountAttributes)
}

// regionAnswer is a region with its API form, built once: the catalogue is static and
// DescribeRegions is among the most frequent calls.
type regionAnswer struct {
	catalog.Region
	api ec2api.Region
}

type zoneAnswer struct {
	catalog.Zone
	api ec2api.AvailabilityZone
}

var (
	regionAnswers []regionAnswer
	regionByName  = map[string]int{}
	zoneAnswers   = map[string][]zoneAnswer{} // by region
)

func init() {
	for _, r := range catalog.Regions() {
		regionByName[r.Name] = len(regionAnswers)
		regionAnswers = append(regionAnswers, regionAnswer{r, ec2api.Region{RegionName: ptr(r.Name), Endpoint: ptr(r.Endpoint), OptInStatus: ptr(r.OptInStatus)}})
		for _, z := range r.Zones {
			zoneAnswers[r.Name] = append(zoneAnswers[r.Name], zoneAnswer{z, ec2api.AvailabilityZone{
				State: ptr(z.State), OptInStatus: ptr(z.OptInStatus), Messages: []ec2api.AvailabilityZoneMessage{},
				RegionName: ptr(z.RegionName), ZoneName: ptr(z.ZoneName), ZoneId: ptr(z.ZoneId),
				GroupName: ptr(z.GroupName), NetworkBorderGroup: ptr(z.NetworkBorderGroup), ZoneType: ptr(z.ZoneType),
			}})
		}
	}
}

var regionFields = filter.Fields[*regionAnswer]{
	"endpoint":      func(r *regionAnswer) []string { return []string{r.Endpoint} },
	"opt-in-status": func(r *regionAnswer) []string { return []string{r.OptInStatus} },
	"region-name":   func(r *regionAnswer) []string { return []string{r.Name} },
}

func (s *Service) describeRegions(_ context.Context, _ *awsapi.EC2Call, in *ec2api.DescribeRegionsRequest) (*ec2api.DescribeRegionsResult, error) {
	m, err := filter.Compile(filters(in.Filters), regionFields, nil)
	if err != nil {
		return nil, err
	}
	var named map[int]bool
	if len(in.RegionNames) > 0 {
		named = map[int]bool{}
		for _, name := range in.RegionNames {
			i, ok := regionByName[name]
			if !ok {
				return nil, invalidValue("Invalid region: %s", name)
			}
			named[i] = true
		}
	}
	all := deref(in.AllRegions)
	out := &ec2api.DescribeRegionsResult{Regions: make([]ec2api.Region, 0, len(regionAnswers))}
	for i := range regionAnswers {
		r := &regionAnswers[i]
		if named != nil && !named[i] || !all && named == nil && r.OptInStatus == catalog.NotOptedIn {
			continue
		}
		if m.Match(r) {
			out.Regions = append(out.Regions, r.api)
		}
	}
	return out, nil
}

var zoneFields = filter.Fields[*zoneAnswer]{
	"group-name":           func(z *zoneAnswer) []string { return []string{z.GroupName} },
	"message":              func(z *zoneAnswer) []string { return nil },
	"network-border-group": func(z *zoneAnswer) []string { return []string{z.NetworkBorderGroup} },
	"opt-in-status":        func(z *zoneAnswer) []string { return []string{z.OptInStatus} },
	"parent-zone-id":       func(z *zoneAnswer) []string { return nil },
	"parent-zone-name":     func(z *zoneAnswer) []string { return nil },
	"region-name":          func(z *zoneAnswer) []string { return []string{z.RegionName} },
	"state":                func(z *zoneAnswer) []string { return []string{z.State} },
	"zone-id":              func(z *zoneAnswer) []string { return []string{z.ZoneId} },
	"zone-name":            func(z *zoneAnswer) []string { return []string{z.ZoneName} },
	"zone-type":            func(z *zoneAnswer) []string { return []string{z.ZoneType} },
}

func (s *Service) describeAvailabilityZones(_ context.Context, c *awsapi.EC2Call, in *ec2api.DescribeAvailabilityZonesRequest) (*ec2api.DescribeAvailabilityZonesResult, error) {
	m, err := filter.Compile(filters(in.Filters), zoneFields, nil)
	if err != nil {
		return nil, err
	}
	zones := zoneAnswers[c.Region]
	wanted := map[string]bool{}
	for _, names := range [][]string{in.ZoneNames, in.ZoneIds} {
		for _, n := range names {
			known := false
			for _, z := range zones {
				known = known || z.ZoneName == n || z.ZoneId == n
			}
			if !known {
				return nil, invalidValue("Invalid availability zone: [%s]", n)
			}
			wanted[n] = true
		}
	}
	out := &ec2api.DescribeAvailabilityZonesResult{AvailabilityZones: []ec2api.AvailabilityZone{}}
	for i := range zones {
		z := &zones[i]
		if len(wanted) > 0 && !wanted[z.ZoneName] && !wanted[z.ZoneId] {
			continue
		}
		if m.Match(z) {
			out.AvailabilityZones = append(out.AvailabilityZones, z.api)
		}
	}
	return out, nil
}

// fixed answers an account attribute with constant values.
func fixed(values ...string) func(*Service, context.Context, cloud.Scope) ([]string, error) {
	return func(*Service, context.Context, cloud.Scope) ([]string, error) { return values, nil }
}

// quotaValue answers an account attribute with the account's value of a quota.
func quotaValue(name string) func(*Service, context.Context, cloud.Scope) ([]string, error) {
	return func(s *Service, ctx context.Context, sc cloud.Scope) ([]string, error) {
		v, err := s.cloud.Quota(ctx, sc.Account, name)
		return []string{strconv.FormatInt(v, 10)}, err
	}
}

// Account attribute values.
var accountAttributes = []struct {
	name   string
	values func(s *Service, ctx context.Context, sc cloud.Scope) ([]string, error)
}{
	{"supported-platforms", fixed("VPC")},
	{"vpc-max-security-groups-per-interface", quotaValue(cloud.QuotaSecurityGroupsPerInterface)},
	{"max-elastic-ips", quotaValue(cloud.QuotaElasticIPs)},
	{"max-instances", fixed(strconv.Itoa(MaxInstances))},
	{"vpc-max-elastic-ips", quotaValue(cloud.QuotaElasticIPs)},
	{"default-vpc", func(s *Service, ctx context.Context, sc cloud.Scope) ([]string, error) {
		id, err := s.cloud.DefaultVPCID(ctx, sc)
		if id == "" {
			id = "none"
		}
		return []string{id}, err
	}},
}

// MaxInstances is the On-Demand instance limit DescribeAccountAttributes reports.
const MaxInstances = 20

func (s *Service) describeAccountAttributes(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeAccountAttributesRequest) (*ec2api.DescribeAccountAttributesResult, error) {
	wanted := map[string]bool{}
	for _, n := range in.AttributeNames {
		known := false
		for _, a := range accountAttributes {
			known = known || a.name == n
		}
		if !known {
			var names []string
			for _, a := range accountAttributes {
				names = append(names, a.name)
			}
			return nil, invalidValue("Value (%s) for parameter attributeName is invalid. Valid values are: %s", n, strings.Join(names, ", "))
		}
		wanted[n] = true
	}
	out := &ec2api.DescribeAccountAttributesResult{AccountAttributes: []ec2api.AccountAttribute{}}
	for _, a := range accountAttributes {
		if len(wanted) > 0 && !wanted[a.name] {
			continue
		}
		attr := ec2api.AccountAttribute{AttributeName: ptr(a.name)}
		values, err := a.values(s, ctx, scope(c))
		if err != nil {
			return nil, err
		}
		for _, v := range values {
			attr.AttributeValues = append(attr.AttributeValues, ec2api.AccountAttributeValue{AttributeValue: ptr(v)})
		}
		out.AccountAttributes = append(out.AccountAttributes, attr)
	}
	return out, nil
}
