package vpcnet

import (
	"net/netip"
	"testing"

	"strato/internal/netpolicy"
)

var (
	subnetA = netip.MustParsePrefix("10.0.1.0/24")
	subnetB = netip.MustParsePrefix("10.0.2.0/24")
)

func addrPort(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

// Instances of one VPC reach each other by private IP, in the same subnet (proxy ARP) and
// across subnets (through the gateway), and see each other's private addresses.
func TestInstancesOfOneVPCReachEachOther(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.20"))
	c := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.11"))
	f.setVPC(allowAll(vpc, a, b, c))

	seenB := listenTCP(t, b.netns, 7000)
	seenA := listenTCP(t, a.netns, 7000)
	seenC := listenTCP(t, c.netns, 7000)
	mustReach(t, a.netns, addrPort(b.ip, 7000), seenB, a.ip)
	mustReach(t, b.netns, addrPort(a.ip, 7000), seenA, b.ip)
	mustReach(t, a.netns, addrPort(c.ip, 7000), seenC, a.ip)
	mustReach(t, c.netns, addrPort(b.ip, 7000), seenB, c.ip)
}

// Two VPCs with the same CIDR both work, and neither reaches the other's instances.
func TestVPCsWithTheSameCIDRAreIsolated(t *testing.T) {
	f := newFixture(t, nil)
	vpc1, vpc2 := newID(t, "vpc"), newID(t, "vpc")
	same := netip.MustParseAddr("10.0.1.10")
	x1 := f.plugInstance(vpc1, subnetA, same)
	y1 := f.plugInstance(vpc1, subnetA, netip.MustParseAddr("10.0.1.11"))
	x2 := f.plugInstance(vpc2, subnetA, same)
	y2 := f.plugInstance(vpc2, subnetB, netip.MustParseAddr("10.0.2.12"))
	f.setVPC(allowAll(vpc1, x1, y1))
	f.setVPC(allowAll(vpc2, x2, y2))

	seenY1 := listenTCP(t, y1.netns, 7000)
	seenY2 := listenTCP(t, y2.netns, 7000)
	mustReach(t, x1.netns, addrPort(y1.ip, 7000), seenY1, same)
	mustReach(t, x2.netns, addrPort(y2.ip, 7000), seenY2, same)
	mustNotReach(t, x1.netns, addrPort(y2.ip, 7000))
	mustNotReach(t, x2.netns, addrPort(y1.ip, 7000))
	select {
	case got := <-seenY1:
		t.Fatalf("y1 saw a connection from %v", got)
	case got := <-seenY2:
		t.Fatalf("y2 saw a connection from %v", got)
	default:
	}
}

// A public address mapped with SetVPC reaches the instance from the host (the
// instance sees the host link's address and answers); once the mapping is gone, it does not.
func TestPublicAddressReachesTheInstanceFromTheHost(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.11"))
	pubA := f.opts.PublicPool.Addr().Next().Next()
	pubB := pubA.Next()
	seenA := listenTCP(t, a.netns, 22)
	seenB := listenTCP(t, b.netns, 22)
	host, _ := hostLinkAddrs(f.opts.Prefix)

	policy := internetPolicy(vpc, nil, a, b)
	f.setVPC(policy)
	mustNotReach(t, "", addrPort(pubA, 22))
	policy.Public = map[netip.Addr]netip.Addr{pubA: a.ip, pubB: b.ip}
	f.setVPC(policy)
	mustReach(t, "", addrPort(pubA, 22), seenA, host.Addr())
	mustReach(t, "", addrPort(pubB, 22), seenB, host.Addr())

	// Replacing the set: a loses its address, b keeps its own.
	policy.Public = map[netip.Addr]netip.Addr{pubB: b.ip}
	f.setVPC(policy)
	mustNotReach(t, "", addrPort(pubA, 22))
	mustReach(t, "", addrPort(pubB, 22), seenB, host.Addr())

	// The same again is a no-op; an empty set removes everything.
	f.setVPC(policy)
	mustReach(t, "", addrPort(pubB, 22), seenB, host.Addr())
	policy.Public = nil
	f.setVPC(policy)
	mustNotReach(t, "", addrPort(pubB, 22))
}

func TestSetVPCRefusesPublicAddressesThatCannotBe(t *testing.T) {
	f := newFixture(t, nil)
	vpc1, vpc2 := newID(t, "vpc"), newID(t, "vpc")
	pub := f.opts.PublicPool.Addr().Next()
	priv := netip.MustParseAddr("10.0.1.10")
	outside := netip.MustParseAddr("203.0.113.7")
	if err := f.n.SetVPC(f.ctx, netpolicy.VPC{ID: vpc1, Public: map[netip.Addr]netip.Addr{outside: priv}}); err == nil {
		t.Error("an address outside the pool was accepted")
	}
	if err := f.n.SetVPC(f.ctx, netpolicy.VPC{ID: vpc1, Public: map[netip.Addr]netip.Addr{pub: priv, pub.Next(): priv}}); err == nil {
		t.Error("two public addresses for one private address were accepted")
	}
	if err := f.n.SetVPC(f.ctx, netpolicy.VPC{ID: vpc1, Public: map[netip.Addr]netip.Addr{pub: priv}}); err != nil {
		t.Fatal(err)
	}
	if err := f.n.SetVPC(f.ctx, netpolicy.VPC{ID: vpc2, Public: map[netip.Addr]netip.Addr{pub: priv}}); err == nil {
		t.Error("a public address mapped in another VPC was accepted")
	}
}

// A hundred and more interfaces in one VPC (RunInstances of 100): the VPC's table
// stays a few netlink messages, and the first and the last instance still talk.
func TestManyInterfacesInOneVPC(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	var all []*instance
	for i := range 120 {
		all = append(all, f.plugInstance(vpc, subnetA, netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i)})))
	}
	f.setVPC(allowAll(vpc, all...))
	first, last := all[0], all[len(all)-1]
	seen := listenTCP(t, last.netns, 7000)
	mustReach(t, first.netns, addrPort(last.ip, 7000), seen, first.ip)
}
