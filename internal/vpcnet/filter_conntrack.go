package vpcnet

import (
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Security groups and connection tracking, as AWS does it (docs/network.md):
//
//   - A flow is tracked unless it is TCP or UDP and, on the interface's groups, a rule
//     allows it from (or to) 0.0.0.0/0 and a rule in the other direction allows the
//     replies to 0.0.0.0/0 on every port (0-65535). ICMP and other protocols are always
//     tracked; so are the flows of interfaces without groups (NAT gateways) and of
//     endpoints.
//   - Changing or removing a rule does not interrupt tracked flows: their packets keep
//     passing until the connection ends or times out.
//   - An untracked flow is judged packet by packet, so it stops at once when the rules
//     no longer allow its packets (either direction).
//
// Here every flow is in conntrack, so on a policy change the entries of flows that were
// untracked under the previous policy and whose packets the new one no longer allows are
// deleted. Their next packets are then judged by the rules alone: with
// nf_conntrack_tcp_loose off, a TCP packet in the middle of a connection is "invalid",
// not "new", so it opens no connection in either direction and passes only where a rule
// allows it by itself — AWS's stateless treatment.

// forgetUntracked deletes the router's conntrack entries of flows that before left
// untracked and after no longer allows.
func forgetUntracked(router string, before, after *netpolicy.VPC) error {
	if before == nil || after == nil {
		return nil
	}
	old := newGroupJudge(before)
	if !old.anyUntracked() {
		return nil
	}
	filter := &untrackedFlows{before: old, after: newGroupJudge(after)}
	if err := setSysctls(router, map[string]string{"netfilter.nf_conntrack_tcp_loose": "0"}); err != nil {
		return err
	}
	return withHandle(router, func(h *netlink.Handle) error {
		_, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filter)
		return err
	})
}

// groupJudge answers questions about one policy's security groups.
type groupJudge struct {
	interfaces map[string]*netpolicy.Interface // by ID
	owners     map[netip.Addr]string           // private address → interface ID
	prefixes   map[netip.Prefix]string         // delegated prefix → interface ID
	groups     map[string]*netpolicy.SecurityGroup
}

func newGroupJudge(policy *netpolicy.VPC) *groupJudge {
	j := &groupJudge{interfaces: map[string]*netpolicy.Interface{}, owners: map[netip.Addr]string{},
		prefixes: map[netip.Prefix]string{}, groups: map[string]*netpolicy.SecurityGroup{}}
	for i := range policy.SecurityGroups {
		j.groups[policy.SecurityGroups[i].ID] = &policy.SecurityGroups[i]
	}
	for i := range policy.Interfaces {
		iface := &policy.Interfaces[i]
		j.interfaces[iface.ID] = iface
		for _, a := range iface.Addresses {
			j.owners[a.Unmap()] = iface.ID
		}
		for _, p := range ipv4Prefixes(iface.Prefixes) {
			j.prefixes[p] = iface.ID
		}
	}
	return j
}

// interfaceOf is the interface that owns address a, or nil.
func (j *groupJudge) interfaceOf(a netip.Addr) *netpolicy.Interface {
	if id, ok := j.owners[a]; ok {
		return j.interfaces[id]
	}
	for p, id := range j.prefixes {
		if p.Contains(a) {
			return j.interfaces[id]
		}
	}
	return nil
}

// rules are the rules of one direction of an interface's groups.
func (j *groupJudge) rules(iface *netpolicy.Interface, ingress bool) []netpolicy.Rule {
	var out []netpolicy.Rule
	for _, id := range iface.SecurityGroups {
		if g := j.groups[id]; g != nil {
			if ingress {
				out = append(out, g.Ingress...)
			} else {
				out = append(out, g.Egress...)
			}
		}
	}
	return out
}

// anyUntracked says whether any flow could be untracked under this policy.
func (j *groupJudge) anyUntracked() bool {
	for _, iface := range j.interfaces {
		for _, proto := range []int{netpolicy.ProtocolTCP, netpolicy.ProtocolUDP} {
			for _, ingress := range []bool{true, false} {
				if j.untrackedAnyPort(iface, ingress, proto) {
					return true
				}
			}
		}
	}
	return false
}

func (j *groupJudge) untrackedAnyPort(iface *netpolicy.Interface, ingress bool, proto int) bool {
	if !groupFiltered(iface) {
		return false
	}
	return slices.ContainsFunc(j.rules(iface, ingress), func(r netpolicy.Rule) bool {
		return coversProtocol(r, proto) && allowsEveryone(r)
	}) && j.repliesUntracked(iface, ingress, proto)
}

// repliesUntracked: a rule in the other direction allows every reply of proto.
func (j *groupJudge) repliesUntracked(iface *netpolicy.Interface, ingress bool, proto int) bool {
	return slices.ContainsFunc(j.rules(iface, !ingress), func(r netpolicy.Rule) bool {
		return coversProtocol(r, proto) && (r.Protocol == netpolicy.ProtocolAll || allPorts(r.FromPort, r.ToPort)) && allowsEveryone(r)
	})
}

// untracked says whether a flow of proto to port, entering (ingress) or leaving the
// interface, is untracked.
func (j *groupJudge) untracked(iface *netpolicy.Interface, ingress bool, proto, port int) bool {
	if !groupFiltered(iface) || (proto != netpolicy.ProtocolTCP && proto != netpolicy.ProtocolUDP) {
		return false
	}
	return slices.ContainsFunc(j.rules(iface, ingress), func(r netpolicy.Rule) bool {
		return coversProtocol(r, proto) && coversPort(r, port) && allowsEveryone(r)
	}) && j.repliesUntracked(iface, ingress, proto)
}

// allows says whether the interface's groups let a packet of proto to port in from
// remote (ingress) or out to remote.
func (j *groupJudge) allows(iface *netpolicy.Interface, ingress bool, proto, port int, remote netip.Addr) bool {
	if !groupFiltered(iface) {
		return true
	}
	return slices.ContainsFunc(j.rules(iface, ingress), func(r netpolicy.Rule) bool {
		return coversProtocol(r, proto) && coversPort(r, port) &&
			slices.ContainsFunc(ipv4Prefixes(r.Peers), func(p netip.Prefix) bool { return p.Contains(remote) })
	})
}

// groupFiltered: interfaces without groups (a NAT gateway's) and endpoints are not
// judged by groups here (their flows are always tracked).
func groupFiltered(iface *netpolicy.Interface) bool {
	return len(iface.SecurityGroups) > 0 && iface.Kind != netpolicy.InterfaceEndpoint && iface.Kind != netpolicy.InterfaceNATGateway
}

func coversProtocol(r netpolicy.Rule, proto int) bool {
	return r.Protocol == netpolicy.ProtocolAll || r.Protocol == proto
}

func coversPort(r netpolicy.Rule, port int) bool {
	if r.Protocol == netpolicy.ProtocolAll || allPorts(r.FromPort, r.ToPort) {
		return true
	}
	return port >= r.FromPort && port <= r.ToPort
}

func allowsEveryone(r netpolicy.Rule) bool {
	return slices.ContainsFunc(r.Peers, func(p netip.Prefix) bool { return p.Bits() == 0 && p.Addr().Is4() })
}

// untrackedFlows matches the conntrack entries to delete: at either end (the interface it
// leaves, the interface it enters), the flow was untracked before and its packets are not
// allowed after, in one direction or the other.
type untrackedFlows struct {
	before, after *groupJudge
}

func (u *untrackedFlows) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	fwd, rev := flow.Forward, flow.Reverse
	proto := int(fwd.Protocol)
	if proto != netpolicy.ProtocolTCP && proto != netpolicy.ProtocolUDP {
		return false
	}
	src, _ := netip.AddrFromSlice(fwd.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(fwd.DstIP.To4())
	realDst, _ := netip.AddrFromSlice(rev.SrcIP.To4()) // after destination NAT
	// The end it leaves: egress to dst on its port, replies in from dst to the source port.
	if x := u.before.interfaceOf(src); x != nil && u.before.untracked(x, false, proto, int(fwd.DstPort)) &&
		!u.stillAllowed(x.ID, false, proto, int(fwd.DstPort), int(fwd.SrcPort), dst) {
		return true
	}
	// The end it enters: ingress from src on its port, replies out to src.
	if y := u.before.interfaceOf(realDst); y != nil && u.before.untracked(y, true, proto, int(rev.SrcPort)) &&
		!u.stillAllowed(y.ID, true, proto, int(rev.SrcPort), int(fwd.SrcPort), src) {
		return true
	}
	return false
}

// stillAllowed: the new policy allows the flow's packets and its replies at the interface.
func (u *untrackedFlows) stillAllowed(ifaceID string, ingress bool, proto, port, replyPort int, remote netip.Addr) bool {
	iface := u.after.interfaces[ifaceID]
	if iface == nil {
		return false
	}
	return u.after.allows(iface, ingress, proto, port, remote) && u.after.allows(iface, !ingress, proto, replyPort, remote)
}
