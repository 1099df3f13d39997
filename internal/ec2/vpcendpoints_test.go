package ec2

import (
	"strings"
	"testing"
)

func TestGatewayEndpoints(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	main, _ := mainTableOf(t, d, vpc)
	otherMain, _ := mainTableOf(t, d, other)
	table := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	s3 := idIn(t, mustCall(t, d, "DescribePrefixLists", "Filter.1.Name", "prefix-list-name", "Filter.1.Value.1", "com.amazonaws.us-east-1.s3"), "prefixListId", "pl")
	body := mustCall(t, d, "CreateVpcEndpoint", "VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.s3", "RouteTableId.1", main,
		"TagSpecification.1.ResourceType", "vpc-endpoint", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "s3")
	vpce := idIn(t, body, "vpcEndpointId", "vpce")
	for _, want := range []string{
		"<vpcEndpointType>Gateway</vpcEndpointType>", "<state>available</state>",
		"<policyDocument>{&quot;Version&quot;:&quot;2008-10-17&quot;,&quot;Statement&quot;:[{&quot;Effect&quot;:&quot;Allow&quot;,&quot;Principal&quot;:&quot;*&quot;,&quot;Action&quot;:&quot;*&quot;,&quot;Resource&quot;:&quot;*&quot;}]}</policyDocument>",
		"<routeTableIdSet><item>" + main + "</item></routeTableIdSet>", "<value>s3</value>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateVpcEndpoint answer lacks %s: %s", want, body)
		}
	}
	route := "<destinationPrefixListId>" + s3 + "</destinationPrefixListId><gatewayId>" + vpce + "</gatewayId><origin>CreateRoute</origin><state>active</state>"
	runCases(t, d, []apiCase{
		{"route added", "DescribeRouteTables", []string{"RouteTableId.1", main}, "", route},
		{"unknown service", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.nothing"}, "InvalidServiceName", ""},
		{"service of another region", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.eu-west-1.s3"}, "InvalidServiceName", ""},
		{"interface service as a gateway", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.ec2"}, "InvalidServiceName", ""},
		{"load balancer endpoints not yet", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.ec2", "VpcEndpointType", "GatewayLoadBalancer"}, "InvalidParameter", ""},
		{"private DNS of a gateway endpoint", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.dynamodb", "PrivateDnsEnabled", "true"}, "InvalidParameter", ""},
		{"bad type", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.s3", "VpcEndpointType", "Tunnel"}, "InvalidParameterValue", ""},
		{"missing VPC", "CreateVpcEndpoint", []string{"VpcId", "vpc-0123456789abcdef0", "ServiceName", "com.amazonaws.us-east-1.s3"}, "InvalidVpcID.NotFound", ""},
		{"table of another VPC", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.dynamodb", "RouteTableId.1", otherMain}, "InvalidParameterValue", ""},
		{"same service twice in a table", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.s3", "RouteTableId.1", main}, "RouteAlreadyExists", ""},
		{"bad policy", "CreateVpcEndpoint", []string{"VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.s3", "PolicyDocument", "{"}, "InvalidParameterValue", ""},
		{"endpoint route cannot be deleted", "DeleteRoute", []string{"RouteTableId", main, "DestinationPrefixListId", s3}, "InvalidParameterValue", ""},
		{"endpoint target by hand", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", vpce}, "InvalidParameterValue", ""},
		{"add a table", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "AddRouteTableId.1", table, "PolicyDocument", `{"Statement":[]}`}, "", "<return>true</return>"},
		{"both tables", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<policyDocument>{&quot;Statement&quot;:[]}</policyDocument><routeTableIdSet><item>" + main + "</item><item>" + table + "</item></routeTableIdSet>"},
		{"reset and set the policy", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "ResetPolicy", "true", "PolicyDocument", "{}"}, "InvalidParameterCombination", ""},
		{"subnets of a gateway endpoint", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "AddSubnetId.1", "subnet-0123456789abcdef0"}, "InvalidParameter", ""},
		{"remove a table it lacks", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "RemoveRouteTableId.1", otherMain}, "InvalidParameter", ""},
		{"remove a table", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "RemoveRouteTableId.1", main, "ResetPolicy", "true"}, "", "<return>true</return>"},
		{"its route went", "DescribeRouteTables", []string{"Filter.1.Name", "route.destination-prefix-list-id", "Filter.1.Value.1", s3}, "", "<routeTableId>" + table + "</routeTableId>"},
		{"by service", "DescribeVpcEndpoints", []string{"Filter.1.Name", "service-name", "Filter.1.Value.1", "com.amazonaws.us-east-1.s3"}, "", vpce},
		{"by type and tag", "DescribeVpcEndpoints", []string{"Filter.1.Name", "vpc-endpoint-type", "Filter.1.Value.1", "Gateway", "Filter.2.Name", "tag:Name", "Filter.2.Value.1", "s3"}, "", vpce},
		{"missing endpoint", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", "vpce-0123456789abcdef0"}, "InvalidVpcEndpointId.NotFound", ""},
		{"VPC without endpoints", "DeleteVpc", []string{"VpcId", other}, "", "<return>true</return>"},
		{"VPC with an endpoint", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"bad IDs are reported", "DeleteVpcEndpoints", []string{"VpcEndpointId.1", vpce, "VpcEndpointId.2", "vpce-0123456789abcdef0"},
			"", "<unsuccessful><item><error><code>InvalidVpcEndpointId.NotFound</code><message>The Vpc Endpoint Id &apos;vpce-0123456789abcdef0&apos; does not exist</message></error><resourceId>vpce-0123456789abcdef0</resourceId></item></unsuccessful>"},
		{"deleted with its routes", "DescribeRouteTables", []string{"Filter.1.Name", "route.destination-prefix-list-id", "Filter.1.Value.1", s3}, "", "<routeTableSet/>"},
		{"gone", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "InvalidVpcEndpointId.NotFound", ""},
	})
}

func TestEndpointRouteTableDeleted(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	table := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	vpce := idIn(t, mustCall(t, d, "CreateVpcEndpoint", "VpcId", vpc, "ServiceName", "com.amazonaws.us-east-1.dynamodb", "RouteTableId.1", table), "vpcEndpointId", "vpce")
	runCases(t, d, []apiCase{
		{"table in use by the endpoint", "DeleteRouteTable", []string{"RouteTableId", table}, "", "<return>true</return>"},
		{"endpoint forgets the table", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<routeTableIdSet/>"},
	})
}

func TestVPCEndpointServices(t *testing.T) {
	d := newService(t)
	runCases(t, d, []apiCase{
		{"all", "DescribeVpcEndpointServices", nil, "", "<serviceNameSet><item>com.amazonaws.us-east-1.dynamodb</item><item>com.amazonaws.us-east-1.ec2</item>"},
		{"S3 both ways", "DescribeVpcEndpointServices", []string{"ServiceName.1", "com.amazonaws.us-east-1.s3"}, "", "<serviceType><item><serviceType>Gateway</serviceType></item></serviceType>"},
		{"interface details", "DescribeVpcEndpointServices", []string{"ServiceName.1", "com.amazonaws.us-east-1.sts"}, "", "<privateDnsName>sts.us-east-1.amazonaws.com</privateDnsName>"},
		{"gateway services", "DescribeVpcEndpointServices", []string{"Filter.1.Name", "service-type", "Filter.1.Value.1", "Gateway"}, "", "<serviceNameSet><item>com.amazonaws.us-east-1.dynamodb</item><item>com.amazonaws.us-east-1.s3</item></serviceNameSet>"},
		{"unknown service", "DescribeVpcEndpointServices", []string{"ServiceName.1", "com.amazonaws.us-east-1.nothing"}, "InvalidServiceName", ""},
	})
}
