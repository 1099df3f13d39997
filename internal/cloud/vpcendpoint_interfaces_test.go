package cloud_test

import (
	"context"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// endpointVPC makes a VPC with DNS hostnames on and a subnet in us-east-1a.
func endpointVPC(t *testing.T, c *cloud.Cloud, s cloud.Scope, cidr, subnetCIDR string) (vpc cloud.VPC, subnet cloud.Subnet) {
	t.Helper()
	ctx := context.Background()
	vpc, err := c.CreateVPC(ctx, s, cloud.VPCRequest{CIDR: cidr})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetVPCAttribute(ctx, s, vpc.ID, cloud.VPCAttrDNSHostnames, true); err != nil {
		t.Fatal(err)
	}
	subnet, err = c.CreateSubnet(ctx, s, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: subnetCIDR, AvailabilityZone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	return vpc, subnet
}

func interfaceEndpoint(vpcID, service string, subnets ...string) cloud.EndpointRequest {
	off := false
	return cloud.EndpointRequest{VpcID: vpcID, Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1." + service,
		SubnetIDs: subnets, PrivateDNSEnabled: &off}
}

func TestInterfaceEndpointQuota(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	s := newAccountScope(t, c, "vpce-quota")
	if err := c.SetQuota(ctx, s.Account, cloud.QuotaInterfaceEndpoints, 2); err != nil {
		t.Fatal(err)
	}
	vpc, _ := endpointVPC(t, c, s, "10.0.0.0/16", "10.0.1.0/24")
	other, _ := endpointVPC(t, c, s, "10.1.0.0/16", "10.1.1.0/24")
	// Gateway endpoints do not count against the interface quota.
	if _, err := c.CreateVpcEndpoint(ctx, s, cloud.EndpointRequest{VpcID: vpc.ID, ServiceName: "com.amazonaws.us-east-1.s3"}); err != nil {
		t.Fatal(err)
	}
	for i, svc := range []string{"ec2", "sts", "kms"} {
		_, err := c.CreateVpcEndpoint(ctx, s, interfaceEndpoint(vpc.ID, svc))
		want := ""
		if i == 2 {
			want = "VpcEndpointLimitExceeded"
		}
		if codeOf(err) != want || want == "" && err != nil {
			t.Fatalf("endpoint %d: want %q, got %v", i+1, want, err)
		}
	}
	// The quota is per VPC.
	if _, err := c.CreateVpcEndpoint(ctx, s, interfaceEndpoint(other.ID, "kms")); err != nil {
		t.Fatalf("another VPC's endpoint: %v", err)
	}
}

func TestInterfaceEndpointRollsBack(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	s := newAccountScope(t, c, "vpce-rollback")
	vpc, small := endpointVPC(t, c, s, "10.0.0.0/16", "10.0.0.0/28")
	roomy, err := c.CreateSubnet(ctx, s, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: "10.0.1.0/24", AvailabilityZone: "us-east-1b"})
	if err != nil {
		t.Fatal(err)
	}
	for range small.AvailableIPAddressCount() {
		if _, err := c.CreateNetworkInterface(ctx, s, "", cloud.InterfaceRequest{SubnetID: small.ID}); err != nil {
			t.Fatal(err)
		}
	}
	// The interface in the roomy subnet is made first, then the full subnet fails:
	// nothing of the endpoint may stay.
	_, err = c.CreateVpcEndpoint(ctx, s, interfaceEndpoint(vpc.ID, "ec2", roomy.ID, small.ID))
	if codeOf(err) != "InsufficientFreeAddressesInSubnet" {
		t.Fatalf("want InsufficientFreeAddressesInSubnet, got %v", err)
	}
	list, _, err := c.DescribeSubnets(ctx, s, []string{roomy.ID}, nil, cloud.Page{})
	if err != nil || list[0].AvailableIPAddressCount() != 251 {
		t.Fatalf("the roomy subnet kept an address of the failed endpoint: %v %v", list, err)
	}
	eps, _, err := c.DescribeVpcEndpoints(ctx, s, nil, nil, cloud.Page{})
	if err != nil || len(eps) != 0 {
		t.Fatalf("a failed endpoint was kept: %v %v", eps, err)
	}
}

func TestInterfaceEndpointInboundOnlyDNS(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	s := newAccountScope(t, c, "vpce-inbound")
	vpc, subnet := endpointVPC(t, c, s, "10.0.0.0/16", "10.0.1.0/24")
	s3 := cloud.EndpointRequest{VpcID: vpc.ID, Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1.s3", SubnetIDs: []string{subnet.ID}}
	if _, err := c.CreateVpcEndpoint(ctx, s, s3); codeOf(err) != "InvalidParameter" {
		t.Fatalf("inbound-only private DNS without an S3 gateway endpoint: want InvalidParameter, got %v", err)
	}
	if _, err := c.CreateVpcEndpoint(ctx, s, cloud.EndpointRequest{VpcID: vpc.ID, ServiceName: "com.amazonaws.us-east-1.s3"}); err != nil {
		t.Fatal(err)
	}
	e, err := c.CreateVpcEndpoint(ctx, s, s3)
	if err != nil || !e.PrivateDNSEnabled || !e.PrivateDNSOnlyForInboundResolver {
		t.Fatalf("S3 interface endpoint beside its gateway: want inbound-only private DNS, got %+v %v", e, err)
	}
	for _, d := range e.DNSEntries() {
		if d.Name == "*.s3.us-east-1.amazonaws.com" {
			t.Errorf("an inbound-only endpoint lists the service's own name: %+v", e.DNSEntries())
		}
	}
	on := true
	kms := interfaceEndpoint(vpc.ID, "kms")
	kms.DNS.PrivateDNSOnlyForInboundResolver = &on
	kms.PrivateDNSEnabled = &on
	if _, err := c.CreateVpcEndpoint(ctx, s, kms); codeOf(err) != "InvalidParameter" {
		t.Fatalf("inbound-only private DNS for a service without gateway endpoints: want InvalidParameter, got %v", err)
	}
	off := false
	err = c.ModifyVpcEndpoint(ctx, s, cloud.EndpointChange{ID: e.ID, PrivateDNSEnabled: &off, DNS: cloud.DNSOptions{PrivateDNSOnlyForInboundResolver: &on}})
	if codeOf(err) != "InvalidParameter" {
		t.Fatalf("inbound-only without private DNS: want InvalidParameter, got %v", err)
	}
}
