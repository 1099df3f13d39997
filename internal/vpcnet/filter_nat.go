package vpcnet

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// The filter of NAT gateways. A NAT gateway is a next hop in the router (natgw.go), so a
// connection through it crosses the router once; the checks and logs its two legs would
// get at its interface are made in that one pass:
//
//   - out (an instance → the NAT gateway → the internet): the instance's subnet's egress
//     ACL, then the NAT gateway's subnet's ingress ACL (the private leg) and egress ACL
//     (the public leg);
//   - back (replies, known by their connection's conntrack label): the NAT gateway's subnet's
//     ingress ACL (public leg) and egress ACL (private leg), then the instance's subnet's
//     ingress ACL as for any packet.
//
// The instance is always in another subnet than the NAT gateway: its subnet's route table
// sends traffic to the NAT gateway, whose own subnet's table must send it on, so one
// table cannot do both (natRoutes makes such a route a blackhole).
//
// Every check is the ACL of the NAT gateway's subnet rendered once more for the NAT
// gateway, so that what it refuses is logged REJECT for the NAT gateway's interface, on
// the leg that refused it. Accepted packets are logged ACCEPT for both legs. The flow-log
// reader is told the leg ("private": the packet as it is; "public": the instance's
// address replaced by the NAT gateway's), and takes the direction from the links.
//
// The ACL checks of one pass run before the security groups (as for every packet); a
// packet that both the instance's groups and the NAT gateway's egress ACL refuse is
// logged REJECT for the NAT gateway, where two passes logged it for the instance.

// Flow-log legs of a NAT gateway's interface (the third word of the log prefix).
const (
	natLegPrivate = "private"
	natLegPublic  = "public"
)

// Names of the NAT gateways' part of a VPC table.
const (
	mapNATOut     = "nat_out"      // next hop → the checks of a NAT gateway's two legs
	mapNATBack    = "nat_back"     // conntrack label → the checks of a reply's two legs
	mapNATLog     = "nat_log"      // next hop → log ACCEPT for both legs
	mapNATLogBack = "nat_log_back" // conntrack label → log ACCEPT for both legs
)

func natChain(nat natGateway, what string) string { return "nat-" + idSuffix(nat.ID) + "-" + what }

// addNATChains adds every NAT gateway's checks, refusals and logs, and the maps the ACL
// and flow-log chains look them up in. They must exist before the subnets' chains.
func (r *renderer) addNATChains() {
	if len(r.plan.nats) == 0 {
		return
	}
	out, back, logOut, logBack := map[netip.Addr]*expr.Verdict{}, map[netip.Addr]*expr.Verdict{},
		map[netip.Addr]*expr.Verdict{}, map[netip.Addr]*expr.Verdict{}
	for _, nat := range r.plan.nats {
		accept, reject := r.natLogging(nat)
		r.natRefusals(nat, accept, reject)
		acl := r.plan.acls[r.subnetACL(nat.subnet.ID)]
		var ingress, egress []netpolicy.ACLEntry
		if acl != nil {
			ingress, egress = acl.Ingress, acl.Egress
		}
		r.aclChain(natChain(nat, "acl-in"), ingress, offsetSaddr, natChain(nat, "refuse-in"))
		r.aclChain(natChain(nat, "acl-out"), egress, offsetDaddr, natChain(nat, "refuse-out"))

		// Out: both legs (the instance's subnet's egress ACL is checked before, by its
		// subnet's chain). Back: both legs; its subnet's ingress ACL follows in the base
		// chain.
		outChain := r.chain(natChain(nat, "out"))
		r.rule(outChain, []expr.Any{jumpTo(natChain(nat, "acl-in"))})
		r.rule(outChain, []expr.Any{jumpTo(natChain(nat, "acl-out"))})
		out[nat.PrivateIP] = gotoChain(outChain.Name) // its return ends the ACL stage
		backChain := r.chain(natChain(nat, "back"))
		r.rule(backChain, []expr.Any{jumpTo(natChain(nat, "acl-in"))})
		r.rule(backChain, []expr.Any{jumpTo(natChain(nat, "acl-out"))})
		back[nat.PrivateIP] = jumpTo(backChain.Name)

		if accept {
			log := r.chain(natChain(nat, "log-accept"))
			r.rule(log, natLog(natLogPrefix(netpolicy.TrafficAccept, nat, natLegPrivate)))
			r.rule(log, natLog(natLogPrefix(netpolicy.TrafficAccept, nat, natLegPublic)))
			logOut[nat.PrivateIP] = jumpTo(log.Name)
			logBack[nat.PrivateIP] = jumpTo(log.Name)
		}
	}
	r.natOut = r.addrVerdictMap(mapNATOut, nftables.TypeIPAddr, out)
	r.natBack = r.addrVerdictMap(mapNATBack, labelKey, back)
	if len(logOut) > 0 {
		r.natLogOut = r.addrVerdictMap(mapNATLog, nftables.TypeIPAddr, logOut)
		r.natLogBack = r.addrVerdictMap(mapNATLogBack, labelKey, logBack)
	}
}

// natLogging says whether a flow log covers the NAT gateway's interface for accepted and
// for rejected traffic.
func (r *renderer) natLogging(nat natGateway) (accept, reject bool) {
	for _, fl := range r.plan.policy.FlowLogs {
		if fl.ResourceID != nat.InterfaceID && fl.ResourceID != nat.subnet.ID && fl.ResourceID != r.plan.policy.ID {
			continue
		}
		accept = accept || fl.TrafficType == netpolicy.TrafficAccept || fl.TrafficType == netpolicy.TrafficAll
		reject = reject || fl.TrafficType == netpolicy.TrafficReject || fl.TrafficType == netpolicy.TrafficAll
	}
	return accept, reject
}

// natRefusals adds the chains that drop what the NAT gateway's ACL checks refuse, logging
// it first for its interface when a flow log covers it: "refuse-in" for the first check
// of a packet (the ingress ACL: the private leg going out, the public leg coming back),
// "refuse-out" for the second (the egress ACL), by which time the first leg has let the
// packet in, which is logged as accepted.
func (r *renderer) natRefusals(nat natGateway, accept, reject bool) {
	first, second := r.chain(natChain(nat, "refuse-in")), r.chain(natChain(nat, "refuse-out"))
	for _, dir := range []struct {
		ct            byte
		inLeg, outLeg string
	}{{ctDirOriginal, natLegPrivate, natLegPublic}, {ctDirReply, natLegPublic, natLegPrivate}} {
		if reject {
			r.rule(first, matchCtDirection(dir.ct), natLog(natLogPrefix(netpolicy.TrafficReject, nat, dir.inLeg)))
		}
		var logs []expr.Any
		if accept {
			logs = append(logs, natLog(natLogPrefix(netpolicy.TrafficAccept, nat, dir.inLeg))...)
		}
		if reject {
			logs = append(logs, natLog(natLogPrefix(netpolicy.TrafficReject, nat, dir.outLeg))...)
		}
		if logs != nil {
			r.rule(second, matchCtDirection(dir.ct), logs)
		}
	}
	r.rule(first, verdict(expr.VerdictDrop))
	r.rule(second, verdict(expr.VerdictDrop))
}

// natLogPrefix is the log prefix of a NAT gateway's record: action, interface, leg.
func natLogPrefix(action string, nat natGateway, leg string) string {
	return action + " " + nat.InterfaceID + " " + leg
}

// natLog logs a packet to the flow-log reader with prefix.
func natLog(prefix string) []expr.Any {
	return []expr.Any{&expr.Log{
		Key:     1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_SNAPLEN,
		Group:   flowLogGroup,
		Snaplen: flowLogSnaplen,
		Data:    []byte(prefix),
	}}
}

// Conntrack directions (enum ip_conntrack_dir).
const (
	ctDirOriginal = 0
	ctDirReply    = 1
)

// matchCtDirection matches packets going the connection's original way or replying.
func matchCtDirection(dir byte) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{dir}},
	}
}

// natOutLookup jumps to the NAT gateway's checks of a packet whose next hop is one, from
// m (a map by next hop); other packets go on.
func natOutLookup(m *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Rt{Register: 1, Key: expr.RtNexthop4},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
	}
}

// natBackLookup jumps to the NAT gateway's checks of a reply to a connection through
// one, from m (a map by conntrack label); other packets go on.
func natBackLookup(m *nftables.Set) []expr.Any {
	return slices.Concat(matchCtDirection(ctDirReply), []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyLABELS},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
	})
}

// ctLabelBytes is the size of a conntrack entry's labels.
const ctLabelBytes = 16

// labelKey is the key type of maps by conntrack label. The kernel only needs its size;
// the nft command cannot list a set typed ct_label, so it shows these keys as IPv6
// addresses (a NAT gateway's 10.0.1.100 as a00:164::).
var labelKey = nftables.TypeIP6Addr

// natLabel is the conntrack label of a connection through the NAT gateway whose private
// address is a: the address in the first 4 bytes, the rest zero.
func natLabel(a netip.Addr) []byte { return append(a.AsSlice(), make([]byte, ctLabelBytes-4)...) }

// addrVerdictMap adds a map from an IPv4 address to a verdict, keyed by the address itself
// or by a conntrack label holding it (natLabel).
func (r *renderer) addrVerdictMap(name string, keyType nftables.SetDatatype, verdicts map[netip.Addr]*expr.Verdict) *nftables.Set {
	set := &nftables.Set{Table: r.table, Name: name, IsMap: true, KeyType: keyType, DataType: nftables.TypeVerdict}
	var elems []nftables.SetElement
	for _, a := range slices.SortedFunc(maps.Keys(verdicts), netip.Addr.Compare) {
		key := a.AsSlice()
		if keyType == labelKey {
			key = natLabel(a)
		}
		elems = append(elems, nftables.SetElement{Key: key, VerdictData: verdicts[a]})
	}
	r.addSet(set, elems)
	return set
}
