package ec2

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// association returns the first association ID of the kind in an answer.
func association(t *testing.T, body, kind string) string {
	t.Helper()
	m := regexp.MustCompile(`<associationId>(` + kind + `-[0-9a-f]{17})</associationId>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s association ID in %s", kind, body)
	}
	return m[1]
}

func TestVPCSecondaryCIDRBlocks(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	body, err := callEC2(t, d, "DescribeVpcs", "VpcId.1", vpc)
	if err != nil {
		t.Fatal(err)
	}
	primary := association(t, body, "vpc-cidr-assoc")
	body, err = callEC2(t, d, "AssociateVpcCidrBlock", "VpcId", vpc, "CidrBlock", "10.2.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	secondary := association(t, body, "vpc-cidr-assoc")
	runCases(t, d, []apiCase{
		{"answer shows associating", "DescribeVpcs", []string{"VpcId.1", vpc, "Filter.1.Name", "cidr-block-association.cidr-block", "Filter.1.Value.1", "10.2.0.0/16"}, "", "<cidrBlock>10.2.0.0/16</cidrBlock>"},
		{"overlap with the primary", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.0.128.0/17"}, "InvalidVpc.Range", ""},
		{"overlap with a secondary", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.2.0.0/24"}, "InvalidVpc.Range", ""},
		{"another RFC 1918 range is restricted", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "192.168.0.0/16"}, "InvalidVpc.Range", ""},
		{"too large", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.4.0.0/15"}, "InvalidVpc.Range", ""},
		{"not a CIDR", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "ten"}, "InvalidParameterValue", ""},
		{"nothing asked", "AssociateVpcCidrBlock", []string{"VpcId", vpc}, "MissingParameter", ""},
		{"both families at once", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.5.0.0/16", "AmazonProvidedIpv6CidrBlock", "true"}, "InvalidParameterCombination", ""},
		{"missing VPC", "AssociateVpcCidrBlock", []string{"VpcId", "vpc-0123456789abcdef0", "CidrBlock", "10.5.0.0/16"}, "InvalidVpcID.NotFound", ""},
		{"third", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.3.0.0/16"}, "", "<cidrBlock>10.3.0.0/16</cidrBlock>"},
		{"fourth", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.4.0.0/16"}, "", "<cidrBlock>10.4.0.0/16</cidrBlock>"},
		{"fifth", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.5.0.0/16"}, "", "<cidrBlock>10.5.0.0/16</cidrBlock>"},
		{"sixth is over the quota", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.6.0.0/16"}, "CidrLimitExceeded", ""},
		{"a subnet in the secondary block", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.2.1.0/24"}, "", "<cidrBlock>10.2.1.0/24</cidrBlock>"},
		{"the primary stays", "DisassociateVpcCidrBlock", []string{"AssociationId", primary}, "OperationNotPermitted", ""},
		{"a block in use stays", "DisassociateVpcCidrBlock", []string{"AssociationId", secondary}, "InvalidCidrBlock.InUse", ""},
		{"unknown association", "DisassociateVpcCidrBlock", []string{"AssociationId", "vpc-cidr-assoc-0123456789abcdef0"}, "InvalidVpcCidrBlockAssociationID.NotFound", ""},
	})
	body, err = callEC2(t, d, "DescribeSubnets", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc)
	if err != nil {
		t.Fatal(err)
	}
	subnet := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindStringSubmatch(body)[1]
	runCases(t, d, []apiCase{
		{"delete the subnet", "DeleteSubnet", []string{"SubnetId", subnet}, "", "<return>true</return>"},
		{"now the block goes", "DisassociateVpcCidrBlock", []string{"AssociationId", secondary}, "", "<state>disassociating</state>"},
		{"and is gone", "DescribeVpcs", []string{"Filter.1.Name", "cidr-block-association.cidr-block", "Filter.1.Value.1", "10.2.0.0/16"}, "", "<vpcSet/>"},
		{"a subnet there is out of range again", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.2.1.0/24"}, "InvalidSubnet.Range", ""},
		{"and its room is free for another block", "AssociateVpcCidrBlock", []string{"VpcId", vpc, "CidrBlock", "10.2.0.0/16"}, "", "<cidrBlock>10.2.0.0/16</cidrBlock>"},
	})
}

func TestVPCAndSubnetIPv6(t *testing.T) {
	d := newService(t)
	body, err := callEC2(t, d, "CreateVpc", "CidrBlock", "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock", "true")
	if err != nil {
		t.Fatal(err)
	}
	vpc := regexp.MustCompile(`<vpcId>(vpc-[0-9a-f]{17})</vpcId>`).FindStringSubmatch(body)[1]
	block := regexp.MustCompile(`<ipv6CidrBlock>(2001:db8:[0-9a-f:]*/56)</ipv6CidrBlock>`).FindStringSubmatch(body)
	if block == nil {
		t.Fatalf("no Amazon-provided /56 in %s", body)
	}
	vpcBlock := regexp.MustCompile(`<ipv6CidrBlockAssociationSet><item><associationId>(vpc-cidr-assoc-[0-9a-f]{17})`).FindStringSubmatch(body)[1]
	// The n-th /64 of the VPC's /56.
	nth := func(n byte, bits int) string {
		a := netip.MustParsePrefix(block[1]).Addr().As16()
		a[7] = n
		return netip.PrefixFrom(netip.AddrFrom16(a), bits).String()
	}
	first, second := nth(0, 64), nth(1, 64)
	plain := createVPC(t, d, "10.1.0.0/16")
	body, err = callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.1.0/24", "Ipv6CidrBlock", first)
	if err != nil {
		t.Fatal(err)
	}
	subnet := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindStringSubmatch(body)[1]
	subnetBlock := association(t, body, "subnet-cidr-assoc")
	body, err = callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`<subnetId>(subnet-[0-9a-f]{17})</subnetId>`).FindStringSubmatch(body)[1]
	runCases(t, d, []apiCase{
		{"pool and border group", "DescribeVpcs", []string{"VpcId.1", vpc}, "", "<networkBorderGroup>us-east-1</networkBorderGroup><ipv6Pool>Amazon</ipv6Pool>"},
		{"filter by IPv6 block", "DescribeVpcs", []string{"Filter.1.Name", "ipv6-cidr-block-association.ipv6-cidr-block", "Filter.1.Value.1", block[1]}, "", vpc},
		{"subnet shows its block", "DescribeSubnets", []string{"SubnetId.1", subnet}, "", "<ipv6CidrBlock>" + first + "</ipv6CidrBlock>"},
		{"filter subnets by IPv6 block", "DescribeSubnets", []string{"Filter.1.Name", "ipv6-cidr-block-association.ipv6-cidr-block", "Filter.1.Value.1", first}, "", subnet},
		{"same /64 twice", "AssociateSubnetCidrBlock", []string{"SubnetId", bare, "Ipv6CidrBlock", first}, "InvalidSubnet.Conflict", ""},
		{"outside the VPC's /56", "AssociateSubnetCidrBlock", []string{"SubnetId", bare, "Ipv6CidrBlock", "2001:db8:ffff:ff00::/64"}, "InvalidSubnet.Range", ""},
		{"a /65 is too small", "AssociateSubnetCidrBlock", []string{"SubnetId", bare, "Ipv6CidrBlock", nth(1, 65)}, "InvalidSubnet.Range", ""},
		{"an IPv4 block is not IPv6", "AssociateSubnetCidrBlock", []string{"SubnetId", bare, "Ipv6CidrBlock", "10.0.2.0/24"}, "InvalidParameterValue", ""},
		{"no block given", "AssociateSubnetCidrBlock", []string{"SubnetId", bare}, "MissingParameter", ""},
		{"IPv6 on launch needs a block", "ModifySubnetAttribute", []string{"SubnetId", bare, "AssignIpv6AddressOnCreation.Value", "true"}, "InvalidParameterValue", ""},
		{"associate", "AssociateSubnetCidrBlock", []string{"SubnetId", bare, "Ipv6CidrBlock", second}, "", "<state>associating</state>"},
		{"one block per subnet", "AssociateSubnetCidrBlock", []string{"SubnetId", bare, "Ipv6CidrBlock", nth(2, 64)}, "CidrLimitExceeded", ""},
		{"IPv6 on launch", "ModifySubnetAttribute", []string{"SubnetId", bare, "AssignIpv6AddressOnCreation.Value", "true"}, "", "<return>true</return>"},
		{"shown", "DescribeSubnets", []string{"SubnetId.1", bare}, "", "<assignIpv6AddressOnCreation>true</assignIpv6AddressOnCreation>"},
		{"a VPC without IPv6 gives none to subnets", "CreateSubnet", []string{"VpcId", plain, "CidrBlock", "10.1.1.0/24", "Ipv6CidrBlock", "2001:db8::/64"}, "InvalidSubnet.Range", ""},
		{"the VPC's /56 is in use", "DisassociateVpcCidrBlock", []string{"AssociationId", vpcBlock}, "InvalidCidrBlock.InUse", ""},
		{"disassociate the subnet's block", "DisassociateSubnetCidrBlock", []string{"AssociationId", subnetBlock}, "", "<state>disassociating</state>"},
		{"unknown subnet association", "DisassociateSubnetCidrBlock", []string{"AssociationId", subnetBlock}, "InvalidSubnetCidrBlockAssociationID.NotFound", ""},
	})
	// Read after the calls above gave the bare subnet its block.
	runCases(t, d, []apiCase{
		{"bare subnet's block too", "DisassociateSubnetCidrBlock", []string{"AssociationId", association(t, mustCall(t, d, "DescribeSubnets", "SubnetId.1", bare), "subnet-cidr-assoc")}, "", "<subnetId>" + bare + "</subnetId>"},
		{"IPv6 on launch went with it", "DescribeSubnets", []string{"SubnetId.1", bare}, "", "<assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation>"},
		{"now the /56 goes", "DisassociateVpcCidrBlock", []string{"AssociationId", vpcBlock}, "", "<ipv6CidrBlockAssociation>"},
		{"a new /56 for the plain VPC is another block", "AssociateVpcCidrBlock", []string{"VpcId", plain, "AmazonProvidedIpv6CidrBlock", "true"}, "", "<ipv6Pool>Amazon</ipv6Pool>"},
	})
	if body := mustCall(t, d, "DescribeVpcs", "VpcId.1", plain); strings.Contains(body, block[1]) {
		t.Errorf("a released /56 was handed out again: %s", body)
	}
}
