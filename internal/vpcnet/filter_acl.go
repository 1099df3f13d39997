package vpcnet

import (
	"cmp"
	"maps"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// Network ACLs: one chain per ACL and direction with its entries in rule-number order
// (allow returns, deny refuses, the final "*" refuses), and one chain per subnet for the
// packets leaving one of its interfaces: a packet to another interface of the same subnet
// is not checked; others go through the subnet's egress ACL and then the ingress ACL of
// the destination's subnet. Packets from outside every subnet (uplink, peerings) get only
// the destination's ingress ACL; packets to outside, only the source's egress ACL. There
// is no connection-tracking shortcut: every packet is checked, replies too. Packets
// through a NAT gateway also get its subnet's ACLs (filter_nat.go).

// noACL names the chains of a subnet whose ACL the policy does not describe: they refuse
// everything, as the "*" rule would.
const noACL = "acl-none"

func (r *renderer) addACLChains() error {
	for _, id := range slices.Sorted(maps.Keys(r.plan.acls)) {
		acl := r.plan.acls[id]
		r.aclChain(id+"-out", acl.Egress, offsetDaddr, chainRejectOut)
		r.aclChain(id+"-in", acl.Ingress, offsetSaddr, chainRejectIn)
	}
	r.aclChain(noACL+"-out", nil, offsetDaddr, chainRejectOut)
	r.aclChain(noACL+"-in", nil, offsetSaddr, chainRejectIn)

	bySubnet := map[string][]string{}
	for _, iface := range r.plan.interfaces {
		bySubnet[iface.SubnetID] = append(bySubnet[iface.SubnetID], iface.link)
	}
	r.subnetSets = map[string]*nftables.Set{}
	for _, subnet := range slices.Sorted(maps.Keys(bySubnet)) {
		same := &nftables.Set{Table: r.table, Name: "subnet-" + subnet, KeyType: nftables.TypeIFName,
			KeyByteOrder: binaryutil.NativeEndian}
		var elems []nftables.SetElement
		for _, link := range bySubnet[subnet] {
			elems = append(elems, nftables.SetElement{Key: ifnameKey(link)})
		}
		r.addSet(same, elems)
		r.subnetSets[subnet] = same
	}
	r.addNATChains()

	inVerdicts := map[string]*expr.Verdict{}
	for subnet, links := range bySubnet {
		for _, link := range links {
			inVerdicts[link] = jumpTo(r.subnetACL(subnet) + "-in")
		}
	}
	byLinkIn := r.verdictMap(mapACLIn, inVerdicts)

	outVerdicts := map[string]*expr.Verdict{}
	for _, subnet := range slices.Sorted(maps.Keys(bySubnet)) {
		name := "subnet-" + subnet + "-out"
		chain := r.chain(name)
		for _, link := range bySubnet[subnet] {
			outVerdicts[link] = gotoChain(name) // its returns go back to the forward chain
		}
		same := r.subnetSets[subnet]
		r.rule(chain, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: same.Name, SetID: same.ID},
			&expr.Verdict{Kind: expr.VerdictReturn},
		})
		r.rule(chain, []expr.Any{jumpTo(r.subnetACL(subnet) + "-out")})
		if r.natOut != nil {
			r.rule(chain, natOutLookup(r.natOut))
		}
		r.rule(chain, lookupVerdict(expr.MetaKeyOIFNAME, byLinkIn))
	}
	byLinkOut := r.verdictMap(mapACLOut, outVerdicts)

	base := r.chain(chainACL)
	r.rule(base, lookupVerdict(expr.MetaKeyIIFNAME, byLinkOut))
	if r.natBack != nil {
		r.rule(base, natBackLookup(r.natBack))
	}
	r.rule(base, lookupVerdict(expr.MetaKeyOIFNAME, byLinkIn))
	return r.err
}

// subnetACL is the ID of the subnet's ACL, or noACL.
func (r *renderer) subnetACL(subnetID string) string {
	if s, ok := r.plan.subnets[subnetID]; ok && r.plan.acls[s.NetworkACL] != nil {
		return s.NetworkACL
	}
	return noACL
}

// aclChain adds one direction of an ACL; peer is where the other end's address is.
func (r *renderer) aclChain(name string, entries []netpolicy.ACLEntry, peer uint32, refusal string) {
	chain := r.chain(name)
	ordered := slices.SortedStableFunc(slices.Values(entries), func(a, b netpolicy.ACLEntry) int {
		return cmp.Compare(a.RuleNumber, b.RuleNumber)
	})
	for _, e := range ordered {
		proto, ok := protocolMatch(e.Protocol, e.FromPort, e.ToPort)
		if !ok || !e.CIDR.IsValid() || !e.CIDR.Addr().Is4() {
			continue
		}
		var where []expr.Any
		if e.CIDR.Bits() > 0 {
			where = matchPrefix(peer, e.CIDR.Masked())
		}
		decision := goTo(refusal)
		if e.Allow {
			decision = verdict(expr.VerdictReturn)
		}
		r.rule(chain, matchIPv4(), proto, where, decision)
	}
	r.rule(chain, goTo(refusal))
}
