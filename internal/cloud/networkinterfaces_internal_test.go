package cloud

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"strato/internal/awserr"
	"strato/internal/store"
	"strato/internal/store/sqlite"
)

// The hooks and internal functions other kinds call are tested from inside the
// package (cloudtest imports cloud, so it cannot be used here).

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func newInternalCloud(t *testing.T) (*Cloud, *fixedClock) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strato.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &fixedClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c, err := New(ctx, db, clk, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func errCode(err error) string {
	var e *awserr.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

var internalScope = Scope{Account: "111122223333", Region: "eu-west-1"}

func newTestSubnet(t *testing.T, c *Cloud, cidr string) Subnet {
	t.Helper()
	ctx := context.Background()
	vpc, err := c.CreateVPC(ctx, internalScope, VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := c.CreateSubnet(ctx, internalScope, SubnetRequest{VpcID: vpc.ID, CIDR: cidr})
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

func TestInterfaceSeams(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	sn := newTestSubnet(t, c, "10.0.1.0/24")
	s := internalScope
	n, err := c.CreateNetworkInterface(ctx, s, "", InterfaceRequest{SubnetID: sn.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.PrivateDNSName(); got != "ip-10-0-1-4.eu-west-1.compute.internal" {
		t.Errorf("private DNS name outside us-east-1 = %s", got)
	}
	var attachmentID string
	err = c.update(ctx, func(tx store.Tx) error {
		// Detached: routes to it are blackholes.
		rt, found, err := lookupRouteTarget(tx, s, n.ID)
		if err != nil || !found || rt.Active || rt.VpcIDs[0] != n.VpcID {
			t.Errorf("detached route target = %+v, %v, %v", rt, found, err)
		}
		if busy, err := anyInUse(securityGroupUsers, tx, s, n.Groups[0].ID); !busy || err != nil {
			t.Errorf("group used by the interface not reported in use: %v", err)
		}
		if busy, _ := anyInUse(securityGroupUsers, tx, s, "sg-0000000000000000f"); busy {
			t.Error("unused group reported in use")
		}
		if attachmentID, err = attachInterface(tx, s, clk.Now(), n.ID, "i-0123456789abcdef0", 1, true); err != nil {
			return err
		}
		if _, err := attachInterface(tx, s, clk.Now(), n.ID, "i-0123456789abcdef1", 2, false); errCode(err) != "InvalidNetworkInterface.InUse" {
			t.Errorf("second attach: %v, want InvalidNetworkInterface.InUse", err)
		}
		rt, _, _ = lookupRouteTarget(tx, s, n.ID)
		if !rt.Active {
			t.Error("route to an attached interface is not active")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.GetNetworkInterface(ctx, s, n.ID)
	if got.Status() != "in-use" || got.Attachment.ID != attachmentID || !got.Attachment.DeleteOnTermination || got.Attachment.DeviceIndex != 1 ||
		!got.Attachment.AttachTime.Equal(clk.Now()) {
		t.Fatalf("attachment = %+v", got.Attachment)
	}
	if err := c.DeleteNetworkInterface(ctx, s, n.ID); errCode(err) != "InvalidNetworkInterface.InUse" {
		t.Fatalf("delete attached: %v, want InvalidNetworkInterface.InUse", err)
	}
	if err := c.ModifyNetworkInterfaceAttribute(ctx, s, n.ID, InterfaceChange{AttachmentID: attachmentID, DeleteOnTermination: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if err := c.DetachNetworkInterface(ctx, s, attachmentID, false); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteNetworkInterface(ctx, s, n.ID); err != nil {
		t.Fatal(err)
	}
	// Device index 0 is the instance's own.
	n2, _ := c.CreateNetworkInterface(ctx, s, "", InterfaceRequest{SubnetID: sn.ID})
	_ = c.update(ctx, func(tx store.Tx) error {
		id, err := attachInterface(tx, s, clk.Now(), n2.ID, "i-0123456789abcdef0", 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := detachInterface(tx, s, id, false); errCode(err) != "OperationNotPermitted" {
			t.Errorf("detach primary: %v, want OperationNotPermitted", err)
		}
		return nil
	})
}

func TestRequesterManagedInterface(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	sn := newTestSubnet(t, c, "10.0.1.0/24")
	s := internalScope
	var n NetworkInterface
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		n, err = createInterface(tx, s, clk.Now(), InterfaceRequest{
			SubnetID: sn.ID, InterfaceType: InterfaceTypeNATGateway, RequesterManaged: true, ManagedBy: "nat-0123456789abcdef0",
			Description: "Interface for NAT Gateway nat-0123456789abcdef0",
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.Status() != "in-use" || !n.RequesterManaged || n.InterfaceType != "nat_gateway" {
		t.Fatalf("managed interface = %+v", n)
	}
	if err := c.DeleteNetworkInterface(ctx, s, n.ID); errCode(err) != "InvalidNetworkInterface.InUse" {
		t.Fatalf("user deleting a managed interface: %v, want InvalidNetworkInterface.InUse", err)
	}
	if err := c.update(ctx, func(tx store.Tx) error { return deleteInterface(tx, s, n.ID) }); err != nil {
		t.Fatal(err)
	}
	subs, _, _ := c.DescribeSubnets(ctx, s, []string{sn.ID}, nil, Page{})
	if subs[0].AvailableIPAddressCount() != 251 {
		t.Fatalf("address not returned: %d available", subs[0].AvailableIPAddressCount())
	}
}

func TestNetworkInterfaceQuota(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	acct, _, err := c.CreateAccount(ctx, "", "quota")
	if err != nil {
		t.Fatal(err)
	}
	s := Scope{Account: acct.ID, Region: "us-east-1"}
	vpc, _ := c.CreateVPC(ctx, s, VPCRequest{CIDR: "10.0.0.0/16"})
	sn, _ := c.CreateSubnet(ctx, s, SubnetRequest{VpcID: vpc.ID, CIDR: "10.0.1.0/24"})
	if err := c.SetQuota(ctx, acct.ID, QuotaNetworkInterfaces, 2); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "", "NetworkInterfaceLimitExceeded"} {
		if _, err := c.CreateNetworkInterface(ctx, s, "", InterfaceRequest{SubnetID: sn.ID}); errCode(err) != want {
			t.Fatalf("interface %d: %v, want %q", i+1, err, want)
		}
	}
}
