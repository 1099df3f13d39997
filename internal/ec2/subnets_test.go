package ec2

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func createVPC(t *testing.T, d *awsapi.EC2, cidr string) string {
	t.Helper()
	body, err := callEC2(t, d, "CreateVpc", "CidrBlock", cidr)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`<vpcId>(vpc-[0-9a-f]{17})</vpcId>`).FindStringSubmatch(body)[1]
}

func TestSubnets(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.0.0.0/16")
	body, err := callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.1.0/24", "AvailabilityZone", "us-east-1b",
		"TagSpecification.1.ResourceType", "subnet", "TagSpecification.1.Tag.1.Key", "tier", "TagSpecification.1.Tag.1.Value", "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<availableIpAddressCount>251</availableIpAddressCount>", // 256 less the five AWS reserves
		"<availabilityZone>us-east-1b</availabilityZone>", "<availabilityZoneId>use1-az2</availabilityZoneId>",
		"<state>pending</state>", "<mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>", "<defaultForAz>false</defaultForAz>",
		":subnet/subnet-", "<value>web</value>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateSubnet answer lacks %s: %s", want, body)
		}
	}
	subnet := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindStringSubmatch(body)[1]

	cases := []apiCase{
		{"outside the VPC", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.1.0.0/24"}, "InvalidSubnet.Range", ""},
		{"too small", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.0.2.0/29"}, "InvalidSubnet.Range", ""},
		{"overlapping", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.0.1.128/25"}, "InvalidSubnet.Conflict", ""},
		{"same range in another VPC", "CreateSubnet", []string{"VpcId", other, "CidrBlock", "10.0.1.0/24"}, "", "<subnetId>"},
		{"missing VPC", "CreateSubnet", []string{"VpcId", "vpc-0123456789abcdef0", "CidrBlock", "10.0.3.0/24"}, "InvalidVpcID.NotFound", ""},
		{"zone of another region", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.0.3.0/24", "AvailabilityZone", "eu-west-1a"}, "InvalidParameterValue", ""},
		{"zone by ID", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.0.4.0/28", "AvailabilityZoneId", "use1-az4"}, "", "<availabilityZone>us-east-1c</availabilityZone>"},
		{"a /28 has 11 addresses", "DescribeSubnets", []string{"Filter.1.Name", "cidr-block", "Filter.1.Value.1", "10.0.4.0/28"}, "", "<availableIpAddressCount>11</availableIpAddressCount>"},
		{"by ID", "DescribeSubnets", []string{"SubnetId.1", subnet}, "", "<subnetId>" + subnet + "</subnetId>"},
		{"missing ID", "DescribeSubnets", []string{"SubnetId.1", "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound", ""},
		{"by VPC and tag", "DescribeSubnets", []string{"Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "tag:tier", "Filter.2.Value.1", "web"}, "", subnet},
		{"old filter spelling", "DescribeSubnets", []string{"Filter.1.Name", "availabilityZone", "Filter.1.Value.1", "us-east-1b"}, "", subnet},
		{"unknown filter", "DescribeSubnets", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"map public IPs", "ModifySubnetAttribute", []string{"SubnetId", subnet, "MapPublicIpOnLaunch.Value", "true"}, "", "<return>true</return>"},
		{"now mapped", "DescribeSubnets", []string{"SubnetId.1", subnet}, "", "<mapPublicIpOnLaunch>true</mapPublicIpOnLaunch>"},
		{"DNS64 not yet", "ModifySubnetAttribute", []string{"SubnetId", subnet, "EnableDns64.Value", "true"}, "UnsupportedOperation", ""},
		{"DNS64 off is what it is", "ModifySubnetAttribute", []string{"SubnetId", subnet, "EnableDns64.Value", "false"}, "", "<return>true</return>"},
		{"hostname type ip-name likewise", "ModifySubnetAttribute", []string{"SubnetId", subnet, "PrivateDnsHostnameTypeOnLaunch", "ip-name"}, "", "<return>true</return>"},
		{"resource names not yet", "ModifySubnetAttribute", []string{"SubnetId", subnet, "PrivateDnsHostnameTypeOnLaunch", "resource-name"}, "UnsupportedOperation", ""},
		{"a no-op on a missing subnet", "ModifySubnetAttribute", []string{"SubnetId", "subnet-0123456789abcdef0", "EnableDns64.Value", "false"}, "InvalidSubnetID.NotFound", ""},
		{"VPC with subnets", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"delete the subnet", "DeleteSubnet", []string{"SubnetId", subnet}, "", "<return>true</return>"},
		{"delete it again", "DeleteSubnet", []string{"SubnetId", subnet}, "InvalidSubnetID.NotFound", ""},
	}
	runCases(t, d, cases)
}

func TestSubnetQuota(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	for i := 0; i < 200; i++ {
		if _, err := callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", fmt.Sprintf("10.0.%d.0/28", i)); err != nil {
			t.Fatalf("subnet %d: %v", i+1, err)
		}
	}
	_, err := callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.250.0/28")
	if e, _ := awsapi.AsError(err); err == nil || e.Code != "SubnetLimitExceeded" {
		t.Fatalf("subnet 201: %v", err)
	}
}
