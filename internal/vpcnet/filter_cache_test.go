package vpcnet

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// cacheGeneration is the generation the forward chain of vpc's table records.
func (f *fixture) cacheGeneration(vpc string) uint32 {
	f.t.Helper()
	var gen uint32
	found := false
	if err := withNftables(f.n.routerNamespace(vpc), func(c *nftables.Conn) (err error) {
		gen, found, err = tableCacheGeneration(c, f.n.vpcNftTable(vpc))
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	if !found {
		f.t.Fatal("the forward chain records no generation")
	}
	return gen
}

// connectionMark is the conntrack mark, in vpc's router, of the TCP connection c (its
// local end the client).
func (f *fixture) connectionMark(vpc string, c net.Conn) uint32 {
	f.t.Helper()
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	var mark uint32
	found := false
	if err := withHandle(f.n.routerNamespace(vpc), func(h *netlink.Handle) error {
		flows, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		for _, fl := range flows {
			if fl.Forward.Protocol == unix.IPPROTO_TCP && fl.Forward.SrcPort == local.Port() &&
				fl.Forward.SrcIP.Equal(net.IP(local.Addr().AsSlice())) {
				mark, found = fl.Mark, true
			}
		}
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	if !found {
		f.t.Fatalf("no conntrack entry for %v", local)
	}
	return mark
}

// An established connection's packets pass on the verdict cache once both directions
// have passed the filter, and only while the table stays the one that judged them: each
// render takes a new generation, so an ACL that now denies the connection stops it at its
// next packet.
func TestVerdictCacheHoldsUntilTheTableChanges(t *testing.T) {
	f, a, b, _, policy := aclFixture(t)
	echoFromA := aclEntry(100, netpolicy.ProtocolTCP, 7001, 7001, "10.0.1.0/24", true)
	ephemeral := aclEntry(110, netpolicy.ProtocolTCP, 1024, 65535, "10.0.1.0/24", true)
	f.setVPC(policy([]netpolicy.ACLEntry{echoFromA}, []netpolicy.ACLEntry{ephemeral}))
	gen := f.cacheGeneration(a.vpc)
	conn := openEcho(t, a.netns, addrPort(b.ip, 7001))
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := f.connectionMark(a.vpc, conn), gen<<2|cachedOriginal|cachedReply; got != want {
		t.Fatalf("mark %#x after round trips, want %#x (generation %d, both directions)", got, want, gen)
	}

	// The same policy again: a new generation, and the connection passes the stages once
	// more before the cache takes it again.
	f.setVPC(policy([]netpolicy.ACLEntry{echoFromA}, []netpolicy.ACLEntry{ephemeral}))
	next := f.cacheGeneration(a.vpc)
	if next <= gen {
		t.Fatalf("generation %d after a SetVPC, was %d", next, gen)
	}
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := f.connectionMark(a.vpc, conn), next<<2|cachedOriginal|cachedReply; got != want {
		t.Fatalf("mark %#x after the render, want %#x", got, want)
	}

	// A SetVPC that changes the routes takes one generation more: the table is rendered
	// before the routes change.
	withRoutes := policy([]netpolicy.ACLEntry{echoFromA}, []netpolicy.ACLEntry{ephemeral})
	withRoutes.RouteTables = []netpolicy.RouteTable{{ID: "rtb-0000000000000cace", Routes: []netpolicy.Route{
		{Destination: netip.MustParsePrefix("192.0.2.0/24"), Target: netpolicy.TargetBlackhole}}}}
	for i := range withRoutes.Subnets {
		withRoutes.Subnets[i].RouteTable = "rtb-0000000000000cace"
	}
	f.setVPC(withRoutes)
	if got := f.cacheGeneration(a.vpc); got != next+2 {
		t.Fatalf("generation %d after a SetVPC that changed the routes, want %d", got, next+2)
	}
	f.setVPC(withRoutes)
	if got := f.cacheGeneration(a.vpc); got != next+3 {
		t.Fatalf("generation %d after a SetVPC that changed nothing, want %d", got, next+3)
	}

	// The replies' egress entry goes: the cached connection stops.
	f.setVPC(policy([]netpolicy.ACLEntry{echoFromA}, nil))
	if err := echoRoundTrip(conn, 700*time.Millisecond); err == nil {
		t.Fatal("a cached connection passed an ACL that now denies its replies")
	}
}

// A restarted strato goes on from the generation its tables record; a table without one
// (as an older strato wrote) starts above every mark in its router's conntrack.
func TestVerdictCacheGenerationOutlivesARestart(t *testing.T) {
	f, a, b, _, policy := aclFixture(t)
	allowAllACL := []netpolicy.ACLEntry{aclEntry(100, netpolicy.ProtocolAll, 0, 0, "0.0.0.0/0", true)}
	for range 3 {
		f.setVPC(policy(allowAllACL, allowAllACL))
	}
	gen := f.cacheGeneration(a.vpc)
	conn := openEcho(t, a.netns, addrPort(b.ip, 7001))

	f.restart()
	f.setVPC(policy(allowAllACL, allowAllACL))
	gen, before := f.cacheGeneration(a.vpc), gen
	if gen <= before {
		t.Fatalf("generation %d after a restart, was %d", gen, before)
	}
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatalf("the connection did not survive the restart: %v", err)
	}

	// Without the table, the marks decide.
	router := f.n.routerNamespace(a.vpc)
	var last uint32
	if err := withNftables(router, func(c *nftables.Conn) (err error) {
		c.DelTable(f.n.vpcNftTable(a.vpc))
		if err := c.Flush(); err != nil {
			return err
		}
		last, err = lastCacheGeneration(c, router, f.n.vpcNftTable(a.vpc))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if last != gen {
		t.Fatalf("without a table, the last generation is %d, want %d (the connection's mark)", last, gen)
	}
}

// With an interface whose source/destination check is off, the table has no cache: such
// an interface may send another interface's connection, from another link.
func TestVerdictCacheOffWithSourceDestCheckOff(t *testing.T) {
	f, a, b, _, policy := aclFixture(t)
	allowAllACL := []netpolicy.ACLEntry{aclEntry(100, netpolicy.ProtocolAll, 0, 0, "0.0.0.0/0", true)}
	p := policy(allowAllACL, allowAllACL)
	for i := range p.Interfaces {
		if p.Interfaces[i].ID == b.eni {
			p.Interfaces[i].SourceDestCheck = false
		}
	}
	f.setVPC(p)
	conn := openEcho(t, a.netns, addrPort(b.ip, 7001))
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if mark := f.connectionMark(a.vpc, conn); mark != 0 {
		t.Fatalf("mark %#x with an interface's source/destination check off, want none", mark)
	}
}
