package vpcnet

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// The filter is rendered from the VPC's policy into one base chain on the forward hook,
// "forward" (see docs/network.md for the whole layout), whose stages a packet passes in
// turn:
//
//   - the verdict cache (filter_cache.go): a packet of an established connection whose
//     two directions this table has already let through passes at once;
//   - transit (routing_nft.go): what routing never forwards is dropped;
//   - acl: network ACLs, stateless, on every packet that crosses a subnet boundary: the
//     egress ACL of the subnet it leaves, the ingress ACL of the subnet it enters.
//     Entries in rule-number order; allow returns, deny drops;
//   - security groups, stateful: packets of known connections pass (and the cache
//     remembers them); a new connection must be allowed by an egress rule of the
//     interface it leaves (the sg_out map; a match goes on to sg-in) and by an ingress
//     rule of the interface it enters (sg-in; a match accepts).
//
// A second base chain, flowlog (priority 100), logs what the first accepted, for
// interfaces a flow log covers.
//
// Everything that depends on one interface is a verdict-map lookup by link name, and
// everything that depends on a group, a subnet or an ACL is a chain of its own, so the
// table grows with the sum of rules and interfaces, never with their product: a group of
// 1,000 rules shared by 100 interfaces is 1,000 rules and 100 map elements.
//
// One base chain, not one per stage: the hook calls a base chain whatever the one before
// decided (an accept ends only its own chain), so every stage of its own cost every
// forwarded packet a call and its first rules, and the cache could not skip them. Stages
// are regular chains that return to "forward" (acl and its subnets' chains are reached by
// goto, so their return lands there) or end the packet's pass (sg-in accepts); a drop
// anywhere is final.

// Names in a VPC table used by the filter.
const (
	chainACL     = "acl"
	chainSGIn    = "sg-in"
	chainFlowLog = "flowlog"
	// The refusals: each logs the packet for the flow-logged interface that refused it,
	// then drops it.
	chainRejectOut   = "reject-out"     // refused by the side it leaves (egress)
	chainRejectIn    = "reject-in"      // refused by the side it enters (ingress ACL)
	chainRejectInSG  = "reject-in-sg"   // refused by the ingress groups: it did leave its source
	mapACLOut        = "acl_out"        // iifname → the source subnet's chain (goto)
	mapACLIn         = "acl_in"         // oifname → the destination subnet ACL's ingress chain
	mapSGOut         = "sg_out"         // iifname → the interface's egress checks
	mapSGIn          = "sg_in"          // oifname → the interface's ingress checks
	mapFlowLogAccept = "flowlog_accept" // link → log ACCEPT for its interface
	mapFlowLogReject = "flowlog_reject" // link → log REJECT for its interface
)

// Forward-hook priorities of the filter's base chains.
const (
	priorityForward = 0
	priorityFlowLog = 100
)

// filterInterface is one interface of the policy and its router-side link.
type filterInterface struct {
	netpolicy.Interface
	link string
}

// filterPlan is the policy indexed for rendering.
type filterPlan struct {
	policy     *netpolicy.VPC
	interfaces []filterInterface // by link name; NAT gateways have none
	nats       []natGateway      // by ID
	groups     map[string]*netpolicy.SecurityGroup
	acls       map[string]*netpolicy.NetworkACL
	subnets    map[string]netpolicy.Subnet
}

func newFilterPlan(policy *netpolicy.VPC) *filterPlan {
	p := &filterPlan{policy: policy, groups: map[string]*netpolicy.SecurityGroup{},
		acls: map[string]*netpolicy.NetworkACL{}, subnets: map[string]netpolicy.Subnet{}}
	if policy == nil {
		return p
	}
	for i := range policy.SecurityGroups {
		p.groups[policy.SecurityGroups[i].ID] = &policy.SecurityGroups[i]
	}
	for i := range policy.NetworkACLs {
		p.acls[policy.NetworkACLs[i].ID] = &policy.NetworkACLs[i]
	}
	for _, s := range policy.Subnets {
		p.subnets[s.ID] = s
	}
	nats, _ := natGateways(policy) // routing reports those left out
	for _, id := range slices.Sorted(maps.Keys(nats)) {
		p.nats = append(p.nats, nats[id])
	}
	for _, iface := range policy.Interfaces {
		if validateID("eni", iface.ID) != nil || iface.Kind == netpolicy.InterfaceNATGateway {
			continue
		}
		p.interfaces = append(p.interfaces, filterInterface{Interface: iface, link: eniLink(iface.ID)})
		// A group an interface names but the policy does not describe allows nothing.
		for _, g := range iface.SecurityGroups {
			if p.groups[g] == nil {
				p.groups[g] = &netpolicy.SecurityGroup{ID: g}
			}
		}
	}
	slices.SortFunc(p.interfaces, func(a, b filterInterface) int { return cmp.Compare(a.link, b.link) })
	return p
}

// addFilterChains adds the VPC's security groups, network ACLs and flow-log rules to its
// table. Without a policy (before the VPC's first SetVPC) it fails closed: packets of
// known connections pass, new connections to or from an interface do not.
func addFilterChains(c *nftables.Conn, table *nftables.Table, st vpcTableState) error {
	r := &renderer{c: c, table: table, plan: newFilterPlan(st.policy)}
	if err := r.addRejectChains(); err != nil {
		return err
	}
	if err := r.addACLChains(); err != nil {
		return err
	}
	if err := r.addSecurityGroupChains(); err != nil {
		return err
	}
	r.addForwardChain(st.cache)
	r.addFlowLogChain()
	return r.err
}

// addForwardChain adds the base chain that runs the stages in turn; the transit chain
// must exist already.
func (r *renderer) addForwardChain(cache verdictCache) {
	r.forwardRules(r.baseChain(chainForward, priorityForward), cache)
}

// forwardRules adds the forward chain's rules: the cache's (when on), the stages.
func (r *renderer) forwardRules(forward *nftables.Chain, cache verdictCache) {
	if cache.on {
		r.rule(forward, cache.hit(), verdict(expr.VerdictAccept))
	}
	r.c.AddRule(&nftables.Rule{Table: r.table, Chain: forward, Exprs: []expr.Any{jumpTo(chainTransit)},
		UserData: cache.userData()})
	r.rule(forward, []expr.Any{jumpTo(chainACL)})
	if cache.on {
		for _, store := range cache.stores() {
			r.rule(forward, store, verdict(expr.VerdictAccept))
		}
	}
	r.rule(forward, matchKnownConnection(), verdict(expr.VerdictAccept))
	r.rule(forward, lookupVerdict(expr.MetaKeyIIFNAME, r.sgOut))
	r.rule(forward, matchInterfaceLink(expr.MetaKeyIIFNAME), goTo(chainRejectOut))
	r.rule(forward, goTo(chainSGIn))
}

// renderer writes one table's filter.
type renderer struct {
	c         *nftables.Conn
	table     *nftables.Table
	plan      *filterPlan
	sets      int // named sets made so far (peer sets are numbered)
	err       error
	logging   flowLogCoverage
	logAccept *nftables.Set // flow-logged link → log ACCEPT

	subnetSets map[string]*nftables.Set // subnet ID → the links of its interfaces
	sgOut      *nftables.Set            // link → its egress groups' chain
	// The NAT gateways' maps (filter_nat.go); nil without NAT gateways (or logs).
	natOut, natBack, natLogOut, natLogBack *nftables.Set
}

func (r *renderer) baseChain(name string, priority int32) *nftables.Chain {
	return r.c.AddChain(&nftables.Chain{Name: name, Table: r.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(nftables.ChainPriority(priority))})
}

func (r *renderer) chain(name string) *nftables.Chain {
	return r.c.AddChain(&nftables.Chain{Name: name, Table: r.table})
}

func (r *renderer) rule(chain *nftables.Chain, parts ...[]expr.Any) {
	r.c.AddRule(&nftables.Rule{Table: r.table, Chain: chain, Exprs: slices.Concat(parts...)})
}

// verdictMap adds a map from link name to verdict (jump to a chain, or accept). Sets keyed
// by link name say "host byte order" in their user data, as nft does for strings, so
// that `nft list` prints the names.
func (r *renderer) verdictMap(name string, verdicts map[string]*expr.Verdict) *nftables.Set {
	set := &nftables.Set{Table: r.table, Name: name, IsMap: true,
		KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
	var elems []nftables.SetElement
	for _, link := range slices.Sorted(maps.Keys(verdicts)) {
		elems = append(elems, nftables.SetElement{Key: ifnameKey(link), VerdictData: verdicts[link]})
	}
	r.addSet(set, elems)
	return set
}

// setElementsPerMessage bounds the elements sent in one netlink message: a message's
// element list is one attribute, whose length field has 16 bits.
const setElementsPerMessage = 256

// addSet adds a named set with its elements, a bounded number per message.
func (r *renderer) addSet(set *nftables.Set, elems []nftables.SetElement) {
	if r.err != nil {
		return
	}
	first := elems[:min(len(elems), setElementsPerMessage)]
	if err := r.c.AddSet(set, first); err != nil {
		r.err = err
		return
	}
	for rest := elems[len(first):]; len(rest) > 0; {
		chunk := rest[:min(len(rest), setElementsPerMessage)]
		if err := r.c.SetAddElements(set, chunk); err != nil {
			r.err = err
			return
		}
		rest = rest[len(chunk):]
	}
}

// lookupVerdict jumps (or accepts) as the map says for the link in meta key; a link the
// map lacks goes on to the next rule.
func lookupVerdict(key expr.MetaKey, m *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
	}
}

// matchInterfaceLink matches packets coming in (iifname) or going out (oifname) through
// any interface's link.
func matchInterfaceLink(key expr.MetaKey) []expr.Any { return matchIfnamePrefix(key, eniLinkPrefix) }

// matchKnownConnection matches packets of connections conntrack already knows
// (established, and related ones such as the ICMP errors they cause).
func matchKnownConnection() []expr.Any {
	return matchCtState(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED)
}

func verdict(kind expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: kind}} }

func jumpTo(chain string) *expr.Verdict { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

func gotoChain(chain string) *expr.Verdict {
	return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}
}

func goTo(chain string) []expr.Any { return []expr.Any{gotoChain(chain)} }

// ipv4Prefixes keeps the IPv4 prefixes (the dataplane carries IPv4 only), masked.
func ipv4Prefixes(in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range in {
		if p.IsValid() && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}
