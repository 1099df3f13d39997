package ec2

import (
	"strings"
	"testing"

	"strato/internal/cloud/cloudtest"
)

// revokeTwo asks to revoke SSH from 10.0.0.0/8 (which the group has) and telnet
// from the same range (which it does not).
func revokeTwo(group string) []string {
	return []string{"GroupId", group,
		"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8",
		"IpPermissions.2.IpProtocol", "tcp", "IpPermissions.2.FromPort", "23", "IpPermissions.2.ToPort", "23", "IpPermissions.2.IpRanges.1.CidrIp", "10.0.0.0/8"}
}

func allowSSH(group string) []string {
	return []string{"GroupId", group, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}
}

// In the default VPC a rule that is not there is no error: the others are revoked
// and the answer lists it as unknown.
func TestRevokeUnknownRuleInDefaultVPCIsListed(t *testing.T) {
	d := New(cloudtest.WithDefaultVPCs(t))
	mustCall(t, d, "DescribeVpcs")
	body := mustCall(t, d, "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web servers")
	web := match(t, `<groupId>(sg-[0-9a-f]{17})</groupId>`, body)
	mustCall(t, d, "AuthorizeSecurityGroupIngress", allowSSH(web)...)
	body = mustCall(t, d, "RevokeSecurityGroupIngress", revokeTwo(web)...)
	for _, want := range []string{"<return>true</return>", "<unknownIpPermissionSet><item><fromPort>23</fromPort><ipProtocol>tcp</ipProtocol><ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges>"} {
		if !strings.Contains(body, want) {
			t.Errorf("revoke answer lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, "<fromPort>22</fromPort>") {
		t.Errorf("the revoked rule is listed as unknown: %s", body)
	}
	body = mustCall(t, d, "DescribeSecurityGroups", "GroupId.1", web)
	if !strings.Contains(body, "<ipPermissions/>") {
		t.Errorf("SSH rule not revoked: %s", body)
	}
	// Egress too, and by name for the default group.
	body = mustCall(t, d, "RevokeSecurityGroupEgress", "GroupId", web, "IpPermissions.1.IpProtocol", "udp", "IpPermissions.1.FromPort", "53", "IpPermissions.1.ToPort", "53", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.2/32")
	if !strings.Contains(body, "<unknownIpPermissionSet><item><fromPort>53</fromPort><ipProtocol>udp</ipProtocol>") {
		t.Errorf("unknown egress rule not listed: %s", body)
	}
	runCases(t, d, []apiCase{
		{"default group by name", "RevokeSecurityGroupIngress", []string{"GroupName", "default", "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0"}, "", "<unknownIpPermissionSet><item><fromPort>80</fromPort><ipProtocol>tcp</ipProtocol>"},
		{"a rule ID that does not exist is still an error", "RevokeSecurityGroupIngress", []string{"GroupId", web, "SecurityGroupRuleId.1", "sgr-0123456789abcdef0"}, "InvalidSecurityGroupRuleId.NotFound", ""},
	})
}

// Outside the default VPC the same request is InvalidPermission.NotFound and
// revokes nothing.
func TestRevokeUnknownRuleInOtherVPCIsInvalidPermissionNotFound(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	web := createGroup(t, d, vpc, "web")
	mustCall(t, d, "AuthorizeSecurityGroupIngress", allowSSH(web)...)
	runCases(t, d, []apiCase{
		{"one rule missing", "RevokeSecurityGroupIngress", revokeTwo(web), "InvalidPermission.NotFound", ""},
		{"nothing revoked", "DescribeSecurityGroups", []string{"GroupId.1", web}, "", "<fromPort>22</fromPort>"},
		{"all there", "RevokeSecurityGroupIngress", revokeTwo(web)[:10], "", "<return>true</return>"},
	})
}
