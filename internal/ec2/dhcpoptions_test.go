package ec2

import "testing"

func TestDHCPOptions(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	body, err := callEC2(t, d, "CreateDhcpOptions",
		"DhcpConfiguration.1.Key", "domain-name-servers", "DhcpConfiguration.1.Value.1", "AmazonProvidedDNS", "DhcpConfiguration.1.Value.2", "10.0.0.53",
		"DhcpConfiguration.2.Key", "domain-name", "DhcpConfiguration.2.Value.1", "corp.example",
		"TagSpecification.1.ResourceType", "dhcp-options", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "corp")
	if err != nil {
		t.Fatal(err)
	}
	dopt := firstMatch(t, `<dhcpOptionsId>(dopt-[0-9a-f]{17})</dhcpOptionsId>`, body)
	runCases(t, d, []apiCase{
		{"ordered by key", "DescribeDhcpOptions", []string{"DhcpOptionsId.1", dopt}, "", "<dhcpConfigurationSet><item><key>domain-name</key><valueSet><item><value>corp.example</value></item></valueSet></item><item><key>domain-name-servers</key>"},
		{"unknown option", "CreateDhcpOptions", []string{"DhcpConfiguration.1.Key", "router", "DhcpConfiguration.1.Value.1", "10.0.0.1"}, "InvalidParameterValue", ""},
		{"five name servers", "CreateDhcpOptions", []string{"DhcpConfiguration.1.Key", "ntp-servers", "DhcpConfiguration.1.Value.1", "10.0.0.1", "DhcpConfiguration.1.Value.2", "10.0.0.2", "DhcpConfiguration.1.Value.3", "10.0.0.3", "DhcpConfiguration.1.Value.4", "10.0.0.4", "DhcpConfiguration.1.Value.5", "10.0.0.5"}, "InvalidParameterValue", ""},
		{"server not an address", "CreateDhcpOptions", []string{"DhcpConfiguration.1.Key", "netbios-name-servers", "DhcpConfiguration.1.Value.1", "wins.example"}, "InvalidParameterValue", ""},
		{"node type 3", "CreateDhcpOptions", []string{"DhcpConfiguration.1.Key", "netbios-node-type", "DhcpConfiguration.1.Value.1", "3"}, "InvalidParameterValue", ""},
		{"node type 2", "CreateDhcpOptions", []string{"DhcpConfiguration.1.Key", "netbios-node-type", "DhcpConfiguration.1.Value.1", "2"}, "", "<value>2</value>"},
		{"lease time too short", "CreateDhcpOptions", []string{"DhcpConfiguration.1.Key", "ipv6-address-preferred-lease-time", "DhcpConfiguration.1.Value.1", "139"}, "InvalidParameterValue", ""},
		{"InvalidDhcpOptionID.NotFound", "AssociateDhcpOptions", []string{"DhcpOptionsId", "dopt-0123456789abcdef0", "VpcId", vpc}, "InvalidDhcpOptionID.NotFound", ""},
		{"associate", "AssociateDhcpOptions", []string{"DhcpOptionsId", dopt, "VpcId", vpc}, "", "<return>true</return>"},
		{"VPC shows it", "DescribeVpcs", []string{"VpcId.1", vpc}, "", "<dhcpOptionsId>" + dopt + "</dhcpOptionsId>"},
		{"DependencyViolation while used", "DeleteDhcpOptions", []string{"DhcpOptionsId", dopt}, "DependencyViolation", ""},
		{"filters", "DescribeDhcpOptions", []string{"Filter.1.Name", "key", "Filter.1.Value.1", "domain-name", "Filter.2.Name", "value", "Filter.2.Value.1", "10.0.0.53", "Filter.3.Name", "tag:Name", "Filter.3.Value.1", "corp", "Filter.4.Name", "owner-id", "Filter.4.Value.1", "123456789012"}, "", dopt},
		{"unknown filter", "DescribeDhcpOptions", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"back to default", "AssociateDhcpOptions", []string{"DhcpOptionsId", "default", "VpcId", vpc}, "", "<return>true</return>"},
		{"VPC on default", "DescribeVpcs", []string{"VpcId.1", vpc}, "", "<dhcpOptionsId>default</dhcpOptionsId>"},
		{"delete", "DeleteDhcpOptions", []string{"DhcpOptionsId", dopt}, "", "<return>true</return>"},
		{"gone", "DescribeDhcpOptions", []string{"DhcpOptionsId.1", dopt}, "InvalidDhcpOptionID.NotFound", ""},
	})
}
