package cloud

import (
	"context"
	"testing"
	"time"

	"strato/internal/store"
)

// A hook reads the time from a transaction that carries the cloud's clock: the
// peering hook of DeleteVpc sees a request from another account as pending
// (DependencyViolation) until its expiry by that clock, whatever the wall clock says.
func TestHooksUseTheTransactionClock(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	other := Scope{Account: "210987654321", Region: internalScope.Region}
	mine, err := c.CreateVPC(ctx, internalScope, VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := c.CreateVPC(ctx, other, VPCRequest{CIDR: "10.1.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateVPCPeeringConnection(ctx, other, PeeringRequest{VpcID: theirs.ID, PeerVpcID: mine.ID, PeerOwnerID: internalScope.Account}); err != nil {
		t.Fatal(err)
	}
	busyAt := func(now time.Time) bool {
		var busy bool
		err := c.store.View(ctx, func(tx store.Tx) error {
			var err error
			busy, err = anyInUse(vpcDependents, clockedTx{Tx: tx, now: now}, internalScope, mine.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return busy
	}
	if !busyAt(clk.Now()) {
		t.Error("a pending request from another account does not keep the VPC (DependencyViolation)")
	}
	if busyAt(clk.Now().Add(peeringExpiry)) {
		t.Error("an expired request still keeps the VPC")
	}
	if got := txNow(clockedTx{now: clk.Now()}); !got.Equal(clk.Now()) {
		t.Errorf("txNow = %v, want the transaction's %v", got, clk.Now())
	}
}
