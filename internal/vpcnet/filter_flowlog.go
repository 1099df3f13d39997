package vpcnet

import (
	"maps"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Flow-log hand-off: a packet is logged (NFLOG group flowLogGroup, prefix "ACCEPT eni-…"
// or "REJECT eni-…") for each flow-logged interface whose link it leaves or enters. The
// flowlog chain, last in the forward hook, logs what every other chain accepted; the
// refusal chains log what they drop for the side that refused it. Interfaces without a
// flow log cost one map lookup that finds nothing.

// flowLogCoverage maps the links of the interfaces a flow log covers, per action, to
// their interface IDs.
type flowLogCoverage struct {
	accept, reject map[string]string
}

func newFlowLogCoverage(plan *filterPlan) flowLogCoverage {
	cov := flowLogCoverage{accept: map[string]string{}, reject: map[string]string{}}
	if plan.policy == nil {
		return cov
	}
	for _, iface := range plan.interfaces {
		for _, fl := range plan.policy.FlowLogs {
			if fl.ResourceID != iface.ID && fl.ResourceID != iface.SubnetID && fl.ResourceID != plan.policy.ID {
				continue
			}
			if fl.TrafficType == netpolicy.TrafficAccept || fl.TrafficType == netpolicy.TrafficAll {
				cov.accept[iface.link] = iface.ID
			}
			if fl.TrafficType == netpolicy.TrafficReject || fl.TrafficType == netpolicy.TrafficAll {
				cov.reject[iface.link] = iface.ID
			}
		}
	}
	return cov
}

// addRejectChains adds the flow-log chains and maps and the refusal chains that use them.
func (r *renderer) addRejectChains() error {
	r.logging = newFlowLogCoverage(r.plan)
	r.logAccept = r.logMap(mapFlowLogAccept, "log-accept-", netpolicy.TrafficAccept, r.logging.accept)
	rejectMap := r.logMap(mapFlowLogReject, "log-reject-", netpolicy.TrafficReject, r.logging.reject)
	loggingRejects := len(r.logging.reject) > 0

	out := r.chain(chainRejectOut)
	if loggingRejects {
		r.rule(out, lookupVerdict(expr.MetaKeyIIFNAME, rejectMap))
	}
	r.rule(out, verdict(expr.VerdictDrop))

	in := r.chain(chainRejectIn)
	if loggingRejects {
		r.rule(in, lookupVerdict(expr.MetaKeyOIFNAME, rejectMap))
	}
	r.rule(in, verdict(expr.VerdictDrop))

	// Refused by the destination's groups: by then the ACLs and the source's groups
	// have let it out of its source, which logs it as accepted (as on AWS).
	inSG := r.chain(chainRejectInSG)
	if loggingRejects {
		r.rule(inSG, lookupVerdict(expr.MetaKeyOIFNAME, rejectMap))
	}
	if len(r.logging.accept) > 0 {
		r.rule(inSG, lookupVerdict(expr.MetaKeyIIFNAME, r.logAccept))
	}
	r.rule(inSG, verdict(expr.VerdictDrop))
	return r.err
}

// logMap adds a chain per covered link that logs with action and the interface's ID, and
// the map from link to that chain.
func (r *renderer) logMap(name, chainPrefix, action string, covered map[string]string) *nftables.Set {
	verdicts := map[string]*expr.Verdict{}
	for _, link := range slices.Sorted(maps.Keys(covered)) {
		chain := r.chain(chainPrefix + link)
		r.rule(chain, []expr.Any{&expr.Log{
			Key:     1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_SNAPLEN,
			Group:   flowLogGroup,
			Snaplen: flowLogSnaplen,
			Data:    []byte(action + " " + covered[link]),
		}})
		verdicts[link] = jumpTo(chain.Name)
	}
	return r.verdictMap(name, verdicts)
}

// addFlowLogChain adds the last forward chain: it logs the accepted packets of covered
// interfaces, on the way out of the source's link and into the destination's, and those
// through covered NAT gateways. Without any, there is no chain: a base chain costs every
// forwarded packet a hook call.
func (r *renderer) addFlowLogChain() {
	if len(r.logging.accept) == 0 && r.natLogOut == nil {
		return
	}
	chain := r.baseChain(chainFlowLog, priorityFlowLog)
	if len(r.logging.accept) > 0 {
		r.rule(chain, lookupVerdict(expr.MetaKeyIIFNAME, r.logAccept))
		r.rule(chain, lookupVerdict(expr.MetaKeyOIFNAME, r.logAccept))
	}
	if r.natLogOut != nil {
		r.rule(chain, natOutLookup(r.natLogOut))
		r.rule(chain, natBackLookup(r.natLogBack))
	}
}
