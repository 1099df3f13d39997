package ec2

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func createENI(t *testing.T, d *awsapi.EC2, subnet string, params ...string) (id, body string) {
	t.Helper()
	body, err := callEC2(t, d, "CreateNetworkInterface", append([]string{"SubnetId", subnet}, params...)...)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`<networkInterfaceId>(eni-[0-9a-f]{17})</networkInterfaceId>`).FindStringSubmatch(body)[1], body
}

func availableIPs(t *testing.T, d *awsapi.EC2, subnet string) string {
	t.Helper()
	body, err := callEC2(t, d, "DescribeSubnets", "SubnetId.1", subnet)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`<availableIpAddressCount>(\d+)</availableIpAddressCount>`).FindStringSubmatch(body)[1]
}

func TestNetworkInterfaces(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	eni, body := createENI(t, d, subnet, "Description", "web", "TagSpecification.1.ResourceType", "network-interface",
		"TagSpecification.1.Tag.1.Key", "tier", "TagSpecification.1.Tag.1.Value", "web")
	for _, want := range []string{
		// The first address after the four reserved at the start of the subnet.
		"<privateIpAddress>10.0.1.4</privateIpAddress>", "<privateDnsName>ip-10-0-1-4.ec2.internal</privateDnsName>",
		"<status>pending</status>", "<interfaceType>interface</interfaceType>", "<sourceDestCheck>true</sourceDestCheck>",
		"<requesterManaged>false</requesterManaged>", "<description>web</description>", "<availabilityZone>us-east-1a</availabilityZone>",
		"<primary>true</primary>", "<value>web</value>", "<ownerId>123456789012</ownerId>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateNetworkInterface answer lacks %s: %s", want, body)
		}
	}
	if !regexp.MustCompile(`<macAddress>0e(:[0-9a-f]{2}){5}</macAddress>`).MatchString(body) {
		t.Errorf("MAC address not in AWS's form: %s", body)
	}
	if got := availableIPs(t, d, subnet); got != "250" {
		t.Fatalf("available addresses after one interface = %s, want 250", got)
	}

	cases := []apiCase{
		{"address outside the subnet", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.2.9"}, "InvalidParameterValue", ""},
		{"reserved address", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.1.3"}, "InvalidParameterValue", ""},
		{"address in use", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.1.4"}, "InvalidIPAddress.InUse", ""},
		{"chosen address", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.1.50"}, "", "<privateIpAddress>10.0.1.50</privateIpAddress>"},
		{"primary and secondary listed", "CreateNetworkInterface", []string{"SubnetId", subnet,
			"PrivateIpAddresses.1.PrivateIpAddress", "10.0.1.60", "PrivateIpAddresses.1.Primary", "true",
			"PrivateIpAddresses.2.PrivateIpAddress", "10.0.1.61"}, "", "<privateIpAddress>10.0.1.61</privateIpAddress>"},
		{"two primaries", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.1.70",
			"PrivateIpAddresses.1.PrivateIpAddress", "10.0.1.71", "PrivateIpAddresses.1.Primary", "true"}, "InvalidParameterValue", ""},
		{"count and prefixes", "CreateNetworkInterface", []string{"SubnetId", subnet, "SecondaryPrivateIpAddressCount", "2", "Ipv4PrefixCount", "1"}, "InvalidParameterCombination", ""},
		{"over 50 addresses", "CreateNetworkInterface", []string{"SubnetId", subnet, "SecondaryPrivateIpAddressCount", "50"}, "PrivateIpAddressLimitExceeded", ""},
		{"efa", "CreateNetworkInterface", []string{"SubnetId", subnet, "InterfaceType", "efa"}, "UnsupportedOperation", ""},
		{"unknown type", "CreateNetworkInterface", []string{"SubnetId", subnet, "InterfaceType", "nat_gateway"}, "InvalidParameterValue", ""},
		{"missing subnet", "CreateNetworkInterface", []string{"SubnetId", "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound", ""},
		{"unaligned prefix", "CreateNetworkInterface", []string{"SubnetId", subnet, "Ipv4Prefix.1.Ipv4Prefix", "10.0.1.72/28"}, "InvalidParameterValue", ""},
		{"by ID", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", eni}, "", "<networkInterfaceId>" + eni + "</networkInterfaceId>"},
		{"missing ID", "DescribeNetworkInterfaces", []string{"NetworkInterfaceId.1", "eni-0123456789abcdef0"}, "InvalidNetworkInterfaceID.NotFound", ""},
		{"by private address", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "addresses.private-ip-address", "Filter.1.Value.1", "10.0.1.4"}, "", eni},
		{"by status and tag", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "status", "Filter.1.Value.1", "available", "Filter.2.Name", "tag:tier", "Filter.2.Value.1", "web"}, "", eni},
		{"by DNS name", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "private-dns-name", "Filter.1.Value.1", "ip-10-0-1-4.ec2.internal"}, "", eni},
		{"attach to an instance that does not exist", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", "i-0123456789abcdef0", "DeviceIndex", "1"}, "InvalidInstanceID.NotFound", ""},
		{"detach an attachment that does not exist", "DetachNetworkInterface", []string{"AttachmentId", "eni-attach-0123456789abcdef0"}, "InvalidAttachmentID.NotFound", ""},
		{"two attributes at once", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Description.Value", "x", "SourceDestCheck.Value", "false"}, "InvalidParameterCombination", ""},
		{"source/dest check off", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "SourceDestCheck.Value", "false"}, "", "<return>true</return>"},
		{"reads off", "DescribeNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Attribute", "sourceDestCheck"}, "", "<value>false</value>"},
		{"by source-dest-check", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "source-dest-check", "Filter.1.Value.1", "false"}, "", eni},
		{"reset", "ResetNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "SourceDestCheck", "true"}, "", "<return>true</return>"},
		{"reads on", "DescribeNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Attribute", "sourceDestCheck"}, "", "<value>true</value>"},
		{"description", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Description.Value", "db"}, "", "<return>true</return>"},
		{"reads description", "DescribeNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Attribute", "description"}, "", "<value>db</value>"},
		{"attachment of an unattached interface", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Attachment.AttachmentId", "eni-attach-0123456789abcdef0", "Attachment.DeleteOnTermination", "true"}, "InvalidAttachmentID.NotFound", ""},
		{"subnet with interfaces", "DeleteSubnet", []string{"SubnetId", subnet}, "DependencyViolation", ""},
		{"delete", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, "", "<return>true</return>"},
		{"delete again", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, "InvalidNetworkInterfaceID.NotFound", ""},
	}
	runCases(t, d, cases)
}

func TestNetworkInterfaceAddresses(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	eni, body := createENI(t, d, subnet, "SecondaryPrivateIpAddressCount", "2")
	if n := strings.Count(body, "<privateDnsName>"); n != 4 { // the interface's and one per address
		t.Fatalf("want 3 addresses: %s", body)
	}
	if got := availableIPs(t, d, subnet); got != "248" {
		t.Fatalf("available = %s, want 248", got)
	}
	cases := []apiCase{
		{"assign by count", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "SecondaryPrivateIpAddressCount", "1"}, "", "<privateIpAddress>10.0.1.7</privateIpAddress>"},
		{"assign an address in use", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "PrivateIpAddress.1", "10.0.1.5"}, "InvalidIPAddress.InUse", ""},
		{"assign a prefix", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "Ipv4Prefix.1", "10.0.1.32/28"}, "", "<ipv4Prefix>10.0.1.32/28</ipv4Prefix>"},
		{"prefix by count skips used /28s", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "Ipv4PrefixCount", "1"}, "", "<ipv4Prefix>10.0.1.16/28</ipv4Prefix>"},
		{"filter by prefix", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "ipv4-prefix", "Filter.1.Value.1", "10.0.1.32/28"}, "", eni},
		{"nothing to assign", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni}, "MissingParameter", ""},
		{"over the limit", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "SecondaryPrivateIpAddressCount", "45"}, "PrivateIpAddressLimitExceeded", ""},
		{"the primary cannot go", "UnassignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "PrivateIpAddress.1", "10.0.1.4"}, "InvalidParameterValue", ""},
		{"an address it does not have", "UnassignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "PrivateIpAddress.1", "10.0.1.99"}, "InvalidParameterValue", ""},
		{"unassign", "UnassignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "PrivateIpAddress.1", "10.0.1.5", "Ipv4Prefix.1", "10.0.1.32/28"}, "", "<return>true</return>"},
	}
	runCases(t, d, cases)
	// 4 addresses and one /28 remain taken: 256-5-3-16.
	if got := availableIPs(t, d, subnet); got != "232" {
		t.Fatalf("available = %s, want 232", got)
	}
	// Another interface may take the address back with AllowReassignment only.
	other, _ := createENI(t, d, subnet)
	runCases(t, d, []apiCase{
		{"taken by another", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", other, "PrivateIpAddress.1", "10.0.1.6"}, "InvalidIPAddress.InUse", ""},
		{"reassigned", "AssignPrivateIpAddresses", []string{"NetworkInterfaceId", other, "PrivateIpAddress.1", "10.0.1.6", "AllowReassignment", "true"}, "", "<privateIpAddress>10.0.1.6</privateIpAddress>"},
		{"moved", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "private-ip-address", "Filter.1.Value.1", "10.0.1.6"}, "", other},
	})
	body, _ = callEC2(t, d, "DescribeNetworkInterfaces", "NetworkInterfaceId.1", eni)
	if strings.Contains(body, "10.0.1.6<") {
		t.Fatalf("address still on the first interface: %s", body)
	}
}

func TestNetworkInterfaceSubnetFull(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/28") // 11 usable addresses
	_, _ = createENI(t, d, subnet, "SecondaryPrivateIpAddressCount", "9")
	runCases(t, d, []apiCase{
		{"no /28 left", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.1.14", "Ipv4PrefixCount", "1"}, "InsufficientCidrBlocks", ""},
		{"last address", "CreateNetworkInterface", []string{"SubnetId", subnet}, "", "<privateIpAddress>10.0.1.14</privateIpAddress>"},
		{"none left", "CreateNetworkInterface", []string{"SubnetId", subnet}, "InsufficientFreeAddressesInSubnet", ""},
	})
	if got := availableIPs(t, d, subnet); got != "0" {
		t.Fatalf("available = %s, want 0", got)
	}
}

func TestNetworkInterfaceClientToken(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	first, _ := createENI(t, d, subnet, "ClientToken", "tok")
	again, _ := createENI(t, d, subnet, "ClientToken", "tok")
	if first != again {
		t.Fatalf("same token made %s and %s", first, again)
	}
	_, err := callEC2(t, d, "CreateNetworkInterface", "SubnetId", subnet, "ClientToken", "tok", "Description", "other")
	if e, _ := awsapi.AsError(err); err == nil || e.Code != "IdempotentParameterMismatch" {
		t.Fatalf("other parameters, same token: %v", err)
	}
	if got := availableIPs(t, d, subnet); got != "250" {
		t.Fatalf("available = %s, want 250 (one interface)", got)
	}
}

func TestNetworkInterfacePages(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	for range 7 {
		createENI(t, d, subnet)
	}
	seen := 0
	token := ""
	for page := 0; ; page++ {
		params := []string{"MaxResults", "5"}
		if token != "" {
			params = append(params, "NextToken", token)
		}
		body, err := callEC2(t, d, "DescribeNetworkInterfaces", params...)
		if err != nil {
			t.Fatal(err)
		}
		seen += strings.Count(body, "<networkInterfaceId>")
		m := regexp.MustCompile(`<nextToken>([^<]+)</nextToken>`).FindStringSubmatch(body)
		if m == nil {
			break
		}
		token = m[1]
		if page > 3 {
			t.Fatal("too many pages")
		}
	}
	if seen != 7 {
		t.Fatalf("saw %d interfaces over the pages, want 7", seen)
	}
	_ = fmt.Sprint
}
