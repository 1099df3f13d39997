package ipam

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
)

func mustTake(t *testing.T, p *Pool, a string) {
	t.Helper()
	if err := p.Take(ip(a)); err != nil {
		t.Fatalf("Take(%s): %v", a, err)
	}
}

func TestPoolReservedNeverHandedOut(t *testing.T) {
	p := NewPool(pfx("10.0.1.0/24"))
	if got := p.Available(); got != 251 {
		t.Fatalf("Available = %d, want 251", got)
	}
	seen := map[netip.Addr]bool{}
	for {
		a, err := p.TakeAny()
		if err != nil {
			if c := code(t, err); c != "InsufficientFreeAddressesInSubnet" {
				t.Fatalf("code = %q, want InsufficientFreeAddressesInSubnet", c)
			}
			break
		}
		seen[a] = true
	}
	if len(seen) != 251 {
		t.Fatalf("handed out %d addresses, want 251", len(seen))
	}
	for _, r := range Reserved(pfx("10.0.1.0/24")) {
		if seen[r] {
			t.Errorf("reserved address %v handed out", r)
		}
		// Asking for one by name: InvalidParameterValue.
		if c := code(t, p.Take(r)); c != "InvalidParameterValue" {
			t.Errorf("Take(%v) code = %q, want InvalidParameterValue", r, c)
		}
	}
}

func TestPoolTakeErrors(t *testing.T) {
	p := NewPool(pfx("10.0.1.0/24"))
	mustTake(t, p, "10.0.1.10")
	tests := []struct {
		addr, code, msg string
	}{
		{"10.0.1.10", "InvalidIPAddress.InUse", "Address 10.0.1.10 is in use."},
		{"10.0.2.10", "InvalidParameterValue", "Address 10.0.2.10 does not fall within the subnet's address range"},
		{"10.0.1.1", "InvalidParameterValue", "Address 10.0.1.1 is in subnet's reserved address range"},
		{"10.0.1.255", "InvalidParameterValue", ""},
		{"2001:db8::1", "InvalidParameterValue", ""},
	}
	for _, tt := range tests {
		err := p.Take(ip(tt.addr))
		if c := code(t, err); c != tt.code {
			t.Errorf("Take(%s) code = %q, want %q", tt.addr, c, tt.code)
		}
		if tt.msg != "" && err.Error() != tt.msg {
			t.Errorf("Take(%s) message = %q, want %q", tt.addr, err.Error(), tt.msg)
		}
	}
	if c := code(t, p.Release(ip("10.0.1.11"))); c != "InvalidParameterValue" {
		t.Errorf("Release of free address code = %q, want InvalidParameterValue", c)
	}
}

func TestPoolAvailableExact(t *testing.T) {
	p := NewPool(pfx("10.0.0.0/28"))
	steps := []struct {
		op   func() error
		want int
	}{
		{func() error { return nil }, 11},
		{func() error { return p.Take(ip("10.0.0.4")) }, 10},
		{func() error { _, err := p.TakeAny(); return err }, 9},
		{func() error { return p.Release(ip("10.0.0.4")) }, 10},
		{func() error { return p.Take(ip("10.0.0.14")) }, 9},
		{func() error { return p.Release(ip("10.0.0.14")) }, 10},
	}
	for i, s := range steps {
		if err := s.op(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := p.Available(); got != s.want {
			t.Fatalf("step %d: Available = %d, want %d", i, got, s.want)
		}
	}
}

func TestPoolTakeAnyExhaustsSlash28(t *testing.T) {
	p := NewPool(pfx("10.0.0.16/28"))
	var got []netip.Addr
	for range 11 {
		a, err := p.TakeAny()
		if err != nil {
			t.Fatalf("TakeAny after %d: %v", len(got), err)
		}
		got = append(got, a)
	}
	if got[0] != ip("10.0.0.20") || got[10] != ip("10.0.0.30") {
		t.Fatalf("handed out %v, want 10.0.0.20 … 10.0.0.30 lowest first", got)
	}
	if p.Available() != 0 {
		t.Fatalf("Available = %d, want 0", p.Available())
	}
	_, err := p.TakeAny()
	if c := code(t, err); c != "InsufficientFreeAddressesInSubnet" {
		t.Fatalf("12th TakeAny code = %q, want InsufficientFreeAddressesInSubnet", c)
	}
}

func TestPoolPrefixes(t *testing.T) {
	p := NewPool(pfx("10.0.0.0/24"))
	// The first /28 holds .0-.3 and the last the broadcast: never prefixes.
	got, err := p.TakeAnyPrefix()
	if err != nil || got != pfx("10.0.0.16/28") {
		t.Fatalf("TakeAnyPrefix = %v, %v; want 10.0.0.16/28", got, err)
	}
	if p.Available() != 251-16 {
		t.Fatalf("Available = %d, want %d", p.Available(), 251-16)
	}
	// Addresses inside a delegated prefix are in use, for Take and TakeAny.
	if c := code(t, p.Take(ip("10.0.0.20"))); c != "InvalidIPAddress.InUse" {
		t.Errorf("Take inside prefix code = %q, want InvalidIPAddress.InUse", c)
	}
	if c := code(t, p.Release(ip("10.0.0.20"))); c != "InvalidParameterValue" {
		t.Errorf("Release inside prefix code = %q, want InvalidParameterValue", c)
	}
	tests := []struct {
		pfx, code string
	}{
		{"10.0.0.16/28", "InvalidIPAddress.InUse"},
		{"10.0.0.0/28", "InvalidIPAddress.InUse"},   // reserved .0-.3
		{"10.0.0.240/28", "InvalidIPAddress.InUse"}, // broadcast
		{"10.0.0.8/28", "InvalidParameterValue"},    // not aligned
		{"10.0.0.32/27", "InvalidParameterValue"},   // not a /28
		{"10.0.1.0/28", "InvalidParameterValue"},    // outside
		{"10.0.0.48/28", ""},
	}
	for _, tt := range tests {
		if c := code(t, p.TakePrefix(pfx(tt.pfx))); c != tt.code {
			t.Errorf("TakePrefix(%s) code = %q, want %q", tt.pfx, c, tt.code)
		}
	}
	if got := p.Prefixes(); !slices.Equal(got, []netip.Prefix{pfx("10.0.0.16/28"), pfx("10.0.0.48/28")}) {
		t.Errorf("Prefixes = %v", got)
	}
	if err := p.ReleasePrefix(pfx("10.0.0.16/28")); err != nil {
		t.Fatal(err)
	}
	if c := code(t, p.ReleasePrefix(pfx("10.0.0.16/28"))); c != "InvalidParameterValue" {
		t.Errorf("second ReleasePrefix code = %q, want InvalidParameterValue", c)
	}
	if p.Available() != 251-16 {
		t.Fatalf("Available = %d, want %d", p.Available(), 251-16)
	}
}

func TestPoolPrefixFragmentation(t *testing.T) {
	p := NewPool(pfx("10.0.0.0/24"))
	// One address taken in each of the 14 inner /28s: 237 free, no free /28.
	for i := 1; i < 15; i++ {
		mustTake(t, p, netip.AddrFrom4([4]byte{10, 0, 0, byte(i*16 + 5)}).String())
	}
	if p.Available() != 251-14 {
		t.Fatalf("Available = %d, want %d", p.Available(), 251-14)
	}
	_, err := p.TakeAnyPrefix()
	if c := code(t, err); c != "InsufficientCidrBlocks" {
		t.Fatalf("code = %q, want InsufficientCidrBlocks", c)
	}
	if err.Error() != "The specified subnet does not have enough free cidr blocks to satisfy the request." {
		t.Errorf("message = %q", err.Error())
	}
	// Single addresses are still there.
	if _, err := p.TakeAny(); err != nil {
		t.Fatalf("TakeAny: %v", err)
	}
}

func TestPoolReservations(t *testing.T) {
	p := NewPool(pfx("10.0.0.0/24"))
	if err := p.Reserve(pfx("10.0.0.0/26"), ReservationExplicit); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(pfx("10.0.0.128/27"), ReservationPrefix); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cidr, kind, code string
	}{
		{"10.0.0.32/28", ReservationExplicit, "InvalidParameterValue"}, // overlaps explicit
		{"10.0.0.128/28", ReservationPrefix, "InvalidParameterValue"},  // overlaps prefix
		{"10.0.1.0/28", ReservationPrefix, "InvalidParameterValue"},    // outside
		{"10.0.0.64/28", "sometimes", "InvalidParameterValue"},         // bad type
	}
	for _, tt := range tests {
		if c := code(t, p.Reserve(pfx(tt.cidr), tt.kind)); c != tt.code {
			t.Errorf("Reserve(%s, %s) code = %q, want %q", tt.cidr, tt.kind, c, tt.code)
		}
	}
	// Reservations do not lower AvailableIpAddressCount.
	if p.Available() != 251 {
		t.Fatalf("Available = %d, want 251", p.Available())
	}
	// TakeAny skips both reservations.
	a, err := p.TakeAny()
	if err != nil || a != ip("10.0.0.64") {
		t.Fatalf("TakeAny = %v, %v; want 10.0.0.64", a, err)
	}
	// Explicit assignment inside a reservation is allowed.
	mustTake(t, p, "10.0.0.10")
	// Prefixes come from the prefix reservation first.
	for _, want := range []string{"10.0.0.128/28", "10.0.0.144/28", "10.0.0.80/28"} {
		got, err := p.TakeAnyPrefix()
		if err != nil || got != pfx(want) {
			t.Fatalf("TakeAnyPrefix = %v, %v; want %s", got, err, want)
		}
	}
	// Then never from the explicit reservation: .96, .160 … .224 remain, .240 has the broadcast.
	for _, want := range []string{"10.0.0.96/28", "10.0.0.112/28", "10.0.0.160/28", "10.0.0.176/28", "10.0.0.192/28", "10.0.0.208/28", "10.0.0.224/28"} {
		got, err := p.TakeAnyPrefix()
		if err != nil || got != pfx(want) {
			t.Fatalf("TakeAnyPrefix = %v, %v; want %s", got, err, want)
		}
	}
	if _, err := p.TakeAnyPrefix(); code(t, err) != "InsufficientCidrBlocks" {
		t.Fatalf("want InsufficientCidrBlocks with only the explicit reservation left, got %v", err)
	}
	// Without the explicit reservation its free /28s become usable.
	if err := p.Unreserve(pfx("10.0.0.0/26")); err != nil {
		t.Fatal(err)
	}
	if c := code(t, p.Unreserve(pfx("10.0.0.0/26"))); c != "InvalidParameterValue" {
		t.Errorf("second Unreserve code = %q, want InvalidParameterValue", c)
	}
	if got, err := p.TakeAnyPrefix(); err != nil || got != pfx("10.0.0.16/28") {
		t.Fatalf("TakeAnyPrefix after Unreserve = %v, %v; want 10.0.0.16/28", got, err)
	}
	// Addresses in use keep their assignment through reserve and unreserve.
	if !p.InUse(ip("10.0.0.10")) {
		t.Fatal("10.0.0.10 lost its assignment")
	}
}

func TestPoolJSONRoundTrip(t *testing.T) {
	p := NewPool(pfx("10.0.0.0/20"))
	for range 40 {
		if _, err := p.TakeAny(); err != nil {
			t.Fatal(err)
		}
	}
	mustTake(t, p, "10.0.7.7")
	mustTake(t, p, "10.0.7.9")
	if err := p.Release(ip("10.0.0.20")); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(pfx("10.0.8.0/24"), ReservationPrefix); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(pfx("10.0.9.0/28"), ReservationExplicit); err != nil {
		t.Fatal(err)
	}
	if _, err := p.TakeAnyPrefix(); err != nil {
		t.Fatal(err)
	}
	if err := p.TakePrefix(pfx("10.0.3.0/28")); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Pool
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	again, _ := json.Marshal(&q)
	if string(again) != string(data) {
		t.Fatalf("round trip changed the document:\n%s\n%s", data, again)
	}
	if q.Available() != p.Available() || !slices.Equal(q.Prefixes(), p.Prefixes()) ||
		!slices.Equal(q.Reservations(), p.Reservations()) {
		t.Fatal("round trip changed the state")
	}
	a1, _ := p.TakeAny()
	a2, _ := q.TakeAny()
	if a1 != a2 || a1 != ip("10.0.0.20") {
		t.Fatalf("next address %v vs %v, want 10.0.0.20", a1, a2)
	}
	if len(data) > 400 {
		t.Errorf("document is %d bytes, want it compact: %s", len(data), data)
	}
}

func TestPoolJSONBitmapForm(t *testing.T) {
	p := NewPool(pfx("10.0.0.0/16"))
	for off := 4; off < 65535; off += 2 { // every other address: ranges would be long
		mustTake(t, p, addr4(v4(ip("10.0.0.0"))+uint32(off)).String())
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 12000 {
		t.Fatalf("scattered /16 document is %d bytes, want the ~11 KB bitmap form", len(data))
	}
	var q Pool
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	if q.Available() != p.Available() {
		t.Fatalf("Available %d vs %d", q.Available(), p.Available())
	}
}

func TestPoolJSONRejectsInconsistent(t *testing.T) {
	for _, doc := range []string{
		`{"subnet":"10.0.0.0/24","addresses":["10.0.0.1"]}`,
		`{"subnet":"10.0.0.0/24","addresses":["10.0.0.9-10.0.0.4"]}`,
		`{"subnet":"10.0.0.0/24","addresses":["10.0.1.9"]}`,
		`{"subnet":"10.0.0.0/24","prefixes":["10.0.0.16/28"],"addresses":["10.0.0.17"]}`,
		`{"subnet":"10.0.0.0/8"}`,
	} {
		var p Pool
		if err := json.Unmarshal([]byte(doc), &p); err == nil {
			t.Errorf("accepted %s", doc)
		}
	}
}

// fill90 returns a /16 pool with 90% of its usable addresses taken, scattered so
// that the free ones are spread over the subnet.
func fill90(b *testing.B) *Pool {
	p := NewPool(pfx("10.0.0.0/16"))
	base := v4(ip("10.0.0.0"))
	for off := uint32(4); off < 65535; off++ {
		if off%10 != 0 {
			if err := p.Take(addr4(base + off)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return p
}

func BenchmarkTakeAny90PercentFullSlash16(b *testing.B) {
	p := fill90(b)
	// Take the lower half of the free addresses so the next free ones are far in.
	for p.Available() > 3300 {
		if _, err := p.TakeAny(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		a, err := p.TakeAny()
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Release(a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTakeAnyPrefix90PercentFullSlash16(b *testing.B) {
	p := fill90(b)
	for b.Loop() {
		if _, err := p.TakeAnyPrefix(); err == nil {
			b.Fatal("a /28 free in a scattered pool")
		}
	}
}
