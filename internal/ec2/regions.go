package ec2

import (
	"context"
	"strconv"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/catalog"
	"strato/internal/cloud/filter"
)

func (s *Service) registerRegions(d *awsapi.EC2) {
	handle(d, "DescribeRegions", s.describeRegions)
	handle(d, "DescribeAvailabilityZones", s.describeAvailabilityZones)
	handle(d, "DescribeAccountAttributes", s.describeAccountAttributes)
}

var regionFields = filter.Fields[catalog.Region]{
	"endpoint":      func(r catalog.Region) []string { return []string{r.Endpoint} },
	"opt-in-status": func(r catalog.Region) []string { return []string{r.OptInStatus} },
	"region-name":   func(r catalog.Region) []string { return []string{r.Name} },
}

func (s *Service) describeRegions(_ context.Context, _ *awsapi.EC2Call, in *ec2api.DescribeRegionsRequest) (*ec2api.DescribeRegionsResult, error) {
	m, err := filter.Compile(filters(in.Filters), regionFields, nil)
	if err != nil {
		return nil, err
	}
	regions := catalog.Regions()
	if len(in.RegionNames) > 0 {
		regions = regions[:0:0]
		for _, name := range in.RegionNames {
			r, ok := catalog.LookupRegion(name)
			if !ok {
				return nil, invalidValue("Invalid region: %s", name)
			}
			regions = append(regions, r)
		}
	}
	all := deref(in.AllRegions)
	out := &ec2api.DescribeRegionsResult{Regions: []ec2api.Region{}}
	for _, r := range regions {
		if !all && r.OptInStatus == catalog.NotOptedIn {
			continue
		}
		if m.Match(r) {
			out.Regions = append(out.Regions, ec2api.Region{RegionName: ptr(r.Name), Endpoint: ptr(r.Endpoint), OptInStatus: ptr(r.OptInStatus)})
		}
	}
	return out, nil
}

var zoneFields = filter.Fields[catalog.Zone]{
	"group-name":           func(z catalog.Zone) []string { return []string{z.GroupName} },
	"message":              func(z catalog.Zone) []string { return nil },
	"network-border-group": func(z catalog.Zone) []string { return []string{z.NetworkBorderGroup} },
	"opt-in-status":        func(z catalog.Zone) []string { return []string{z.OptInStatus} },
	"parent-zone-id":       func(z catalog.Zone) []string { return nil },
	"parent-zone-name":     func(z catalog.Zone) []string { return nil },
	"region-name":          func(z catalog.Zone) []string { return []string{z.RegionName} },
	"state":                func(z catalog.Zone) []string { return []string{z.State} },
	"zone-id":              func(z catalog.Zone) []string { return []string{z.ZoneId} },
	"zone-name":            func(z catalog.Zone) []string { return []string{z.ZoneName} },
	"zone-type":            func(z catalog.Zone) []string { return []string{z.ZoneType} },
}

func (s *Service) describeAvailabilityZones(_ context.Context, c *awsapi.EC2Call, in *ec2api.DescribeAvailabilityZonesRequest) (*ec2api.DescribeAvailabilityZonesResult, error) {
	m, err := filter.Compile(filters(in.Filters), zoneFields, nil)
	if err != nil {
		return nil, err
	}
	region, _ := catalog.LookupRegion(c.Region)
	inRegion := map[string]bool{}
	for _, z := range region.Zones {
		inRegion[z.ZoneName], inRegion[z.ZoneId] = true, true
	}
	wanted := map[string]bool{}
	for _, names := range [][]string{in.ZoneNames, in.ZoneIds} {
		for _, n := range names {
			if !inRegion[n] {
				return nil, invalidValue("Invalid availability zone: [%s]", n)
			}
			wanted[n] = true
		}
	}
	out := &ec2api.DescribeAvailabilityZonesResult{AvailabilityZones: []ec2api.AvailabilityZone{}}
	for _, z := range region.Zones {
		if len(wanted) > 0 && !wanted[z.ZoneName] && !wanted[z.ZoneId] {
			continue
		}
		if !m.Match(z) {
			continue
		}
		out.AvailabilityZones = append(out.AvailabilityZones, ec2api.AvailabilityZone{
			State: ptr(z.State), OptInStatus: ptr(z.OptInStatus), Messages: []ec2api.AvailabilityZoneMessage{},
			RegionName: ptr(z.RegionName), ZoneName: ptr(z.ZoneName), ZoneId: ptr(z.ZoneId),
			GroupName: ptr(z.GroupName), NetworkBorderGroup: ptr(z.NetworkBorderGroup), ZoneType: ptr(z.ZoneType),
		})
	}
	return out, nil
}

// Account attribute values. default-vpc reports "none" until the VPC control plane
// creates default VPCs.
var accountAttributes = []struct {
	name   string
	values func() []string
}{
	{"supported-platforms", func() []string { return []string{"VPC"} }},
	{"vpc-max-security-groups-per-interface", func() []string { return []string{"5"} }},
	{"max-elastic-ips", func() []string { return []string{"5"} }},
	{"max-instances", func() []string { return []string{strconv.Itoa(MaxInstances)} }},
	{"vpc-max-elastic-ips", func() []string { return []string{"5"} }},
	{"default-vpc", func() []string { return []string{"none"} }},
}

// MaxInstances is the On-Demand instance limit DescribeAccountAttributes reports.
const MaxInstances = 20

func (s *Service) describeAccountAttributes(_ context.Context, _ *awsapi.EC2Call, in *ec2api.DescribeAccountAttributesRequest) (*ec2api.DescribeAccountAttributesResult, error) {
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
		for _, v := range a.values() {
			attr.AttributeValues = append(attr.AttributeValues, ec2api.AccountAttributeValue{AttributeValue: ptr(v)})
		}
		out.AccountAttributes = append(out.AccountAttributes, attr)
	}
	return out, nil
}
