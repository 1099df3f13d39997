package ec2

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"strato/internal/awsapi"
	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

func TestNatGatewayLifecycle(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	d := New(cloudtest.NewWithClock(t, clock))
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	attachedIGW(t, d, vpc)
	alloc, ip := allocate(t, d)
	body, err := callEC2(t, d, "CreateNatGateway", "SubnetId", subnet, "AllocationId", alloc, "PrivateIpAddress", "10.0.1.20",
		"TagSpecification.1.ResourceType", "natgateway", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "egress")
	if err != nil {
		t.Fatal(err)
	}
	nat := regexp.MustCompile(`<natGatewayId>(nat-[0-9a-f]{17})</natGatewayId>`).FindStringSubmatch(body)[1]
	for _, want := range []string{"<state>pending</state>", "<publicIp>" + ip + "</publicIp>", "<privateIp>10.0.1.20</privateIp>", "<connectivityType>public</connectivityType>", "<value>egress</value>"} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateNatGateway answer lacks %s: %s", want, body)
		}
	}
	eni := regexp.MustCompile(`<networkInterfaceId>(eni-[0-9a-f]{17})</networkInterfaceId>`).FindStringSubmatch(body)[1]
	mine, _ := createENI(t, d, subnet)
	runCases(t, d, []apiCase{
		{"pending", "DescribeNatGateways", []string{"NatGatewayId.1", nat}, "", "<state>pending</state>"},
		{"its interface", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", eni}, "", "<interfaceType>nat_gateway</interfaceType>"},
		{"managed and in use", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "requester-managed", "Filter.1.Value.1", "true", "Filter.2.Name", "status", "Filter.2.Value.1", "in-use"}, "", eni},
		{"the user cannot delete it", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, "InvalidNetworkInterface.InUse", ""},
		{"address mapped to it", "DescribeAddresses", []string{"AllocationId.1", alloc}, "", "<networkInterfaceId>" + eni + "</networkInterfaceId>"},
		{"the address cannot be released", "ReleaseAddress", []string{"AllocationId", alloc}, "InvalidIPAddress.InUse", ""},
		{"nor taken away", "DisassociateAddress", []string{"PublicIp", ip}, "OperationNotPermitted", ""},
		{"nor moved to another interface", "AssociateAddress", []string{"AllocationId", alloc, "NetworkInterfaceId", mine, "AllowReassociation", "true"}, "OperationNotPermitted", ""},
		{"its addresses stay", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "SecondaryPrivateIpAddressCount", "1"}, "OperationNotPermitted", ""},
		{"its groups too", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "SourceDestCheck.Value", "false"}, "OperationNotPermitted", ""},
		{"VPC kept", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
	})
	clock.Advance(cloud.NATGatewayTransition)
	runCases(t, d, []apiCase{
		{"available", "DescribeNatGateways", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "available"}, "", nat},
		{"by VPC and tag", "DescribeNatGateways", []string{"Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "tag:Name", "Filter.2.Value.1", "egress"}, "", nat},
		{"delete", "DeleteNatGateway", []string{"NatGatewayId", nat}, "", "<natGatewayId>" + nat + "</natGatewayId>"},
		{"deleting", "DescribeNatGateways", []string{"NatGatewayId.1", nat}, "", "<state>deleting</state>"},
		{"delete while deleting", "DeleteNatGateway", []string{"NatGatewayId", nat}, "", "<natGatewayId>"},
		{"interface gone", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", eni}, "InvalidNetworkInterfaceID.NotFound", ""},
		{"address free", "DescribeAddresses", []string{"Filter.1.Name", "association-id", "Filter.1.Value.1", "*"}, "", "<addressesSet/>"},
	})
	clock.Advance(cloud.NATGatewayTransition)
	runCases(t, d, []apiCase{
		{"deleted", "DescribeNatGateways", []string{"NatGatewayId.1", nat}, "", "<state>deleted</state>"},
		{"delete a deleted one", "DeleteNatGateway", []string{"NatGatewayId", nat}, "NatGatewayNotFound", ""},
	})
	clock.Advance(cloud.NATGatewayRetention)
	runCases(t, d, []apiCase{
		{"vanished", "DescribeNatGateways", []string{"NatGatewayId.1", nat}, "NatGatewayNotFound", ""},
		{"not listed", "DescribeNatGateways", nil, "", "<natGatewaySet/>"},
		{"address released", "ReleaseAddress", []string{"AllocationId", alloc}, "", "<return>true</return>"},
	})
}

func TestNatGatewayFailures(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	d := New(cloudtest.NewWithClock(t, clock))
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	alloc, _ := allocate(t, d)
	runCases(t, d, []apiCase{
		{"public without an address", "CreateNatGateway", []string{"SubnetId", subnet}, "MissingParameter", ""},
		{"private with an address", "CreateNatGateway", []string{"SubnetId", subnet, "ConnectivityType", "private", "AllocationId", alloc}, "InvalidParameterCombination", ""},
		{"missing subnet", "CreateNatGateway", []string{"SubnetId", "subnet-0123456789abcdef0", "AllocationId", alloc}, "InvalidSubnetID.NotFound", ""},
		{"unknown type", "CreateNatGateway", []string{"SubnetId", subnet, "ConnectivityType", "other"}, "InvalidParameterValue", ""},
		{"missing", "DescribeNatGateways", []string{"NatGatewayId.1", "nat-0123456789abcdef0"}, "NatGatewayNotFound", ""},
	})
	// No internet gateway: accepted, then failed, as AWS does.
	body, _ := callEC2(t, d, "CreateNatGateway", "SubnetId", subnet, "AllocationId", alloc)
	noIGW := regexp.MustCompile(`<natGatewayId>(nat-[0-9a-f]{17})</natGatewayId>`).FindStringSubmatch(body)[1]
	attachedIGW(t, d, vpc)
	eni, _ := createENI(t, d, subnet)
	if _, err := callEC2(t, d, "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni); err != nil {
		t.Fatal(err)
	}
	body, _ = callEC2(t, d, "CreateNatGateway", "SubnetId", subnet, "AllocationId", alloc)
	taken := regexp.MustCompile(`<natGatewayId>(nat-[0-9a-f]{17})</natGatewayId>`).FindStringSubmatch(body)[1]
	body, _ = callEC2(t, d, "CreateNatGateway", "SubnetId", subnet, "ConnectivityType", "private")
	private := regexp.MustCompile(`<natGatewayId>(nat-[0-9a-f]{17})</natGatewayId>`).FindStringSubmatch(body)[1]
	clock.Advance(cloud.NATGatewayTransition)
	runCases(t, d, []apiCase{
		{"Gateway.NotAttached", "DescribeNatGateways", []string{"NatGatewayId.1", noIGW}, "", "<failureCode>Gateway.NotAttached</failureCode>"},
		{"Resource.AlreadyAssociated", "DescribeNatGateways", []string{"NatGatewayId.1", taken}, "", "<failureCode>Resource.AlreadyAssociated</failureCode>"},
		{"failed state", "DescribeNatGateways", []string{"Filter.1.Name", "state", "Filter.1.Value.1", "failed"}, "", taken},
		{"private one works", "DescribeNatGateways", []string{"NatGatewayId.1", private}, "", "<state>available</state>"},
	})
}

func TestNatGatewayQuota(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	for i := range 5 {
		if _, err := callEC2(t, d, "CreateNatGateway", "SubnetId", subnet, "ConnectivityType", "private"); err != nil {
			t.Fatalf("NAT gateway %d: %v", i+1, err)
		}
	}
	other := createSubnet(t, d, vpc, "10.0.2.0/24")
	// A repeated client token answers the first gateway, even at the quota.
	first, _ := callEC2(t, d, "CreateNatGateway", "SubnetId", zoneTokenSubnet(t, d, vpc), "ConnectivityType", "private", "ClientToken", "t1")
	again, err := callEC2(t, d, "CreateNatGateway", "SubnetId", zoneTokenSubnet(t, d, vpc), "ConnectivityType", "private", "ClientToken", "t1")
	id := regexp.MustCompile(`nat-[0-9a-f]{17}`)
	if err != nil || id.FindString(first) == "" || id.FindString(first) != id.FindString(again) {
		t.Fatalf("client token: %s / %s, %v", first, again, err)
	}
	runCases(t, d, []apiCase{
		{"sixth in the zone", "CreateNatGateway", []string{"SubnetId", subnet, "ConnectivityType", "private"}, "NatGatewayLimitExceeded", ""},
		// Both subnets are in the Region's first zone.
		{"same zone, other subnet", "CreateNatGateway", []string{"SubnetId", other, "ConnectivityType", "private"}, "NatGatewayLimitExceeded", ""},
	})
	third, _ := callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.3.0/24", "AvailabilityZone", "us-east-1b")
	zoneB := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindStringSubmatch(third)[1]
	runCases(t, d, []apiCase{
		{"another zone", "CreateNatGateway", []string{"SubnetId", zoneB, "ConnectivityType", "private"}, "", "<natGatewayId>"},
	})
}

// zoneTokenSubnet is a subnet of the VPC in us-east-1c, made once.
func zoneTokenSubnet(t *testing.T, d *awsapi.EC2, vpc string) string {
	t.Helper()
	body, _ := callEC2(t, d, "DescribeSubnets", "Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1c")
	if m := regexp.MustCompile(`subnet-[0-9a-f]{17}`).FindString(body); m != "" {
		return m
	}
	body, err := callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.9.0/24", "AvailabilityZone", "us-east-1c")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`subnet-[0-9a-f]{17}`).FindString(body)
}
