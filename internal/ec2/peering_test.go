package ec2

import (
	"strings"
	"testing"
)

func TestVPCPeeringConnections(t *testing.T) {
	d := newService(t)
	vpcA, vpcB := createVPC(t, d, "10.0.0.0/16"), createVPC(t, d, "10.1.0.0/16")
	overlapping := createVPC(t, d, "10.0.0.0/24")
	body, err := callEC2(t, d, "CreateVpcPeeringConnection", "VpcId", vpcA, "PeerVpcId", vpcB,
		"TagSpecification.1.ResourceType", "vpc-peering-connection", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "ab")
	if err != nil {
		t.Fatal(err)
	}
	pcx := firstMatch(t, `<vpcPeeringConnectionId>(pcx-[0-9a-f]{17})</vpcPeeringConnectionId>`, body)
	for _, want := range []string{"<code>initiating-request</code>", "<requesterVpcInfo><cidrBlock>10.0.0.0/16</cidrBlock>", "<ownerId>123456789012</ownerId>", "<region>us-east-1</region>", "<expirationTime>", "<value>ab</value>"} {
		if !strings.Contains(body, want) {
			t.Errorf("create answer lacks %s: %s", want, body)
		}
	}
	body, _ = callEC2(t, d, "CreateVpcPeeringConnection", "VpcId", vpcA, "PeerVpcId", overlapping)
	failed := firstMatch(t, `<vpcPeeringConnectionId>(pcx-[0-9a-f]{17})</vpcPeeringConnectionId>`, body)
	runCases(t, d, []apiCase{
		{"pending", "DescribeVpcPeeringConnections", []string{"VpcPeeringConnectionId.1", pcx}, "", "<code>pending-acceptance</code><message>Pending Acceptance by 123456789012</message>"},
		{"overlapping blocks fail", "DescribeVpcPeeringConnections", []string{"VpcPeeringConnectionId.1", failed}, "", "<code>failed</code>"},
		{"missing PeerVpcId", "CreateVpcPeeringConnection", []string{"VpcId", vpcA}, "MissingParameter", ""},
		{"missing VPC", "CreateVpcPeeringConnection", []string{"VpcId", "vpc-0123456789abcdef0", "PeerVpcId", vpcB}, "InvalidVpcID.NotFound", ""},
		{"unknown region", "CreateVpcPeeringConnection", []string{"VpcId", vpcA, "PeerVpcId", vpcB, "PeerRegion", "mars-north-1"}, "InvalidParameterValue", ""},
		{"VpcPeeringConnectionAlreadyExists", "CreateVpcPeeringConnection", []string{"VpcId", vpcB, "PeerVpcId", vpcA}, "VpcPeeringConnectionAlreadyExists", ""},
		{"InvalidVpcPeeringConnectionID.NotFound", "AcceptVpcPeeringConnection", []string{"VpcPeeringConnectionId", "pcx-0123456789abcdef0"}, "InvalidVpcPeeringConnectionID.NotFound", ""},
		{"OperationNotPermitted before active", "ModifyVpcPeeringConnectionOptions", []string{"VpcPeeringConnectionId", pcx, "RequesterPeeringConnectionOptions.AllowDnsResolutionFromRemoteVpc", "true"}, "OperationNotPermitted", ""},
		{"accept", "AcceptVpcPeeringConnection", []string{"VpcPeeringConnectionId", pcx}, "", "<code>provisioning</code>"},
		{"active", "DescribeVpcPeeringConnections", []string{"Filter.1.Name", "status-code", "Filter.1.Value.1", "active"}, "", "<accepterVpcInfo><cidrBlock>10.1.0.0/16</cidrBlock><cidrBlockSet><item><cidrBlock>10.1.0.0/16</cidrBlock></item></cidrBlockSet><ownerId>123456789012</ownerId><peeringOptions><allowDnsResolutionFromRemoteVpc>false</allowDnsResolutionFromRemoteVpc>"},
		{"InvalidStateTransition", "AcceptVpcPeeringConnection", []string{"VpcPeeringConnectionId", pcx}, "InvalidStateTransition", ""},
		{"DNS option", "ModifyVpcPeeringConnectionOptions", []string{"VpcPeeringConnectionId", pcx, "AccepterPeeringConnectionOptions.AllowDnsResolutionFromRemoteVpc", "true"}, "", "<accepterPeeringConnectionOptions><allowDnsResolutionFromRemoteVpc>true</allowDnsResolutionFromRemoteVpc>"},
		{"ClassicLink is gone", "ModifyVpcPeeringConnectionOptions", []string{"VpcPeeringConnectionId", pcx, "AccepterPeeringConnectionOptions.AllowEgressFromLocalClassicLinkToRemoteVpc", "true"}, "UnsupportedOperation", ""},
		{"filters", "DescribeVpcPeeringConnections", []string{"Filter.1.Name", "requester-vpc-info.vpc-id", "Filter.1.Value.1", vpcA, "Filter.2.Name", "accepter-vpc-info.cidr-block", "Filter.2.Value.1", "10.1.0.0/16", "Filter.3.Name", "tag:Name", "Filter.3.Value.1", "ab", "Filter.4.Name", "requester-vpc-info.owner-id", "Filter.4.Value.1", "123456789012"}, "", pcx},
		{"status-message filter", "DescribeVpcPeeringConnections", []string{"Filter.1.Name", "status-message", "Filter.1.Value.1", "Failed*"}, "", failed},
		{"unknown filter", "DescribeVpcPeeringConnections", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"accepter VPC of an active connection", "DescribeVpcPeeringConnections", []string{"Filter.1.Name", "accepter-vpc-info.vpc-id", "Filter.1.Value.1", vpcB}, "", pcx},
		{"delete", "DeleteVpcPeeringConnection", []string{"VpcPeeringConnectionId", pcx}, "", "<return>true</return>"},
		{"deleted stays visible", "DescribeVpcPeeringConnections", []string{"VpcPeeringConnectionId.1", pcx}, "", "<code>deleted</code><message>Deleted by 123456789012</message>"},
		{"reject deleted", "RejectVpcPeeringConnection", []string{"VpcPeeringConnectionId", pcx}, "InvalidStateTransition", ""},
	})
}
