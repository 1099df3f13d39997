package vpcnet

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// A packet routed to an appliance (a route whose target is an interface) crosses the
// router twice: from its sender to the appliance, then, unchanged, from the appliance on
// to its destination. Conntrack would take the second pass for the first one again, with
// the NAT decision of the first pass (none, since it did not leave by the uplink), so an
// instance's public address would never be put on it. The first pass is therefore not
// tracked: the chain "appliance" (prerouting, just after the anti-spoofing chain, before
// conntrack) finds, for each interface whose route table has a route to a plugged
// appliance, the route the kernel will choose — longest prefix first, the VPC's CIDRs
// being local — and marks the packet notrack when that route leads to an appliance.
// Replies come back to the sender directly (its public address is mapped at the uplink),
// as they do on AWS without ingress routing.

const (
	chainAppliance    = "appliance"
	appliancePriority = -299 // after antispoof (raw, -300), before conntrack (-200)
)

func addApplianceChains(c *nftables.Conn, table *nftables.Table, st vpcTableState) {
	policy := st.policy
	if policy == nil {
		return
	}
	tables := kernelTables(policy.RouteTables)
	var base *nftables.Chain
	for _, rt := range policy.RouteTables {
		routes := applianceRoutes(policy, rt, st.interfaces)
		if routes == nil {
			continue
		}
		if base == nil {
			base = c.AddChain(&nftables.Chain{Name: chainAppliance, Table: table, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(appliancePriority)})
		}
		chain := c.AddChain(&nftables.Chain{Name: fmt.Sprintf("rtb-%d", tables[rt.ID]), Table: table})
		for _, cidr := range policy.CIDRs {
			if cidr.Addr().Is4() {
				c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: slices.Concat(matchPrefix(offsetDaddr, cidr),
					[]expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}})})
			}
		}
		for _, r := range routes {
			last := []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}
			if r.appliance {
				last = []expr.Any{&expr.Notrack{}, &expr.Verdict{Kind: expr.VerdictAccept}}
			}
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: slices.Concat(matchPrefix(offsetDaddr, r.dst.dst), last)})
		}
		for _, iface := range policy.Interfaces {
			if s, ok := subnetOf(policy, iface.SubnetID); !ok || s.RouteTable != rt.ID {
				continue
			}
			c.AddRule(&nftables.Rule{Table: table, Chain: base, Exprs: slices.Concat(
				matchIfname(expr.MetaKeyIIFNAME, eniLink(iface.ID)), matchIPv4(),
				[]expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain.Name}})})
		}
	}
}

type applianceRoute struct {
	dst       kernelRoute
	appliance bool
}

// applianceRoutes are a route table's routes, most specific first, each saying whether it
// leads to a plugged interface; nil when none does.
func applianceRoutes(policy *netpolicy.VPC, rt netpolicy.RouteTable, plugged map[string][]netip.Addr) []applianceRoute {
	var out []applianceRoute
	leads := false
	seen := map[string]bool{}
	for _, r := range rt.Routes {
		dst := r.Destination.Masked()
		if !dst.Addr().Is4() || seen[dst.String()] {
			continue
		}
		seen[dst.String()] = true
		ar := applianceRoute{dst: kernelRoute{dst: dst}}
		if r.Target == netpolicy.TargetInterface {
			if iface, ok := interfaceOf(policy, r.TargetID); ok && len(iface.Addresses) > 0 {
				_, ar.appliance = plugged[eniLink(iface.ID)]
			}
		}
		leads = leads || ar.appliance
		out = append(out, ar)
	}
	if !leads {
		return nil
	}
	slices.SortStableFunc(out, func(a, b applianceRoute) int { return cmp.Compare(b.dst.dst.Bits(), a.dst.dst.Bits()) })
	return out
}
