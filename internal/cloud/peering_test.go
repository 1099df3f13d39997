package cloud

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
	"strato/internal/store/sqlite"
)

// peeringClock is a clock the test moves.
type peeringClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *peeringClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *peeringClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type peeringFixture struct {
	t     *testing.T
	c     *Cloud
	clock *peeringClock
	ctx   context.Context
}

func newPeeringFixture(t *testing.T) *peeringFixture {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strato.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &peeringClock{now: time.Now().UTC()}
	c, err := New(ctx, db, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &peeringFixture{t: t, c: c, clock: clock, ctx: ctx}
}

func (f *peeringFixture) account(region string) Scope {
	f.t.Helper()
	acct, _, err := f.c.CreateAccount(f.ctx, "", "peer")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.SetQuota(f.ctx, acct.ID, QuotaVPCs, 100); err != nil {
		f.t.Fatal(err)
	}
	return Scope{Account: acct.ID, Region: region}
}

func (f *peeringFixture) vpc(s Scope, cidr string) string {
	f.t.Helper()
	v, err := f.c.CreateVPC(f.ctx, s, VPCRequest{CIDR: cidr})
	if err != nil {
		f.t.Fatal(err)
	}
	return v.ID
}

func (f *peeringFixture) request(s Scope, vpc string, peer Scope, peerVPC string) VPCPeeringConnection {
	f.t.Helper()
	p, err := f.c.CreateVPCPeeringConnection(f.ctx, s, PeeringRequest{VpcID: vpc, PeerVpcID: peerVPC, PeerOwnerID: peer.Account, PeerRegion: peer.Region})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// status is the connection's state as the side in s sees it, or "" when hidden.
func (f *peeringFixture) status(s Scope, id string) string {
	f.t.Helper()
	list, _, err := f.c.DescribeVPCPeeringConnections(f.ctx, s, nil, []filter.Filter{{Name: "vpc-peering-connection-id", Values: []string{id}}}, Page{})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(list) == 0 {
		return ""
	}
	return list[0].Status
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var c interface{ Code() string }
	if !errors.As(err, &c) || c.Code() != code {
		t.Errorf("%s: got %v, want %s", what, err, code)
	}
}

func (f *peeringFixture) peered(s Scope, a, b string) bool {
	f.t.Helper()
	var ok bool
	if err := f.c.view(f.ctx, func(tx store.Tx) error {
		var err error
		ok, err = vpcPeered(tx, s, a, b)
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return ok
}

func TestPeeringAcrossAccounts(t *testing.T) {
	f := newPeeringFixture(t)
	a, b := f.account("us-east-1"), f.account("us-east-1")
	vpcA, vpcB := f.vpc(a, "10.0.0.0/16"), f.vpc(b, "10.1.0.0/16")
	p := f.request(a, vpcA, b, vpcB)
	if f.status(a, p.ID) != PeeringPending || f.status(b, p.ID) != PeeringPending {
		t.Fatalf("both sides see the request pending: %q %q", f.status(a, p.ID), f.status(b, p.ID))
	}
	_, err := f.c.CreateVPCPeeringConnection(f.ctx, a, PeeringRequest{VpcID: vpcA, PeerVpcID: vpcB, PeerOwnerID: b.Account})
	wantCode(t, "second request for the pair", err, "VpcPeeringConnectionAlreadyExists")
	_, err = f.c.AcceptVPCPeeringConnection(f.ctx, a, p.ID)
	wantCode(t, "requester accepts", err, "OperationNotPermitted")
	_, err = f.c.ModifyVPCPeeringConnectionOptions(f.ctx, a, p.ID, PeeringOptionsChange{Requester: ptrTo(true)})
	wantCode(t, "options before active", err, "OperationNotPermitted")
	wantCode(t, "accepter deletes its VPC while asked", f.c.DeleteVPC(f.ctx, b, vpcB), "DependencyViolation")
	wantCode(t, "accepter deletes a pending request", f.c.DeleteVPCPeeringConnection(f.ctx, b, p.ID), "OperationNotPermitted")
	if f.peered(a, vpcA, vpcB) {
		t.Error("pending connection counts as peered")
	}

	got, err := f.c.AcceptVPCPeeringConnection(f.ctx, b, p.ID)
	if err != nil || got.Status != PeeringActive || len(got.Accepter.CIDRs) != 1 {
		t.Fatalf("accept: %v %+v", err, got)
	}
	if f.status(a, p.ID) != PeeringActive || !f.peered(a, vpcA, vpcB) || !f.peered(b, vpcB, vpcA) {
		t.Fatal("both sides see the connection active and peered")
	}
	_, err = f.c.AcceptVPCPeeringConnection(f.ctx, b, p.ID)
	wantCode(t, "accept twice", err, "InvalidStateTransition")
	wantCode(t, "reject active", f.c.RejectVPCPeeringConnection(f.ctx, b, p.ID), "InvalidStateTransition")
	_, err = f.c.ModifyVPCPeeringConnectionOptions(f.ctx, b, p.ID, PeeringOptionsChange{Requester: ptrTo(true)})
	wantCode(t, "accepter sets requester options", err, "OperationNotPermitted")
	got, err = f.c.ModifyVPCPeeringConnectionOptions(f.ctx, b, p.ID, PeeringOptionsChange{Accepter: ptrTo(true)})
	if err != nil || !got.Accepter.AllowDNSResolution || got.Requester.AllowDNSResolution {
		t.Fatalf("accepter option: %v %+v", err, got.Accepter)
	}
	var target RouteTarget
	if err := f.c.view(f.ctx, func(tx store.Tx) error {
		var found bool
		target, found, err = lookupRouteTarget(tx, a, p.ID)
		if !found {
			t.Error("route target not found")
		}
		return err
	}); err != nil || !target.Active || len(target.VpcIDs) != 2 {
		t.Fatalf("route target: %v %+v", err, target)
	}

	// Deleted by the accepter: it sees it 2 hours, the requester 2 days.
	if err := f.c.DeleteVPCPeeringConnection(f.ctx, b, p.ID); err != nil {
		t.Fatal(err)
	}
	if f.peered(a, vpcA, vpcB) {
		t.Error("deleted connection still peers")
	}
	wantCode(t, "delete twice", f.c.DeleteVPCPeeringConnection(f.ctx, a, p.ID), "InvalidStateTransition")
	f.clock.advance(3 * time.Hour)
	if f.status(b, p.ID) != "" || f.status(a, p.ID) != PeeringDeleted {
		t.Errorf("after 3 hours: accepter %q, requester %q", f.status(b, p.ID), f.status(a, p.ID))
	}
	_, _, err = f.c.DescribeVPCPeeringConnections(f.ctx, b, []string{p.ID}, nil, Page{})
	if nf := (*NotFoundError)(nil); !errors.As(err, &nf) {
		t.Errorf("hidden connection by ID: %v", err)
	}
	f.clock.advance(2 * 24 * time.Hour)
	if f.status(a, p.ID) != "" {
		t.Error("requester still sees it after 2 days")
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestPeeringFailsExpiresAndIsRejected(t *testing.T) {
	f := newPeeringFixture(t)
	a, b := f.account("us-east-1"), f.account("eu-west-1")
	vpcA := f.vpc(a, "10.0.0.0/16")
	overlapping, other := f.vpc(b, "10.0.128.0/17"), f.vpc(b, "10.2.0.0/16")

	failed := f.request(a, vpcA, b, overlapping)
	if failed.Status != PeeringFailed || f.status(a, failed.ID) != PeeringFailed || f.status(b, failed.ID) != "" {
		t.Fatalf("overlapping blocks: %q, requester %q, accepter %q", failed.Status, f.status(a, failed.ID), f.status(b, failed.ID))
	}
	missing := f.request(a, vpcA, b, "vpc-0123456789abcdef0")
	if missing.Status != PeeringFailed {
		t.Errorf("another account's missing VPC fails: %q", missing.Status)
	}
	_, err := f.c.CreateVPCPeeringConnection(f.ctx, a, PeeringRequest{VpcID: vpcA, PeerVpcID: "vpc-0123456789abcdef0"})
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Kind != KindVPC {
		t.Errorf("own missing VPC: %v", err)
	}
	wantCode(t, "failed cannot be deleted", f.c.DeleteVPCPeeringConnection(f.ctx, a, failed.ID), "InvalidStateTransition")

	expiring := f.request(a, vpcA, b, other)
	if f.status(b, expiring.ID) != PeeringPending {
		t.Fatal("accepter in another Region sees the request")
	}
	f.clock.advance(7*24*time.Hour + time.Second)
	if f.status(a, expiring.ID) != PeeringExpired {
		t.Errorf("after a week: %q", f.status(a, expiring.ID))
	}
	if f.status(a, failed.ID) != "" {
		t.Error("failed request still visible after 2 hours")
	}
	_, err = f.c.AcceptVPCPeeringConnection(f.ctx, b, expiring.ID)
	wantCode(t, "accept expired", err, "InvalidStateTransition")

	rejected := f.request(a, vpcA, b, other)
	if err := f.c.RejectVPCPeeringConnection(f.ctx, b, rejected.ID); err != nil {
		t.Fatal(err)
	}
	err = f.c.DeleteVPCPeeringConnection(f.ctx, a, rejected.ID)
	wantCode(t, "delete rejected", err, "InvalidStateTransition")
	// Terraform's aws provider tells "already gone" by AWS's wording.
	if err == nil || !strings.Contains(err.Error(), "from rejected to deleting") {
		t.Errorf("delete rejected: %v, want AWS's 'from rejected to deleting'", err)
	}
	f.clock.advance(3 * time.Hour)
	if f.status(a, rejected.ID) != PeeringRejected || f.status(b, rejected.ID) != "" {
		t.Errorf("rejected after 3 hours: requester %q, accepter %q", f.status(a, rejected.ID), f.status(b, rejected.ID))
	}
}

func TestPeeringQuotasAndVPCDeletion(t *testing.T) {
	f := newPeeringFixture(t)
	a := f.account("us-east-1")
	vpcA, vpcB, vpcC := f.vpc(a, "10.0.0.0/16"), f.vpc(a, "10.1.0.0/16"), f.vpc(a, "10.2.0.0/16")
	if err := f.c.SetQuota(f.ctx, a.Account, QuotaOutstandingPeerings, 1); err != nil {
		t.Fatal(err)
	}
	ab := f.request(a, vpcA, a, vpcB)
	_, err := f.c.CreateVPCPeeringConnection(f.ctx, a, PeeringRequest{VpcID: vpcA, PeerVpcID: vpcC})
	wantCode(t, "second outstanding request", err, "OutstandingVpcPeeringConnectionLimitExceeded")
	// The same account accepts its own request.
	if _, err := f.c.AcceptVPCPeeringConnection(f.ctx, a, ab.ID); err != nil {
		t.Fatal(err)
	}
	if !f.peered(a, vpcA, vpcB) || !f.peered(a, vpcB, vpcA) {
		t.Error("one account's two VPCs are peered both ways")
	}
	_, err = f.c.CreateVPCPeeringConnection(f.ctx, a, PeeringRequest{VpcID: vpcB, PeerVpcID: vpcA})
	wantCode(t, "the pair asked the other way round", err, "VpcPeeringConnectionAlreadyExists")
	if err := f.c.SetQuota(f.ctx, a.Account, QuotaActivePeerings, 1); err != nil {
		t.Fatal(err)
	}
	ac := f.request(a, vpcA, a, vpcC)
	_, err = f.c.AcceptVPCPeeringConnection(f.ctx, a, ac.ID)
	wantCode(t, "second active connection of vpcA", err, "ActiveVpcPeeringConnectionPerVpcLimitExceeded")

	// Deleting a VPC deletes its active connections and its requests.
	if err := f.c.DeleteVPC(f.ctx, a, vpcA); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ab.ID, ac.ID} {
		if got := f.status(a, id); got != PeeringDeleted {
			t.Errorf("%s after its VPC went: %q", id, got)
		}
	}
	if f.peered(a, vpcB, vpcA) {
		t.Error("peered with a deleted VPC")
	}
}
