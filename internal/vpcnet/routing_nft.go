package vpcnet

import (
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Names routing adds to a VPC table.
const (
	chainTransit     = "transit"
	setNoSrcDstChk   = "nocheck"    // interface links with source/dest check off
	setNonTransitive = "nontransit" // (in link, out link) pairs never forwarded between
)

// addRoutingChains adds what routing needs to the VPC's table:
//
//   - The destination half of the source/destination check (EC2's SourceDestCheck): an
//     interface receives only what is addressed to it. Interfaces with the check off
//     (appliances) and interfaces with delegated prefixes are exempt: their links go in
//     the set "nocheck". (The source half is the anti-spoofing set in nft.go, made from
//     the same policy.)
//   - The transit chain (a stage of the filter's forward chain), which drops what AWS
//     never forwards: anything between the uplink and the VPC when no internet gateway
//     is attached, and anything that would make a peering transitive — from a peering
//     link out by the uplink, another peering link or the endpoint link, and the
//     reverse. (A peering
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

	transit := c.AddChain(&nftables.Chain{Name: chainTransit, Table: table})
	drop := func(exprs ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: table, Chain: transit, Exprs: slices.Concat(slices.Concat(exprs...),
			[]expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})})
	}
	if st.policy != nil {
		// Destination check: out of an interface link only what is addressed to it. The
		// link's name is loaded once and kept in register 1 for both lookups: every
		// forwarded packet runs this chain.
		drop(matchIPv4(), matchIfnamePrefix(expr.MetaKeyOIFNAME, eniLinkPrefix), []expr.Any{
			&expr.Lookup{SourceRegister: 1, SetName: noCheck.Name, SetID: noCheck.ID, Invert: true},
			&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: offsetDaddr, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: setInterfaceAddrs, Invert: true},
		})
		if st.policy.InternetGateway == "" {
			drop(matchIfname(expr.MetaKeyIIFNAME, routerUplink))
			drop(matchIfname(expr.MetaKeyOIFNAME, routerUplink))
		}
	}
	// Never transitive: one lookup of (in link, out link) in a set of pairs, rather than a
	// rule per pair that every packet would run through.
	nonTransitive := &nftables.Set{Table: table, Name: setNonTransitive, Concatenation: true, Interval: true,
		KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIFName)}
	if err := c.AddSet(nonTransitive, nonTransitivePairs()); err != nil {
		return err
	}
	// No pair has an interface link ("e…") at either end, and most packets come from
	// or go to one: two byte compares spare them the lookup.
	drop([]expr.Any{
		// iifname . oifname: the names in registers 1 and 2 (16 bytes each).
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(eniLinkPrefix)},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 2},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 2, Data: []byte(eniLinkPrefix)},
		&expr.Lookup{SourceRegister: 1, SetName: nonTransitive.Name, SetID: nonTransitive.ID},
	})
	return nil
}

// nonTransitivePairs are the (in link, out link) pairs the router never forwards between:
// a peering link ("p…") and the uplink, another peering link or the endpoint link
// ("vpce"), both ways; and the endpoint link and the uplink, both ways (the services'
// side answers; it never reaches the internet or another VPC).
func nonTransitivePairs() []nftables.SetElement {
	peering := [2][]byte{ifnameKey(peeringLinkPrefix), ifnameKey(peeringLinkPrefix)}
	for i := len(peeringLinkPrefix); i < unix.IFNAMSIZ; i++ {
		peering[1][i] = 0xff
	}
	exact := func(name string) [2][]byte { return [2][]byte{ifnameKey(name), ifnameKey(name)} }
	uplink, endpoint := exact(routerUplink), exact(routerEndpointLink)
	var elems []nftables.SetElement
	for _, pair := range [][2][2][]byte{
		{peering, uplink}, {peering, peering}, {peering, endpoint},
		{uplink, peering}, {endpoint, peering},
		{endpoint, uplink}, {uplink, endpoint},
	} {
		elems = append(elems, nftables.SetElement{
			Key:    slices.Concat(pair[0][0], pair[1][0]),
			KeyEnd: slices.Concat(pair[0][1], pair[1][1]),
		})
	}
	return elems
}

// matchIfnamePrefix matches a link name that starts with prefix.
func matchIfnamePrefix(key expr.MetaKey, prefix string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(prefix)},
	}
}
