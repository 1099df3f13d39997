package ec2

import (
	"regexp"
	"strings"
	"testing"

	"strato/internal/cloud/cloudtest"
)

func TestDefaultVPC(t *testing.T) {
	d := New(cloudtest.WithDefaultVPCs(t))
	body := mustCall(t, d, "DescribeAccountAttributes", "AttributeName.1", "default-vpc")
	m := regexp.MustCompile(`<attributeValue>(vpc-[0-9a-f]{17})</attributeValue>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no default VPC reported on first use: %s", body)
	}
	vpc := m[1]
	body = mustCall(t, d, "DescribeSubnets", "Filter.1.Name", "default-for-az", "Filter.1.Value.1", "true")
	// us-east-1 has six zones: one default /20 each, the first free ones of 172.31.0.0/16.
	for _, want := range []string{"172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20", "172.31.48.0/20", "172.31.64.0/20", "172.31.80.0/20"} {
		if !strings.Contains(body, "<cidrBlock>"+want+"</cidrBlock>") {
			t.Errorf("no default subnet %s: %s", want, body)
		}
	}
	if n := strings.Count(body, "<mapPublicIpOnLaunch>true</mapPublicIpOnLaunch>"); n != 6 {
		t.Errorf("%d default subnets map public IPs, want 6", n)
	}
	subnets := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindAllStringSubmatch(body, -1)
	body = mustCall(t, d, "DescribeInternetGateways", "Filter.1.Name", "attachment.vpc-id", "Filter.1.Value.1", vpc)
	igw := regexp.MustCompile(`<internetGatewayId>(igw-[0-9a-f]{17})</internetGatewayId>`).FindStringSubmatch(body)
	if igw == nil {
		t.Fatalf("the default VPC has no internet gateway: %s", body)
	}
	runCases(t, d, []apiCase{
		{"is default", "DescribeVpcs", []string{"Filter.1.Name", "is-default", "Filter.1.Value.1", "true"}, "", "<cidrBlock>172.31.0.0/16</cidrBlock>"},
		{"isDefault, as Terraform spells it", "DescribeVpcs", []string{"Filter.1.Name", "isDefault", "Filter.1.Value.1", "true"}, "", vpc},
		{"DNS hostnames on", "DescribeVpcAttribute", []string{"VpcId", vpc, "Attribute", "enableDnsHostnames"}, "", "<value>true</value>"},
		{"another default VPC", "CreateDefaultVpc", nil, "DefaultVpcAlreadyExists", ""},
		{"another default subnet in a zone", "CreateDefaultSubnet", []string{"AvailabilityZone", "us-east-1a"}, "DefaultSubnetAlreadyExistsInAvailabilityZone", ""},
		{"unknown zone", "CreateDefaultSubnet", []string{"AvailabilityZone", "us-east-1z"}, "InvalidParameterValue", ""},
		{"not empty", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"shown as default", "DescribeVpcs", []string{"Filter.1.Name", "is-default", "Filter.1.Value.1", "true"}, "", "<isDefault>true</isDefault>"},
	})
	// Delete it all, as users do.
	for _, sn := range subnets {
		mustCall(t, d, "DeleteSubnet", "SubnetId", sn[1])
	}
	mustCall(t, d, "DetachInternetGateway", "InternetGatewayId", igw[1], "VpcId", vpc)
	mustCall(t, d, "DeleteInternetGateway", "InternetGatewayId", igw[1])
	mustCall(t, d, "DeleteVpc", "VpcId", vpc)
	runCases(t, d, []apiCase{
		{"gone, and not made again", "DescribeAccountAttributes", []string{"AttributeName.1", "default-vpc"}, "", "<attributeValue>none</attributeValue>"},
		{"no default VPC for a default subnet", "CreateDefaultSubnet", []string{"AvailabilityZone", "us-east-1a"}, "DefaultVpcDoesNotExist", ""},
		{"dry run", "CreateDefaultVpc", []string{"DryRun", "true"}, "DryRunOperation", ""},
		{"still none", "DescribeVpcs", []string{"Filter.1.Name", "is-default", "Filter.1.Value.1", "true"}, "", "<vpcSet/>"},
		{"made again", "CreateDefaultVpc", nil, "", "<isDefault>true</isDefault>"},
		{"with its subnets", "DescribeSubnets", []string{"Filter.1.Name", "default-for-az", "Filter.1.Value.1", "true", "Filter.2.Name", "availability-zone", "Filter.2.Value.1", "us-east-1f"}, "", "<cidrBlock>172.31.80.0/20</cidrBlock>"},
	})
	body = mustCall(t, d, "DescribeSubnets", "Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1c")
	sn := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindStringSubmatch(body)[1]
	mustCall(t, d, "DeleteSubnet", "SubnetId", sn)
	runCases(t, d, []apiCase{
		{"a deleted default subnet comes back in its old room", "CreateDefaultSubnet", []string{"AvailabilityZone", "us-east-1c"}, "", "<cidrBlock>172.31.32.0/20</cidrBlock>"},
	})
}

func TestDefaultVPCOnePerRegionAndAccount(t *testing.T) {
	c := cloudtest.WithDefaultVPCs(t)
	d := New(c)
	mustCall(t, d, "DescribeVpcs")
	mustCall(t, d, "DescribeVpcs")
	body := mustCall(t, d, "DescribeVpcs")
	if n := strings.Count(body, "<isDefault>true</isDefault>"); n != 1 {
		t.Fatalf("%d default VPCs after three requests, want 1: %s", n, body)
	}
}
