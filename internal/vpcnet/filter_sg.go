package vpcnet

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// Security groups: one chain per group and direction holding its rules (a match accepts,
// which ends the base chain), one chain per distinct set of groups that jumps to each
// group's chain and refuses what none accepted, and a verdict map from each interface's
// link to its set's chain. Interfaces without groups (a NAT gateway's) map to accept.
// Links the policy does not know (or every link, before the first policy) are refused.

// addSecurityGroupChains adds sg-out (egress checks of the interface a new connection
// leaves) and sg-in (ingress checks of the interface it enters).
func (r *renderer) addSecurityGroupChains() error {
	for _, id := range slices.Sorted(maps.Keys(r.plan.groups)) {
		g := r.plan.groups[id]
		r.groupChain(groupChain(id, "out"), g.Egress, offsetDaddr)
		r.groupChain(groupChain(id, "in"), g.Ingress, offsetSaddr)
	}
	outVerdicts, inVerdicts := map[string]*expr.Verdict{}, map[string]*expr.Verdict{}
	setIndex := map[string]int{}
	for _, iface := range r.plan.interfaces {
		groups := slices.Compact(slices.Sorted(slices.Values(iface.SecurityGroups)))
		if len(groups) == 0 {
			outVerdicts[iface.link] = &expr.Verdict{Kind: expr.VerdictAccept}
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
	byLinkOut := r.verdictMap(mapSGOut, outVerdicts)
	byLinkIn := r.verdictMap(mapSGIn, inVerdicts)

	out := r.baseChain(chainSGOut, prioritySGOut)
	r.rule(out, matchKnownConnection(), verdict(expr.VerdictAccept))
	r.rule(out, lookupVerdict(expr.MetaKeyIIFNAME, byLinkOut))
	r.rule(out, matchInterfaceLink(expr.MetaKeyIIFNAME), goTo(chainRejectOut))

	in := r.baseChain(chainSGIn, prioritySGIn)
	r.rule(in, matchKnownConnection(), verdict(expr.VerdictAccept))
	r.rule(in, lookupVerdict(expr.MetaKeyOIFNAME, byLinkIn))
	r.rule(in, matchInterfaceLink(expr.MetaKeyOIFNAME), goTo(chainRejectInSG))
	return r.err
}

func groupChain(groupID, direction string) string { return groupID + "-" + direction }

func groupSetChain(n int, direction string) string { return fmt.Sprintf("groups%d-%s", n, direction) }

// groupChain adds a group's rules of one direction; peer is where the other end's
// address is (destination for egress, source for ingress).
func (r *renderer) groupChain(name string, rules []netpolicy.Rule, peer uint32) {
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
		r.rule(chain, matchIPv4(), proto, peers, verdict(expr.VerdictAccept))
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
