package ec2

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

// idIn returns the first ID of the form prefix-<hex> inside element tag of body.
func idIn(t *testing.T, body, tag, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`<` + tag + `>(` + prefix + `-[0-9a-f]+)</` + tag + `>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <%s> in %s", tag, body)
	}
	return m[1]
}

func mustCall(t *testing.T, d *awsapi.EC2, action string, params ...string) string {
	t.Helper()
	body, err := callEC2(t, d, action, params...)
	if err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
	return body
}

func mainTableOf(t *testing.T, d *awsapi.EC2, vpc string) (table, assoc string) {
	t.Helper()
	body := mustCall(t, d, "DescribeRouteTables", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "association.main", "Filter.2.Value.1", "true")
	return idIn(t, body, "routeTableId", "rtb"), idIn(t, body, "routeTableAssociationId", "rtbassoc")
}

func attachedGateway(t *testing.T, d *awsapi.EC2, vpc string) string {
	t.Helper()
	igw := idIn(t, mustCall(t, d, "CreateInternetGateway"), "internetGatewayId", "igw")
	mustCall(t, d, "AttachInternetGateway", "InternetGatewayId", igw, "VpcId", vpc)
	return igw
}

func TestMainRouteTable(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	main, assoc := mainTableOf(t, d, vpc)
	body := mustCall(t, d, "DescribeRouteTables", "RouteTableId.1", main)
	for _, want := range []string{
		"<routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><origin>CreateRouteTable</origin><state>active</state></item></routeSet>",
		"<main>true</main><routeTableAssociationId>" + assoc + "</routeTableAssociationId><routeTableId>" + main + "</routeTableId><associationState><state>associated</state></associationState>",
		"<ownerId>123456789012</ownerId>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("main table lacks %s: %s", want, body)
		}
	}
	runCases(t, d, []apiCase{
		{"main table cannot be deleted", "DeleteRouteTable", []string{"RouteTableId", main}, "DependencyViolation", ""},
		{"main association cannot be disassociated", "DisassociateRouteTable", []string{"AssociationId", assoc}, "InvalidParameterValue", ""},
		{"local route cannot be deleted", "DeleteRoute", []string{"RouteTableId", main, "DestinationCidrBlock", "10.0.0.0/16"}, "InvalidParameterValue", ""},
		{"VPC with only its main table", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
		{"main table went with it", "DescribeRouteTables", []string{"RouteTableId.1", main}, "InvalidRouteTableID.NotFound", ""},
	})
}

func TestRouteTableLifecycle(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	subnet := idIn(t, mustCall(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.1.0/24"), "subnetId", "subnet")
	otherSubnet := idIn(t, mustCall(t, d, "CreateSubnet", "VpcId", other, "CidrBlock", "10.1.1.0/24"), "subnetId", "subnet")
	body := mustCall(t, d, "CreateRouteTable", "VpcId", vpc, "TagSpecification.1.ResourceType", "route-table",
		"TagSpecification.1.Tag.1.Key", "tier", "TagSpecification.1.Tag.1.Value", "private")
	table := idIn(t, body, "routeTableId", "rtb")
	if !strings.Contains(body, "<gatewayId>local</gatewayId>") || !strings.Contains(body, "<value>private</value>") {
		t.Errorf("CreateRouteTable answer: %s", body)
	}
	main, mainAssoc := mainTableOf(t, d, vpc)
	otherMain, _ := mainTableOf(t, d, other)
	assoc := idIn(t, mustCall(t, d, "AssociateRouteTable", "RouteTableId", table, "SubnetId", subnet), "associationId", "rtbassoc")
	runCases(t, d, []apiCase{
		{"missing VPC", "CreateRouteTable", []string{"VpcId", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"by subnet", "DescribeRouteTables", []string{"Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet}, "", table},
		{"by association", "DescribeRouteTables", []string{"Filter.1.Name", "association.route-table-association-id", "Filter.1.Value.1", assoc}, "", "<subnetId>" + subnet + "</subnetId>"},
		{"by tag", "DescribeRouteTables", []string{"Filter.1.Name", "tag:tier", "Filter.1.Value.1", "private"}, "", table},
		{"by local gateway", "DescribeRouteTables", []string{"Filter.1.Name", "route.gateway-id", "Filter.1.Value.1", "local", "Filter.2.Name", "vpc-id", "Filter.2.Value.1", other}, "", otherMain},
		{"unknown filter", "DescribeRouteTables", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"subnet already associated", "AssociateRouteTable", []string{"RouteTableId", main, "SubnetId", subnet}, "Resource.AlreadyAssociated", ""},
		{"subnet of another VPC", "AssociateRouteTable", []string{"RouteTableId", table, "SubnetId", otherSubnet}, "InvalidParameterValue", ""},
		{"subnet and gateway", "AssociateRouteTable", []string{"RouteTableId", table, "SubnetId", subnet, "GatewayId", "igw-0123456789abcdef0"}, "InvalidParameterCombination", ""},
		{"missing subnet", "AssociateRouteTable", []string{"RouteTableId", table, "SubnetId", "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound", ""},
		{"associated table", "DeleteRouteTable", []string{"RouteTableId", table}, "DependencyViolation", ""},
		{"VPC with a table of its own", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"missing association", "DisassociateRouteTable", []string{"AssociationId", "rtbassoc-0123456789abcdef0"}, "InvalidAssociationID.NotFound", ""},
		{"table of another VPC", "ReplaceRouteTableAssociation", []string{"AssociationId", assoc, "RouteTableId", otherMain}, "InvalidParameterValue", ""},
	})
	// Moving the main association makes the other table main.
	body = mustCall(t, d, "ReplaceRouteTableAssociation", "AssociationId", mainAssoc, "RouteTableId", table)
	newMain := idIn(t, body, "newAssociationId", "rtbassoc")
	if now, _ := mainTableOf(t, d, vpc); now != table {
		t.Errorf("main table is %s after ReplaceRouteTableAssociation, want %s", now, table)
	}
	runCases(t, d, []apiCase{
		{"old main is deletable", "DeleteRouteTable", []string{"RouteTableId", main}, "", "<return>true</return>"},
		{"new main association", "DescribeRouteTables", []string{"Filter.1.Name", "association.route-table-association-id", "Filter.1.Value.1", newMain}, "", "<main>true</main>"},
		{"disassociate the subnet", "DisassociateRouteTable", []string{"AssociationId", assoc}, "", "<return>true</return>"},
		{"disassociated", "DescribeRouteTables", []string{"Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet}, "", "<routeTableSet/>"},
	})
	// Deleting a subnet drops its association.
	mustCall(t, d, "AssociateRouteTable", "RouteTableId", table, "SubnetId", subnet)
	mustCall(t, d, "DeleteSubnet", "SubnetId", subnet)
	runCases(t, d, []apiCase{
		{"association gone with the subnet", "DescribeRouteTables", []string{"Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet}, "", "<routeTableSet/>"},
		{"VPC deletable once its table is main again", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
	})
}

func TestRoutes(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	igw := attachedGateway(t, d, vpc)
	otherIGW := attachedGateway(t, d, other)
	table := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	runCases(t, d, []apiCase{
		{"default route", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", igw}, "", "<return>true</return>"},
		{"same destination", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", igw}, "RouteAlreadyExists", ""},
		{"same as the local route", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "10.0.0.0/16", "GatewayId", igw}, "RouteAlreadyExists", ""},
		{"more specific than another route", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "192.0.2.0/24", "GatewayId", igw}, "", "<return>true</return>"},
		{"less specific than the local route", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "10.0.0.0/8", "GatewayId", igw}, "", "<return>true</return>"},
		{"inside the VPC to a gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "10.0.1.0/24", "GatewayId", igw}, "InvalidParameterValue", ""},
		{"canonical form", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "100.68.0.18/18", "GatewayId", igw}, "", "<return>true</return>"},
		{"canonical form stored", "DescribeRouteTables", []string{"Filter.1.Name", "route.destination-cidr-block", "Filter.1.Value.1", "100.68.0.0/18"}, "", table},
		{"gateway of another VPC", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", otherIGW}, "InvalidParameterValue", ""},
		{"missing gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", "igw-0123456789abcdef0"}, "InvalidInternetGatewayID.NotFound", ""},
		{"missing NAT gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "NatGatewayId", "nat-0123456789abcdef0"}, "NatGatewayNotFound", ""},
		{"NAT parameter naming a gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "NatGatewayId", igw}, "NatGatewayNotFound", ""},
		{"not a gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", "foo"}, "InvalidGatewayID.NotFound", ""},
		{"two targets", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", igw, "NatGatewayId", "nat-0123456789abcdef0"}, "InvalidParameterCombination", ""},
		{"no target", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24"}, "MissingParameter", ""},
		{"no destination", "CreateRoute", []string{"RouteTableId", table, "GatewayId", igw}, "MissingParameter", ""},
		{"two destinations", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "DestinationIpv6CidrBlock", "::/0", "GatewayId", igw}, "InvalidParameterCombination", ""},
		{"bad CIDR", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "300.0.0.0/8", "GatewayId", igw}, "InvalidParameterValue", ""},
		{"transit gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "TransitGatewayId", "tgw-0123456789abcdef0"}, "UnsupportedOperation", ""},
		{"carrier gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "CarrierGatewayId", "cagw-0123456789abcdef0"}, "UnsupportedOperation", ""},
		{"Gateway Load Balancer endpoint", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "VpcEndpointId", "vpce-0123456789abcdef0"}, "InvalidParameterValue", ""},
		{"egress-only gateway for IPv4", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "EgressOnlyInternetGatewayId", "eigw-0123456789abcdef0"}, "InvalidParameterValue", ""},
		{"missing prefix list", "CreateRoute", []string{"RouteTableId", table, "DestinationPrefixListId", "pl-0123456789abcdef0", "GatewayId", igw}, "InvalidPrefixListID.NotFound", ""},
		{"missing table", "CreateRoute", []string{"RouteTableId", "rtb-0123456789abcdef0", "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", igw}, "InvalidRouteTableID.NotFound", ""},
		{"replace a missing route", "ReplaceRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", igw}, "InvalidParameterValue", ""},
		{"replace the local route with a gateway", "ReplaceRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "10.0.0.0/16", "GatewayId", igw}, "InvalidParameterValue", ""},
		{"restore a route that is not local", "ReplaceRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "0.0.0.0/0", "LocalTarget", "true"}, "InvalidParameterValue", ""},
		{"restore the local route", "ReplaceRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "10.0.0.0/16", "LocalTarget", "true"}, "", "<return>true</return>"},
		{"replace", "ReplaceRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "192.0.2.0/24", "GatewayId", igw}, "", "<return>true</return>"},
		{"delete a missing route", "DeleteRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24"}, "InvalidRoute.NotFound", ""},
		{"delete", "DeleteRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "192.0.2.0/24"}, "", "<return>true</return>"},
		{"active while attached", "DescribeRouteTables", []string{"RouteTableId.1", table}, "", "<destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>" + igw + "</gatewayId><origin>CreateRoute</origin><state>active</state>"},
		{"by route gateway", "DescribeRouteTables", []string{"Filter.1.Name", "route.gateway-id", "Filter.1.Value.1", igw}, "", table},
	})
	mustCall(t, d, "DetachInternetGateway", "InternetGatewayId", igw, "VpcId", vpc)
	runCases(t, d, []apiCase{
		{"blackhole once detached", "DescribeRouteTables", []string{"RouteTableId.1", table}, "", "<gatewayId>" + igw + "</gatewayId><origin>CreateRoute</origin><state>blackhole</state>"},
		{"by route state", "DescribeRouteTables", []string{"Filter.1.Name", "route.state", "Filter.1.Value.1", "blackhole"}, "", table},
		{"route to a detached gateway", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "198.51.100.0/24", "GatewayId", igw}, "InvalidParameterValue", ""},
	})
}

func TestEdgeAssociation(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	igw := attachedGateway(t, d, vpc)
	table := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	second := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	mustCall(t, d, "CreateRoute", "RouteTableId", second, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", igw)
	runCases(t, d, []apiCase{
		{"edge association", "AssociateRouteTable", []string{"RouteTableId", table, "GatewayId", igw}, "", "<associationId>rtbassoc-"},
		{"gateway already associated", "AssociateRouteTable", []string{"RouteTableId", table, "GatewayId", igw}, "Resource.AlreadyAssociated", ""},
		{"by gateway association", "DescribeRouteTables", []string{"Filter.1.Name", "association.gateway-id", "Filter.1.Value.1", igw}, "", table},
		{"gateway table routes to interfaces only", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", igw}, "InvalidParameterValue", ""},
		{"not a gateway", "AssociateRouteTable", []string{"RouteTableId", second, "GatewayId", "nat-0123456789abcdef0"}, "InvalidParameterValue", ""},
	})
}

func TestRouteQuotas(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	igw := attachedGateway(t, d, vpc)
	table := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	for i := 0; i < 50; i++ {
		mustCall(t, d, "CreateRoute", "RouteTableId", table, "DestinationCidrBlock", fmt.Sprintf("192.168.%d.0/24", i), "GatewayId", igw)
	}
	runCases(t, d, []apiCase{{"route 51", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "192.168.200.0/24", "GatewayId", igw}, "RouteLimitExceeded", ""}})
	for i := 1; i < 199; i++ { // the main table is the first of 200
		mustCall(t, d, "CreateRouteTable", "VpcId", vpc)
	}
	runCases(t, d, []apiCase{{"table 201", "CreateRouteTable", []string{"VpcId", vpc}, "RouteTableLimitExceeded", ""}})
}
