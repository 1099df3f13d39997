package cloud

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"strato/internal/netpolicy"
	"strato/internal/store"
)

// groupResolver turns security group rules into the dataplane's rules, with every
// peer resolved to addresses. It reads each VPC's interfaces once.
type groupResolver struct {
	tx    store.Tx
	s     Scope
	vpcID string
	// interfaces caches the interfaces of a VPC, by scope and VPC ID.
	interfaces map[Scope]map[string][]NetworkInterface
}

// policyGroups are the VPC's security groups with their IPv4 rules resolved.
func policyGroups(tx store.Tx, s Scope, vpcID string) ([]netpolicy.SecurityGroup, error) {
	groups, err := securityGroups.children(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b SecurityGroup) int { return cmp.Compare(a.ID, b.ID) })
	gr := groupResolver{tx: tx, s: s, vpcID: vpcID, interfaces: map[Scope]map[string][]NetworkInterface{}}
	out := make([]netpolicy.SecurityGroup, 0, len(groups))
	for _, g := range groups {
		rules, err := rulesOf(tx, s, g.ID)
		if err != nil {
			return nil, err
		}
		pg := netpolicy.SecurityGroup{ID: g.ID}
		for _, r := range rules {
			rule, ok, err := gr.rule(r)
			if err != nil {
				return nil, fmt.Errorf("security group %s, rule %s: %w", g.ID, r.ID, err)
			}
			if !ok {
				continue
			}
			appendDirection(&pg.Ingress, &pg.Egress, r.Egress, rule)
		}
		out = append(out, pg)
	}
	return out, nil
}

// rule resolves one rule; ok is false for a rule that matches no IPv4 packet (an
// IPv6 range, an ICMPv6 rule, a prefix list or group with no IPv4 address).
func (gr *groupResolver) rule(r SecurityGroupRule) (netpolicy.Rule, bool, error) {
	proto, ok := ruleProtocol(r.Protocol)
	if !ok {
		return netpolicy.Rule{}, false, nil
	}
	out := netpolicy.Rule{Protocol: proto, FromPort: int(r.FromPort), ToPort: int(r.ToPort)}
	var err error
	switch {
	case r.CIDRv4 != "":
		out.Peers, err = parsePrefixes([]string{r.CIDRv4})
	case r.PrefixListID != "":
		out.Peers, err = prefixListEntries(gr.tx, gr.s, r.PrefixListID)
	case r.Ref != nil:
		out.Peers, err = gr.members(r.Ref)
	}
	return out, err == nil && len(out.Peers) > 0, err
}

// ruleProtocol is a rule's protocol as an IANA number; ok is false for ICMPv6,
// which never matches IPv4.
func ruleProtocol(p string) (int, bool) {
	switch p {
	case "-1":
		return netpolicy.ProtocolAll, true
	case "tcp":
		return netpolicy.ProtocolTCP, true
	case "udp":
		return netpolicy.ProtocolUDP, true
	case "icmp":
		return netpolicy.ProtocolICMP, true
	case "icmpv6", "58":
		return 0, false
	}
	n, err := strconv.Atoi(p)
	return n, err == nil
}

// prefixListEntries are a prefix list's current IPv4 entries; none when the list
// is gone.
func prefixListEntries(tx store.Tx, s Scope, id string) ([]netip.Prefix, error) {
	p, err := prefixListByID(tx, s, id)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cidrs := make([]string, 0, len(p.Entries()))
	for _, e := range p.Entries() {
		cidrs = append(cidrs, e.CIDR)
	}
	return parsePrefixes(cidrs)
}

// members are the private IPv4 addresses (as /32s) of every interface in a
// referenced group. A group of a peered VPC (of this Region, maybe another
// account's) counts while the peering is active, as AWS allows; when the peering
// is gone the rule is stale and matches nothing.
func (gr *groupResolver) members(ref *GroupRef) ([]netip.Prefix, error) {
	gs := gr.s
	if ref.UserID != "" {
		gs = Scope{Account: ref.UserID, Region: gr.s.Region}
	}
	g, err := securityGroups.get(gr.tx, gs, ref.GroupID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if g.VpcID != gr.vpcID {
		ok, err := peered(gr.tx, gr.s, gr.vpcID, g.VpcID)
		if err != nil || !ok {
			return nil, err
		}
	}
	enis, err := gr.interfacesOf(gs, g.VpcID)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, n := range enis {
		// A NAT gateway's interface is in no group, whatever the store
		// gave it (policyInterfaces).
		if n.InterfaceType == InterfaceTypeNATGateway || !slices.ContainsFunc(n.Groups, func(x InterfaceGroup) bool { return x.ID == g.ID }) {
			continue
		}
		for _, a := range n.PrivateIPs {
			addr, err := netip.ParseAddr(a.Address)
			if err != nil {
				return nil, fmt.Errorf("interface %s: unreadable address %q", n.ID, a.Address)
			}
			out = append(out, netip.PrefixFrom(addr, 32))
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, nil
}

// appendDirection appends v to the ingress or egress list.
func appendDirection[T any](ingress, egress *[]T, isEgress bool, v T) {
	if isEgress {
		*egress = append(*egress, v)
	} else {
		*ingress = append(*ingress, v)
	}
}

func (gr *groupResolver) interfacesOf(s Scope, vpcID string) ([]NetworkInterface, error) {
	if enis, ok := gr.interfaces[s][vpcID]; ok {
		return enis, nil
	}
	enis, err := interfacesOfVPC(gr.tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	if gr.interfaces[s] == nil {
		gr.interfaces[s] = map[string][]NetworkInterface{}
	}
	gr.interfaces[s][vpcID] = enis
	return enis, nil
}
