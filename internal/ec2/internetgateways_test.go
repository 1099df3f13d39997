package ec2

import (
	"regexp"
	"testing"
)

func TestInternetGateways(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	body, err := callEC2(t, d, "CreateInternetGateway", "TagSpecification.1.ResourceType", "internet-gateway", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "edge")
	if err != nil {
		t.Fatal(err)
	}
	igw := regexp.MustCompile(`<internetGatewayId>(igw-[0-9a-f]{17})</internetGatewayId>`).FindStringSubmatch(body)[1]
	body, _ = callEC2(t, d, "CreateInternetGateway")
	second := regexp.MustCompile(`<internetGatewayId>(igw-[0-9a-f]{17})</internetGatewayId>`).FindStringSubmatch(body)[1]
	runCases(t, d, []apiCase{
		{"created detached", "DescribeInternetGateways", []string{"InternetGatewayId.1", igw}, "", "<attachmentSet/>"},
		{"attach", "AttachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", vpc}, "", "<return>true</return>"},
		{"attached", "DescribeInternetGateways", []string{"Filter.1.Name", "attachment.vpc-id", "Filter.1.Value.1", vpc}, "", "<attachmentSet><item><state>available</state><vpcId>" + vpc + "</vpcId></item></attachmentSet>"},
		{"already attached elsewhere", "AttachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", other}, "Resource.AlreadyAssociated", ""},
		{"one per VPC", "AttachInternetGateway", []string{"InternetGatewayId", second, "VpcId", vpc}, "Resource.AlreadyAssociated", ""},
		{"missing VPC", "AttachInternetGateway", []string{"InternetGatewayId", second, "VpcId", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"missing gateway", "AttachInternetGateway", []string{"InternetGatewayId", "igw-0123456789abcdef0", "VpcId", vpc}, "InvalidInternetGatewayID.NotFound", ""},
		{"VPC with a gateway", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"attached gateway", "DeleteInternetGateway", []string{"InternetGatewayId", igw}, "DependencyViolation", ""},
		{"detach from the wrong VPC", "DetachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", other}, "Gateway.NotAttached", ""},
		{"detach", "DetachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", vpc}, "", "<return>true</return>"},
		{"tag filter", "DescribeInternetGateways", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "edge"}, "", igw},
		{"unknown filter", "DescribeInternetGateways", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"delete", "DeleteInternetGateway", []string{"InternetGatewayId", igw}, "", "<return>true</return>"},
		{"VPC now empty", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
		{"gone", "DescribeInternetGateways", []string{"InternetGatewayId.1", igw}, "InvalidInternetGatewayID.NotFound", ""},
	})
	for i := 0; i < 4; i++ {
		if _, err := callEC2(t, d, "CreateInternetGateway"); err != nil {
			t.Fatalf("gateway %d: %v", i+2, err)
		}
	}
	runCases(t, d, []apiCase{{"sixth gateway", "CreateInternetGateway", nil, "InternetGatewayLimitExceeded", ""}})
}
