package cloud

import (
	"context"
	"testing"

	"strato/internal/store"
)

// storedCount counts the documents of a kind in a scope, hidden or not.
func storedCount(t *testing.T, c *Cloud, s Scope, kind string) int {
	t.Helper()
	var n int
	err := c.store.View(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = tx.CountResources(s, kind)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A peering connection that a side no longer sees leaves that side's store on
// the side's next request for a connection, by the cloud's clock.
func TestHiddenPeeringsArePurgedOnCreate(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	var ids []string
	for _, cidr := range []string{"10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"} {
		v, err := c.CreateVPC(ctx, s, VPCRequest{CIDR: cidr})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	p, err := c.CreateVPCPeeringConnection(ctx, s, PeeringRequest{VpcID: ids[0], PeerVpcID: ids[1]})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteVPCPeeringConnection(ctx, s, p.ID); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(peeringShort - 1)
	if _, err := c.CreateVPCPeeringConnection(ctx, s, PeeringRequest{VpcID: ids[0], PeerVpcID: ids[2]}); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, c, s, KindVPCPeeringConnection); n != 2 {
		t.Fatalf("%d connections stored while the deleted one is still shown, want 2", n)
	}
	clk.t = clk.t.Add(1)
	if _, err := c.CreateVPCPeeringConnection(ctx, s, PeeringRequest{VpcID: ids[1], PeerVpcID: ids[2]}); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, c, s, KindVPCPeeringConnection); n != 2 {
		t.Errorf("%d connections stored after the deleted one's delay, want 2 (it is purged)", n)
	}
	if _, _, err := c.DescribeVPCPeeringConnections(ctx, s, []string{p.ID}, nil, Page{}); !isNotFound(err) {
		t.Errorf("purged connection: %v, want NotFound (InvalidVpcPeeringConnectionID.NotFound)", err)
	}
}

// A deleted NAT gateway past its retention leaves the store on the next create.
func TestDeletedNATGatewaysArePurgedOnCreate(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	sn := newTestSubnet(t, c, "10.0.1.0/24")
	s := internalScope
	g, err := c.CreateNATGateway(ctx, s, "", NATGatewayRequest{SubnetID: sn.ID, ConnectivityType: "private"})
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(NATGatewayTransition)
	if err := c.DeleteNATGateway(ctx, s, g.ID); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(NATGatewayTransition + NATGatewayRetention)
	if _, err := c.CreateNATGateway(ctx, s, "", NATGatewayRequest{SubnetID: sn.ID, ConnectivityType: "private"}); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, c, s, KindNATGateway); n != 1 {
		t.Errorf("%d NAT gateways stored, want 1 (the deleted one purged)", n)
	}
}
