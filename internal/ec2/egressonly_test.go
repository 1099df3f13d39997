package ec2

import "testing"

func TestEgressOnlyInternetGateways(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	body, err := callEC2(t, d, "CreateEgressOnlyInternetGateway", "VpcId", vpc, "ClientToken", "once",
		"TagSpecification.1.ResourceType", "egress-only-internet-gateway", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "v6")
	if err != nil {
		t.Fatal(err)
	}
	eigw := firstMatch(t, `<egressOnlyInternetGatewayId>(eigw-[0-9a-f]{17})</egressOnlyInternetGatewayId>`, body)
	runCases(t, d, []apiCase{
		{"attached at once", "DescribeEgressOnlyInternetGateways", []string{"EgressOnlyInternetGatewayId.1", eigw}, "", "<attachmentSet><item><state>attached</state><vpcId>" + vpc + "</vpcId></item></attachmentSet>"},
		{"same client token", "CreateEgressOnlyInternetGateway", []string{"VpcId", vpc, "ClientToken", "once", "TagSpecification.1.ResourceType", "egress-only-internet-gateway", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "v6"}, "", eigw},
		{"Resource.AlreadyAssociated: one per VPC", "CreateEgressOnlyInternetGateway", []string{"VpcId", vpc}, "Resource.AlreadyAssociated", ""},
		{"missing VPC", "CreateEgressOnlyInternetGateway", []string{"VpcId", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"tag filter", "DescribeEgressOnlyInternetGateways", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "v6"}, "", eigw},
		{"tag-key filter", "DescribeEgressOnlyInternetGateways", []string{"Filter.1.Name", "tag-key", "Filter.1.Value.1", "Other"}, "", "<egressOnlyInternetGatewaySet/>"},
		{"unknown filter", "DescribeEgressOnlyInternetGateways", []string{"Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc}, "InvalidParameterValue", ""},
		{"DependencyViolation: VPC with a gateway", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"delete", "DeleteEgressOnlyInternetGateway", []string{"EgressOnlyInternetGatewayId", eigw}, "", "<returnCode>true</returnCode>"},
		{"InvalidEgressOnlyInternetGatewayId.NotFound", "DeleteEgressOnlyInternetGateway", []string{"EgressOnlyInternetGatewayId", eigw}, "InvalidEgressOnlyInternetGatewayId.NotFound", ""},
		{"VPC empty again", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
	})
}
