package cloud

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"strato/internal/netpolicy"
	"strato/internal/store"
)

// The dataplane enforces IPv4 only: IPv6 blocks, rules, ACL entries and routes are
// left out of the policy (an IPv6 packet finds no route in a VPC router anyway).

// vpcPolicy is a VPC's whole network policy as the store has it, for the
// dataplane.
func vpcPolicy(tx store.Tx, s Scope, vpcID string) (netpolicy.VPC, error) {
	policy := netpolicy.VPC{ID: vpcID, AccountID: s.Account, Region: s.Region}
	v, err := vpcs.get(tx, s, vpcID)
	if err != nil {
		return policy, err
	}
	if policy.CIDRs, err = parsePrefixes(blockCIDRs(v.CIDRBlocks)); err != nil {
		return policy, fmt.Errorf("VPC %s: %w", vpcID, err)
	}
	enis, err := interfacesOfVPC(tx, s, vpcID)
	if err != nil {
		return policy, err
	}
	slices.SortFunc(enis, func(a, b NetworkInterface) int { return cmp.Compare(a.ID, b.ID) })
	steps := []func() error{
		func() (err error) { policy.Subnets, err = policySubnets(tx, s, vpcID); return },
		func() (err error) { policy.Interfaces, err = policyInterfaces(enis); return },
		func() (err error) { policy.SecurityGroups, err = policyGroups(tx, s, vpcID); return },
		func() (err error) { policy.NetworkACLs, err = policyACLs(tx, s, vpcID); return },
		func() (err error) { policy.RouteTables, err = policyRouteTables(tx, s, vpcID); return },
		func() (err error) { policy.InternetGateway, err = policyInternetGateway(tx, s, vpcID); return },
		func() (err error) { policy.NATGateways, err = policyNATGateways(tx, s, vpcID); return },
		func() (err error) { policy.Peerings, err = policyPeerings(tx, s, vpcID); return },
		func() (err error) { policy.Public, err = publicMappings(enis); return },
		func() (err error) { policy.DNS, err = policyDNS(tx, s, v, enis); return },
		func() (err error) { policy.FlowLogs, err = flowLogsOfVPC(tx, s, vpcID, policy.Interfaces); return },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return policy, err
		}
	}
	return policy, nil
}

func blockCIDRs(blocks []CIDRBlockAssociation) []string {
	out := make([]string, len(blocks))
	for i, b := range blocks {
		out[i] = b.CIDR
	}
	return out
}

// parsePrefixes reads stored CIDRs, keeping the IPv4 ones.
func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("unreadable CIDR %q", c)
		}
		if p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// policySubnets gives each subnet its network ACL and route table: the explicit
// association, or the VPC's default ACL and main table.
func policySubnets(tx store.Tx, s Scope, vpcID string) ([]netpolicy.Subnet, error) {
	sns, err := subnetsOfVPC(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	acls, err := networkACLs.children(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	aclOf, defaultACL := map[string]string{}, ""
	for _, a := range acls {
		if a.IsDefault {
			defaultACL = a.ID
		}
		for _, assoc := range a.Associations {
			aclOf[assoc.SubnetID] = a.ID
		}
	}
	tables, err := routeTables.children(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	tableOf, mainTable := map[string]string{}, ""
	for _, t := range tables {
		for _, assoc := range t.Associations {
			switch {
			case assoc.Main:
				mainTable = t.ID
			case assoc.SubnetID != "":
				tableOf[assoc.SubnetID] = t.ID
			}
		}
	}
	out := make([]netpolicy.Subnet, 0, len(sns))
	for _, sn := range sns {
		cidr, err := netip.ParsePrefix(sn.CIDR)
		if err != nil {
			return nil, fmt.Errorf("subnet %s: unreadable CIDR %q", sn.ID, sn.CIDR)
		}
		p := netpolicy.Subnet{ID: sn.ID, CIDR: cidr, NetworkACL: cmp.Or(aclOf[sn.ID], defaultACL), RouteTable: cmp.Or(tableOf[sn.ID], mainTable)}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netpolicy.Subnet) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// policyInterfaces are the VPC's interfaces, sorted by ID. A NAT gateway's
// interface has no security groups and no source/destination check: it forwards
// for others, and AWS filters it with neither.
func policyInterfaces(enis []NetworkInterface) ([]netpolicy.Interface, error) {
	out := make([]netpolicy.Interface, 0, len(enis))
	for _, n := range enis {
		p := netpolicy.Interface{ID: n.ID, SubnetID: n.SubnetID, Kind: n.InterfaceType, SourceDestCheck: n.SourceDestCheck}
		for _, a := range n.PrivateIPs {
			addr, err := netip.ParseAddr(a.Address)
			if err != nil {
				return nil, fmt.Errorf("interface %s: unreadable address %q", n.ID, a.Address)
			}
			p.Addresses = append(p.Addresses, addr)
		}
		if len(p.Addresses) == 0 {
			continue
		}
		prefixes, err := parsePrefixes(n.Prefixes)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", n.ID, err)
		}
		p.Prefixes = prefixes
		if n.Attachment != nil {
			p.InstanceID = n.Attachment.InstanceID
		}
		if n.InterfaceType == InterfaceTypeNATGateway {
			p.SourceDestCheck = false
		} else {
			for _, g := range n.Groups {
				p.SecurityGroups = append(p.SecurityGroups, g.ID)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// policyInternetGateway is the ID of the gateway attached to the VPC, or "".
func policyInternetGateway(tx store.Tx, s Scope, vpcID string) (string, error) {
	g, err := gatewayOfVPC(tx, s, vpcID)
	if err != nil || g == nil {
		return "", err
	}
	return g.ID, nil
}

// policyNATGateways are the VPC's public NAT gateways that carry traffic. A
// pending gateway counts already: strato has nothing to provision, its pending
// state is only the pause clients' waiters expect, and routes to it are active
// from the start (fillRouteStates) — so no push is needed when the clock turns
// it available. Private NAT gateways have no Elastic IP and are left out (the
// policy's NATGateway is a public one).
func policyNATGateways(tx store.Tx, s Scope, vpcID string) ([]netpolicy.NATGateway, error) {
	list, err := natGateways.children(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	var out []netpolicy.NATGateway
	for _, g := range list {
		if !g.live() || g.PublicIP == "" || g.NetworkInterfaceID == "" {
			continue
		}
		priv, err1 := netip.ParseAddr(g.PrivateIP)
		pub, err2 := netip.ParseAddr(g.PublicIP)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("NAT gateway %s: unreadable addresses %q, %q", g.ID, g.PrivateIP, g.PublicIP)
		}
		out = append(out, netpolicy.NATGateway{ID: g.ID, SubnetID: g.SubnetID, InterfaceID: g.NetworkInterfaceID, PrivateIP: priv, PublicIP: pub})
	}
	slices.SortFunc(out, func(a, b netpolicy.NATGateway) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// policyPeerings are the VPC's active peering connections, each with the other
// side's VPC and its current IPv4 blocks, read in that side's own scope (another
// account or Region); the blocks recorded with the connection serve when that
// VPC cannot be read.
func policyPeerings(tx store.Tx, s Scope, vpcID string) ([]netpolicy.Peering, error) {
	list, err := peeringsOfVPC(tx, s, vpcID, txNow(tx))
	if err != nil {
		return nil, err
	}
	var out []netpolicy.Peering
	for _, p := range list {
		if p.Status != PeeringActive {
			continue
		}
		other := p.otherSide(s, vpcID)
		cidrs := other.CIDRs
		peer, err := vpcs.get(tx, other.scope(), other.VpcID)
		switch {
		case err == nil:
			cidrs = blockCIDRs(peer.CIDRBlocks)
		case !isNotFound(err):
			return nil, err
		}
		prefixes, err := parsePrefixes(cidrs)
		if err != nil {
			return nil, fmt.Errorf("peering %s: %w", p.ID, err)
		}
		out = append(out, netpolicy.Peering{ID: p.ID, PeerVPC: other.VpcID, PeerCIDRs: prefixes})
	}
	slices.SortFunc(out, func(a, b netpolicy.Peering) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
