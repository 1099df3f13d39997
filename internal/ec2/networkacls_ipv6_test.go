package ec2

import (
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

// aclEntries lists an ACL's all-protocol entries as number/action/direction, with
// "/v6" for IPv6 ones, in the order DescribeNetworkAcls gives them.
func aclEntries(t *testing.T, d *awsapi.EC2, acl string) string {
	t.Helper()
	body := mustCall(t, d, "DescribeNetworkAcls", "NetworkAclId.1", acl)
	var out []string
	for _, m := range regexp.MustCompile(`<egress>(\w+)</egress>(<ipv6CidrBlock>::/0</ipv6CidrBlock>)?<protocol>-1</protocol><ruleAction>(\w+)</ruleAction><ruleNumber>(\d+)</ruleNumber>`).FindAllStringSubmatch(body, -1) {
		e := m[4] + "/" + m[3] + "/" + map[string]string{"true": "out", "false": "in"}[m[1]]
		if m[2] != "" {
			e += "/v6"
		}
		out = append(out, e)
	}
	return strings.Join(out, " ")
}

func defaultACLOf(t *testing.T, d *awsapi.EC2, vpc string) string {
	t.Helper()
	body := mustCall(t, d, "DescribeNetworkAcls", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "default", "Filter.2.Value.1", "true")
	return match(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
}

func egressOf(t *testing.T, d *awsapi.EC2, group string) string {
	t.Helper()
	body := mustCall(t, d, "DescribeSecurityGroups", "GroupId.1", group)
	return body[strings.Index(body, "<ipPermissionsEgress>"):]
}

// A VPC created with IPv6: the default ACL has rule 101 and the fixed IPv6 deny
// rule (32768) both ways, a custom ACL the fixed rules, and the groups an
// outbound rule to ::/0.
func TestIPv6VPCDefaultRules(t *testing.T) {
	d := newService(t)
	body := mustCall(t, d, "CreateVpc", "CidrBlock", "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock", "true")
	vpc := match(t, `<vpcId>(vpc-[0-9a-f]{17})</vpcId>`, body)
	if got, want := aclEntries(t, d, defaultACLOf(t, d, vpc)), "100/allow/out 101/allow/out/v6 32767/deny/out 32768/deny/out/v6 100/allow/in 101/allow/in/v6 32767/deny/in 32768/deny/in/v6"; got != want {
		t.Errorf("default ACL %q, want %q", got, want)
	}
	body = mustCall(t, d, "CreateNetworkAcl", "VpcId", vpc)
	custom := match(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
	if got, want := aclEntries(t, d, custom), "32767/deny/out 32768/deny/out/v6 32767/deny/in 32768/deny/in/v6"; got != want {
		t.Errorf("custom ACL %q, want %q", got, want)
	}
	body = mustCall(t, d, "DescribeSecurityGroups", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc)
	def := match(t, `<groupId>(sg-[0-9a-f]{17})</groupId>`, body)
	web := createGroup(t, d, vpc, "web")
	for _, g := range []string{def, web} {
		if out := egressOf(t, d, g); !strings.Contains(out, "<ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges>") {
			t.Errorf("group %s has no outbound rule to ::/0: %s", g, out)
		}
	}
	runCases(t, d, []apiCase{
		{"the fixed IPv6 rule cannot be deleted", "DeleteNetworkAclEntry", []string{"NetworkAclId", custom, "RuleNumber", "32768", "Egress", "true"}, "InvalidParameterValue", ""},
		{"entries filter by the fixed IPv6 rule", "DescribeNetworkAcls", []string{"Filter.1.Name", "entry.rule-number", "Filter.1.Value.1", "32768", "Filter.2.Name", "vpc-id", "Filter.2.Value.1", vpc}, "", "<networkAclId>" + custom + "</networkAclId>"},
	})
}

// An IPv6 block added later: the default ACL gets rule 101 only in a direction
// still as created, every ACL the fixed IPv6 rule, the default group (not the
// others) the ::/0 outbound rule; taking the block away takes the fixed rule.
func TestIPv6BlockAddedLater(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	def := defaultACLOf(t, d, vpc)
	body := mustCall(t, d, "CreateNetworkAcl", "VpcId", vpc)
	custom := match(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
	if got, want := aclEntries(t, d, custom), "32767/deny/out 32767/deny/in"; got != want {
		t.Errorf("custom ACL without IPv6 %q, want %q", got, want)
	}
	web := createGroup(t, d, vpc, "web")
	body = mustCall(t, d, "DescribeSecurityGroups", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "group-name", "Filter.2.Value.1", "default")
	defGroup := match(t, `<groupId>(sg-[0-9a-f]{17})</groupId>`, body)
	// The owner changes the inbound rules of the default ACL.
	mustCall(t, d, "CreateNetworkAclEntry", entryParams(def, "90", "false", "6", "deny", "CidrBlock", "192.0.2.0/24", "PortRange.From", "22", "PortRange.To", "22")...)

	body = mustCall(t, d, "AssociateVpcCidrBlock", "VpcId", vpc, "AmazonProvidedIpv6CidrBlock", "true")
	assoc := match(t, `<associationId>(vpc-cidr-assoc-[0-9a-f]{17})</associationId>`, body)
	if got, want := aclEntries(t, d, def), "100/allow/out 101/allow/out/v6 32767/deny/out 32768/deny/out/v6 100/allow/in 32767/deny/in 32768/deny/in/v6"; got != want {
		t.Errorf("default ACL after the block %q, want %q", got, want)
	}
	if got, want := aclEntries(t, d, custom), "32767/deny/out 32768/deny/out/v6 32767/deny/in 32768/deny/in/v6"; got != want {
		t.Errorf("custom ACL after the block %q, want %q", got, want)
	}
	if out := egressOf(t, d, defGroup); !strings.Contains(out, "<cidrIpv6>::/0</cidrIpv6>") {
		t.Errorf("default group gained no ::/0 rule: %s", out)
	}
	if out := egressOf(t, d, web); strings.Contains(out, "::/0") {
		t.Errorf("a group made before the block gained a ::/0 rule: %s", out)
	}

	mustCall(t, d, "DisassociateVpcCidrBlock", "AssociationId", assoc)
	if got, want := aclEntries(t, d, custom), "32767/deny/out 32767/deny/in"; got != want {
		t.Errorf("custom ACL after the block went %q, want %q", got, want)
	}
	// A second block later adds no second rule 101 and no second ::/0 rule.
	mustCall(t, d, "AssociateVpcCidrBlock", "VpcId", vpc, "AmazonProvidedIpv6CidrBlock", "true")
	if got := aclEntries(t, d, def); strings.Count(got, "101/") != 1 {
		t.Errorf("default ACL after a second block %q, want one rule 101", got)
	}
	if out := egressOf(t, d, defGroup); strings.Count(out, "::/0") != 1 {
		t.Errorf("default group after a second block: %s", out)
	}
}
