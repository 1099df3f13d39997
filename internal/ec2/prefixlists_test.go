package ec2

import (
	"fmt"
	"strings"
	"testing"
)

func TestAWSManagedPrefixLists(t *testing.T) {
	d := newService(t)
	body := mustCall(t, d, "DescribePrefixLists")
	s3 := idIn(t, body, "prefixListId", "pl")
	for _, want := range []string{"<prefixListName>com.amazonaws.us-east-1.s3</prefixListName>", "<prefixListName>com.amazonaws.us-east-1.dynamodb</prefixListName>", "<cidrSet><item>198.51.100."} {
		if !strings.Contains(body, want) {
			t.Errorf("DescribePrefixLists lacks %s: %s", want, body)
		}
	}
	// The IDs are the same on every call (and for every account).
	if again := idIn(t, mustCall(t, d, "DescribePrefixLists"), "prefixListId", "pl"); again != s3 {
		t.Errorf("prefix list IDs change: %s then %s", s3, again)
	}
	runCases(t, d, []apiCase{
		{"by name", "DescribePrefixLists", []string{"Filter.1.Name", "prefix-list-name", "Filter.1.Value.1", "com.amazonaws.us-east-1.dynamodb"}, "", "dynamodb"},
		{"missing", "DescribePrefixLists", []string{"PrefixListId.1", "pl-00000000"}, "InvalidPrefixListID.NotFound", ""},
		{"in DescribeManagedPrefixLists, owned by AWS", "DescribeManagedPrefixLists", []string{"PrefixListId.1", s3}, "", "<ownerId>AWS</ownerId>"},
		{"AWS's ARN", "DescribeManagedPrefixLists", []string{"PrefixListId.1", s3}, "", ":aws:prefix-list/" + s3},
		{"entries", "GetManagedPrefixListEntries", []string{"PrefixListId", s3}, "", "<entrySet><item><cidr>198.51.100."},
		{"cannot be modified", "ModifyManagedPrefixList", []string{"PrefixListId", s3, "PrefixListName", "mine"}, "InvalidPrefixListModification", ""},
		{"cannot be deleted", "DeleteManagedPrefixList", []string{"PrefixListId", s3}, "InvalidPrefixListModification", ""},
	})
}

func TestManagedPrefixLists(t *testing.T) {
	d := newService(t)
	body := mustCall(t, d, "CreateManagedPrefixList", "PrefixListName", "corp", "AddressFamily", "IPv4", "MaxEntries", "3",
		"Entry.1.Cidr", "10.1.0.0/16", "Entry.1.Description", "office", "Entry.2.Cidr", "10.2.0.5/16",
		"TagSpecification.1.ResourceType", "prefix-list", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "net")
	pl := idIn(t, body, "prefixListId", "pl")
	for _, want := range []string{"<version>1</version>", "<maxEntries>3</maxEntries>", "<state>create-complete</state>", "<ownerId>123456789012</ownerId>", "<value>net</value>"} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateManagedPrefixList answer lacks %s: %s", want, body)
		}
	}
	runCases(t, d, []apiCase{
		{"reserved name", "CreateManagedPrefixList", []string{"PrefixListName", "com.amazonaws.mine", "AddressFamily", "IPv4", "MaxEntries", "1"}, "InvalidParameterValue", ""},
		{"bad family", "CreateManagedPrefixList", []string{"PrefixListName", "x", "AddressFamily", "IPv5", "MaxEntries", "1"}, "InvalidParameterValue", ""},
		{"entry of the other family", "CreateManagedPrefixList", []string{"PrefixListName", "x", "AddressFamily", "IPv6", "MaxEntries", "1", "Entry.1.Cidr", "10.0.0.0/8"}, "InvalidParameterValue", ""},
		{"more entries than the maximum", "CreateManagedPrefixList", []string{"PrefixListName", "x", "AddressFamily", "IPv4", "MaxEntries", "1", "Entry.1.Cidr", "10.0.0.0/8", "Entry.2.Cidr", "11.0.0.0/8"}, "PrefixListMaxEntriesExceeded", ""},
		{"maximum over the quota", "CreateManagedPrefixList", []string{"PrefixListName", "x", "AddressFamily", "IPv4", "MaxEntries", "1001"}, "InvalidParameterValue", ""},
		{"canonical entries", "GetManagedPrefixListEntries", []string{"PrefixListId", pl}, "", "<item><cidr>10.1.0.0/16</cidr><description>office</description></item><item><cidr>10.2.0.0/16</cidr></item>"},
		{"entries need the version", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "AddEntry.1.Cidr", "10.3.0.0/16"}, "MissingParameter", ""},
		{"stale version", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "CurrentVersion", "7", "AddEntry.1.Cidr", "10.3.0.0/16"}, "PrefixListVersionMismatch", ""},
		{"entries and size together", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "CurrentVersion", "1", "MaxEntries", "5", "AddEntry.1.Cidr", "10.3.0.0/16"}, "InvalidParameterCombination", ""},
		{"remove a missing entry", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "CurrentVersion", "1", "RemoveEntry.1.Cidr", "10.9.0.0/16"}, "InvalidPrefixListModification", ""},
		{"add an existing entry", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "CurrentVersion", "1", "AddEntry.1.Cidr", "10.1.0.0/16"}, "InvalidPrefixListModification", ""},
		{"past the maximum", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "CurrentVersion", "1", "AddEntry.1.Cidr", "10.3.0.0/16", "AddEntry.2.Cidr", "10.4.0.0/16"}, "PrefixListMaxEntriesExceeded", ""},
		{"version 2", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "CurrentVersion", "1", "AddEntry.1.Cidr", "10.3.0.0/16", "RemoveEntry.1.Cidr", "10.2.0.0/16"}, "", "<version>2</version>"},
		{"shrink below the entries", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "MaxEntries", "1"}, "PrefixListMaxEntriesExceeded", ""},
		{"rename and grow", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "PrefixListName", "corp-2", "MaxEntries", "10"}, "", "<maxEntries>10</maxEntries>"},
		{"renaming keeps the version", "DescribeManagedPrefixLists", []string{"Filter.1.Name", "prefix-list-name", "Filter.1.Value.1", "corp-2"}, "", "<version>2</version>"},
		{"version 1 kept", "GetManagedPrefixListEntries", []string{"PrefixListId", pl, "TargetVersion", "1"}, "", "<cidr>10.2.0.0/16</cidr>"},
		{"version 3 does not exist", "GetManagedPrefixListEntries", []string{"PrefixListId", pl, "TargetVersion", "3"}, "InvalidParameterValue", ""},
		{"restore with a stale version", "RestoreManagedPrefixListVersion", []string{"PrefixListId", pl, "PreviousVersion", "1", "CurrentVersion", "1"}, "PrefixListVersionMismatch", ""},
		{"restore version 1", "RestoreManagedPrefixListVersion", []string{"PrefixListId", pl, "PreviousVersion", "1", "CurrentVersion", "2"}, "", "<version>3</version>"},
		{"restored entries", "GetManagedPrefixListEntries", []string{"PrefixListId", pl}, "", "<cidr>10.2.0.0/16</cidr>"},
		{"by owner", "DescribeManagedPrefixLists", []string{"Filter.1.Name", "owner-id", "Filter.1.Value.1", "123456789012"}, "", pl},
		{"by tag", "DescribeManagedPrefixLists", []string{"Filter.1.Name", "tag:team", "Filter.1.Value.1", "net"}, "", pl},
		{"not in DescribePrefixLists", "DescribePrefixLists", []string{"PrefixListId.1", pl}, "InvalidPrefixListID.NotFound", ""},
		{"no associations", "GetManagedPrefixListAssociations", []string{"PrefixListId", pl}, "", "<prefixListAssociationSet/>"},
	})
}

func TestPrefixListRoutes(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	igw := attachedGateway(t, d, vpc)
	table := idIn(t, mustCall(t, d, "CreateRouteTable", "VpcId", vpc), "routeTableId", "rtb")
	pl := idIn(t, mustCall(t, d, "CreateManagedPrefixList", "PrefixListName", "corp", "AddressFamily", "IPv4", "MaxEntries", "45"), "prefixListId", "pl")
	for i := 0; i < 5; i++ {
		mustCall(t, d, "CreateRoute", "RouteTableId", table, "DestinationCidrBlock", fmt.Sprintf("192.168.%d.0/24", i), "GatewayId", igw)
	}
	runCases(t, d, []apiCase{
		// 5 routes plus a list of 45 is the quota of 50.
		{"route to a prefix list", "CreateRoute", []string{"RouteTableId", table, "DestinationPrefixListId", pl, "GatewayId", igw}, "", "<return>true</return>"},
		{"the list counts as its maximum size", "CreateRoute", []string{"RouteTableId", table, "DestinationCidrBlock", "192.168.100.0/24", "GatewayId", igw}, "RouteLimitExceeded", ""},
		{"growing the list past the quota", "ModifyManagedPrefixList", []string{"PrefixListId", pl, "MaxEntries", "46"}, "RouteLimitExceeded", ""},
		{"by destination list", "DescribeRouteTables", []string{"Filter.1.Name", "route.destination-prefix-list-id", "Filter.1.Value.1", pl}, "", "<destinationPrefixListId>" + pl + "</destinationPrefixListId><gatewayId>" + igw + "</gatewayId>"},
		{"association", "GetManagedPrefixListAssociations", []string{"PrefixListId", pl}, "", "<resourceId>" + table + "</resourceId>"},
		{"list in use", "DeleteManagedPrefixList", []string{"PrefixListId", pl}, "DependencyViolation", ""},
		{"delete the route", "DeleteRoute", []string{"RouteTableId", table, "DestinationPrefixListId", pl}, "", "<return>true</return>"},
		{"delete the list", "DeleteManagedPrefixList", []string{"PrefixListId", pl}, "", "<state>delete-complete</state>"},
		{"gone", "DescribeManagedPrefixLists", []string{"PrefixListId.1", pl}, "InvalidPrefixListID.NotFound", ""},
	})
}

func TestPrefixListQuota(t *testing.T) {
	d := newService(t)
	for i := 0; i < 100; i++ {
		mustCall(t, d, "CreateManagedPrefixList", "PrefixListName", fmt.Sprint("l", i), "AddressFamily", "IPv4", "MaxEntries", "1")
	}
	runCases(t, d, []apiCase{{"list 101", "CreateManagedPrefixList", []string{"PrefixListName", "x", "AddressFamily", "IPv4", "MaxEntries", "1"}, "PrefixListLimitExceeded", ""}})
}
