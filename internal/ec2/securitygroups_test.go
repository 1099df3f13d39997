package ec2

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

// createGroup makes a security group and returns its ID.
func createGroup(t *testing.T, d *awsapi.EC2, vpc, name string, params ...string) string {
	t.Helper()
	body, err := callEC2(t, d, "CreateSecurityGroup", append([]string{"VpcId", vpc, "GroupName", name, "GroupDescription", name + " servers"}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return match(t, `<groupId>(sg-[0-9a-f]{17})</groupId>`, body)
}

func match(t *testing.T, pattern, body string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in %s", pattern, body)
	}
	return m[1]
}

func TestSecurityGroupsCreateAndDelete(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	body, err := callEC2(t, d, "DescribeSecurityGroups", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc)
	if err != nil {
		t.Fatal(err)
	}
	def := match(t, `<groupId>(sg-[0-9a-f]{17})</groupId>`, body)
	for _, want := range []string{
		"<groupName>default</groupName>", "<groupDescription>default VPC security group</groupDescription>",
		// Inbound from the group itself, outbound to everywhere, all protocols (no ports shown).
		"<ipPermissions><item><ipProtocol>-1</ipProtocol><ipRanges/><ipv6Ranges/><prefixListIds/><groups><item><groupId>" + def + "</groupId><userId>123456789012</userId></item></groups></item></ipPermissions>",
		"<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("default group lacks %s: %s", want, body)
		}
	}
	web := createGroup(t, d, vpc, "web", "TagSpecification.1.ResourceType", "security-group", "TagSpecification.1.Tag.1.Key", "tier", "TagSpecification.1.Tag.1.Value", "front")
	runCases(t, d, []apiCase{
		{"no default VPC", "CreateSecurityGroup", []string{"GroupName", "x", "GroupDescription", "x"}, "VPCIdNotSpecified", ""},
		{"sg- prefix", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", "sg-web", "GroupDescription", "x"}, "InvalidParameterValue", ""},
		{"default is reserved", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", "default", "GroupDescription", "x"}, "InvalidParameterValue", ""},
		{"name charset", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", "web<1>", "GroupDescription", "x"}, "InvalidParameterValue", ""},
		{"name length", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", strings.Repeat("a", 256), "GroupDescription", "x"}, "InvalidParameterValue", ""},
		{"description charset", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", "ok", "GroupDescription", "caf\u00e9"}, "InvalidParameterValue", ""},
		{"no description", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", "ok"}, "MissingParameter", ""},
		{"duplicate in the VPC", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", "web", "GroupDescription", "x"}, "InvalidGroup.Duplicate", ""},
		{"same name in another VPC", "CreateSecurityGroup", []string{"VpcId", other, "GroupName", "web", "GroupDescription", "x"}, "", "<groupId>sg-"},
		{"missing VPC", "CreateSecurityGroup", []string{"VpcId", "vpc-0123456789abcdef0", "GroupName", "x", "GroupDescription", "x"}, "InvalidVpcID.NotFound", ""},
		{"longest name", "CreateSecurityGroup", []string{"VpcId", vpc, "GroupName", strings.Repeat("a", 255), "GroupDescription", "a-z A-Z 0-9 ._-:/()#,@[]+=&;{}!$*"}, "", "<groupId>sg-"},
		{"created without ingress rules", "DescribeSecurityGroups", []string{"GroupId.1", web}, "", "<ipPermissions/>"},
		{"created with its tag and egress rule", "DescribeSecurityGroups", []string{"GroupId.1", web}, "",
			"<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/><groups/></item></ipPermissionsEgress><tagSet><item><key>tier</key><value>front</value></item></tagSet>"},
		{"by tag", "DescribeSecurityGroups", []string{"Filter.1.Name", "tag:tier", "Filter.1.Value.1", "front"}, "", "<groupId>" + web + "</groupId>"},
		{"by name needs a default VPC", "DescribeSecurityGroups", []string{"GroupName.1", "web"}, "VPCIdNotSpecified", ""},
		{"missing ID", "DescribeSecurityGroups", []string{"GroupId.1", "sg-0123456789abcdef0"}, "InvalidGroup.NotFound", ""},
		{"unknown filter", "DescribeSecurityGroups", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"sixth group", "CreateSecurityGroup", []string{"VpcId", other, "GroupName", "sixth", "GroupDescription", "x"}, "", "<groupId>sg-"},
		{"page of 5", "DescribeSecurityGroups", []string{"MaxResults", "5"}, "", "<nextToken>"},
		{"for the VPC", "GetSecurityGroupsForVpc", []string{"VpcId", vpc, "Filter.1.Name", "group-name", "Filter.1.Value.1", "web"}, "", "<securityGroupForVpcSet><item><description>web servers</description><groupName>web</groupName><ownerId>123456789012</ownerId><groupId>" + web + "</groupId>"},
		{"default group", "DeleteSecurityGroup", []string{"GroupId", def}, "CannotDelete", ""},
		{"VPC with a group", "DeleteVpc", []string{"VpcId", vpc}, "DependencyViolation", ""},
		{"by name needs a default VPC", "DeleteSecurityGroup", []string{"GroupName", "web"}, "VPCIdNotSpecified", ""},
		{"neither ID nor name", "DeleteSecurityGroup", nil, "MissingParameter", ""},
		{"delete", "DeleteSecurityGroup", []string{"GroupId", web}, "", "<return>true</return>"},
		{"gone", "DeleteSecurityGroup", []string{"GroupId", web}, "InvalidGroup.NotFound", ""},
	})
	body, _ = callEC2(t, d, "DescribeSecurityGroups", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc, "Filter.2.Name", "group-name", "Filter.2.Value.1", "a*")
	runCases(t, d, []apiCase{
		{"delete the last group", "DeleteSecurityGroup", []string{"GroupId", match(t, `<groupId>(sg-[0-9a-f]{17})</groupId>`, body)}, "", "<return>true</return>"},
		{"VPC with only its default group", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
		{"default group went with it", "DescribeSecurityGroups", []string{"GroupId.1", def}, "InvalidGroup.NotFound", ""},
	})
}

func TestSecurityGroupRules(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	other := createVPC(t, d, "10.1.0.0/16")
	web := createGroup(t, d, vpc, "web")
	db := createGroup(t, d, vpc, "db")
	elsewhere := createGroup(t, d, other, "elsewhere")
	body, err := callEC2(t, d, "AuthorizeSecurityGroupIngress", "GroupId", web,
		"IpPermissions.1.IpProtocol", "TCP", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22",
		"IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8", "IpPermissions.1.IpRanges.1.Description", "office",
		"IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "2001:DB8::/32",
		"IpPermissions.2.IpProtocol", "icmp", "IpPermissions.2.FromPort", "8", "IpPermissions.2.ToPort", "-1",
		"IpPermissions.2.Groups.1.GroupId", db,
		"TagSpecification.1.ResourceType", "security-group-rule", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "ops")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<return>true</return>", "<securityGroupRuleSet><item><securityGroupRuleId>sgr-",
		"<groupId>" + web + "</groupId><groupOwnerId>123456789012</groupOwnerId><isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><cidrIpv4>10.0.0.0/8</cidrIpv4><description>office</description><tagSet><item><key>team</key><value>ops</value></item></tagSet>",
		"<cidrIpv6>2001:db8::/32</cidrIpv6>",
		"<referencedGroupInfo><groupId>" + db + "</groupId><userId>123456789012</userId></referencedGroupInfo>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("AuthorizeSecurityGroupIngress answer lacks %s: %s", want, body)
		}
	}
	if n := strings.Count(body, "<securityGroupRuleId>"); n != 3 {
		t.Errorf("%d rules, want 3: %s", n, body)
	}
	ruleID := match(t, `<securityGroupRuleId>(sgr-[0-9a-f]{17})</securityGroupRuleId>`, body)
	many := []string{"GroupId", db, "IpPermissions.1.IpProtocol", "udp", "IpPermissions.1.FromPort", "53", "IpPermissions.1.ToPort", "53"}
	for i := 0; i < 61; i++ {
		many = append(many, fmt.Sprintf("IpPermissions.1.IpRanges.%d.CidrIp", i+1), fmt.Sprintf("10.%d.0.0/16", i))
	}
	runCases(t, d, []apiCase{
		{"merged by protocol and ports", "DescribeSecurityGroups", []string{"GroupId.1", web}, "",
			"<item><fromPort>22</fromPort><ipProtocol>tcp</ipProtocol><ipRanges><item><cidrIp>10.0.0.0/8</cidrIp><description>office</description></item></ipRanges><ipv6Ranges><item><cidrIpv6>2001:db8::/32</cidrIpv6></item></ipv6Ranges><prefixListIds/><toPort>22</toPort><groups/></item>"},
		{"ICMP type and code", "DescribeSecurityGroups", []string{"GroupId.1", web}, "",
			"<item><fromPort>8</fromPort><ipProtocol>icmp</ipProtocol><ipRanges/><ipv6Ranges/><prefixListIds/><toPort>-1</toPort><groups><item><groupId>" + db + "</groupId><userId>123456789012</userId></item></groups></item>"},
		{"filter by referenced group", "DescribeSecurityGroups", []string{"Filter.1.Name", "ip-permission.group-id", "Filter.1.Value.1", db}, "", "<groupId>" + web + "</groupId>"},
		{"filter by port", "DescribeSecurityGroups", []string{"Filter.1.Name", "ip-permission.from-port", "Filter.1.Value.1", "22", "Filter.2.Name", "ip-permission.cidr", "Filter.2.Value.1", "10.0.0.0/8"}, "", "<groupName>web</groupName>"},
		{"egress filter", "DescribeSecurityGroups", []string{"Filter.1.Name", "egress.ip-permission.cidr", "Filter.1.Value.1", "10.0.0.0/8"}, "", "<securityGroupInfo/>"},
		{"duplicate", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "6", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}, "InvalidPermission.Duplicate", ""},
		{"duplicate in one request", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "80", "IpPermissions.1.ToPort", "80", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8", "IpPermissions.1.IpRanges.2.CidrIp", "10.0.0.0/8"}, "InvalidPermission.Duplicate", ""},
		{"port range reversed", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "90", "IpPermissions.1.ToPort", "80", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}, "InvalidParameterValue", ""},
		{"port out of range", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "udp", "IpPermissions.1.FromPort", "0", "IpPermissions.1.ToPort", "65536", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}, "InvalidParameterValue", ""},
		{"ICMP code without type", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "icmp", "IpPermissions.1.FromPort", "-1", "IpPermissions.1.ToPort", "3", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}, "InvalidParameterValue", ""},
		{"unknown protocol", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "carrier-pigeon", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}, "InvalidParameterValue", ""},
		{"malformed CIDR", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/33"}, "InvalidParameterValue", ""},
		{"IPv6 range given as IPv4", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "10.0.0.0/8"}, "InvalidParameterValue", ""},
		{"bad rule description", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "10.9.0.0/16", "IpPermissions.1.IpRanges.1.Description", "<script>"}, "InvalidParameterValue", ""},
		{"missing prefix list", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.PrefixListIds.1.PrefixListId", "pl-0123456789abcdef0"}, "InvalidPrefixListID.NotFound", ""},
		{"group of another VPC", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupId", elsewhere}, "InvalidGroup.NotFound", ""},
		{"missing peer group", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupId", "sg-0123456789abcdef0"}, "InvalidGroup.NotFound", ""},
		{"no permissions", "AuthorizeSecurityGroupIngress", []string{"GroupId", web}, "MissingParameter", ""},
		{"61 rules", "AuthorizeSecurityGroupIngress", many, "RulesPerSecurityGroupLimitExceeded", ""},
		{"60 rules", "AuthorizeSecurityGroupIngress", many[:len(many)-2], "", "<return>true</return>"},
		{"legacy parameters", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0"}, "", "<fromPort>80</fromPort><toPort>80</toPort><cidrIpv4>0.0.0.0/0</cidrIpv4>"},
		{"legacy source group by name", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "SourceSecurityGroupName", "db"}, "VPCIdNotSpecified", ""},
		{"legacy source group with ports", "AuthorizeSecurityGroupIngress", []string{"GroupId", web, "SourceSecurityGroupName", "db", "FromPort", "1"}, "InvalidParameterCombination", ""},
		{"legacy egress parameters", "AuthorizeSecurityGroupEgress", []string{"GroupId", web, "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0"}, "InvalidParameterCombination", ""},
		{"referenced group", "DeleteSecurityGroup", []string{"GroupId", db}, "DependencyViolation", ""},
		{"rules by tag", "DescribeSecurityGroupRules", []string{"Filter.1.Name", "tag:team", "Filter.1.Value.1", "ops"}, "", "<securityGroupRuleId>" + ruleID + "</securityGroupRuleId>"},
		{"rules by group", "DescribeSecurityGroupRules", []string{"Filter.1.Name", "group-id", "Filter.1.Value.1", db, "MaxResults", "5"}, "", "<nextToken>"},
		{"rule by ID", "DescribeSecurityGroupRules", []string{"SecurityGroupRuleId.1", ruleID}, "", "<groupId>" + web + "</groupId>"},
		{"missing rule ID", "DescribeSecurityGroupRules", []string{"SecurityGroupRuleId.1", "sgr-0123456789abcdef0"}, "InvalidSecurityGroupRuleId.NotFound", ""},
		{"no references from other VPCs", "DescribeSecurityGroupReferences", []string{"GroupId.1", db}, "", "<securityGroupReferenceSet/>"},
		{"revoke a rule that is not there", "RevokeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "23", "IpPermissions.1.ToPort", "23", "IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"}, "InvalidPermission.NotFound", ""},
		{"revoke an unknown rule ID", "RevokeSecurityGroupIngress", []string{"GroupId", web, "SecurityGroupRuleId.1", "sgr-0123456789abcdef0"}, "InvalidSecurityGroupRuleId.NotFound", ""},
		{"revoke nothing", "RevokeSecurityGroupIngress", []string{"GroupId", web}, "MissingParameter", ""},
		{"ingress rule is not egress", "RevokeSecurityGroupEgress", []string{"GroupId", web, "SecurityGroupRuleId.1", ruleID}, "InvalidSecurityGroupRuleId.NotFound", ""},
		{"revoke by properties", "RevokeSecurityGroupIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "icmp", "IpPermissions.1.FromPort", "8", "IpPermissions.1.ToPort", "-1", "IpPermissions.1.Groups.1.GroupId", db}, "", "<return>true</return>"},
		{"no longer referenced", "DeleteSecurityGroup", []string{"GroupId", db}, "", "<return>true</return>"},
		{"revoke egress", "RevokeSecurityGroupEgress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"}, "", "<return>true</return>"},
		{"authorize egress", "AuthorizeSecurityGroupEgress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "443", "IpPermissions.1.ToPort", "443", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"}, "", "<isEgress>true</isEgress>"},
		{"egress shown", "DescribeSecurityGroups", []string{"GroupId.1", web}, "", "<ipPermissionsEgress><item><fromPort>443</fromPort>"},
		{"modify a rule", "ModifySecurityGroupRules", []string{"GroupId", web, "SecurityGroupRule.1.SecurityGroupRuleId", ruleID, "SecurityGroupRule.1.SecurityGroupRule.IpProtocol", "tcp", "SecurityGroupRule.1.SecurityGroupRule.FromPort", "2222", "SecurityGroupRule.1.SecurityGroupRule.ToPort", "2222", "SecurityGroupRule.1.SecurityGroupRule.CidrIpv4", "10.0.0.0/8", "SecurityGroupRule.1.SecurityGroupRule.Description", "moved"}, "", "<return>true</return>"},
		{"modified, tags kept", "DescribeSecurityGroupRules", []string{"SecurityGroupRuleId.1", ruleID}, "", "<fromPort>2222</fromPort><toPort>2222</toPort><cidrIpv4>10.0.0.0/8</cidrIpv4><description>moved</description><tagSet><item><key>team</key>"},
		{"modify with two peers", "ModifySecurityGroupRules", []string{"GroupId", web, "SecurityGroupRule.1.SecurityGroupRuleId", ruleID, "SecurityGroupRule.1.SecurityGroupRule.IpProtocol", "-1", "SecurityGroupRule.1.SecurityGroupRule.CidrIpv4", "10.0.0.0/8", "SecurityGroupRule.1.SecurityGroupRule.CidrIpv6", "::/0"}, "InvalidParameterCombination", ""},
		{"modify into a duplicate", "ModifySecurityGroupRules", []string{"GroupId", web, "SecurityGroupRule.1.SecurityGroupRuleId", ruleID, "SecurityGroupRule.1.SecurityGroupRule.IpProtocol", "tcp", "SecurityGroupRule.1.SecurityGroupRule.FromPort", "80", "SecurityGroupRule.1.SecurityGroupRule.ToPort", "80", "SecurityGroupRule.1.SecurityGroupRule.CidrIpv4", "0.0.0.0/0"}, "InvalidPermission.Duplicate", ""},
		{"describe by properties", "UpdateSecurityGroupRuleDescriptionsIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "80", "IpPermissions.1.ToPort", "80", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0", "IpPermissions.1.IpRanges.1.Description", "web traffic"}, "", "<return>true</return>"},
		{"described", "DescribeSecurityGroups", []string{"GroupId.1", web}, "", "<cidrIp>0.0.0.0/0</cidrIp><description>web traffic</description>"},
		{"describe a missing rule", "UpdateSecurityGroupRuleDescriptionsIngress", []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "81", "IpPermissions.1.ToPort", "81", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"}, "InvalidPermission.NotFound", ""},
		{"describe by rule ID", "UpdateSecurityGroupRuleDescriptionsIngress", []string{"GroupId", web, "SecurityGroupRuleDescription.1.SecurityGroupRuleId", ruleID, "SecurityGroupRuleDescription.1.Description", "ssh"}, "", "<return>true</return>"},
		{"revoke by ID", "RevokeSecurityGroupIngress", []string{"GroupId", web, "SecurityGroupRuleId.1", ruleID}, "", "<return>true</return>"},
		{"revoked", "DescribeSecurityGroupRules", []string{"SecurityGroupRuleId.1", ruleID}, "InvalidSecurityGroupRuleId.NotFound", ""},
	})
}
