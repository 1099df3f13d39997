package ipam

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"

	"strato/internal/awserr"
)

// Subnet CIDR reservation types (CreateSubnetCidrReservation ReservationType).
const (
	ReservationPrefix   = "prefix"   // AWS assigns /28 prefixes from it
	ReservationExplicit = "explicit" // only addresses the user names are assigned from it
)

// PrefixLen is the length of the IPv4 prefixes delegated to network interfaces.
const PrefixLen = 28

const prefixAddrs = 1 << (32 - PrefixLen) // 16

// Reservation is one subnet CIDR reservation.
type Reservation struct {
	CIDR netip.Prefix `json:"cidr"`
	Type string       `json:"type"`
}

// Pool is the private IPv4 address state of one subnet: addresses assigned one by
// one, /28 prefixes delegated to network interfaces, and CIDR reservations. It is
// a value for the control plane to keep in the subnet's document (it marshals to
// compact JSON) and is not safe for concurrent use. Every method is O(subnet/64)
// at worst, so a /16 stays fast however full it is.
type Pool struct {
	subnet   netip.Prefix
	base     uint32
	size     uint64
	single   bitset // addresses assigned one by one
	used     bitset // single | prefixes | the five reserved addresses
	resv     bitset // addresses inside any CIDR reservation
	prefixes map[uint32]bool
	reserves []Reservation // sorted by address
	inUse    int           // addresses of single and prefixes
}

// NewPool returns the empty pool of an IPv4 subnet of /16 to /28 (as returned by
// ParseSubnetCIDR); it panics on any other prefix, which is a programming error.
func NewPool(subnet netip.Prefix) *Pool {
	if !subnet.IsValid() || !subnet.Addr().Is4() || !sizeOK(subnet) {
		panic(fmt.Sprintf("ipam: NewPool of %v: want an IPv4 prefix of /%d to /%d", subnet, MinPrefixLen, MaxPrefixLen))
	}
	subnet = subnet.Masked()
	size := prefixSize(subnet)
	p := &Pool{
		subnet:   subnet,
		base:     v4(subnet.Addr()),
		size:     size,
		single:   newBitset(size),
		used:     newBitset(size),
		resv:     newBitset(size),
		prefixes: map[uint32]bool{},
	}
	for _, off := range []uint32{0, 1, 2, 3, uint32(size - 1)} {
		p.used.set(off)
	}
	return p
}

// Subnet is the subnet's CIDR block.
func (p *Pool) Subnet() netip.Prefix { return p.subnet }

// Available is the subnet's AvailableIpAddressCount: its size less the five
// reserved addresses, the addresses assigned and every address of the delegated
// prefixes. CIDR reservations do not lower it: their free addresses can still be
// assigned (explicitly, or as prefixes).
func (p *Pool) Available() int { return int(p.size) - 5 - p.inUse }

// Assigned is how many addresses are handed out, singly or inside prefixes.
func (p *Pool) Assigned() int { return p.inUse }

// Prefixes returns the delegated /28 prefixes in address order.
func (p *Pool) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(p.prefixes))
	for off := range p.prefixes {
		out = append(out, netip.PrefixFrom(addr4(p.base+off), PrefixLen))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// Reservations returns the subnet CIDR reservations in address order.
func (p *Pool) Reservations() []Reservation { return slices.Clone(p.reserves) }

// InUse reports whether addr is assigned on its own or inside a delegated prefix.
func (p *Pool) InUse(addr netip.Addr) bool {
	off, ok := p.offset(addr)
	return ok && !p.isReserved(off) && p.used.has(off)
}

func (p *Pool) offset(addr netip.Addr) (uint32, bool) {
	if !addr.Is4() || !p.subnet.Contains(addr) {
		return 0, false
	}
	return v4(addr) - p.base, true
}

func (p *Pool) isReserved(off uint32) bool { return off < 4 || uint64(off) == p.size-1 }

// checkAddr validates an address the caller names (CreateNetworkInterface
// PrivateIpAddress, AssignPrivateIpAddresses PrivateIpAddress.N).
func (p *Pool) checkAddr(addr netip.Addr) (uint32, error) {
	off, ok := p.offset(addr)
	if !ok {
		return 0, awserr.Errorf(CodeInvalidParameterValue, "Address %s does not fall within the subnet's address range", addr)
	}
	if p.isReserved(off) {
		return 0, awserr.Errorf(CodeInvalidParameterValue, "Address %s is in subnet's reserved address range", addr)
	}
	return off, nil
}

// Take assigns a chosen address: it must lie in the subnet (InvalidParameterValue),
// not be one of the five reserved addresses (InvalidParameterValue) and not be in
// use, alone or inside a delegated prefix (InvalidIPAddress.InUse). Addresses in
// CIDR reservations may be taken explicitly.
func (p *Pool) Take(addr netip.Addr) error {
	off, err := p.checkAddr(addr)
	if err != nil {
		return err
	}
	if p.used.has(off) {
		return awserr.Errorf(CodeInvalidIPAddressInUse, "Address %s is in use.", addr)
	}
	p.single.set(off)
	p.used.set(off)
	p.inUse++
	return nil
}

// TakeAny assigns the lowest free address outside every CIDR reservation, or
// fails with InsufficientFreeAddressesInSubnet.
func (p *Pool) TakeAny() (netip.Addr, error) {
	for w := range p.used {
		free := ^(p.used[w] | p.resv[w])
		if free == 0 {
			continue
		}
		off := uint32(w)*64 + uint32(bits.TrailingZeros64(free))
		if uint64(off) >= p.size { // only in the padding of the last word
			break
		}
		p.single.set(off)
		p.used.set(off)
		p.inUse++
		return addr4(p.base + off), nil
	}
	return netip.Addr{}, awserr.New(CodeInsufficientFreeAddresses,
		"There are not enough free addresses in the subnet to satisfy the request.")
}

// Release frees an address assigned with Take or TakeAny. An address that is not
// assigned on its own (free, reserved, or part of a delegated prefix) is
// InvalidParameterValue.
func (p *Pool) Release(addr netip.Addr) error {
	off, err := p.checkAddr(addr)
	if err != nil {
		return err
	}
	if !p.single.has(off) {
		return awserr.Errorf(CodeInvalidParameterValue, "Address %s is not assigned in the subnet.", addr)
	}
	p.single.clear(off)
	p.used.clear(off)
	p.inUse--
	return nil
}

// checkPrefix validates a /28 the caller names (Ipv4Prefix.N).
func (p *Pool) checkPrefix(pfx netip.Prefix) (uint32, error) {
	if !pfx.IsValid() || !pfx.Addr().Is4() || pfx.Bits() != PrefixLen || pfx.Masked() != pfx {
		return 0, awserr.Errorf(CodeInvalidParameterValue,
			"Value (%s) for parameter ipv4Prefix is invalid. The prefix must be an aligned IPv4 /%d.", pfx, PrefixLen)
	}
	if !contains(p.subnet, pfx) {
		return 0, awserr.Errorf(CodeInvalidParameterValue,
			"Prefix %s does not fall within the subnet's address range", pfx)
	}
	return v4(pfx.Addr()) - p.base, nil
}

func (p *Pool) takePrefixAt(off uint32) netip.Prefix {
	p.used.setRange(off, off+prefixAddrs, true)
	p.prefixes[off] = true
	p.inUse += prefixAddrs
	return netip.PrefixFrom(addr4(p.base+off), PrefixLen)
}

// TakePrefix delegates a chosen /28: aligned and inside the subnet
// (InvalidParameterValue), and every one of its 16 addresses free, which excludes
// the /28s holding the subnet's reserved addresses (InvalidIPAddress.InUse).
func (p *Pool) TakePrefix(pfx netip.Prefix) error {
	off, err := p.checkPrefix(pfx)
	if err != nil {
		return err
	}
	if p.used.anyInRange(off, prefixAddrs) {
		return awserr.Errorf(CodeInvalidIPAddressInUse,
			"Prefix %s overlaps an address or prefix in use or reserved in the subnet.", pfx)
	}
	p.takePrefixAt(off)
	return nil
}

// TakeAnyPrefix delegates a free aligned /28: first from the prefix-type CIDR
// reservations (lowest first), then from the addresses outside every reservation
// (lowest first). None: InsufficientCidrBlocks, however many single addresses are
// free.
func (p *Pool) TakeAnyPrefix() (netip.Prefix, error) {
	for _, r := range p.reserves {
		if r.Type != ReservationPrefix || r.CIDR.Bits() > PrefixLen {
			continue
		}
		from := v4(r.CIDR.Addr()) - p.base
		for off := from; uint64(off) < uint64(from)+prefixSize(r.CIDR); off += prefixAddrs {
			if !p.used.anyInRange(off, prefixAddrs) {
				return p.takePrefixAt(off), nil
			}
		}
	}
	for off := uint32(0); uint64(off) < p.size; off += prefixAddrs {
		if p.used.anyInRange(off, prefixAddrs) || p.resv.anyInRange(off, prefixAddrs) {
			continue
		}
		return p.takePrefixAt(off), nil
	}
	return netip.Prefix{}, awserr.New(CodeInsufficientCidrBlocks,
		"The specified subnet does not have enough free cidr blocks to satisfy the request.")
}

// ReleasePrefix frees a delegated /28 (InvalidParameterValue if it is not one).
func (p *Pool) ReleasePrefix(pfx netip.Prefix) error {
	off, err := p.checkPrefix(pfx)
	if err != nil {
		return err
	}
	if !p.prefixes[off] {
		return awserr.Errorf(CodeInvalidParameterValue, "Prefix %s is not assigned in the subnet.", pfx)
	}
	delete(p.prefixes, off)
	p.used.setRange(off, off+prefixAddrs, false)
	// The reserved addresses never lie inside a delegated prefix, so nothing to restore.
	p.inUse -= prefixAddrs
	return nil
}

// Reserve adds a subnet CIDR reservation of type "prefix" or "explicit". The CIDR
// must be an IPv4 block inside the subnet and must not overlap another
// reservation; addresses already in use may lie inside it (AWS does not unassign
// them). Any violation is InvalidParameterValue.
func (p *Pool) Reserve(cidr netip.Prefix, kind string) error {
	if kind != ReservationPrefix && kind != ReservationExplicit {
		return awserr.Errorf(CodeInvalidParameterValue,
			"Value (%s) for parameter reservationType is invalid. Valid values: prefix, explicit", kind)
	}
	if !cidr.IsValid() || !cidr.Addr().Is4() {
		return awserr.Errorf(CodeInvalidParameterValue,
			"Value (%s) for parameter cidr is invalid. This is not a valid CIDR block.", cidr)
	}
	cidr = cidr.Masked()
	if !contains(p.subnet, cidr) {
		return awserr.Errorf(CodeInvalidParameterValue,
			"The CIDR '%s' does not fall within the subnet's address range", cidr)
	}
	for _, r := range p.reserves {
		if r.CIDR.Overlaps(cidr) {
			return awserr.Errorf(CodeInvalidParameterValue,
				"The CIDR '%s' conflicts with the subnet CIDR reservation '%s'", cidr, r.CIDR)
		}
	}
	off := v4(cidr.Addr()) - p.base
	p.resv.setRange(off, off+uint32(prefixSize(cidr)), true)
	p.reserves = append(p.reserves, Reservation{CIDR: cidr, Type: kind})
	slices.SortFunc(p.reserves, func(a, b Reservation) int { return a.CIDR.Addr().Compare(b.CIDR.Addr()) })
	return nil
}

// Unreserve deletes the reservation of exactly cidr; addresses in use inside it
// stay assigned.
func (p *Pool) Unreserve(cidr netip.Prefix) error {
	i := slices.IndexFunc(p.reserves, func(r Reservation) bool { return r.CIDR == cidr.Masked() })
	if i < 0 {
		return awserr.Errorf(CodeInvalidParameterValue, "The CIDR '%s' is not reserved in the subnet", cidr)
	}
	r := p.reserves[i]
	off := v4(r.CIDR.Addr()) - p.base
	p.resv.setRange(off, off+uint32(prefixSize(r.CIDR)), false)
	p.reserves = slices.Delete(p.reserves, i, i+1)
	return nil
}

// poolJSON is the stored form of a Pool. Addresses are written as ranges
// ("10.0.1.4-10.0.1.9", or one address alone) or, when that would be longer, as a
// base64 bitmap over the subnet (bit i = subnet address + i).
type poolJSON struct {
	Subnet       netip.Prefix   `json:"subnet"`
	Addresses    []string       `json:"addresses,omitempty"`
	AddressBits  string         `json:"addressBits,omitempty"`
	Prefixes     []netip.Prefix `json:"prefixes,omitempty"`
	Reservations []Reservation  `json:"reservations,omitempty"`
}

// MarshalJSON writes the pool compactly.
func (p *Pool) MarshalJSON() ([]byte, error) {
	ranges, bitmap := p.single.encode(p.base, p.size)
	return json.Marshal(poolJSON{
		Subnet:       p.subnet,
		Addresses:    ranges,
		AddressBits:  bitmap,
		Prefixes:     p.Prefixes(),
		Reservations: p.reserves,
	})
}

// UnmarshalJSON restores a pool written by MarshalJSON, checking its consistency.
func (p *Pool) UnmarshalJSON(data []byte) error {
	var doc poolJSON
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if !doc.Subnet.IsValid() || !doc.Subnet.Addr().Is4() || !sizeOK(doc.Subnet) {
		return fmt.Errorf("ipam: stored pool has invalid subnet %v", doc.Subnet)
	}
	q := NewPool(doc.Subnet)
	for _, r := range doc.Reservations {
		if err := q.Reserve(r.CIDR, r.Type); err != nil {
			return fmt.Errorf("ipam: stored reservation %v: %w", r.CIDR, err)
		}
	}
	for _, pfx := range doc.Prefixes {
		if err := q.TakePrefix(pfx); err != nil {
			return fmt.Errorf("ipam: stored prefix %v: %w", pfx, err)
		}
	}
	err := decodeSet(doc.Addresses, doc.AddressBits, q.base, q.size, func(off uint32) error {
		if err := q.Take(addr4(q.base + off)); err != nil {
			return fmt.Errorf("ipam: stored address %v: %w", addr4(q.base+off), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*p = *q
	return nil
}
