package ec2

import (
	"strings"
	"testing"
)

// A rule referring to a group of a peer VPC goes stale when the peering is
// deleted; DescribeStaleSecurityGroups lists it, and only then.
func TestDescribeStaleSecurityGroups(t *testing.T) {
	d := newService(t)
	a, b := createVPC(t, d, "10.0.0.0/16"), createVPC(t, d, "10.1.0.0/16")
	pcx := match(t, `<vpcPeeringConnectionId>(pcx-[0-9a-f]{17})</vpcPeeringConnectionId>`, mustCall(t, d, "CreateVpcPeeringConnection", "VpcId", a, "PeerVpcId", b))
	mustCall(t, d, "AcceptVpcPeeringConnection", "VpcPeeringConnectionId", pcx)
	web, db := createGroup(t, d, a, "web"), createGroup(t, d, b, "db")
	createGroup(t, d, a, "plain")
	mustCall(t, d, "AuthorizeSecurityGroupIngress", "GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "5432", "IpPermissions.1.ToPort", "5432", "IpPermissions.1.Groups.1.GroupId", db)
	runCases(t, d, []apiCase{
		{"nothing stale while peered", "DescribeStaleSecurityGroups", []string{"VpcId", a}, "", "<staleSecurityGroupSet/>"},
		{"VPC required", "DescribeStaleSecurityGroups", nil, "MissingParameter", ""},
		{"unknown VPC", "DescribeStaleSecurityGroups", []string{"VpcId", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"page size", "DescribeStaleSecurityGroups", []string{"VpcId", a, "MaxResults", "256"}, "InvalidParameterValue", ""},
	})
	mustCall(t, d, "DeleteVpcPeeringConnection", "VpcPeeringConnectionId", pcx)
	body := mustCall(t, d, "DescribeStaleSecurityGroups", "VpcId", a)
	for _, want := range []string{
		"<groupId>" + web + "</groupId><groupName>web</groupName>",
		"<staleIpPermissions><item><fromPort>5432</fromPort><ipProtocol>tcp</ipProtocol><toPort>5432</toPort><groups><item><groupId>" + db + "</groupId>",
		"<vpcId>" + b + "</vpcId>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("stale answer lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, "<groupName>plain</groupName>") || strings.Contains(body, "<peeringStatus>") {
		t.Errorf("a group without stale rules, or a peering status, is listed: %s", body)
	}
}
