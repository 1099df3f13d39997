package vpcnet

import (
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// Names routing adds to a VPC table.
const (
	chainTransit    = "transit"
	setNoSrcDstChk  = "nocheck" // interface links with source/dest check off
	transitPriority = -20
)

// addRoutingChains adds what routing needs to the VPC's table:
//
//   - The destination half of the source/destination check (EC2's SourceDestCheck): an
//     interface receives only what is addressed to it. Interfaces with the check off
//     (appliances) and interfaces with delegated prefixes are exempt: their links go in
//     the set "nocheck". (The source half is the anti-spoofing set in nft.go, made from
//     the same policy.)
//   - The transit chain (forward, priority -20), which drops what AWS never forwards:
//     anything between the uplink and the VPC when no internet gateway is attached, and
//     anything that would make a peering transitive — from a peering link out by the
//     uplink, another peering link or the endpoint link, and the reverse. (A peering
//     cannot reach a NAT gateway: what comes in by a peering link follows the local
//     route only, and NAT gateways are next hops of route tables, natgw.go.)
//
// Before the VPC's first policy (after a restart, until it is pushed again) there is no
// policy to say which interfaces are exempt or whether an internet gateway is attached:
// only the name-based rules are written, and the routes the kernel kept decide the rest.
func addRoutingChains(c *nftables.Conn, table *nftables.Table, st vpcTableState) error {
	exempt := []nftables.SetElement{}
	if p := st.policy; p != nil {
		for _, iface := range p.Interfaces {
			if iface.Kind == netpolicy.InterfaceNATGateway {
				continue // no link
			}
			if !iface.SourceDestCheck || len(iface.Prefixes) > 0 {
				exempt = append(exempt, nftables.SetElement{Key: ifnameKey(eniLink(iface.ID))})
			}
		}
	}
	noCheck := &nftables.Set{Table: table, Name: setNoSrcDstChk, KeyType: nftables.TypeIFName}
	if err := c.AddSet(noCheck, exempt); err != nil {
		return err
	}
	addApplianceChains(c, table, st)

	transit := c.AddChain(&nftables.Chain{Name: chainTransit, Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(transitPriority)})
	drop := func(exprs ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: table, Chain: transit, Exprs: slices.Concat(slices.Concat(exprs...),
			[]expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})})
	}
	if st.policy != nil {
		// Destination check: out of an interface link only what is addressed to it.
		drop(matchIfnamePrefix(expr.MetaKeyOIFNAME, eniLinkPrefix), []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: noCheck.Name, SetID: noCheck.ID, Invert: true},
		}, matchIPv4(), []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: offsetDaddr, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: setInterfaceAddrs, Invert: true},
		})
		if st.policy.InternetGateway == "" {
			drop(matchIfname(expr.MetaKeyIIFNAME, routerUplink))
			drop(matchIfname(expr.MetaKeyOIFNAME, routerUplink))
		}
	}
	// Never transitive. Peering links are "p…", the endpoint link "vpce".
	beyond := [][]expr.Any{
		matchIfname(expr.MetaKeyOIFNAME, routerUplink),
		matchIfnamePrefix(expr.MetaKeyOIFNAME, peeringLinkPrefix),
		matchIfname(expr.MetaKeyOIFNAME, routerEndpointLink),
	}
	for _, out := range beyond {
		drop(matchIfnamePrefix(expr.MetaKeyIIFNAME, peeringLinkPrefix), out)
	}
	for _, in := range [][]expr.Any{
		matchIfname(expr.MetaKeyIIFNAME, routerUplink),
		matchIfname(expr.MetaKeyIIFNAME, routerEndpointLink),
	} {
		drop(in, matchIfnamePrefix(expr.MetaKeyOIFNAME, peeringLinkPrefix))
	}
	// The services' side answers; it never reaches the internet or another VPC.
	drop(matchIfname(expr.MetaKeyIIFNAME, routerEndpointLink), matchIfname(expr.MetaKeyOIFNAME, routerUplink))
	drop(matchIfname(expr.MetaKeyIIFNAME, routerUplink), matchIfname(expr.MetaKeyOIFNAME, routerEndpointLink))
	return nil
}

// matchIfnamePrefix matches a link name that starts with prefix.
func matchIfnamePrefix(key expr.MetaKey, prefix string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(prefix)},
	}
}
