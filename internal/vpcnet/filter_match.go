package vpcnet

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"strato/internal/netpolicy"
)

// Matches shared by security-group rules and network-ACL entries.

// allPorts says whether a TCP/UDP port range covers every port.
func allPorts(from, to int) bool { return from <= 0 && (to < 0 || to >= math.MaxUint16) }

// protocolMatch matches a protocol and, for TCP and UDP, a destination port range; for
// ICMP, a type and code (-1 any). ok is false when nothing can match.
func protocolMatch(protocol, from, to int) (match []expr.Any, ok bool) {
	if protocol == netpolicy.ProtocolAll {
		return nil, true
	}
	if protocol < 0 || protocol > math.MaxUint8 {
		return nil, false
	}
	match = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(protocol)}},
	}
	switch protocol {
	case netpolicy.ProtocolTCP, netpolicy.ProtocolUDP:
		if allPorts(from, to) {
			return match, true
		}
		from, to = max(from, 0), min(to, math.MaxUint16)
		if to < from {
			return nil, false
		}
		match = append(match, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
		if from == to {
			return append(match, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(from)}), true
		}
		return append(match, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(from), ToData: be16(to)}), true
	case netpolicy.ProtocolICMP:
		for offset, value := range []int{from, to} { // type, then code
			if value >= 0 && value <= math.MaxUint8 {
				match = append(match,
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: uint32(offset), Len: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(value)}})
			}
		}
	}
	return match, true
}

// peerMatch matches the address at offset (source or destination) against peers: nothing
// to match when one of them is 0.0.0.0/0, one comparison for a single prefix, a named
// interval set otherwise. ok is false when no IPv4 peer is left.
func (r *renderer) peerMatch(offset uint32, peers []netip.Prefix) (match []expr.Any, ok bool) {
	v4 := ipv4Prefixes(peers)
	switch {
	case len(v4) == 0:
		return nil, false
	case slices.ContainsFunc(v4, func(p netip.Prefix) bool { return p.Bits() == 0 }):
		return nil, true
	case len(v4) == 1:
		return matchPrefix(offset, v4[0]), true
	}
	r.sets++
	set := &nftables.Set{Table: r.table, Name: fmt.Sprintf("peers%d", r.sets), KeyType: nftables.TypeIPAddr, Interval: true}
	r.addSet(set, intervalElements(v4))
	return []expr.Any{loadAddr(offset), &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID}}, true
}

// addressRange is an inclusive range of IPv4 addresses as numbers.
type addressRange struct{ first, last uint32 }

// mergedRanges turns IPv4 prefixes into sorted, disjoint, non-adjacent ranges.
func mergedRanges(prefixes []netip.Prefix) []addressRange {
	var ranges []addressRange
	for _, p := range prefixes {
		first := binary.BigEndian.Uint32(p.Masked().Addr().AsSlice())
		ranges = append(ranges, addressRange{first, first | uint32(uint64(1)<<(32-p.Bits())-1)})
	}
	slices.SortFunc(ranges, func(a, b addressRange) int {
		return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(a.last, b.last))
	})
	var out []addressRange
	for _, rg := range ranges {
		if n := len(out); n > 0 && (rg.first <= out[n-1].last || rg.first == out[n-1].last+1) {
			out[n-1].last = max(out[n-1].last, rg.last)
			continue
		}
		out = append(out, rg)
	}
	return out
}

// intervalElements are the elements of an IPv4 interval set holding prefixes: each range
// as its start and, unless it runs to the last address, an interval end one past it;
// the set starts with an interval end at 0.0.0.0 unless a range starts there (as nft
// writes them).
func intervalElements(prefixes []netip.Prefix) []nftables.SetElement {
	ranges := mergedRanges(prefixes)
	var elems []nftables.SetElement
	if len(ranges) > 0 && ranges[0].first != 0 {
		elems = append(elems, nftables.SetElement{Key: be32(0), IntervalEnd: true})
	}
	for _, rg := range ranges {
		elems = append(elems, nftables.SetElement{Key: be32(rg.first)})
		if rg.last != math.MaxUint32 {
			elems = append(elems, nftables.SetElement{Key: be32(rg.last + 1), IntervalEnd: true})
		}
	}
	return elems
}

func be16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func nativeUint32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// matchCtState matches packets whose conntrack state is one of bits.
func matchCtState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		// conntrack's state is in host order
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: nativeUint32(bits), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}
