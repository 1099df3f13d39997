package vpcnet

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"strato/internal/netpolicy"
)

// The local route connects subnets whatever their route tables say; 0.0.0.0/0 → igw
// plus a public address makes an instance reachable from the internet and able to reach
// it; a subnet without that route is private both ways, even with a public address;
// detaching the internet gateway cuts the public subnet too.
func TestRouteTablesDecideWhatIsPublic(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newVPC("10.0.0.0/16")
	igw := v.attachIGW()
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	v.routes("main")
	v.addSubnet("public", "10.0.1.0/24", "public")
	v.addSubnet("private", "10.0.2.0/24", "main")
	a := v.plug("public", "10.0.1.10")
	b := v.plug("private", "10.0.2.10")
	pubA, pubB := f.publicAddr(2), f.publicAddr(3)
	v.policy.Public[pubA] = a.ip
	v.policy.Public[pubB] = b.ip
	v.apply()

	seenA := listenTCP(t, a.netns, 22)
	seenB := listenTCP(t, b.netns, 22)
	host := f.hostAddr()
	seenHost := listenAt(t, "", netip.AddrPortFrom(host, 7100))

	mustReach(t, a.netns, addrPort(b.ip, 22), seenB, a.ip)
	mustReach(t, b.netns, addrPort(a.ip, 22), seenA, b.ip)
	mustReach(t, "", addrPort(pubA, 22), seenA, host)
	mustReach(t, a.netns, addrPort(host, 7100), seenHost, pubA)

	mustBeDropped(t, "", addrPort(pubB, 22))
	mustBeDropped(t, b.netns, addrPort(host, 7100))
	// An address of the VPC that no interface has goes nowhere, not out.
	mustBeDropped(t, a.netns, addrPort(netip.MustParseAddr("10.0.2.99"), 22))

	// Detached: its routes are blackholes, and nothing crosses the uplink.
	v.policy.InternetGateway = ""
	v.apply()
	mustBeDropped(t, "", addrPort(pubA, 22))
	mustBeDropped(t, a.netns, addrPort(host, 7100))
	mustReach(t, a.netns, addrPort(b.ip, 22), seenB, a.ip)
	nothingSeen(t, seenHost, "the host")
}

// A blackhole route drops silently, and only what it covers.
func TestBlackholeRouteDropsSilently(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newVPC("10.0.0.0/16")
	igw := v.attachIGW()
	host := f.hostAddr()
	v.addSubnet("public", "10.0.1.0/24", "public")
	a := v.plug("public", "10.0.1.10")
	pubA := f.publicAddr(2)
	v.policy.Public[pubA] = a.ip
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw),
		route(netip.PrefixFrom(host, 32).String(), netpolicy.TargetBlackhole, ""))
	v.apply()
	seenHost := listenAt(t, "", netip.AddrPortFrom(host, 7100))

	mustBeDropped(t, a.netns, addrPort(host, 7100))
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	v.apply()
	mustReach(t, a.netns, addrPort(host, 7100), seenHost, pubA)
}

// A route to an instance's interface sends traffic through it: with source/dest check
// off and forwarding on in the appliance, the private subnet reaches the internet by way
// of it; with the check on, the router neither sends it packets for others nor takes
// packets from others out of it.
func TestRouteToAnApplianceInterface(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newVPC("10.0.0.0/16")
	igw := v.attachIGW()
	host := f.hostAddr()
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	v.addSubnet("public", "10.0.1.0/24", "public")
	v.addSubnet("private", "10.0.2.0/24", "private")
	appliance := v.plug("public", "10.0.1.50")
	a := v.plug("private", "10.0.2.10")
	pubA := f.publicAddr(2)
	v.policy.Public[pubA] = a.ip
	v.routes("private", route("0.0.0.0/0", netpolicy.TargetInterface, appliance.eni))
	v.iface(appliance).SourceDestCheck = false
	v.apply()
	seenHost := listenAt(t, "", netip.AddrPortFrom(host, 7100))

	// Forwarding off in the appliance: the route leads there and stops.
	mustBeDropped(t, a.netns, addrPort(host, 7100))
	if err := setSysctls(appliance.netns, map[string]string{
		"ipv4.ip_forward":                  "1",
		"ipv4.conf.all.send_redirects":     "0",
		"ipv4.conf.eth0.send_redirects":    "0",
		"ipv4.conf.default.send_redirects": "0",
	}); err != nil {
		t.Fatal(err)
	}
	mustReach(t, a.netns, addrPort(host, 7100), seenHost, pubA)

	v.iface(appliance).SourceDestCheck = true
	v.apply()
	mustBeDropped(t, a.netns, addrPort(host, 7100))

	// Routes to an interface not plugged yet are blackholes until it is.
	v.iface(appliance).SourceDestCheck = false
	other := v.plug("public", "10.0.1.51")
	v.routes("private", route("0.0.0.0/0", netpolicy.TargetInterface, other.eni))
	v.iface(other).SourceDestCheck = false
	if err := f.n.UnplugInterface(f.ctx, v.policy.ID, other.eni); err != nil {
		t.Fatal(err)
	}
	v.apply()
	mustBeDropped(t, a.netns, addrPort(host, 7100))
	if err := setSysctls(other.netns, map[string]string{
		"ipv4.ip_forward": "1", "ipv4.conf.all.send_redirects": "0", "ipv4.conf.default.send_redirects": "0"}); err != nil {
		t.Fatal(err)
	}
	if err := f.n.PlugInterface(f.ctx, other.plug(v.subnet["public"].CIDR)); err != nil {
		t.Fatal(err)
	}
	mustReach(t, a.netns, addrPort(host, 7100), seenHost, pubA)
}

// Pushing a policy again, or a changed one, keeps live connections whose route stays:
// rules and routes are reconciled in place, never flushed.
func TestReapplyingRoutesKeepsConnections(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newVPC("10.0.0.0/16")
	igw := v.attachIGW()
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	v.addSubnet("public", "10.0.1.0/24", "public")
	a := v.plug("public", "10.0.1.10")
	v.policy.Public[f.publicAddr(2)] = a.ip
	v.apply()
	host := f.hostAddr()
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(host, 7101).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	var c net.Conn
	if err := inNamespace(a.netns, func() (err error) {
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(host, 7101).String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server := <-accepted
	defer server.Close()
	echo := func(round int) {
		t.Helper()
		msg := []byte{byte(round)}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		server.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got := make([]byte, 1)
		if _, err := io.ReadFull(server, got); err != nil || got[0] != msg[0] {
			t.Fatalf("round %d: read %v, %v", round, got, err)
		}
	}
	echo(0)
	v.apply()
	echo(1)
	v.addSubnet("other", "10.0.2.0/24", "other")
	v.routes("other", route("0.0.0.0/0", netpolicy.TargetBlackhole, ""))
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw),
		route("192.0.2.0/24", netpolicy.TargetBlackhole, ""))
	v.plug("other", "10.0.2.10")
	v.apply()
	echo(2)
}
