package ec2

import (
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func zoneSubnet(t *testing.T, d *awsapi.EC2, vpc, cidr, zone string) string {
	t.Helper()
	return idIn(t, mustCall(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", cidr, "AvailabilityZone", zone), "subnetId", "subnet")
}

// dnsVPC is a VPC whose DNS hostnames are on, as private DNS needs.
func dnsVPC(t *testing.T, d *awsapi.EC2, cidr string) string {
	t.Helper()
	vpc := createVPC(t, d, cidr)
	mustCall(t, d, "ModifyVpcAttribute", "VpcId", vpc, "EnableDnsHostnames.Value", "true")
	return vpc
}

func TestInterfaceEndpoints(t *testing.T) {
	d := newService(t)
	vpc := dnsVPC(t, d, "10.0.0.0/16")
	plain := createVPC(t, d, "10.1.0.0/16")
	a := zoneSubnet(t, d, vpc, "10.0.1.0/24", "us-east-1a")
	b := zoneSubnet(t, d, vpc, "10.0.2.0/24", "us-east-1b")
	a2 := zoneSubnet(t, d, vpc, "10.0.3.0/24", "us-east-1a")
	foreign := zoneSubnet(t, d, plain, "10.1.1.0/24", "us-east-1c")
	web := createGroup(t, d, vpc, "web")
	app := createGroup(t, d, vpc, "app")
	foreignGroup := createGroup(t, d, plain, "other")

	body := mustCall(t, d, "CreateVpcEndpoint", "VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.ec2",
		"SubnetId.1", a, "SubnetId.2", b, "SecurityGroupId.1", web, "ClientToken", "tok-1",
		"TagSpecification.1.ResourceType", "vpc-endpoint", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "infra")
	vpce := idIn(t, body, "vpcEndpointId", "vpce")
	enis := regexp.MustCompile(`<networkInterfaceIdSet><item>(eni-[0-9a-f]{17})</item><item>(eni-[0-9a-f]{17})</item></networkInterfaceIdSet>`).FindStringSubmatch(body)
	if enis == nil {
		t.Fatalf("CreateVpcEndpoint lists no two interfaces: %s", body)
	}
	suffix := regexp.MustCompile(vpce + `-([a-z0-9]{8})\.ec2\.us-east-1\.vpce\.amazonaws\.com`).FindStringSubmatch(body)
	if suffix == nil {
		t.Fatalf("CreateVpcEndpoint lists no regional DNS name: %s", body)
	}
	name := vpce + "-" + suffix[1]
	for _, want := range []string{
		"<vpcEndpointType>Interface</vpcEndpointType>", "<state>available</state>",
		"<subnetIdSet><item>" + a + "</item><item>" + b + "</item></subnetIdSet>",
		"<groupSet><item><groupId>" + web + "</groupId><groupName>web</groupName></item></groupSet>",
		"<dnsName>" + name + "-us-east-1a.ec2.us-east-1.vpce.amazonaws.com</dnsName>",
		"<dnsName>" + name + "-us-east-1b.ec2.us-east-1.vpce.amazonaws.com</dnsName>",
		"<dnsName>ec2.us-east-1.amazonaws.com</dnsName>", "<hostedZoneId>Z",
		"<privateDnsEnabled>true</privateDnsEnabled>", "<requesterManaged>false</requesterManaged>",
		"<dnsOptions><dnsRecordIpType>ipv4</dnsRecordIpType><privateDnsOnlyForInboundResolverEndpoint>false</privateDnsOnlyForInboundResolverEndpoint></dnsOptions>",
		"<ipAddressType>ipv4</ipAddressType>", "<ownerId>", "<creationTimestamp>", "<value>infra</value>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateVpcEndpoint answer lacks %s: %s", want, body)
		}
	}
	if again := mustCall(t, d, "CreateVpcEndpoint", "VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.ec2",
		"SubnetId.1", a, "SubnetId.2", b, "SecurityGroupId.1", web, "ClientToken", "tok-1",
		"TagSpecification.1.ResourceType", "vpc-endpoint", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "infra"); !strings.Contains(again, vpce) {
		t.Errorf("a repeated client token made another endpoint: %s", again)
	}
	if got := availableIPs(t, d, a); got != "250" {
		t.Errorf("subnet %s has %s addresses left, want 250 (one for the endpoint)", a, got)
	}
	eni := enis[1]
	runCases(t, d, []apiCase{
		{"the endpoint's interface", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", eni}, "",
			"<description>VPC Endpoint Interface " + vpce + "</description>"},
		{"requester-managed", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "requester-managed", "Filter.1.Value.1", "true", "Filter.2.Name", "subnet-id", "Filter.2.Value.1", a}, "",
			"<interfaceType>vpc_endpoint</interfaceType>"},
		{"interface in use", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, "InvalidNetworkInterface.InUse", ""},
		{"interface cannot be attached", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", "i-0123456789abcdef0", "DeviceIndex", "1"}, "InvalidInstanceID.NotFound", ""},

		{"two subnets in a zone", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.sts", "SubnetId.1", a, "SubnetId.2", a2}, "DuplicateSubnetsInSameZone", ""},
		{"subnet of another VPC", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.sts", "SubnetId.1", foreign}, "InvalidParameter", ""},
		{"missing subnet", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.sts", "SubnetId.1", "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound", ""},
		{"group of another VPC", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.sts", "SecurityGroupId.1", foreignGroup}, "InvalidParameter", ""},
		{"missing group", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.sts", "SecurityGroupId.1", "sg-0123456789abcdef0"}, "InvalidGroup.NotFound", ""},
		{"route tables of an interface endpoint", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.sts", "RouteTableId.1", "rtb-0123456789abcdef0"}, "InvalidParameter", ""},
		{"service not offered as interface", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.dynamodb"}, "InvalidServiceName", ""},
		{"private DNS name taken", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.ec2"}, "InvalidParameter", ""},
		{"same service without private DNS", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.ec2", "PrivateDnsEnabled", "false"}, "", "<privateDnsEnabled>false</privateDnsEnabled>"},
		{"private DNS without DNS hostnames", "CreateVpcEndpoint", []string{"VpcId", plain, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.kms"}, "InvalidParameter", ""},
		{"dual-stack", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.kms", "IpAddressType", "dualstack"}, "InvalidParameter", ""},
		{"unknown address type", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.kms", "IpAddressType", "ipv5"}, "InvalidParameterValue", ""},
		{"IPv6 DNS records", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.kms", "DnsOptions.DnsRecordIpType", "ipv6"}, "InvalidParameter", ""},
		{"S3 inbound-only private DNS needs a gateway", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.s3"}, "InvalidParameter", ""},
		{"S3 private DNS for all resolvers", "CreateVpcEndpoint", []string{"VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.s3",
			"DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint", "false", "SubnetConfiguration.1.SubnetId", b, "SubnetConfiguration.1.Ipv4", "10.0.2.77"}, "",
			"<dnsName>*.s3.us-east-1.amazonaws.com</dnsName>"},
		{"configured address", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "addresses.private-ip-address", "Filter.1.Value.1", "10.0.2.77"}, "", "<interfaceType>vpc_endpoint</interfaceType>"},

		{"add a subnet of a zone it has", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "AddSubnetId.1", a2}, "DuplicateSubnetsInSameZone", ""},
		{"remove a subnet it lacks", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "RemoveSubnetId.1", a2}, "InvalidParameter", ""},
		{"route tables of an interface endpoint", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "AddRouteTableId.1", "rtb-0123456789abcdef0"}, "InvalidParameter", ""},
		{"swap the zone's subnet", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "RemoveSubnetId.1", a, "AddSubnetId.1", a2}, "", "<return>true</return>"},
		{"subnets swapped", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<subnetIdSet><item>" + b + "</item><item>" + a2 + "</item></subnetIdSet>"},
		{"old interface gone", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", eni}, "InvalidNetworkInterfaceID.NotFound", ""},
		{"remove a group it lacks", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "RemoveSecurityGroupId.1", app}, "InvalidParameter", ""},
		{"remove the last group", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "RemoveSecurityGroupId.1", web}, "InvalidParameter", ""},
		{"swap groups", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "AddSecurityGroupId.1", app, "RemoveSecurityGroupId.1", web}, "", "<return>true</return>"},
		{"interfaces take the groups", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "group-id", "Filter.1.Value.1", app}, "", enis[2]},
		{"no interface keeps the old group", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "group-id", "Filter.1.Value.1", web}, "", "<networkInterfaceSet/>"},
		{"turn private DNS off", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "PrivateDnsEnabled", "false", "PolicyDocument", `{"Statement":[]}`}, "", "<return>true</return>"},
		{"private DNS off", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<privateDnsEnabled>false</privateDnsEnabled>"},
		{"policy changed", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<policyDocument>{&quot;Statement&quot;:[]}</policyDocument>"},

		{"by type", "DescribeVpcEndpoints", []string{"Filter.1.Name", "vpc-endpoint-type", "Filter.1.Value.1", "Interface", "Filter.2.Name", "service-name", "Filter.2.Value.1", "com.amazonaws.us-east-1.ec2", "Filter.3.Name", "tag-key", "Filter.3.Value.1", "team"}, "", vpce},
		{"by address type and state", "DescribeVpcEndpoints", []string{"Filter.1.Name", "ip-address-type", "Filter.1.Value.1", "ipv4", "Filter.2.Name", "vpc-endpoint-state", "Filter.2.Value.1", "available", "Filter.3.Name", "vpc-id", "Filter.3.Value.1", vpc, "Filter.4.Name", "tag:team", "Filter.4.Value.1", "infra"}, "", vpce},
		{"no dual-stack endpoints", "DescribeVpcEndpoints", []string{"Filter.1.Name", "ip-address-type", "Filter.1.Value.1", "dualstack"}, "", "<vpcEndpointSet/>"},

		{"subnet holding an endpoint interface", "DeleteSubnet", []string{"SubnetId", b}, "DependencyViolation", ""},
		{"VPC with an endpoint", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"group of an endpoint", "DeleteSecurityGroup", []string{"GroupId", app}, "DependencyViolation", ""},
		{"delete", "DeleteVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<unsuccessful/>"},
		{"its interfaces went", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", enis[2]}, "InvalidNetworkInterfaceID.NotFound", ""},
		{"subnet free again", "DeleteSubnet", []string{"SubnetId", a2}, "", "<return>true</return>"},
	})
	if got := availableIPs(t, d, a); got != "251" {
		t.Errorf("subnet %s has %s addresses left after the endpoint left it, want 251", a, got)
	}
}

func TestInterfaceEndpointWithoutSubnets(t *testing.T) {
	d := newService(t)
	vpc := dnsVPC(t, d, "10.0.0.0/16")
	body := mustCall(t, d, "CreateVpcEndpoint", "VpcId", vpc, "VpcEndpointType", "Interface", "ServiceName", "com.amazonaws.us-east-1.ssm")
	def := match(t, `<groupId>(sg-[0-9a-f]{17})</groupId><groupName>default</groupName>`, body)
	vpce := idIn(t, body, "vpcEndpointId", "vpce")
	subnet := zoneSubnet(t, d, vpc, "10.0.1.0/24", "us-east-1d")
	runCases(t, d, []apiCase{
		{"no interfaces yet", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "<networkInterfaceIdSet/>"},
		{"add a subnet", "ModifyVpcEndpoint", []string{"VpcEndpointId", vpce, "AddSubnetId.1", subnet}, "", "<return>true</return>"},
		{"with the default group", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "subnet-id", "Filter.1.Value.1", subnet}, "", "<groupId>" + def + "</groupId>"},
		{"zonal name", "DescribeVpcEndpoints", []string{"VpcEndpointId.1", vpce}, "", "-us-east-1d.ssm.us-east-1.vpce.amazonaws.com</dnsName>"},
	})
}
