package vpcnet

import (
	"net/netip"
	"testing"
	"time"

	"strato/internal/netpolicy"
)

// Group IDs of the matrix.
const (
	sgWeb   = "sg-0000000000000we0b"
	sgApp   = "sg-00000000000000a0p"
	sgAdmin = "sg-000000000000ad0in"
	sgDB    = "sg-00000000000000d0b"
	sgDNS   = "sg-0000000000000d0ns"
)

// The connectivity matrix of security groups: real TCP, UDP and ICMP between instances
// whose interfaces have different groups (ingress by port, CIDR and group members;
// egress restrictions; several groups on one interface; an instance with two interfaces
// of different groups). Every probe needs its reply too, so each pass also shows that
// return traffic passes whatever the egress rules of the answering side say.
func TestSecurityGroupMatrix(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	web := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	app := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.11"))
	admin := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.20"))
	db := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.30"))
	multi := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.50"))
	multi1 := f.plugSecond(multi, subnetB, netip.MustParseAddr("10.0.2.50"))

	everyone := "0.0.0.0/0"
	p := newPolicy(vpc,
		netpolicy.SecurityGroup{ID: sgWeb,
			Ingress: []netpolicy.Rule{
				tcpRule(80, everyone),
				tcpRule(22, "10.0.2.0/24"),
				rule(netpolicy.ProtocolICMP, 8, -1, admin.ip.String()),                 // echo requests from sgAdmin's members
				udpRule(5353, admin.ip.String(), db.ip.String()),                       // a rule with several peers
				rule(netpolicy.ProtocolTCP, 9000, 9100, "10.0.1.0/24", "10.0.2.16/29"), // a port range
			},
			Egress: allowEverything()},
		netpolicy.SecurityGroup{ID: sgApp,
			Ingress: []netpolicy.Rule{tcpRule(8080, web.ip.String(), multi.ip.String())}, // sgWeb's members
			Egress:  []netpolicy.Rule{tcpRule(5432, "10.0.2.0/24")}},
		netpolicy.SecurityGroup{ID: sgAdmin, Egress: allowEverything()},
		netpolicy.SecurityGroup{ID: sgDB,
			Ingress: []netpolicy.Rule{tcpRule(5432, app.ip.String())},
			Egress:  allowEverything()},
		netpolicy.SecurityGroup{ID: sgDNS,
			Ingress: []netpolicy.Rule{udpRule(53, "10.0.0.0/16")},
			Egress:  allowEverything()},
	)
	addInterface(&p, web, sgWeb)
	addInterface(&p, app, sgApp)
	addInterface(&p, admin, sgAdmin)
	addInterface(&p, db, sgDB, sgDNS)
	addInterface(&p, multi, sgWeb)
	addInterface(&p, multi1, sgDB)
	f.setVPC(p)

	for _, inst := range []*instance{web, app, admin, db, multi} {
		for _, port := range []int{22, 80, 5432, 8080, 9050} {
			listenTCP(t, inst.netns, port)
		}
		listenUDPEcho(t, inst.netns, 53)
		listenUDPEcho(t, inst.netns, 5353)
	}

	cases := []struct {
		name     string
		from     *instance
		to       netip.Addr
		probe    probe
		wantPass bool
	}{
		{"ingress from 0.0.0.0/0", admin, web.ip, tcp(80), true},
		{"ingress from a CIDR", admin, web.ip, tcp(22), true},
		{"ingress from outside the CIDR", multi, web.ip, tcp(22), false},
		{"port not allowed", admin, web.ip, tcp(8080), false},
		{"port range", web, multi.ip, tcp(9050), true},
		{"port range, source in its second peer", admin, multi.ip, tcp(9050), true},
		{"port range, source outside its peers", db, multi.ip, tcp(9050), false},
		{"ICMP echo from a group member", admin, web.ip, icmp, true},
		{"ICMP echo from a non-member", db, web.ip, icmp, false},
		{"UDP from the first peer of a set", admin, web.ip, udp(5353), true},
		{"UDP from the second peer of a set", db, web.ip, udp(5353), true},
		{"UDP from no peer of the set", multi, web.ip, udp(5353), false},
		{"group reference; reply passes despite the answering side's egress", web, app.ip, tcp(8080), true},
		{"group reference, non-member", admin, app.ip, tcp(8080), false},
		{"egress allowed, ingress allowed", app, db.ip, tcp(5432), true},
		{"egress restriction", app, web.ip, tcp(80), false},
		{"egress restriction, UDP", app, db.ip, udp(53), false},
		{"egress allowed, ingress none", app, admin.ip, tcp(5432), false},
		{"second group of the interface", web, db.ip, udp(53), true},
		{"first group of the interface, other source", web, db.ip, tcp(5432), false},
		{"no ingress rules at all", web, admin.ip, icmp, false},
		{"instance with two interfaces: eth0's groups", admin, multi.ip, tcp(80), true},
		{"instance with two interfaces: eth1's groups", admin, multi1.ip, tcp(80), false},
		{"instance with two interfaces: eth1's groups allow", app, multi1.ip, tcp(5432), true},
		{"instance with two interfaces: eth0's groups deny", web, multi.ip, tcp(5432), false},
	}
	for _, c := range cases {
		expect(t, c.name, c.from.netns, c.to, c.probe, c.wantPass)
	}
}

// Without a policy (before the VPC's first SetVPC) new connections between interfaces
// are refused; an interface the policy does not list is refused too.
func TestFilterFailsClosed(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.11"))
	c := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.12"))
	listenTCP(t, b.netns, 7000)
	listenTCP(t, c.netns, 7000)
	expect(t, "no policy yet", a.netns, b.ip, tcp(7000), false)
	f.setVPC(allowAll(vpc, a, b))
	expect(t, "both in the policy", a.netns, b.ip, tcp(7000), true)
	expect(t, "destination not in the policy", a.netns, c.ip, tcp(7000), false)
	expect(t, "source not in the policy", c.netns, b.ip, tcp(7000), false)
}

// A rule added applies to the next connection at once, a rule removed likewise: within
// a second, as the issue asks (here, by the time SetVPC returns).
func TestRuleChangesApplyToNewConnections(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.10"))
	listenTCP(t, b.netns, 7000)
	closed := newPolicy(vpc, netpolicy.SecurityGroup{ID: sgWeb, Egress: allowEverything()})
	addInterface(&closed, a, sgWeb)
	addInterface(&closed, b, sgWeb)
	open := newPolicy(vpc, netpolicy.SecurityGroup{ID: sgWeb, Egress: allowEverything(),
		Ingress: []netpolicy.Rule{tcpRule(7000, a.ip.String())}})
	open.Subnets, open.Interfaces = closed.Subnets, closed.Interfaces

	f.setVPC(closed)
	expect(t, "before the rule", a.netns, b.ip, tcp(7000), false)
	for range 3 {
		f.setVPC(open)
		start := time.Now()
		if err := dialFrom(a.netns, addrPort(b.ip, 7000), time.Second); err != nil {
			t.Fatalf("the first connection after the rule was added: %v", err)
		}
		t.Logf("first connection %v after SetVPC returned", time.Since(start))
		f.setVPC(closed)
		if err := dialFrom(a.netns, addrPort(b.ip, 7000), 500*time.Millisecond); err == nil {
			t.Fatal("a new connection passed after the rule was removed")
		}
	}
}
