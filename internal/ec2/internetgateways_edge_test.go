package ec2

import "testing"

// A gateway with an edge association (a gateway route table) cannot be detached,
// and so not deleted, until the association is gone: DependencyViolation.
func TestInternetGatewayWithEdgeAssociation(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	igw := match(t, `<internetGatewayId>(igw-[0-9a-f]{17})</internetGatewayId>`, mustCall(t, d, "CreateInternetGateway"))
	mustCall(t, d, "AttachInternetGateway", "InternetGatewayId", igw, "VpcId", vpc)
	table := match(t, `<routeTableId>(rtb-[0-9a-f]{17})</routeTableId>`, mustCall(t, d, "CreateRouteTable", "VpcId", vpc))
	assoc := match(t, `<associationId>(rtbassoc-[0-9a-f]{17})</associationId>`, mustCall(t, d, "AssociateRouteTable", "RouteTableId", table, "GatewayId", igw))
	runCases(t, d, []apiCase{
		{"detach while associated", "DetachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", vpc}, "DependencyViolation", ""},
		{"delete while associated", "DeleteInternetGateway", []string{"InternetGatewayId", igw}, "DependencyViolation", ""},
		{"still attached", "DescribeInternetGateways", []string{"InternetGatewayId.1", igw}, "", "<vpcId>" + vpc + "</vpcId>"},
		{"disassociate", "DisassociateRouteTable", []string{"AssociationId", assoc}, "", "<return>true</return>"},
		{"then detach", "DetachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", vpc}, "", "<return>true</return>"},
		{"and delete", "DeleteInternetGateway", []string{"InternetGatewayId", igw}, "", "<return>true</return>"},
	})
}
