package ec2

import (
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

func allocate(t *testing.T, d *awsapi.EC2, params ...string) (alloc, ip string) {
	t.Helper()
	body, err := callEC2(t, d, "AllocateAddress", params...)
	if err != nil {
		t.Fatal(err)
	}
	alloc = regexp.MustCompile(`<allocationId>(eipalloc-[0-9a-f]{17})</allocationId>`).FindStringSubmatch(body)[1]
	ip = regexp.MustCompile(`<publicIp>([0-9.]+)</publicIp>`).FindStringSubmatch(body)[1]
	return alloc, ip
}

// attachedIGW makes an internet gateway attached to vpc.
func attachedIGW(t *testing.T, d *awsapi.EC2, vpc string) string {
	t.Helper()
	body, err := callEC2(t, d, "CreateInternetGateway")
	if err != nil {
		t.Fatal(err)
	}
	igw := regexp.MustCompile(`<internetGatewayId>(igw-[0-9a-f]{17})</internetGatewayId>`).FindStringSubmatch(body)[1]
	if _, err := callEC2(t, d, "AttachInternetGateway", "InternetGatewayId", igw, "VpcId", vpc); err != nil {
		t.Fatal(err)
	}
	return igw
}

func TestElasticIPs(t *testing.T) {
	d := newService(t)
	alloc, ip := allocate(t, d, "Domain", "vpc", "TagSpecification.1.ResourceType", "elastic-ip",
		"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "front")
	// The default pool is the unrouted 198.18.0.0/15; its network address is skipped.
	if ip != "198.18.0.1" {
		t.Fatalf("first address = %s, want 198.18.0.1", ip)
	}
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	eni, _ := createENI(t, d, subnet, "SecondaryPrivateIpAddressCount", "1")
	cases := []apiCase{
		{"EC2-Classic", "AllocateAddress", []string{"Domain", "standard"}, "InvalidParameterValue", ""},
		{"other border group", "AllocateAddress", []string{"NetworkBorderGroup", "us-west-2"}, "InvalidParameterValue", ""},
		{"address in use", "AllocateAddress", []string{"Address", ip}, "InvalidIPAddress.InUse", ""},
		{"address outside the pool", "AllocateAddress", []string{"Address", "203.0.113.9"}, "InvalidParameterValue", ""},
		{"chosen address", "AllocateAddress", []string{"Address", "198.18.7.7"}, "", "<publicIp>198.18.7.7</publicIp>"},
		{"no internet gateway", "AssociateAddress", []string{"AllocationId", alloc, "NetworkInterfaceId", eni}, "Gateway.NotAttached", ""},
		{"instance", "AssociateAddress", []string{"AllocationId", alloc, "InstanceId", "i-0123456789abcdef0"}, "InvalidInstanceID.NotFound", ""},
		{"neither target", "AssociateAddress", []string{"AllocationId", alloc}, "MissingParameter", ""},
		{"missing allocation", "AssociateAddress", []string{"AllocationId", "eipalloc-0123456789abcdef0", "NetworkInterfaceId", eni}, "InvalidAllocationID.NotFound", ""},
		{"by allocation ID", "DescribeAddresses", []string{"AllocationId.1", alloc}, "", "<domain>vpc</domain>"},
		{"by public IP", "DescribeAddresses", []string{"PublicIp.1", ip}, "", alloc},
		{"unknown public IP", "DescribeAddresses", []string{"PublicIp.1", "198.18.9.9"}, "InvalidAddress.NotFound", ""},
		{"by tag", "DescribeAddresses", []string{"Filter.1.Name", "tag:Name", "Filter.1.Value.1", "front"}, "", alloc},
		{"by border group", "DescribeAddresses", []string{"Filter.1.Name", "network-border-group", "Filter.1.Value.1", "us-east-1"}, "", alloc},
	}
	runCases(t, d, cases)

	igw := attachedIGW(t, d, vpc)
	body, err := callEC2(t, d, "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni)
	if err != nil {
		t.Fatal(err)
	}
	assoc := regexp.MustCompile(`<associationId>(eipassoc-[0-9a-f]{17})</associationId>`).FindStringSubmatch(body)[1]
	eniBody, _ := callEC2(t, d, "DescribeNetworkInterfaces", "NetworkInterfaceId.1", eni)
	for _, want := range []string{"<publicIp>" + ip + "</publicIp>", "<allocationId>" + alloc + "</allocationId>", "<associationId>" + assoc + "</associationId>", "<ipOwnerId>123456789012</ipOwnerId>"} {
		if !strings.Contains(eniBody, want) {
			t.Errorf("interface lacks %s: %s", want, eniBody)
		}
	}
	runCases(t, d, []apiCase{
		{"already associated", "AssociateAddress", []string{"AllocationId", alloc, "NetworkInterfaceId", eni, "PrivateIpAddress", "10.0.1.5"}, "Resource.AlreadyAssociated", ""},
		{"private address not on the interface", "AssociateAddress", []string{"AllocationId", alloc, "NetworkInterfaceId", eni, "PrivateIpAddress", "10.0.1.99", "AllowReassociation", "true"}, "InvalidParameterValue", ""},
		{"reassociated to the secondary", "AssociateAddress", []string{"AllocationId", alloc, "NetworkInterfaceId", eni, "PrivateIpAddress", "10.0.1.5", "AllowReassociation", "true"}, "", "<associationId>eipassoc-"},
		{"describe shows the mapping", "DescribeAddresses", []string{"Filter.1.Name", "private-ip-address", "Filter.1.Value.1", "10.0.1.5"}, "", "<networkInterfaceId>" + eni + "</networkInterfaceId>"},
		{"interface by public IP", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "association.public-ip", "Filter.1.Value.1", ip}, "", eni},
		{"interface by allocation", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "association.allocation-id", "Filter.1.Value.1", alloc}, "", eni},
		{"gateway kept while mapped", "DetachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", vpc}, "DependencyViolation", ""},
		{"release while associated", "ReleaseAddress", []string{"AllocationId", alloc}, "InvalidIPAddress.InUse", ""},
		{"old association gone", "DisassociateAddress", []string{"AssociationId", assoc}, "InvalidAssociationID.NotFound", ""},
	})
	body, _ = callEC2(t, d, "DescribeAddresses", "AllocationId.1", alloc)
	assoc = regexp.MustCompile(`<associationId>(eipassoc-[0-9a-f]{17})</associationId>`).FindStringSubmatch(body)[1]
	runCases(t, d, []apiCase{
		{"disassociate", "DisassociateAddress", []string{"AssociationId", assoc}, "", "<return>true</return>"},
		{"interface unmapped", "DescribeNetworkInterfaces", []string{"Filter.1.Name", "association.public-ip", "Filter.1.Value.1", ip}, "", "<networkInterfaceSet/>"},
		{"gateway detaches", "DetachInternetGateway", []string{"InternetGatewayId", igw, "VpcId", vpc}, "", "<return>true</return>"},
		{"release", "ReleaseAddress", []string{"AllocationId", alloc}, "", "<return>true</return>"},
		{"released", "DescribeAddresses", []string{"AllocationId.1", alloc}, "InvalidAllocationID.NotFound", ""},
		// Back in the pool: the lowest free address is handed out again.
		{"reused", "AllocateAddress", nil, "", "<publicIp>198.18.0.1</publicIp>"},
	})
}

func TestElasticIPFollowsItsInterface(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	attachedIGW(t, d, vpc)
	eni, _ := createENI(t, d, subnet, "SecondaryPrivateIpAddressCount", "1")
	a1, _ := allocate(t, d)
	a2, _ := allocate(t, d)
	for _, p := range [][]string{{"AllocationId", a1, "NetworkInterfaceId", eni}, {"AllocationId", a2, "NetworkInterfaceId", eni, "PrivateIpAddress", "10.0.1.5"}} {
		if _, err := callEC2(t, d, "AssociateAddress", p...); err != nil {
			t.Fatal(err)
		}
	}
	runCases(t, d, []apiCase{
		// A second address on the same private address replaces the first.
		{"replace", "AssociateAddress", []string{"AllocationId", a2, "NetworkInterfaceId", eni, "AllowReassociation", "true"}, "", "<associationId>"},
		{"first unmapped", "DescribeAddresses", []string{"AllocationId.1", a1}, "", "<domain>vpc</domain>"},
		{"unassigning the address drops its mapping", "UnassignPrivateIpAddresses", []string{"NetworkInterfaceId", eni, "PrivateIpAddress.1", "10.0.1.5"}, "", "<return>true</return>"},
		{"deleting the interface drops the rest", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, "", "<return>true</return>"},
		{"nothing mapped", "DescribeAddresses", []string{"Filter.1.Name", "association-id", "Filter.1.Value.1", "*"}, "", "<addressesSet/>"},
	})
	body, _ := callEC2(t, d, "DescribeAddresses", "AllocationId.1", a1)
	if strings.Contains(body, "<associationId>") {
		t.Fatalf("replaced address still mapped: %s", body)
	}
}

func TestElasticIPQuotaAndAttributes(t *testing.T) {
	d := newService(t)
	alloc, ip := allocate(t, d)
	for range 4 {
		allocate(t, d)
	}
	runCases(t, d, []apiCase{
		{"sixth address", "AllocateAddress", nil, "AddressLimitExceeded", ""},
		{"default PTR", "DescribeAddressesAttribute", []string{"AllocationId.1", alloc, "Attribute", "domain-name"},
			"", "<ptrRecord>ec2-" + strings.ReplaceAll(ip, ".", "-") + ".compute-1.amazonaws.com</ptrRecord>"},
		{"bad name", "ModifyAddressAttribute", []string{"AllocationId", alloc, "DomainName", "-bad-.example"}, "InvalidParameterValue", ""},
		{"set PTR", "ModifyAddressAttribute", []string{"AllocationId", alloc, "DomainName", "www.example.com"}, "", "<ptrRecord>www.example.com.</ptrRecord>"},
		{"reads PTR", "DescribeAddressesAttribute", []string{"Attribute", "domain-name"}, "", "<ptrRecord>www.example.com.</ptrRecord>"},
		{"reset PTR", "ResetAddressAttribute", []string{"AllocationId", alloc, "Attribute", "domain-name"}, "", ".compute-1.amazonaws.com</ptrRecord>"},
		{"release by public IP", "ReleaseAddress", []string{"PublicIp", ip}, "", "<return>true</return>"},
		{"room again", "AllocateAddress", nil, "", "<allocationId>"},
	})
}
