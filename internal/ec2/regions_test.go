package ec2

import (
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func TestRegionsZonesAttributes(t *testing.T) {
	d := newService(t)
	cases := []struct {
		name     string
		action   string
		params   []string
		contains []string
		absent   []string
		code     string
	}{
		{"all regions", "DescribeRegions", nil, []string{"<regionName>us-east-1</regionName>", "<regionEndpoint>ec2.eu-west-1.amazonaws.com</regionEndpoint>", "<optInStatus>opted-in</optInStatus>"}, nil, ""},
		{"named region", "DescribeRegions", []string{"RegionName.1", "ap-south-1"}, []string{"<regionName>ap-south-1</regionName>"}, []string{"us-east-1"}, ""},
		{"unknown region", "DescribeRegions", []string{"RegionName.1", "mars-north-1"}, nil, nil, "InvalidParameterValue"},
		{"opt-in filter", "DescribeRegions", []string{"Filter.1.Name", "opt-in-status", "Filter.1.Value.1", "opted-in"}, []string{"af-south-1"}, []string{"us-east-1<"}, ""},
		{"zones of the caller's region", "DescribeAvailabilityZones", nil, []string{"<zoneName>us-east-1f</zoneName>", "<zoneId>use1-az1</zoneId>", "<zoneState>available</zoneState>", "<messageSet/>"}, []string{"eu-west-1"}, ""},
		{"zone by ID", "DescribeAvailabilityZones", []string{"ZoneId.1", "use1-az4"}, []string{"<zoneName>us-east-1c</zoneName>"}, []string{"us-east-1a"}, ""},
		{"zone of another region", "DescribeAvailabilityZones", []string{"ZoneName.1", "eu-west-1a"}, nil, nil, "InvalidParameterValue"},
		{"zone filter", "DescribeAvailabilityZones", []string{"Filter.1.Name", "zone-name", "Filter.1.Value.1", "*b"}, []string{"us-east-1b"}, []string{"us-east-1a"}, ""},
		{"unknown zone filter", "DescribeAvailabilityZones", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, nil, nil, "InvalidParameterValue"},
		{"every attribute", "DescribeAccountAttributes", nil, []string{"<attributeName>default-vpc</attributeName>", "<attributeValue>none</attributeValue>", "<attributeName>vpc-max-security-groups-per-interface</attributeName>"}, nil, ""},
		{"one attribute", "DescribeAccountAttributes", []string{"AttributeName.1", "supported-platforms"}, []string{"<attributeValue>VPC</attributeValue>"}, []string{"max-elastic-ips"}, ""},
		{"unknown attribute", "DescribeAccountAttributes", []string{"AttributeName.1", "max-unicorns"}, nil, nil, "InvalidParameterValue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := callEC2(t, d, c.action, c.params...)
			if c.code != "" {
				if e, _ := awsapi.AsError(err); err == nil || e.Code != c.code {
					t.Fatalf("want %s, got %v", c.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range c.contains {
				if !strings.Contains(body, want) {
					t.Errorf("missing %s in %s", want, body)
				}
			}
			for _, bad := range c.absent {
				if strings.Contains(body, bad) {
					t.Errorf("unexpected %s in %s", bad, body)
				}
			}
		})
	}
}

func TestTagsOnIDsOfEveryKind(t *testing.T) {
	d := newService(t)
	cases := map[string]string{
		"i-0123456789abcdef0":        "InvalidInstanceID.NotFound",
		"vol-0123456789abcdef0":      "InvalidVolume.NotFound",
		"ami-12345678":               "InvalidAMIID.NotFound",
		"sg-0123456789abcdef0":       "InvalidGroup.NotFound",
		"key-0123456789abcdef0":      "InvalidKeyPair.NotFound",
		"i-0123456789ABCDEF0":        "InvalidID",
		"bogus-0123456789abcdef0":    "InvalidID",
		"i-0123":                     "InvalidID",
		"eipalloc-0123456789abcdef0": "InvalidAllocationID.NotFound",
	}
	for id, code := range cases {
		_, err := callEC2(t, d, "CreateTags", "ResourceId.1", id, "Tag.1.Key", "k", "Tag.1.Value", "v")
		if e, _ := awsapi.AsError(err); err == nil || e.Code != code {
			t.Errorf("%s: want %s, got %v", id, code, err)
		}
	}
}

func TestEmptyNamesAreRefused(t *testing.T) {
	d := newService(t)
	cases := []struct {
		action string
		params []string
		code   string
	}{
		{"DeleteTags", []string{"ResourceId.1", "key-0123456789abcdef0", "Tag.1.Key", ""}, "InvalidParameterValue"},
		{"DeleteKeyPair", []string{"KeyName", ""}, "MissingParameter"},
		{"DeleteKeyPair", []string{"KeyPairId", ""}, "MissingParameter"},
		{"DeleteKeyPair", nil, "MissingParameter"},
	}
	for _, c := range cases {
		_, err := callEC2(t, d, c.action, c.params...)
		if e, _ := awsapi.AsError(err); err == nil || e.Code != c.code {
			t.Errorf("%s %v: want %s, got %v", c.action, c.params, c.code, err)
		}
	}
}
