package vpcnet

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// A private subnet whose route table sends 0.0.0.0/0 to a NAT gateway reaches the
// internet from the NAT gateway's Elastic IP; nothing from outside reaches the private
// instance, not even through the Elastic IP; the NAT gateway's namespace goes when the
// policy no longer has it.
func TestNATGatewayTakesPrivateSubnetsOut(t *testing.T) {
	f := newFixture(t, nil)
	host := f.hostAddr()
	v := f.newNATVPC()
	nat, eip, p := v.nat, v.eip, v.private
	v.apply()

	seenHost := listenAt(t, "", netip.AddrPortFrom(host, 7100))
	seenP := listenTCP(t, p.netns, 7100)
	mustReach(t, p.netns, addrPort(host, 7100), seenHost, eip)
	mustReach(t, p.netns, addrPort(host, 7100), seenHost, eip) // a second connection, a new port

	// From outside: the Elastic IP answers nothing, on the port the private instance
	// listens on or any other.
	mustBeDropped(t, "", addrPort(eip, 7100))
	mustBeDropped(t, "", addrPort(eip, 22))
	nothingSeen(t, seenP, "the private instance")

	// Without the route, the private subnet is private again.
	v.routes("private")
	v.apply()
	mustBeDropped(t, p.netns, addrPort(host, 7100))

	// Deleted: its next hop goes from the router.
	router := f.n.routerNamespace(v.policy.ID)
	if got := natNeighbours(t, router); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.0.1.100")}) {
		t.Fatalf("next hops on the uplink: %v, want the NAT gateway's address", got)
	}
	v.routes("private", route("0.0.0.0/0", netpolicy.TargetBlackhole, ""))
	v.policy.NATGateways = nil
	delete(v.policy.Public, eip)
	v.apply()
	if got := natNeighbours(t, router); len(got) != 0 {
		t.Fatalf("next hops %v of %s are still there", got, nat)
	}
	mustBeDropped(t, p.netns, addrPort(host, 7100))
}

// natNeighbours are the permanent neighbour entries on a router's uplink: the NAT
// gateways' next hops.
func natNeighbours(t *testing.T, router string) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	if err := withHandle(router, func(h *netlink.Handle) error {
		l, err := h.LinkByName(routerUplink)
		if err != nil {
			return err
		}
		neighs, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_V4)
		for _, nb := range neighs {
			if nb.State&netlink.NUD_PERMANENT != 0 {
				a, _ := netip.AddrFromSlice(nb.IP.To4())
				out = append(out, a)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A NAT gateway namespace an earlier version made goes when its VPC's policy is set;
// another VPC's stays.
func TestNATGatewayNamespacesOfEarlierVersionsGo(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newVPC("10.0.0.0/16")
	mine, others := f.n.natNamespace(newID(t, "nat")), f.n.natNamespace(newID(t, "nat"))
	for ns, owner := range map[string]string{mine: v.policy.ID, others: newID(t, "vpc")} {
		if err := ensureNamespace(ns); err != nil {
			t.Fatal(err)
		}
		if err := withHandle(ns, func(h *netlink.Handle) error {
			lo, err := h.LinkByName("lo")
			if err != nil {
				return err
			}
			return h.LinkSetAlias(lo, owner)
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { removeNamespace(others) })
	v.apply()
	if ok, _ := isNamespaceFile(mine); ok {
		t.Error("the VPC's old NAT gateway namespace is still there")
	}
	if ok, _ := isNamespaceFile(others); !ok {
		t.Error("another VPC's NAT gateway namespace went")
	}
}

// Peering carries traffic only where both sides route to it; it is never transitive: a
// VPC cannot use its peer's internet gateway, NAT gateway, endpoint or other peerings.
func TestPeeringNeedsBothSidesAndIsNotTransitive(t *testing.T) {
	f := newFixture(t, nil)
	host := f.hostAddr()
	a, b, c := f.newVPC("10.0.0.0/16"), f.newVPC("10.1.0.0/16"), f.newVPC("10.2.0.0/16")
	ab, bc := newID(t, "pcx"), newID(t, "pcx")
	a.policy.Peerings = []netpolicy.Peering{{ID: ab, PeerVPC: b.policy.ID, PeerCIDRs: b.policy.CIDRs}}
	b.policy.Peerings = []netpolicy.Peering{
		{ID: ab, PeerVPC: a.policy.ID, PeerCIDRs: a.policy.CIDRs},
		{ID: bc, PeerVPC: c.policy.ID, PeerCIDRs: c.policy.CIDRs},
	}
	c.policy.Peerings = []netpolicy.Peering{{ID: bc, PeerVPC: b.policy.ID, PeerCIDRs: b.policy.CIDRs}}
	// A sends everything to B: the internet, C's CIDR, the endpoint's service.
	a.routes("main", route("10.1.0.0/16", netpolicy.TargetPeering, ab), route("0.0.0.0/0", netpolicy.TargetPeering, ab))
	a.addSubnet("a", "10.0.1.0/24", "main")
	// B has an internet gateway, a NAT gateway, an endpoint, and routes to both peers.
	igw := b.attachIGW()
	b.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	b.addSubnet("public", "10.1.9.0/24", "public")
	eip := f.publicAddr(5)
	nat := b.addNAT("public", "10.1.9.100", eip)
	b.routes("main", route("10.0.0.0/16", netpolicy.TargetPeering, ab), route("10.2.0.0/16", netpolicy.TargetPeering, bc),
		route("0.0.0.0/0", netpolicy.TargetNATGateway, nat))
	b.addSubnet("b", "10.1.1.0/24", "main")
	c.routes("main", route("10.1.0.0/16", netpolicy.TargetPeering, bc), route("10.0.0.0/16", netpolicy.TargetPeering, bc))
	c.addSubnet("c", "10.2.1.0/24", "main")

	ia := a.plug("a", "10.0.1.10")
	ib := b.plug("b", "10.1.1.10")
	ic := c.plug("c", "10.2.1.10")
	pubA := f.publicAddr(2)
	a.policy.Public[pubA] = ia.ip
	a.apply()
	b.apply()
	c.apply()
	seenA := listenTCP(t, ia.netns, 22)
	seenB := listenTCP(t, ib.netns, 22)
	seenC := listenTCP(t, ic.netns, 22)
	seenHost := listenAt(t, "", netip.AddrPortFrom(host, 7100))

	mustReach(t, ia.netns, addrPort(ib.ip, 22), seenB, ia.ip)
	mustReach(t, ib.netns, addrPort(ia.ip, 22), seenA, ib.ip)
	mustReach(t, ic.netns, addrPort(ib.ip, 22), seenB, ic.ip)
	mustReach(t, ib.netns, addrPort(host, 7100), seenHost, eip) // B's NAT gateway works for B

	// Not transitive.
	mustBeDropped(t, ia.netns, addrPort(ic.ip, 22))
	mustBeDropped(t, ic.netns, addrPort(ia.ip, 22))
	mustBeDropped(t, ia.netns, addrPort(host, 7100))
	nothingSeen(t, seenC, "C")
	nothingSeen(t, seenA, "A")
	nothingSeen(t, seenHost, "the host")

	// One side's route gone: broken both ways (A's SYN arrives, B's answer has no way
	// back; B's own SYN goes to its NAT gateway, out to an internet that answers "network
	// unreachable").
	b.routes("main", route("10.2.0.0/16", netpolicy.TargetPeering, bc), route("0.0.0.0/0", netpolicy.TargetNATGateway, nat))
	b.apply()
	mustBeDropped(t, ia.netns, addrPort(ib.ip, 22))
	mustNotReach(t, ib.netns, addrPort(ia.ip, 22))
	nothingSeen(t, seenA, "A")
	b.routes("main", route("10.0.0.0/16", netpolicy.TargetPeering, ab), route("10.2.0.0/16", netpolicy.TargetPeering, bc))
	b.apply()
	mustReach(t, ia.netns, addrPort(ib.ip, 22), seenB, ia.ip)

	// Peering deleted on one side: the link goes from both routers.
	a.policy.Peerings = nil
	a.routes("main", route("10.1.0.0/16", netpolicy.TargetBlackhole, ""))
	a.apply()
	for _, vpc := range []string{a.policy.ID, b.policy.ID} {
		if hasLink(t, f.n.routerNamespace(vpc), peeringLink(ab)) {
			t.Fatalf("the link of %s is still in %s", ab, vpc)
		}
	}
	mustBeDropped(t, ib.netns, addrPort(ia.ip, 22))
}

// A peering carries only the peer VPC's addresses, as on AWS: an interface of the peer
// with its source/destination check off can send from any address, but what it sends
// from an address of this VPC (or of anywhere else) stops at this side's router.
func TestPeeringCarriesOnlyThePeersAddresses(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.newVPC("10.0.0.0/16"), f.newVPC("10.1.0.0/16")
	ab := newID(t, "pcx")
	a.policy.Peerings = []netpolicy.Peering{{ID: ab, PeerVPC: b.policy.ID, PeerCIDRs: b.policy.CIDRs}}
	b.policy.Peerings = []netpolicy.Peering{{ID: ab, PeerVPC: a.policy.ID, PeerCIDRs: a.policy.CIDRs}}
	a.routes("main", route("10.1.0.0/16", netpolicy.TargetPeering, ab))
	a.addSubnet("a", "10.0.1.0/24", "main")
	b.routes("main", route("10.0.0.0/16", netpolicy.TargetPeering, ab))
	b.addSubnet("b", "10.1.1.0/24", "main")
	ia, ib := a.plug("a", "10.0.1.10"), b.plug("b", "10.1.1.10")
	b.iface(ib).SourceDestCheck = false
	a.apply()
	b.apply()

	peerAddr, ownAddr := netip.MustParseAddr("10.1.1.99"), netip.MustParseAddr("10.0.1.99")
	elsewhere := netip.MustParseAddr("192.0.2.99")
	for _, p := range []netip.Prefix{netip.PrefixFrom(peerAddr, 24), netip.PrefixFrom(ownAddr, 32), netip.PrefixFrom(elsewhere, 32)} {
		addAddress(t, ib.netns, p)
	}
	arrives := udpArrivals(t, ib.netns, addrPort(ia.ip, 7001), ia.netns)
	if !arrives(ib.ip) || !arrives(peerAddr) {
		t.Fatal("a packet from the peer VPC's addresses was dropped")
	}
	if arrives(ownAddr) {
		t.Error("a packet from this VPC's own address came in by the peering")
	}
	if arrives(elsewhere) {
		t.Error("a packet from outside both VPCs came in by the peering")
	}
}

// The transit chain drops what would make a peering transitive even where a route would
// carry it: with a route in B to C's CIDR by the B–C peering, A's packets to C still stop
// in B.
func TestTransitChainDropsWhatARouteWouldCarry(t *testing.T) {
	f := newFixture(t, nil)
	a, b, c := f.newVPC("10.0.0.0/16"), f.newVPC("10.1.0.0/16"), f.newVPC("10.2.0.0/16")
	ab, bc := newID(t, "pcx"), newID(t, "pcx")
	a.policy.Peerings = []netpolicy.Peering{{ID: ab, PeerVPC: b.policy.ID, PeerCIDRs: b.policy.CIDRs}}
	b.policy.Peerings = []netpolicy.Peering{
		{ID: ab, PeerVPC: a.policy.ID, PeerCIDRs: a.policy.CIDRs},
		{ID: bc, PeerVPC: c.policy.ID, PeerCIDRs: c.policy.CIDRs},
	}
	c.policy.Peerings = []netpolicy.Peering{{ID: bc, PeerVPC: b.policy.ID, PeerCIDRs: b.policy.CIDRs}}
	a.routes("main", route("10.2.0.0/16", netpolicy.TargetPeering, ab))
	a.addSubnet("a", "10.0.1.0/24", "main")
	b.routes("main", route("10.2.0.0/16", netpolicy.TargetPeering, bc))
	b.addSubnet("b", "10.1.1.0/24", "main")
	c.routes("main", route("10.0.0.0/16", netpolicy.TargetPeering, bc))
	c.addSubnet("c", "10.2.1.0/24", "main")
	ia, ic := a.plug("a", "10.0.1.10"), c.plug("c", "10.2.1.10")
	a.apply()
	b.apply()
	c.apply()
	router := f.n.routerNamespace(b.policy.ID)
	if err := withHandle(router, func(h *netlink.Handle) error {
		l, err := h.LinkByName(peeringLink(bc))
		if err != nil {
			return err
		}
		return h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(netip.MustParsePrefix("10.2.0.0/16")),
			Gw: peeringAddr(c.policy.ID).AsSlice(), Flags: int(netlink.FLAG_ONLINK)})
	}); err != nil {
		t.Fatal(err)
	}
	before := transitDrops(t, router, b.policy.ID, f.n)
	mustBeDropped(t, ia.netns, addrPort(ic.ip, 22))
	if after := transitDrops(t, router, b.policy.ID, f.n); after <= before {
		t.Fatalf("the transit chain dropped nothing (%d packets before, %d after)", before, after)
	}
}

// transitDrops counts the packets the VPC router's transit chain dropped.
func transitDrops(t *testing.T, router, vpcID string, n *Network) uint64 {
	t.Helper()
	var total uint64
	if err := withNftables(router, func(c *nftables.Conn) error {
		table := n.vpcNftTable(vpcID)
		rules, err := c.GetRules(table, &nftables.Chain{Name: chainTransit, Table: table})
		for _, r := range rules {
			for _, e := range r.Exprs {
				if counter, ok := e.(*expr.Counter); ok {
					total += counter.Packets
				}
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return total
}

// A route to a gateway endpoint wins over the internet gateway for the service's
// prefix list: the service sees the instance's private address, also from two VPCs
// with the same CIDR; other destinations still go out by the internet gateway.
func TestEndpointRouteKeepsThePrivateSource(t *testing.T) {
	f := newFixture(t, nil)
	host := f.hostAddr()
	service := netip.MustParsePrefix("203.0.113.0/24") // the prefix list, as one entry
	serviceAddr := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), 443)
	var insts []*instance
	var vpcs []*testVPC
	for i := range 2 {
		v := f.newVPC("10.0.0.0/16")
		igw := v.attachIGW()
		v.routes("main", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw),
			route(service.String(), netpolicy.TargetEndpoint, newID(t, "vpce")))
		v.addSubnet("a", "10.0.1.0/24", "main")
		inst := v.plug("a", "10.0.1.10")
		v.policy.Public[f.publicAddr(2+i)] = inst.ip
		v.apply()
		insts, vpcs = append(insts, inst), append(vpcs, v)
	}
	seenService := listenAt(t, f.n.servicesNamespace(), serviceAddr)
	seenHost := listenAt(t, "", netip.AddrPortFrom(host, 7100))
	for i, inst := range insts {
		mustReach(t, inst.netns, serviceAddr, seenService, inst.ip)
		mustReach(t, inst.netns, addrPort(host, 7100), seenHost, f.publicAddr(2+i))
	}

	// Without the endpoint route, the service's addresses are just the internet, which
	// has none of them.
	v := vpcs[0]
	v.routes("main", route("0.0.0.0/0", netpolicy.TargetInternetGateway, v.policy.InternetGateway))
	v.apply()
	if err := dialFrom(insts[0].netns, serviceAddr, time.Second); err == nil {
		t.Fatal("the service was reached without the endpoint route")
	}
	if hasLink(t, f.n.routerNamespace(v.policy.ID), routerEndpointLink) {
		t.Fatal("the router without endpoint routes is still linked to the services")
	}
	mustReach(t, insts[1].netns, serviceAddr, seenService, insts[1].ip)
}

// RemoveVPC removes the NAT gateways' namespaces, the peering links (in the peer's router
// too) and the link to the services namespace, which goes with its last link; Destroy
// leaves nothing in the run directory.
func TestRemoveVPCTakesItsGatewaysAlong(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.newVPC("10.0.0.0/16"), f.newVPC("10.1.0.0/16")
	igw := a.attachIGW()
	pcx := newID(t, "pcx")
	a.policy.Peerings = []netpolicy.Peering{{ID: pcx, PeerVPC: b.policy.ID, PeerCIDRs: b.policy.CIDRs}}
	b.policy.Peerings = []netpolicy.Peering{{ID: pcx, PeerVPC: a.policy.ID, PeerCIDRs: a.policy.CIDRs}}
	a.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	a.addSubnet("public", "10.0.1.0/24", "public")
	nat := a.addNAT("public", "10.0.1.100", f.publicAddr(5))
	a.routes("main", route("0.0.0.0/0", netpolicy.TargetNATGateway, nat),
		route("10.1.0.0/16", netpolicy.TargetPeering, pcx),
		route("203.0.113.0/24", netpolicy.TargetEndpoint, newID(t, "vpce")))
	a.addSubnet("private", "10.0.2.0/24", "main")
	a.plug("private", "10.0.2.10")
	b.routes("main", route("10.0.0.0/16", netpolicy.TargetPeering, pcx))
	b.addSubnet("b", "10.1.1.0/24", "main")
	b.plug("b", "10.1.1.10")
	a.apply()
	b.apply()
	if ok, _ := isNamespaceFile(f.n.servicesNamespace()); !ok {
		t.Fatal("no services namespace")
	}
	if !hasLink(t, f.n.routerNamespace(b.policy.ID), peeringLink(pcx)) {
		t.Fatal("no peering link in B")
	}

	if err := f.n.RemoveVPC(f.ctx, a.policy.ID); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{f.n.natNamespace(nat), f.n.servicesNamespace(), f.n.routerNamespace(a.policy.ID)} {
		if ok, _ := isNamespaceFile(ns); ok {
			t.Errorf("%s is still there", nsLabel(ns))
		}
	}
	if hasLink(t, f.n.routerNamespace(b.policy.ID), peeringLink(pcx)) {
		t.Error("the peering link is still in B")
	}
	if err := f.n.Destroy(f.ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(f.opts.RunDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), f.opts.Prefix+"-") {
			t.Errorf("%s is left in the run directory", e.Name())
		}
	}
}

func hasLink(t *testing.T, ns, name string) bool {
	t.Helper()
	found := false
	if err := withHandle(ns, func(h *netlink.Handle) error {
		_, err := h.LinkByName(name)
		if isNotFound(err) {
			return nil
		}
		found = err == nil
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return found
}
