package vpcnet

import (
	"fmt"
	"net/netip"

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
