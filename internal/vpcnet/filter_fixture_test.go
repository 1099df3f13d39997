package vpcnet

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// Policies for tests.

var everywhere = netip.MustParsePrefix("0.0.0.0/0")

// setVPC pushes a policy or fails the test.
func (f *fixture) setVPC(policy netpolicy.VPC) {
	f.t.Helper()
	if err := f.n.SetVPC(f.ctx, policy); err != nil {
		f.t.Fatalf("SetVPC: %v", err)
	}
}

// subnetID is a subnet ID made from its CIDR, so instances of one CIDR share it.
func subnetID(p netip.Prefix) string {
	a := p.Masked().Addr().As4()
	return fmt.Sprintf("subnet-%02x%02x%02x%02x%02x", a[0], a[1], a[2], a[3], p.Bits())
}

// allowRule allows every protocol from or to everywhere.
func allowEverything() []netpolicy.Rule {
	return []netpolicy.Rule{{Protocol: netpolicy.ProtocolAll, Peers: []netip.Prefix{everywhere}}}
}

// aclAllowAll is the default network ACL: everything in and out (rule 100), then "*".
func aclAllowAll(id string) netpolicy.NetworkACL {
	entries := []netpolicy.ACLEntry{
		{RuleNumber: 100, Protocol: netpolicy.ProtocolAll, CIDR: everywhere, Allow: true},
		{RuleNumber: netpolicy.DefaultACLRuleNumber, Protocol: netpolicy.ProtocolAll, CIDR: everywhere},
	}
	return netpolicy.NetworkACL{ID: id, Ingress: entries, Egress: entries}
}

// allowAll is a policy for vpc with insts' interfaces in it, each in the subnet of its
// CIDR and in one group that allows everything both ways; every subnet has an ACL that
// allows everything.
func allowAll(vpc string, insts ...*instance) netpolicy.VPC {
	const group, acl = "sg-0a11a11a11a11a11a", "acl-0a11a11a11a11a11a"
	p := netpolicy.VPC{
		ID:             vpc,
		SecurityGroups: []netpolicy.SecurityGroup{{ID: group, Ingress: allowEverything(), Egress: allowEverything()}},
		NetworkACLs:    []netpolicy.NetworkACL{aclAllowAll(acl)},
	}
	seen := map[string]bool{}
	for _, inst := range insts {
		id := subnetID(inst.subnet)
		if !seen[id] {
			seen[id] = true
			p.Subnets = append(p.Subnets, netpolicy.Subnet{ID: id, CIDR: inst.subnet.Masked(), NetworkACL: acl})
		}
		p.Interfaces = append(p.Interfaces, netpolicy.Interface{
			ID: inst.eni, SubnetID: id, Kind: netpolicy.InterfaceInstance,
			Addresses: []netip.Addr{inst.ip}, SecurityGroups: []string{group},
			SourceDestCheck: true, InstanceID: inst.id,
		})
	}
	return p
}

const testACL = "acl-0a11a11a11a11a11a"

// newPolicy is a policy for vpc with no interfaces yet and an ACL that allows everything.
func newPolicy(vpc string, groups ...netpolicy.SecurityGroup) netpolicy.VPC {
	return netpolicy.VPC{ID: vpc, SecurityGroups: groups, NetworkACLs: []netpolicy.NetworkACL{aclAllowAll(testACL)}}
}

// addInterface puts inst's interface into p with groups, in the subnet of its CIDR
// (added, with the allow-all ACL, when p lacks it).
func addInterface(p *netpolicy.VPC, inst *instance, groups ...string) {
	id := subnetID(inst.subnet)
	if !slices.ContainsFunc(p.Subnets, func(s netpolicy.Subnet) bool { return s.ID == id }) {
		p.Subnets = append(p.Subnets, netpolicy.Subnet{ID: id, CIDR: inst.subnet.Masked(), NetworkACL: testACL})
	}
	p.Interfaces = append(p.Interfaces, netpolicy.Interface{
		ID: inst.eni, SubnetID: id, Kind: netpolicy.InterfaceInstance,
		Addresses: []netip.Addr{inst.ip}, SecurityGroups: groups, SourceDestCheck: true, InstanceID: inst.id,
	})
}

// rule allows proto (ports or ICMP type/code from..to) from or to peers ("10.0.0.0/16",
// "10.0.1.5" for one address).
func rule(proto, from, to int, peers ...string) netpolicy.Rule {
	r := netpolicy.Rule{Protocol: proto, FromPort: from, ToPort: to}
	for _, p := range peers {
		if !strings.Contains(p, "/") {
			p += "/32"
		}
		r.Peers = append(r.Peers, netip.MustParsePrefix(p))
	}
	return r
}

func tcpRule(port int, peers ...string) netpolicy.Rule {
	return rule(netpolicy.ProtocolTCP, port, port, peers...)
}

func udpRule(port int, peers ...string) netpolicy.Rule {
	return rule(netpolicy.ProtocolUDP, port, port, peers...)
}

// plugSecond plugs a second interface (eth1) into inst's namespace, in subnet with
// address ip, and routes what the instance sends from each address out of that
// address's interface (as ec2-net-utils does on Amazon Linux).
func (f *fixture) plugSecond(inst *instance, subnet netip.Prefix, ip netip.Addr) *instance {
	f.t.Helper()
	second := &instance{id: inst.id, eni: newID(f.t, "eni"), vpc: inst.vpc, netns: inst.netns, ip: ip, subnet: subnet}
	p := second.plug(subnet)
	p.DeviceIndex = 1
	if err := f.n.PlugInterface(f.ctx, p); err != nil {
		f.t.Fatalf("PlugInterface: %v", err)
	}
	if err := withHandle(inst.netns, func(h *netlink.Handle) error {
		for table, side := range map[int]*instance{100: inst, 101: second} {
			link, err := h.LinkByName(map[*instance]string{inst: "eth0", second: "eth1"}[side])
			if err != nil {
				return err
			}
			if err := h.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Table: table,
				Dst: ipNet(everywhere), Gw: side.subnet.Masked().Addr().Next().AsSlice(), Flags: int(netlink.FLAG_ONLINK)}); err != nil {
				return err
			}
			r := netlink.NewRule()
			r.Src = ipNet(netip.PrefixFrom(side.ip, 32))
			r.Table = table
			if err := h.RuleAdd(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		f.t.Fatalf("policy routing in %s: %v", nsLabel(inst.netns), err)
	}
	return second
}
