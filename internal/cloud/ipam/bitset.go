package ipam

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
)

// bitset is a fixed-size set of address offsets, one bit per address.
type bitset []uint64

func newBitset(n uint64) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i uint32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) set(i uint32)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) clear(i uint32)    { b[i>>6] &^= 1 << (i & 63) }

// setRange sets (on) or clears (off) bits [from, to).
func (b bitset) setRange(from, to uint32, on bool) {
	for i := from; i < to; i++ {
		if on {
			b.set(i)
		} else {
			b.clear(i)
		}
	}
}

// anyInRange reports whether any bit in [from, from+n) is set. A range of a
// power-of-two length up to 64, aligned on its length, is one word operation.
func (b bitset) anyInRange(from, n uint32) bool {
	if n <= 64 && from%n == 0 && 64%n == 0 {
		mask := uint64(1)<<n - 1
		if n == 64 {
			mask = ^uint64(0)
		}
		return (b[from>>6]>>(from&63))&mask != 0
	}
	for i := from; i < from+n; i++ {
		if b.has(i) {
			return true
		}
	}
	return false
}

// encode renders the set bits as a list of "first-last" address ranges
// (a single address alone), base being the address of offset 0. When that text
// would be longer than the bitmap in base64, it returns nil and the bitmap
// instead, so that a sparse or clustered set stays small and a scattered one is
// bounded by size/6 bytes.
func (b bitset) encode(base uint32, size uint64) (ranges []string, bitmap string) {
	var textLen int
	for i := uint64(0); i < size; {
		if !b.has(uint32(i)) {
			i = b.nextSet(i, size)
			continue
		}
		j := i
		for j+1 < size && b.has(uint32(j+1)) {
			j++
		}
		var r string
		if j == i {
			r = addr4(base + uint32(i)).String()
		} else {
			r = addr4(base+uint32(i)).String() + "-" + addr4(base+uint32(j)).String()
		}
		ranges = append(ranges, r)
		textLen += len(r) + 3
		i = j + 1
	}
	bitmapLen := int(((size+7)/8 + 2) / 3 * 4)
	if textLen <= bitmapLen+16 {
		return ranges, ""
	}
	raw := make([]byte, len(b)*8)
	for i, w := range b {
		binary.LittleEndian.PutUint64(raw[i*8:], w)
	}
	return nil, base64.StdEncoding.EncodeToString(raw[:(size+7)/8])
}

// nextSet returns the offset of the next set bit at or after i, or size.
func (b bitset) nextSet(i, size uint64) uint64 {
	for i < size {
		w := b[i>>6] >> (i & 63)
		if w != 0 {
			return i + uint64(bits.TrailingZeros64(w))
		}
		i = (i | 63) + 1
	}
	return size
}

// decodeSet calls fn for every address named by ranges or bitmap (the two forms
// written by encode), in offsets relative to base within size.
func decodeSet(ranges []string, bitmap string, base uint32, size uint64, fn func(off uint32) error) error {
	for _, r := range ranges {
		first, last, ok := strings.Cut(r, "-")
		a, err := netip.ParseAddr(first)
		if err != nil || !a.Is4() {
			return fmt.Errorf("ipam: bad address range %q", r)
		}
		b := a
		if ok {
			if b, err = netip.ParseAddr(last); err != nil || !b.Is4() {
				return fmt.Errorf("ipam: bad address range %q", r)
			}
		}
		lo, hi := v4(a), v4(b)
		if lo < base || hi < lo || uint64(hi-base) >= size {
			return fmt.Errorf("ipam: address range %q outside the pool", r)
		}
		for n := lo; ; n++ {
			if err := fn(n - base); err != nil {
				return err
			}
			if n == hi {
				break
			}
		}
	}
	if bitmap == "" {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(bitmap)
	if err != nil || uint64(len(raw)) != (size+7)/8 {
		return fmt.Errorf("ipam: bad address bitmap")
	}
	for i, by := range raw {
		for by != 0 {
			k := bits.TrailingZeros8(by)
			by &^= 1 << k
			off := uint64(i)*8 + uint64(k)
			if off >= size {
				return fmt.Errorf("ipam: address bitmap longer than the pool")
			}
			if err := fn(uint32(off)); err != nil {
				return err
			}
		}
	}
	return nil
}
