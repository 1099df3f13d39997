package guest

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestLeaseConfigReadsTheAck(t *testing.T) {
	req, err := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 0, 1, 5)),
		dhcpv4.WithNetmask(net.CIDRMask(20, 32)),
		dhcpv4.WithRouter(net.IPv4(10, 0, 0, 1)),
		dhcpv4.WithDNS(net.IPv4(10, 0, 0, 2), net.IPv4(1, 1, 1, 1)),
		dhcpv4.WithOption(dhcpv4.OptDomainName("ec2.internal corp.example")),
		dhcpv4.WithOption(dhcpv4.OptBroadcastAddress(net.IPv4(10, 0, 15, 255))),
		dhcpv4.WithOption(dhcpv4.Option{Code: dhcpv4.OptionInterfaceMTU, Value: dhcpv4.Uint16(9001)}),
		dhcpv4.WithLeaseTime(3600))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := leaseConfig(ack)
	if err != nil {
		t.Fatal(err)
	}
	want := dhcpConfig{
		Addr: netip.MustParsePrefix("10.0.1.5/20"), Broadcast: netip.MustParseAddr("10.0.15.255"),
		Router: netip.MustParseAddr("10.0.0.1"),
		DNS:    []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("1.1.1.1")},
		Search: []string{"ec2.internal", "corp.example"}, MTU: 9001,
		Lease: time.Hour, Renew: 30 * time.Minute,
	}
	if cfg.Addr != want.Addr || cfg.Broadcast != want.Broadcast || cfg.Router != want.Router ||
		!slices.Equal(cfg.DNS, want.DNS) || !slices.Equal(cfg.Search, want.Search) || cfg.MTU != want.MTU ||
		cfg.Lease != want.Lease || cfg.Renew != want.Renew {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}

	// No address: not a lease.
	empty, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeAck))
	if _, err := leaseConfig(empty); err == nil {
		t.Error("an ACK without an address was taken")
	}
}

func TestResolvConfIsWrittenAsADHCPClientWrites(t *testing.T) {
	cfg := dhcpConfig{
		DNS: []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"),
			netip.MustParseAddr("10.0.0.4"), netip.MustParseAddr("10.0.0.5")},
		Search: []string{"ec2.internal", "corp.example"},
	}
	want := "# Written by strato-guest from the DHCP lease of eth0.\n" +
		"search ec2.internal corp.example\n" +
		"nameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n"
	if got := renderResolvConf("eth0", cfg); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	cfg.Search = nil
	if got := renderResolvConf("eth0", cfg); got != "# Written by strato-guest from the DHCP lease of eth0.\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n" {
		t.Errorf("without a domain:\n%s", got)
	}
}

// TestDHCPConfiguresEachNIC runs the helper's DHCP clients in a namespace of their
// own against DHCP servers in another: eth0 gets its address, MTU, the default route
// and resolv.conf; eth1 only its address; a lease is renewed at T1; a renewal refused
// (the address moved) makes the client start over and take the new address.
func TestDHCPConfiguresEachNIC(t *testing.T) {
	guest, router := newTestNS(t), newTestNS(t)
	vethPair(t, guest, router, "eth0", "r0", net.HardwareAddr{2, 0, 0, 0, 1, 5}, netip.MustParsePrefix("10.0.1.1/24"))
	vethPair(t, guest, router, "eth1", "r1", net.HardwareAddr{2, 0, 0, 0, 2, 9}, netip.MustParsePrefix("10.0.2.1/24"))
	s0 := &testDHCPServer{addr: netip.MustParsePrefix("10.0.1.5/24"), router: netip.MustParseAddr("10.0.1.1"),
		dns: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, domain: "ec2.internal", mtu: 1400, lease: 4 * time.Second}
	s1 := &testDHCPServer{addr: netip.MustParsePrefix("10.0.2.9/24"), router: netip.MustParseAddr("10.0.2.1"),
		dns: []netip.Addr{netip.MustParseAddr("10.9.9.9")}, domain: "other.internal", lease: time.Hour}
	serveDHCP(t, router, "r0", s0)
	serveDHCP(t, router, "r1", s1)

	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	logf, stopLog := testLogf(t)
	defer stopLog()
	n := testVMNetwork(t, guest, resolv, logf)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		n.stop()
	}()
	n.sync(ctx)
	select {
	case <-n.primaryReady():
	case <-time.After(15 * time.Second):
		t.Fatal("eth0 got no lease")
	}

	eth0, _ := guest.h.LinkByName("eth0")
	waitFor(t, "eth1's address", func() bool { return hasAddr(guest.h, "eth1", "10.0.2.9/24") })
	if !hasAddr(guest.h, "eth0", "10.0.1.5/24") {
		t.Errorf("eth0 addresses: %v", addrs(guest.h, "eth0"))
	}
	if eth0.Attrs().MTU != 1400 {
		t.Errorf("eth0 MTU %d, want 1400", eth0.Attrs().MTU)
	}
	lo, _ := guest.h.LinkByName("lo")
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Error("lo is down")
	}
	if got := defaultRoutes(guest.h); !slices.Equal(got, []string{"10.0.1.1 eth0"}) {
		t.Errorf("default routes %v, want only via 10.0.1.1 on eth0", got)
	}
	if got := readFile(t, resolv); got != "# Written by strato-guest from the DHCP lease of eth0.\nsearch ec2.internal\nnameserver 10.0.0.2\n" {
		t.Errorf("resolv.conf:\n%s", got)
	}
	// The address carries the lease's lifetime, as dhclient sets it.
	for _, a := range addrsOf(guest.h, "eth0") {
		if a.ValidLft <= 0 || a.ValidLft > 4 {
			t.Errorf("eth0 %s valid lifetime %d s, want the lease's 4 s at most", a.IPNet, a.ValidLft)
		}
	}

	// T1 is 2 s: a renewal comes, and the address stays.
	waitFor(t, "a renewal", func() bool { _, r := s0.counts(); return r > 0 })
	time.Sleep(300 * time.Millisecond)
	if !hasAddr(guest.h, "eth0", "10.0.1.5/24") {
		t.Errorf("after the renewal, eth0 addresses: %v", addrs(guest.h, "eth0"))
	}

	// The address moves: the renewal is refused, and the client takes the new one.
	s0.mu.Lock()
	s0.addr, s0.nakRenewals = netip.MustParsePrefix("10.0.1.6/24"), true
	s0.mu.Unlock()
	waitFor(t, "the new address", func() bool {
		return hasAddr(guest.h, "eth0", "10.0.1.6/24") && !hasAddr(guest.h, "eth0", "10.0.1.5/24")
	})
	waitFor(t, "the default route back", func() bool { return slices.Equal(defaultRoutes(guest.h), []string{"10.0.1.1 eth0"}) })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func addrsOf(h *netlink.Handle, link string) []netlink.Addr {
	l, err := h.LinkByName(link)
	if err != nil {
		return nil
	}
	as, _ := h.AddrList(l, unix.AF_INET)
	return as
}

func addrs(h *netlink.Handle, link string) []string {
	var out []string
	for _, a := range addrsOf(h, link) {
		out = append(out, a.IPNet.String())
	}
	return out
}

func hasAddr(h *netlink.Handle, link, prefix string) bool {
	return slices.Contains(addrs(h, link), prefix)
}

// defaultRoutes lists the namespace's IPv4 default routes as "gateway link".
func defaultRoutes(h *netlink.Handle) []string {
	routes, _ := h.RouteList(nil, unix.AF_INET)
	var out []string
	for _, r := range routes {
		if r.Dst != nil && !r.Dst.IP.IsUnspecified() {
			continue
		}
		name := "?"
		if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
			name = l.Attrs().Name
		}
		out = append(out, r.Gw.String()+" "+name)
	}
	return out
}
