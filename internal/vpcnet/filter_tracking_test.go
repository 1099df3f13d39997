package vpcnet

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// trackingFixture: a (group: egress everything, no ingress) talks to b's echo port 7001;
// policy(ingress) gives b's group those ingress rules and egress everything.
func trackingFixture(t *testing.T) (f *fixture, a, b *instance, policy func(ingress ...netpolicy.Rule) netpolicy.VPC) {
	f = newFixture(t, nil)
	vpc := newID(t, "vpc")
	a = f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b = f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.10"))
	listenEcho(t, b.netns, 7001)
	policy = func(ingress ...netpolicy.Rule) netpolicy.VPC {
		p := newPolicy(vpc,
			netpolicy.SecurityGroup{ID: sgApp, Egress: allowEverything()},
			netpolicy.SecurityGroup{ID: sgDB, Ingress: ingress, Egress: allowEverything()})
		addInterface(&p, a, sgApp)
		addInterface(&p, b, sgDB)
		return p
	}
	return f, a, b, policy
}

// A tracked connection (allowed by a rule narrower than 0.0.0.0/0) outlives the rule
// that let it in; new connections are refused at once.
func TestTrackedConnectionSurvivesRevoke(t *testing.T) {
	f, a, b, policy := trackingFixture(t)
	f.setVPC(policy(tcpRule(7001, a.ip.String())))
	conn := openEcho(t, a.netns, addrPort(b.ip, 7001))
	f.setVPC(policy())
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatalf("the tracked connection stopped when its rule was revoked: %v", err)
	}
	expect(t, "new connection after the revoke", a.netns, b.ip, tcp(7001), false)
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatalf("the tracked connection stopped: %v", err)
	}
}

// An untracked connection (TCP allowed in from 0.0.0.0/0, every reply allowed out to
// 0.0.0.0/0) is judged packet by packet: revoking its rule stops it at once. A change
// that still allows it leaves it alone.
func TestUntrackedConnectionIsCut(t *testing.T) {
	f, a, b, policy := trackingFixture(t)
	f.setVPC(policy(tcpRule(7001, "0.0.0.0/0")))
	conn := openEcho(t, a.netns, addrPort(b.ip, 7001))
	f.setVPC(policy(tcpRule(7001, "0.0.0.0/0"), udpRule(53, "10.0.0.0/16")))
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatalf("an unrelated change stopped the connection: %v", err)
	}
	f.setVPC(policy(tcpRule(7001, a.ip.String()))) // narrower, still allows it
	if err := echoRoundTrip(conn, 2*time.Second); err != nil {
		t.Fatalf("a change that still allows the connection stopped it: %v", err)
	}
	// Now tracked (the rule is no longer 0.0.0.0/0): widen again, then revoke.
	f.setVPC(policy(tcpRule(7001, "0.0.0.0/0")))
	conn = openEcho(t, a.netns, addrPort(b.ip, 7001))
	f.setVPC(policy())
	if err := echoRoundTrip(conn, time.Second); err == nil {
		t.Fatal("the untracked connection went on after its rule was revoked")
	}
}

// The metadata service answers whatever the groups and ACLs say: it is the router's
// own address, not forwarded.
func TestMetadataReachableWhateverTheFilter(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	p := newPolicy(vpc, netpolicy.SecurityGroup{ID: sgAdmin}) // no rule at all
	p.NetworkACLs[0] = netpolicy.NetworkACL{ID: testACL, Ingress: []netpolicy.ACLEntry{denyRest()}, Egress: []netpolicy.ACLEntry{denyRest()}}
	addInterface(&p, a, sgAdmin)
	f.setVPC(p)
	status, body, err := metadataGet(a.netns, http.MethodGet, "/", nil)
	if err != nil || status != http.StatusOK || body != "ok" {
		t.Fatalf("metadata: %d %q %v", status, body, err)
	}
}

// With the source/destination check on, an interface sends only from its addresses and
// delegated prefixes; with it off, from any address.
func TestSourceDestCheck(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.20"))
	other := netip.MustParseAddr("10.0.1.99")
	addAddress(t, a.netns, netip.PrefixFrom(other, 24))
	arrives := udpArrivals(t, a.netns, addrPort(b.ip, 7001), b.netns)

	p := allowAll(vpc, a, b)
	f.setVPC(p)
	if !arrives(a.ip) {
		t.Fatal("a packet from the interface's own address was dropped")
	}
	if arrives(other) {
		t.Fatal("check on: a packet from another address arrived")
	}
	p.Interfaces[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("10.0.1.96/28")}
	f.setVPC(p)
	if !arrives(other) {
		t.Fatal("check on: a packet from the interface's delegated prefix was dropped")
	}
	p.Interfaces[0].Prefixes = nil
	p.Interfaces[0].SourceDestCheck = false
	f.setVPC(p)
	if !arrives(other) {
		t.Fatal("check off: a packet from another address was dropped")
	}
}

// addAddress gives the namespace's eth0 one more address.
func addAddress(t *testing.T, netns string, p netip.Prefix) {
	t.Helper()
	if err := withHandle(netns, func(h *netlink.Handle) error {
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		return h.AddrAdd(eth0, &netlink.Addr{IPNet: ipNet(p)})
	}); err != nil {
		t.Fatal(err)
	}
}

// udpArrivals listens at to in toNS and returns a probe: whether a datagram sent from
// fromNS with source address from arrives there (within 700 ms).
func udpArrivals(t *testing.T, fromNS string, to netip.AddrPort, toNS string) func(from netip.Addr) bool {
	var listener *net.UDPConn
	if err := inNamespace(toNS, func() error {
		var err error
		listener, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(to))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	return func(from netip.Addr) bool {
		t.Helper()
		if err := inNamespace(fromNS, func() error {
			c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(addrPort(from, 0)), net.UDPAddrFromAddrPort(to))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte(from.String()))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		listener.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		n, _, err := listener.ReadFromUDPAddrPort(buf)
		return err == nil && string(buf[:n]) == from.String()
	}
}
