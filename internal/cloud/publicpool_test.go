package cloud_test

import (
	"context"
	"net/netip"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

func TestPublicPoolIsSharedAndConfigurable(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	if err := c.ConfigurePublicPool(ctx, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/30")}); err != nil {
		t.Fatal(err)
	}
	// Two accounts in two Regions draw from the one pool of two usable addresses.
	a := cloud.Scope{Account: "111111111111", Region: "us-east-1"}
	b := cloud.Scope{Account: "222222222222", Region: "eu-west-1"}
	first, err := c.AllocateAddress(ctx, a, cloud.AllocateRequest{})
	if err != nil || first.PublicIP != "192.0.2.1" {
		t.Fatalf("first = %+v, %v", first, err)
	}
	second, err := c.AllocateAddress(ctx, b, cloud.AllocateRequest{})
	if err != nil || second.PublicIP != "192.0.2.2" || second.NetworkBorderGroup != "eu-west-1" {
		t.Fatalf("second = %+v, %v", second, err)
	}
	if _, err := c.AllocateAddress(ctx, a, cloud.AllocateRequest{}); codeOf(err) != "InsufficientAddressCapacity" {
		t.Fatalf("third: %v, want InsufficientAddressCapacity", err)
	}
	// A new pool must keep the addresses in use.
	if err := c.ConfigurePublicPool(ctx, []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}); err == nil {
		t.Fatal("pool moved away from allocated addresses")
	}
	if err := c.ConfigurePublicPool(ctx, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/29")}); err != nil {
		t.Fatal(err)
	}
	prefixes, free, err := c.PublicPool(ctx)
	if err != nil || len(prefixes) != 1 || free != 6-2 {
		t.Fatalf("pool = %v, %d free, %v", prefixes, free, err)
	}
	if _, err := c.AllocateAddress(ctx, a, cloud.AllocateRequest{Address: "192.0.2.1"}); codeOf(err) != "InvalidIPAddress.InUse" {
		t.Fatalf("taken address: %v, want InvalidIPAddress.InUse", err)
	}
	third, err := c.AllocateAddress(ctx, a, cloud.AllocateRequest{})
	if err != nil || third.PublicIP != "192.0.2.3" {
		t.Fatalf("after growing: %+v, %v", third, err)
	}
}
