package vpcnet

import (
	"net/netip"
	"testing"
	"time"

	"strato/internal/netpolicy"
)

const aclB = "acl-00000000000000b0b"

// aclEntry is one numbered entry for proto and ports with cidr.
func aclEntry(number, proto, from, to int, cidr string, allow bool) netpolicy.ACLEntry {
	return netpolicy.ACLEntry{RuleNumber: number, Protocol: proto, FromPort: from, ToPort: to,
		CIDR: netip.MustParsePrefix(cidr), Allow: allow}
}

func denyRest() netpolicy.ACLEntry {
	return aclEntry(netpolicy.DefaultACLRuleNumber, netpolicy.ProtocolAll, 0, 0, "0.0.0.0/0", false)
}

// aclFixture: a and c in subnet A (allow-all ACL), b in subnet B whose ACL is aclB; every
// interface in a group that allows everything.
func aclFixture(t *testing.T) (f *fixture, a, b, c *instance, policy func(in, out []netpolicy.ACLEntry) netpolicy.VPC) {
	f = newFixture(t, nil)
	vpc := newID(t, "vpc")
	a = f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	c = f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.11"))
	b = f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.10"))
	for _, inst := range []*instance{a, b, c} {
		listenTCP(t, inst.netns, 7000)
		listenEcho(t, inst.netns, 7001)
	}
	policy = func(in, out []netpolicy.ACLEntry) netpolicy.VPC {
		p := allowAll(vpc, a, c, b)
		p.NetworkACLs = append(p.NetworkACLs, netpolicy.NetworkACL{ID: aclB, Ingress: append(in, denyRest()), Egress: append(out, denyRest())})
		for i := range p.Subnets {
			if p.Subnets[i].CIDR == subnetB {
				p.Subnets[i].NetworkACL = aclB
			}
		}
		return p
	}
	return f, a, b, c, policy
}

// Network ACLs are stateless: the reply of an allowed connection is checked against the
// egress entries, and its destination port is the client's ephemeral port, so an egress
// entry for the service's port does not let it out; one for 1024-65535 does.
func TestNetworkACLIsStateless(t *testing.T) {
	f, a, b, _, policy := aclFixture(t)
	tcpFromA := aclEntry(100, netpolicy.ProtocolTCP, 7000, 7000, "10.0.1.0/24", true)
	f.setVPC(policy([]netpolicy.ACLEntry{tcpFromA}, []netpolicy.ACLEntry{aclEntry(100, netpolicy.ProtocolTCP, 7000, 7000, "10.0.1.0/24", true)}))
	expect(t, "egress entry for the service's port only", a.netns, b.ip, tcp(7000), false)
	ephemeral := aclEntry(110, netpolicy.ProtocolTCP, 1024, 65535, "10.0.1.0/24", true)
	f.setVPC(policy([]netpolicy.ACLEntry{tcpFromA}, []netpolicy.ACLEntry{ephemeral}))
	expect(t, "egress entry for the ephemeral ports", a.netns, b.ip, tcp(7000), true)
	expect(t, "ingress entry for another port", a.netns, b.ip, tcp(7001), false)

	// No connection-tracking shortcut: an established connection stops when an entry
	// denies its packets.
	f.setVPC(policy([]netpolicy.ACLEntry{tcpFromA, aclEntry(101, netpolicy.ProtocolTCP, 7001, 7001, "10.0.1.0/24", true)},
		[]netpolicy.ACLEntry{ephemeral}))
	conn := openEcho(t, a.netns, addrPort(b.ip, 7001))
	f.setVPC(policy([]netpolicy.ACLEntry{tcpFromA}, []netpolicy.ACLEntry{ephemeral}))
	if err := echoRoundTrip(conn, 700*time.Millisecond); err == nil {
		t.Error("an established connection passed an ACL that now denies it")
	}
}

// Entries are evaluated in rule-number order and the first match decides, whatever order
// they come in.
func TestNetworkACLFirstMatchWins(t *testing.T) {
	f, a, b, c, policy := aclFixture(t)
	out := []netpolicy.ACLEntry{aclEntry(100, netpolicy.ProtocolAll, 0, 0, "0.0.0.0/0", true)}
	denyA := aclEntry(90, netpolicy.ProtocolTCP, 7000, 7000, a.ip.String()+"/32", false)
	allowSubnet := aclEntry(100, netpolicy.ProtocolTCP, 7000, 7000, "10.0.1.0/24", true)
	f.setVPC(policy([]netpolicy.ACLEntry{allowSubnet, denyA}, out)) // out of order on purpose
	expect(t, "deny 90 before allow 100", a.netns, b.ip, tcp(7000), false)
	expect(t, "allow 100 for another source", c.netns, b.ip, tcp(7000), true)
	denyA.RuleNumber = 110
	f.setVPC(policy([]netpolicy.ACLEntry{allowSubnet, denyA}, out))
	expect(t, "allow 100 before deny 110", a.netns, b.ip, tcp(7000), true)
	// ICMP entries by type.
	f.setVPC(policy([]netpolicy.ACLEntry{aclEntry(100, netpolicy.ProtocolICMP, 8, -1, "10.0.1.0/24", true)}, out))
	expect(t, "ICMP echo request allowed", a.netns, b.ip, icmp, true)
	f.setVPC(policy([]netpolicy.ACLEntry{aclEntry(100, netpolicy.ProtocolICMP, 13, -1, "10.0.1.0/24", true)}, out))
	expect(t, "only ICMP timestamp requests allowed", a.netns, b.ip, icmp, false)
}

// Packets between interfaces of one subnet cross no subnet boundary: its ACL does not
// see them. Packets that leave the subnet do.
func TestNetworkACLSameSubnetNotChecked(t *testing.T) {
	f, a, b, c, policy := aclFixture(t)
	p := policy(nil, nil) // subnet B denies everything
	p.NetworkACLs[0] = netpolicy.NetworkACL{ID: testACL, Ingress: []netpolicy.ACLEntry{denyRest()}, Egress: []netpolicy.ACLEntry{denyRest()}}
	f.setVPC(p) // subnet A denies everything too
	expect(t, "same subnet", a.netns, c.ip, tcp(7000), true)
	expect(t, "same subnet, ICMP", c.netns, a.ip, icmp, true)
	expect(t, "across subnets", a.netns, b.ip, tcp(7000), false)
}
