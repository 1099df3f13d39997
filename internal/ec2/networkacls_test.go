package ec2

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func firstMatch(t *testing.T, pattern, body string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in %s", pattern, body)
	}
	return m[1]
}

func createSubnet(t *testing.T, d *awsapi.EC2, vpc, cidr string) string {
	t.Helper()
	body, err := callEC2(t, d, "CreateSubnet", "VpcId", vpc, "CidrBlock", cidr)
	if err != nil {
		t.Fatal(err)
	}
	return firstMatch(t, `<subnetId>(subnet-[0-9a-f]{17})</subnetId>`, body)
}

func entryParams(acl, number, egress, protocol, action string, extra ...string) []string {
	return append([]string{"NetworkAclId", acl, "RuleNumber", number, "Egress", egress, "Protocol", protocol, "RuleAction", action}, extra...)
}

func TestDefaultNetworkACL(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	body, err := callEC2(t, d, "DescribeNetworkAcls", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "default", "Filter.2.Value.1", "true")
	if err != nil {
		t.Fatal(err)
	}
	acl := firstMatch(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
	// Egress first, then ingress, each by number, each ending with rule 32767.
	var order []string
	for _, m := range regexp.MustCompile(`<egress>(\w+)</egress><protocol>-1</protocol><ruleAction>(\w+)</ruleAction><ruleNumber>(\d+)</ruleNumber>`).FindAllStringSubmatch(body, -1) {
		order = append(order, m[3]+"/"+m[2]+"/"+m[1])
	}
	if got, want := strings.Join(order, " "), "100/allow/true 32767/deny/true 100/allow/false 32767/deny/false"; got != want {
		t.Errorf("default entries %q, want %q: %s", got, want, body)
	}
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	body, _ = callEC2(t, d, "DescribeNetworkAcls", "Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet)
	assoc := firstMatch(t, `<networkAclAssociationId>(aclassoc-[0-9a-f]{17})</networkAclAssociationId>`, body)
	if !strings.Contains(body, acl) {
		t.Fatalf("new subnet not associated with the default ACL: %s", body)
	}
	runCases(t, d, []apiCase{
		{"default ACL cannot go", "DeleteNetworkAcl", []string{"NetworkAclId", acl}, "InvalidParameterValue", ""},
		{"fixed rule 32767", "DeleteNetworkAclEntry", []string{"NetworkAclId", acl, "RuleNumber", "32767", "Egress", "false"}, "InvalidParameterValue", ""},
		{"default rules are changeable", "ReplaceNetworkAclEntry", entryParams(acl, "100", "false", "tcp", "allow", "CidrBlock", "10.0.0.0/8", "PortRange.From", "22", "PortRange.To", "22"), "", "<return>true</return>"},
		{"stored as number", "DescribeNetworkAcls", []string{"NetworkAclId.1", acl, "Filter.1.Name", "entry.protocol", "Filter.1.Value.1", "tcp"}, "", "<protocol>6</protocol>"},
		{"by association", "DescribeNetworkAcls", []string{"Filter.1.Name", "association.association-id", "Filter.1.Value.1", assoc}, "", acl},
		{"filter entry.port-range.from", "DescribeNetworkAcls", []string{"Filter.1.Name", "entry.port-range.from", "Filter.1.Value.1", "22"}, "", acl},
	})
	if _, err := callEC2(t, d, "DeleteSubnet", "SubnetId", subnet); err != nil {
		t.Fatal(err)
	}
	runCases(t, d, []apiCase{
		{"association dropped with the subnet", "DescribeNetworkAcls", []string{"Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet}, "", "<networkAclSet/>"},
		{"VPC deletes its default ACL", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
		{"default ACL gone", "DescribeNetworkAcls", []string{"NetworkAclId.1", acl}, "InvalidNetworkAclID.NotFound", ""},
	})
}

func TestNetworkACLs(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	body, err := callEC2(t, d, "CreateNetworkAcl", "VpcId", vpc, "ClientToken", "tok",
		"TagSpecification.1.ResourceType", "network-acl", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web")
	if err != nil {
		t.Fatal(err)
	}
	acl := firstMatch(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
	if strings.Contains(body, "<ruleAction>allow</ruleAction>") || strings.Count(body, "<ruleNumber>32767</ruleNumber>") != 2 || !strings.Contains(body, "<default>false</default>") {
		t.Errorf("a custom ACL denies everything: %s", body)
	}
	again, _ := callEC2(t, d, "CreateNetworkAcl", "VpcId", vpc, "ClientToken", "tok",
		"TagSpecification.1.ResourceType", "network-acl", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web")
	if !strings.Contains(again, acl) {
		t.Errorf("same client token made another ACL: %s", again)
	}
	body, _ = callEC2(t, d, "CreateNetworkAcl", "VpcId", other)
	otherACL := firstMatch(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
	body, _ = callEC2(t, d, "DescribeNetworkAcls", "Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet)
	assoc := firstMatch(t, `<networkAclAssociationId>(aclassoc-[0-9a-f]{17})</networkAclAssociationId>`, body)

	cidr := []string{"CidrBlock", "10.0.0.0/8"}
	runCases(t, d, []apiCase{
		{"client token with other parameters", "CreateNetworkAcl", []string{"VpcId", other, "ClientToken", "tok"}, "IdempotentParameterMismatch", ""},
		{"missing VPC", "CreateNetworkAcl", []string{"VpcId", "vpc-0123456789abcdef0"}, "InvalidVpcID.NotFound", ""},
		{"allow https", "CreateNetworkAclEntry", entryParams(acl, "100", "false", "tcp", "allow", append(cidr, "PortRange.From", "443", "PortRange.To", "443")...), "", "<return>true</return>"},
		{"NetworkAclEntryAlreadyExists", "CreateNetworkAclEntry", entryParams(acl, "100", "false", "udp", "allow", append(cidr, "PortRange.From", "53", "PortRange.To", "53")...), "NetworkAclEntryAlreadyExists", ""},
		{"same number, other direction", "CreateNetworkAclEntry", entryParams(acl, "100", "true", "-1", "allow", cidr...), "", "<return>true</return>"},
		{"icmp", "CreateNetworkAclEntry", entryParams(acl, "90", "false", "icmp", "allow", append(cidr, "Icmp.Type", "8", "Icmp.Code", "-1")...), "", "<return>true</return>"},
		{"icmpv6 on IPv4 ignores type and code", "CreateNetworkAclEntry", entryParams(acl, "91", "false", "58", "allow", cidr...), "", "<return>true</return>"},
		{"icmpv6 on IPv6 needs type and code", "CreateNetworkAclEntry", entryParams(acl, "92", "false", "icmpv6", "allow", "Ipv6CidrBlock", "::/0"), "MissingParameter", ""},
		{"ipv6 rule", "CreateNetworkAclEntry", entryParams(acl, "93", "false", "icmpv6", "deny", "Ipv6CidrBlock", "2001:db8::/32", "Icmp.Type", "-1", "Icmp.Code", "-1"), "", "<return>true</return>"},
		{"rule number 0", "CreateNetworkAclEntry", entryParams(acl, "0", "false", "-1", "allow", cidr...), "InvalidParameterValue", ""},
		{"rule number 32767", "CreateNetworkAclEntry", entryParams(acl, "32767", "false", "-1", "allow", cidr...), "InvalidParameterValue", ""},
		{"rule number 32766", "CreateNetworkAclEntry", entryParams(acl, "32766", "false", "-1", "deny", cidr...), "", "<return>true</return>"},
		{"tcp needs ports", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "tcp", "allow", cidr...), "MissingParameter", ""},
		{"port out of range", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "tcp", "allow", append(cidr, "PortRange.From", "1", "PortRange.To", "70000")...), "InvalidParameterValue", ""},
		{"icmp needs type and code", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "icmp", "allow", cidr...), "MissingParameter", ""},
		{"unknown protocol", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "sctp", "allow", cidr...), "InvalidParameterValue", ""},
		{"protocol 256", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "256", "allow", cidr...), "InvalidParameterValue", ""},
		{"action", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "-1", "permit", cidr...), "InvalidParameterValue", ""},
		{"no block", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "-1", "allow"), "MissingParameter", ""},
		{"both blocks", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "-1", "allow", "CidrBlock", "10.0.0.0/8", "Ipv6CidrBlock", "::/0"), "InvalidParameterCombination", ""},
		{"bad block", "CreateNetworkAclEntry", entryParams(acl, "110", "false", "-1", "allow", "CidrBlock", "10.0.0.0/33"), "InvalidParameterValue", ""},
		{"missing ACL", "CreateNetworkAclEntry", entryParams("acl-0123456789abcdef0", "110", "false", "-1", "allow", cidr...), "InvalidNetworkAclID.NotFound", ""},
		{"replace", "ReplaceNetworkAclEntry", entryParams(acl, "100", "false", "tcp", "deny", append(cidr, "PortRange.From", "80", "PortRange.To", "81")...), "", "<return>true</return>"},
		{"InvalidNetworkAclEntry.NotFound on replace", "ReplaceNetworkAclEntry", entryParams(acl, "101", "false", "-1", "deny", cidr...), "InvalidNetworkAclEntry.NotFound", ""},
		{"InvalidNetworkAclEntry.NotFound on delete", "DeleteNetworkAclEntry", []string{"NetworkAclId", acl, "RuleNumber", "101", "Egress", "true"}, "InvalidNetworkAclEntry.NotFound", ""},
		{"delete", "DeleteNetworkAclEntry", []string{"NetworkAclId", acl, "RuleNumber", "32766", "Egress", "false"}, "", "<return>true</return>"},
		{"replaced entry", "DescribeNetworkAcls", []string{"NetworkAclId.1", acl}, "", "<portRange><from>80</from><to>81</to></portRange>"},
		{"icmp entry", "DescribeNetworkAcls", []string{"NetworkAclId.1", acl}, "", "<icmpTypeCode><code>-1</code><type>8</type></icmpTypeCode>"},
		{"filter entry.rule-number", "DescribeNetworkAcls", []string{"Filter.1.Name", "entry.rule-number", "Filter.1.Value.1", "90"}, "", acl},
		{"filter entry.icmp.type", "DescribeNetworkAcls", []string{"Filter.1.Name", "entry.icmp.type", "Filter.1.Value.1", "8", "Filter.2.Name", "entry.icmp.code", "Filter.2.Value.1", "-1"}, "", acl},
		{"filter entry.ipv6-cidr", "DescribeNetworkAcls", []string{"Filter.1.Name", "entry.ipv6-cidr", "Filter.1.Value.1", "2001:db8::/32"}, "", acl},
		{"filter entry.rule-action and egress", "DescribeNetworkAcls", []string{"Filter.1.Name", "entry.rule-action", "Filter.1.Value.1", "deny", "Filter.2.Name", "entry.egress", "Filter.2.Value.1", "false", "Filter.3.Name", "entry.cidr", "Filter.3.Value.1", "10.0.0.0/8", "Filter.4.Name", "entry.port-range.to", "Filter.4.Value.1", "81"}, "", acl},
		{"filter tag", "DescribeNetworkAcls", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "web", "Filter.2.Name", "owner-id", "Filter.2.Value.1", "123456789012"}, "", acl},
		{"filter network-acl-id", "DescribeNetworkAcls", []string{"Filter.1.Name", "network-acl-id", "Filter.1.Value.1", otherACL}, "", "<vpcId>" + other + "</vpcId>"},
		{"unknown filter", "DescribeNetworkAcls", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"ACL of another VPC", "ReplaceNetworkAclAssociation", []string{"AssociationId", assoc, "NetworkAclId", otherACL}, "InvalidParameterValue", ""},
		{"InvalidAssociationID.NotFound", "ReplaceNetworkAclAssociation", []string{"AssociationId", "aclassoc-0123456789abcdef0", "NetworkAclId", acl}, "InvalidAssociationID.NotFound", ""},
		{"VPC with a custom ACL", "DeleteVpc", []string{"VpcId", other}, "DependencyViolation", ""},
	})
	body, err = callEC2(t, d, "ReplaceNetworkAclAssociation", "AssociationId", assoc, "NetworkAclId", acl)
	if err != nil {
		t.Fatal(err)
	}
	newAssoc := firstMatch(t, `<newAssociationId>(aclassoc-[0-9a-f]{17})</newAssociationId>`, body)
	runCases(t, d, []apiCase{
		{"moved", "DescribeNetworkAcls", []string{"Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet}, "", "<networkAclAssociationId>" + newAssoc + "</networkAclAssociationId><networkAclId>" + acl + "</networkAclId>"},
		{"old association gone", "ReplaceNetworkAclAssociation", []string{"AssociationId", assoc, "NetworkAclId", acl}, "InvalidAssociationID.NotFound", ""},
		{"exactly one ACL per subnet", "DescribeNetworkAcls", []string{"Filter.1.Name", "association.subnet-id", "Filter.1.Value.1", subnet, "Filter.2.Name", "default", "Filter.2.Value.1", "true"}, "", "<networkAclSet/>"},
		{"DependencyViolation while associated", "DeleteNetworkAcl", []string{"NetworkAclId", acl}, "DependencyViolation", ""},
		{"delete unassociated", "DeleteNetworkAcl", []string{"NetworkAclId", otherACL}, "", "<return>true</return>"},
		{"other VPC empty again", "DeleteVpc", []string{"VpcId", other}, "", "<return>true</return>"},
	})
}

func TestNetworkACLQuotas(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	body, _ := callEC2(t, d, "CreateNetworkAcl", "VpcId", vpc)
	acl := firstMatch(t, `<networkAclId>(acl-[0-9a-f]{17})</networkAclId>`, body)
	// 20 rules per direction and family, the fixed deny rule included: 19 more.
	for i := 1; i <= 19; i++ {
		if _, err := callEC2(t, d, "CreateNetworkAclEntry", entryParams(acl, fmt.Sprint(i), "false", "-1", "allow", "CidrBlock", "10.0.0.0/8")...); err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
	}
	runCases(t, d, []apiCase{
		{"NetworkAclEntryLimitExceeded", "CreateNetworkAclEntry", entryParams(acl, "20", "false", "-1", "allow", "CidrBlock", "10.0.0.0/8"), "NetworkAclEntryLimitExceeded", ""},
		{"other direction has room", "CreateNetworkAclEntry", entryParams(acl, "20", "true", "-1", "allow", "CidrBlock", "10.0.0.0/8"), "", "<return>true</return>"},
		{"IPv6 has room", "CreateNetworkAclEntry", entryParams(acl, "20", "false", "-1", "allow", "Ipv6CidrBlock", "::/0"), "", "<return>true</return>"},
	})
	// The default ACL counts: 198 more reach the 200 of a VPC.
	for i := 0; i < 198; i++ {
		if _, err := callEC2(t, d, "CreateNetworkAcl", "VpcId", vpc); err != nil {
			t.Fatalf("ACL %d: %v", i+3, err)
		}
	}
	runCases(t, d, []apiCase{{"NetworkAclLimitExceeded", "CreateNetworkAcl", []string{"VpcId", vpc}, "NetworkAclLimitExceeded", ""}})
}
