package vpcnet

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// Security groups: one chain per group and direction holding its rules, one chain per
// distinct set of groups that jumps to each group's chain and refuses what none allowed,
// and a verdict map from each interface's link to its set's chain. A match of an egress
// rule goes on to sg-in; a match of an ingress rule accepts, which ends the packet's pass
// through the forward chain. Interfaces without groups map to the same. Links the policy
// does not know (or every link, before the first policy) are refused.

// addSecurityGroupChains adds the group chains, the map sg_out (egress checks of the
// interface a new connection leaves, run by the forward chain) and the chain sg-in
// (ingress checks of the interface it enters).
func (r *renderer) addSecurityGroupChains() error {
	in := r.chain(chainSGIn) // first: the egress rules' matches go to it
	for _, id := range slices.Sorted(maps.Keys(r.plan.groups)) {
		g := r.plan.groups[id]
		r.groupChain(groupChain(id, "out"), g.Egress, offsetDaddr, gotoChain(chainSGIn))
		r.groupChain(groupChain(id, "in"), g.Ingress, offsetSaddr, &expr.Verdict{Kind: expr.VerdictAccept})
	}
	outVerdicts, inVerdicts := map[string]*expr.Verdict{}, map[string]*expr.Verdict{}
	setIndex := map[string]int{}
	for _, iface := range r.plan.interfaces {
		groups := slices.Compact(slices.Sorted(slices.Values(iface.SecurityGroups)))
		if len(groups) == 0 {
			outVerdicts[iface.link] = gotoChain(chainSGIn)
			inVerdicts[iface.link] = &expr.Verdict{Kind: expr.VerdictAccept}
			continue
		}
		key := strings.Join(groups, " ")
		n, ok := setIndex[key]
		if !ok {
			n = len(setIndex)
			setIndex[key] = n
			r.groupSetChain(groupSetChain(n, "out"), groups, "out", chainRejectOut)
			r.groupSetChain(groupSetChain(n, "in"), groups, "in", chainRejectInSG)
		}
		outVerdicts[iface.link] = jumpTo(groupSetChain(n, "out"))
		inVerdicts[iface.link] = jumpTo(groupSetChain(n, "in"))
	}
	r.sgOut = r.verdictMap(mapSGOut, outVerdicts)
	byLinkIn := r.verdictMap(mapSGIn, inVerdicts)
	r.rule(in, lookupVerdict(expr.MetaKeyOIFNAME, byLinkIn))
	r.rule(in, matchInterfaceLink(expr.MetaKeyOIFNAME), goTo(chainRejectInSG))
	r.rule(in, verdict(expr.VerdictAccept))
	return r.err
}

func groupChain(groupID, direction string) string { return groupID + "-" + direction }

func groupSetChain(n int, direction string) string { return fmt.Sprintf("groups%d-%s", n, direction) }

// groupChain adds a group's rules of one direction; peer is where the other end's
// address is (destination for egress, source for ingress), allowed what a match does.
func (r *renderer) groupChain(name string, rules []netpolicy.Rule, peer uint32, allowed *expr.Verdict) {
	chain := r.chain(name)
	for _, rule := range rules {
		proto, ok := protocolMatch(rule.Protocol, rule.FromPort, rule.ToPort)
		if !ok {
			continue
		}
		peers, ok := r.peerMatch(peer, rule.Peers)
		if !ok {
			continue
		}
		r.rule(chain, matchIPv4(), proto, peers, []expr.Any{allowed})
	}
}

// groupSetChain asks each group in turn; the first rule that matches accepts, and what
// none accepts goes to the refusal.
func (r *renderer) groupSetChain(name string, groups []string, direction, refusal string) {
	chain := r.chain(name)
	for _, g := range groups {
		r.rule(chain, []expr.Any{jumpTo(groupChain(g, direction))})
	}
	r.rule(chain, goTo(refusal))
}
