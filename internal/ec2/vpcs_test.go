package ec2

import (
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func TestVPCs(t *testing.T) {
	d := newService(t)
	body, err := callEC2(t, d, "CreateVpc", "CidrBlock", "10.0.0.0/16", "TagSpecification.1.ResourceType", "vpc", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "app")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<cidrBlock>10.0.0.0/16</cidrBlock>", "<state>pending</state>", "<isDefault>false</isDefault>", "<instanceTenancy>default</instanceTenancy>", "<cidrBlockState><state>associated</state></cidrBlockState>", "<key>Name</key>", "<ownerId>123456789012</ownerId>"} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateVpc answer lacks %s: %s", want, body)
		}
	}
	id := regexp.MustCompile(`<vpcId>(vpc-[0-9a-f]{17})</vpcId>`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no VPC ID in %s", body)
	}
	vpc := id[1]

	cases := []apiCase{
		{"a /15 is too large", "CreateVpc", []string{"CidrBlock", "10.0.0.0/15"}, "InvalidVpc.Range", ""},
		{"a /29 is too small", "CreateVpc", []string{"CidrBlock", "10.0.0.0/29"}, "InvalidVpc.Range", ""},
		{"not a CIDR", "CreateVpc", []string{"CidrBlock", "ten"}, "InvalidParameterValue", ""},
		{"no CIDR", "CreateVpc", nil, "MissingParameter", ""},
		{"BYOIP IPv6 not supported", "CreateVpc", []string{"CidrBlock", "10.1.0.0/16", "Ipv6Pool", "ipv6pool-ec2-0123456789abcdef0"}, "UnsupportedOperation", ""},
		{"bad tenancy", "CreateVpc", []string{"CidrBlock", "10.1.0.0/16", "InstanceTenancy", "shared"}, "InvalidParameterValue", ""},
		{"tag spec for another type", "CreateVpc", []string{"CidrBlock", "10.1.0.0/16", "TagSpecification.1.ResourceType", "subnet", "TagSpecification.1.Tag.1.Key", "a"}, "InvalidParameterValue", ""},
		{"describe by ID", "DescribeVpcs", []string{"VpcId.1", vpc}, "", "<vpcId>" + vpc + "</vpcId>"},
		{"describe a missing ID", "DescribeVpcs", []string{"VpcId.1", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"filter by cidr", "DescribeVpcs", []string{"Filter.1.Name", "cidr", "Filter.1.Value.1", "10.0.0.0/16"}, "", vpc},
		{"filter by tag", "DescribeVpcs", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "ap*"}, "", vpc},
		{"filter is-default", "DescribeVpcs", []string{"Filter.1.Name", "is-default", "Filter.1.Value.1", "true"}, "", "<vpcSet/>"},
		{"unknown filter", "DescribeVpcs", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"DNS support on by default", "DescribeVpcAttribute", []string{"VpcId", vpc, "Attribute", "enableDnsSupport"}, "", "<enableDnsSupport><value>true</value></enableDnsSupport>"},
		{"DNS hostnames off by default", "DescribeVpcAttribute", []string{"VpcId", vpc, "Attribute", "enableDnsHostnames"}, "", "<enableDnsHostnames><value>false</value></enableDnsHostnames>"},
		{"unknown attribute", "DescribeVpcAttribute", []string{"VpcId", vpc, "Attribute", "colour"}, "InvalidParameterValue", ""},
		{"two attributes at once", "ModifyVpcAttribute", []string{"VpcId", vpc, "EnableDnsSupport.Value", "true", "EnableDnsHostnames.Value", "true"}, "InvalidParameterCombination", ""},
		{"no attribute", "ModifyVpcAttribute", []string{"VpcId", vpc}, "MissingParameter", ""},
		{"turn hostnames on", "ModifyVpcAttribute", []string{"VpcId", vpc, "EnableDnsHostnames.Value", "true"}, "", "<return>true</return>"},
		{"now on", "DescribeVpcAttribute", []string{"VpcId", vpc, "Attribute", "enableDnsHostnames"}, "", "<value>true</value>"},
		{"support may go while hostnames are on", "ModifyVpcAttribute", []string{"VpcId", vpc, "EnableDnsSupport.Value", "false"}, "", "<return>true</return>"},
		{"hostnames cannot come back without support", "ModifyVpcAttribute", []string{"VpcId", vpc, "EnableDnsHostnames.Value", "true"}, "InvalidParameterValue", ""},
		{"modify a missing VPC", "ModifyVpcAttribute", []string{"VpcId", "vpc-0123456789abcdef0", "EnableDnsHostnames.Value", "true"}, "InvalidVpcID.NotFound", ""},
		{"delete a missing VPC", "DeleteVpc", []string{"VpcId", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"dry-run delete", "DeleteVpc", []string{"VpcId", vpc, "DryRun", "true"}, "DryRunOperation", ""},
		{"still there", "DescribeVpcs", []string{"VpcId.1", vpc}, "", vpc},
		{"delete", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
		{"gone", "DescribeVpcs", []string{"VpcId.1", vpc}, "InvalidVpcID.NotFound", ""},
	}
	runCases(t, d, cases)
}

func TestVPCQuota(t *testing.T) {
	d := newService(t)
	for i := 0; i < 5; i++ {
		if _, err := callEC2(t, d, "CreateVpc", "CidrBlock", "10.0.0.0/16"); err != nil {
			t.Fatalf("VPC %d: %v", i+1, err)
		}
	}
	_, err := callEC2(t, d, "CreateVpc", "CidrBlock", "10.0.0.0/16")
	if e, _ := awsapi.AsError(err); err == nil || e.Code != "VpcLimitExceeded" {
		t.Fatalf("sixth VPC: %v", err)
	}
	body, err := callEC2(t, d, "DescribeVpcs", "MaxResults", "5")
	if err != nil || strings.Count(body, "<vpcId>") != 5 || strings.Contains(body, "<nextToken>") {
		t.Fatalf("five VPCs in one page without a token: %v %s", err, body)
	}
}
