package ipam

import (
	"encoding/json"
	"net/netip"
	"testing"
)

func TestPublicPoolDefault(t *testing.T) {
	pp, err := NewPublicPool()
	if err != nil {
		t.Fatal(err)
	}
	if got := pp.Prefixes(); len(got) != 1 || got[0] != pfx("198.18.0.0/15") {
		t.Fatalf("Prefixes = %v", got)
	}
	if pp.Available() != 1<<17-2 {
		t.Fatalf("Available = %d, want %d", pp.Available(), 1<<17-2)
	}
	a, err := pp.TakeAny()
	if err != nil || a != ip("198.18.0.1") {
		t.Fatalf("TakeAny = %v, %v; want 198.18.0.1 (network address skipped)", a, err)
	}
	// 198.18.255.255 and 198.19.0.0 are ordinary addresses inside the /15.
	if err := pp.Take(ip("198.18.255.255")); err != nil {
		t.Fatal(err)
	}
	if err := pp.Take(ip("198.19.0.0")); err != nil {
		t.Fatal(err)
	}
	if pp.Available() != 1<<17-5 {
		t.Fatalf("Available = %d", pp.Available())
	}
}

func TestPublicPoolRules(t *testing.T) {
	pp, err := NewPublicPool(pfx("203.0.113.0/30"), pfx("192.0.2.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	if pp.Available() != 2+6 {
		t.Fatalf("Available = %d, want 8", pp.Available())
	}
	tests := []struct {
		addr, code string
	}{
		{"192.0.2.0", "InvalidParameterValue"},   // network
		{"192.0.2.7", "InvalidParameterValue"},   // broadcast
		{"203.0.113.3", "InvalidParameterValue"}, // broadcast
		{"198.51.100.1", "InvalidParameterValue"},
		{"203.0.113.2", ""},
		{"203.0.113.2", "InvalidIPAddress.InUse"},
	}
	for _, tt := range tests {
		if c := code(t, pp.Take(ip(tt.addr))); c != tt.code {
			t.Errorf("Take(%s) code = %q, want %q", tt.addr, c, tt.code)
		}
	}
	var got []netip.Addr
	for {
		a, err := pp.TakeAny()
		if err != nil {
			if c := code(t, err); c != "InsufficientAddressCapacity" {
				t.Fatalf("code = %q, want InsufficientAddressCapacity", c)
			}
			break
		}
		got = append(got, a)
	}
	// Blocks in address order; lowest first; network and broadcast skipped.
	if len(got) != 7 || got[0] != ip("192.0.2.1") || got[5] != ip("192.0.2.6") || got[6] != ip("203.0.113.1") {
		t.Fatalf("handed out %v", got)
	}
	if err := pp.Release(ip("192.0.2.3")); err != nil {
		t.Fatal(err)
	}
	if c := code(t, pp.Release(ip("192.0.2.3"))); c != "InvalidAddress.NotFound" {
		t.Errorf("second Release code = %q, want InvalidAddress.NotFound", c)
	}
	if pp.Available() != 1 {
		t.Fatalf("Available = %d, want 1", pp.Available())
	}
	for _, bad := range [][]netip.Prefix{
		{pfx("10.0.0.0/24"), pfx("10.0.0.128/25")},
		{pfx("10.0.0.0/31")},
		{pfx("2001:db8::/64")},
		{pfx("10.0.0.0/7")},
	} {
		if _, err := NewPublicPool(bad...); err == nil {
			t.Errorf("NewPublicPool(%v) accepted", bad)
		}
	}
}

func TestPublicPoolJSONRoundTrip(t *testing.T) {
	pp, err := NewPublicPool(pfx("198.18.0.0/15"), pfx("203.0.113.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := pp.TakeAny(); err != nil {
			t.Fatal(err)
		}
	}
	if err := pp.Release(ip("198.18.0.50")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"203.0.113.9", "198.19.4.4"} {
		if err := pp.Take(ip(a)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(pp)
	if err != nil {
		t.Fatal(err)
	}
	var q PublicPool
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	again, _ := json.Marshal(&q)
	if string(again) != string(data) || q.Available() != pp.Available() {
		t.Fatalf("round trip changed the pool:\n%s\n%s", data, again)
	}
	if !q.InUse(ip("198.19.4.4")) || q.InUse(ip("198.18.0.50")) {
		t.Fatal("round trip lost addresses")
	}
	if len(data) > 300 {
		t.Errorf("document is %d bytes: %s", len(data), data)
	}
}

func TestPublicPoolTaken(t *testing.T) {
	pp, err := NewPublicPool(pfx("203.0.113.0/30"), pfx("192.0.2.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	if got := pp.Taken(); len(got) != 0 {
		t.Fatalf("Taken of an empty pool = %v", got)
	}
	for _, a := range []string{"203.0.113.2", "192.0.2.6", "192.0.2.1"} {
		if err := pp.Take(ip(a)); err != nil {
			t.Fatal(err)
		}
	}
	got := pp.Taken()
	want := []netip.Addr{ip("192.0.2.1"), ip("192.0.2.6"), ip("203.0.113.2")}
	if len(got) != len(want) {
		t.Fatalf("Taken = %v, want %v (network and broadcast never listed)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Taken = %v, want %v", got, want)
		}
	}
}
