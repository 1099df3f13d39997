package ipam

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"

	"strato/internal/awserr"
)

// DefaultPublicPrefix is the default public pool: 198.18.0.0/15, reserved for
// network benchmarking (RFC 2544) and routed nowhere on the internet.
var DefaultPublicPrefix = netip.MustParsePrefix("198.18.0.0/15")

// maxPublicAddrs bounds the public pool (a 2 MiB bitmap in all).
const maxPublicAddrs = 1 << 24

// PublicPool is the set of public IPv4 addresses strato hands out as Elastic IPs and
// auto-assigned public addresses. It spans one or more prefixes and never hands out
// the network or broadcast address of any of them. Like Pool it is a value kept as
// JSON by the control plane and not safe for concurrent use.
type PublicPool struct {
	blocks []publicBlock // sorted by address
	inUse  int
	total  int
}

type publicBlock struct {
	prefix netip.Prefix
	base   uint32
	size   uint64
	used   bitset // bit set: taken; network and broadcast are always set
}

// NewPublicPool returns an empty pool over prefixes (DefaultPublicPrefix when none
// are given). They must be IPv4, /30 or smaller in length, disjoint, and hold at
// most 2^24 addresses together.
func NewPublicPool(prefixes ...netip.Prefix) (*PublicPool, error) {
	if len(prefixes) == 0 {
		prefixes = []netip.Prefix{DefaultPublicPrefix}
	}
	pp := &PublicPool{}
	var sum uint64
	for _, pfx := range prefixes {
		if !pfx.IsValid() || !pfx.Addr().Is4() || pfx.Bits() > 30 {
			return nil, fmt.Errorf("ipam: public pool prefix %v: want an IPv4 prefix of /30 or larger", pfx)
		}
		pfx = pfx.Masked()
		for _, b := range pp.blocks {
			if b.prefix.Overlaps(pfx) {
				return nil, fmt.Errorf("ipam: public pool prefixes %v and %v overlap", b.prefix, pfx)
			}
		}
		size := prefixSize(pfx)
		if sum += size; sum > maxPublicAddrs {
			return nil, fmt.Errorf("ipam: public pool holds more than %d addresses", maxPublicAddrs)
		}
		b := publicBlock{prefix: pfx, base: v4(pfx.Addr()), size: size, used: newBitset(size)}
		b.used.set(0)
		b.used.set(uint32(size - 1))
		pp.blocks = append(pp.blocks, b)
		pp.total += int(size) - 2
	}
	slices.SortFunc(pp.blocks, func(a, b publicBlock) int { return a.prefix.Addr().Compare(b.prefix.Addr()) })
	return pp, nil
}

// Prefixes returns the pool's prefixes in address order.
func (pp *PublicPool) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, len(pp.blocks))
	for i, b := range pp.blocks {
		out[i] = b.prefix
	}
	return out
}

// Available is the number of addresses that can still be handed out.
func (pp *PublicPool) Available() int { return pp.total - pp.inUse }

// InUse reports whether addr is handed out.
func (pp *PublicPool) InUse(addr netip.Addr) bool {
	b, off, ok := pp.locate(addr)
	return ok && off != 0 && uint64(off) != b.size-1 && b.used.has(off)
}

func (pp *PublicPool) locate(addr netip.Addr) (*publicBlock, uint32, bool) {
	if !addr.Is4() {
		return nil, 0, false
	}
	for i := range pp.blocks {
		b := &pp.blocks[i]
		if b.prefix.Contains(addr) {
			return b, v4(addr) - b.base, true
		}
	}
	return nil, 0, false
}

// checkAddr finds a usable pool address (not a network or broadcast address).
func (pp *PublicPool) checkAddr(addr netip.Addr) (*publicBlock, uint32, error) {
	b, off, ok := pp.locate(addr)
	if !ok || off == 0 || uint64(off) == b.size-1 {
		return nil, 0, awserr.Errorf(CodeInvalidParameterValue,
			"Address %s is not in the public address pool.", addr)
	}
	return b, off, nil
}

// Take hands out a chosen address: it must be a usable address of the pool
// (InvalidParameterValue) and free (InvalidIPAddress.InUse).
func (pp *PublicPool) Take(addr netip.Addr) error {
	b, off, err := pp.checkAddr(addr)
	if err != nil {
		return err
	}
	if b.used.has(off) {
		return awserr.Errorf(CodeInvalidIPAddressInUse, "Address %s is in use.", addr)
	}
	b.used.set(off)
	pp.inUse++
	return nil
}

// TakeAny hands out the lowest free address, or fails with
// InsufficientAddressCapacity when the pool is exhausted.
func (pp *PublicPool) TakeAny() (netip.Addr, error) {
	for i := range pp.blocks {
		b := &pp.blocks[i]
		for w, word := range b.used {
			free := ^word
			if free == 0 {
				continue
			}
			off := uint32(w)*64 + uint32(bits.TrailingZeros64(free))
			if uint64(off) >= b.size {
				break
			}
			b.used.set(off)
			pp.inUse++
			return addr4(b.base + off), nil
		}
	}
	return netip.Addr{}, awserr.New(CodeInsufficientAddressCap,
		"There are not enough free public addresses to satisfy the request.")
}

// Release returns an address to the pool; one that is not handed out is
// InvalidAddress.NotFound.
func (pp *PublicPool) Release(addr netip.Addr) error {
	b, off, err := pp.checkAddr(addr)
	if err != nil || !b.used.has(off) {
		return awserr.Errorf(CodeInvalidAddressNotFound, "Address '%s' not found.", addr)
	}
	b.used.clear(off)
	pp.inUse--
	return nil
}

// publicJSON is the stored form of a PublicPool; see poolJSON for the address
// encodings.
type publicJSON struct {
	Blocks []publicBlockJSON `json:"blocks"`
}

type publicBlockJSON struct {
	Prefix      netip.Prefix `json:"prefix"`
	Addresses   []string     `json:"addresses,omitempty"`
	AddressBits string       `json:"addressBits,omitempty"`
}

// MarshalJSON writes the pool compactly.
func (pp *PublicPool) MarshalJSON() ([]byte, error) {
	doc := publicJSON{Blocks: make([]publicBlockJSON, len(pp.blocks))}
	for i, b := range pp.blocks {
		taken := slices.Clone(b.used)
		taken.clear(0)
		taken.clear(uint32(b.size - 1))
		ranges, bitmap := taken.encode(b.base, b.size)
		doc.Blocks[i] = publicBlockJSON{Prefix: b.prefix, Addresses: ranges, AddressBits: bitmap}
	}
	return json.Marshal(doc)
}

// UnmarshalJSON restores a pool written by MarshalJSON, checking its consistency.
func (pp *PublicPool) UnmarshalJSON(data []byte) error {
	var doc publicJSON
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	prefixes := make([]netip.Prefix, len(doc.Blocks))
	for i, b := range doc.Blocks {
		prefixes[i] = b.Prefix
	}
	if len(prefixes) == 0 {
		return fmt.Errorf("ipam: stored public pool has no prefixes")
	}
	q, err := NewPublicPool(prefixes...)
	if err != nil {
		return err
	}
	for _, b := range doc.Blocks {
		base, size := v4(b.Prefix.Masked().Addr()), prefixSize(b.Prefix)
		err := decodeSet(b.Addresses, b.AddressBits, base, size, func(off uint32) error {
			if err := q.Take(addr4(base + off)); err != nil {
				return fmt.Errorf("ipam: stored public address %v: %w", addr4(base+off), err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	*pp = *q
	return nil
}

// Taken returns the addresses handed out, in address order.
func (pp *PublicPool) Taken() []netip.Addr {
	var out []netip.Addr
	for _, b := range pp.blocks {
		for off := b.used.nextSet(1, b.size-1); off < b.size-1; off = b.used.nextSet(off+1, b.size-1) {
			out = append(out, addr4(b.base+uint32(off)))
		}
	}
	return out
}
