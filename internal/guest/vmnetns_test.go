package guest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Network tests run in network namespaces of their own, made unnamed so that they go
// away with their last handle whatever happens to the test: a "guest" namespace where
// the helper's DHCP client configures eth0 …, and a "router" one with the other ends
// and DHCP servers. No packet leaves them.

// testNS is a namespace and a netlink handle inside it.
type testNS struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

// newTestNS makes an unnamed network namespace, closed at the end of the test.
func newTestNS(t *testing.T) *testNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	var ns netns.NsHandle
	err := inThreadOf(netns.None(), func() error {
		var err error
		ns, err = netns.New()
		return err
	})
	if err != nil {
		t.Skipf("cannot make a network namespace: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
	})
	return &testNS{ns: ns, h: h}
}

// inThreadOf runs fn on a thread of its own that is in ns (netns.None(): a new
// namespace is made by fn itself), and gives the thread back to the Go scheduler only
// when it could be returned to the test's namespace. Sockets fn opens stay in ns.
func inThreadOf(ns netns.NsHandle, fn func() error) error {
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		orig, e := netns.Get()
		if e != nil {
			err = e
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		if ns.IsOpen() {
			if e := netns.Set(ns); e != nil {
				err = e
				runtime.UnlockOSThread()
				return
			}
		}
		err = fn()
		if e := netns.Set(orig); e != nil {
			// The thread stays locked and ends with the goroutine.
			return
		}
		runtime.UnlockOSThread()
	}()
	wg.Wait()
	return err
}

// vethPair makes name in guest and peer in router, the router's end with addr, both up.
func vethPair(t *testing.T, guest, router *testNS, name, peer string, mac net.HardwareAddr, addr netip.Prefix) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac}, PeerName: peer,
		PeerNamespace: netlink.NsFd(router.ns)}
	if err := guest.h.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s/%s: %v", name, peer, err)
	}
	r, err := router.h.LinkByName(peer)
	if err != nil {
		t.Fatal(err)
	}
	if err := router.h.AddrAdd(r, &netlink.Addr{IPNet: prefixNet(addr)}); err != nil {
		t.Fatal(err)
	}
	if err := router.h.LinkSetUp(r); err != nil {
		t.Fatal(err)
	}
}

// testDHCPServer answers on one router link as strato's VPC router does, with a lease
// the test can change.
type testDHCPServer struct {
	mu     sync.Mutex
	addr   netip.Prefix
	router netip.Addr
	dns    []netip.Addr
	domain string
	mtu    uint16
	lease  time.Duration
	// nakRenewals refuses renewals (the address moved).
	nakRenewals bool
	// renewals counts REQUESTs from a client that has its address (ciaddr set).
	renewals int
	requests int
}

func (s *testDHCPServer) handle(conn net.PacketConn, peer net.Addr, req *dhcpv4.DHCPv4) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kind dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		kind = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		s.requests++
		kind = dhcpv4.MessageTypeAck
		asked := req.RequestedIPAddress()
		if !req.ClientIPAddr.IsUnspecified() {
			s.renewals++
			asked = req.ClientIPAddr
		}
		if a, _ := netip.AddrFromSlice(asked.To4()); a != s.addr.Addr() || (s.nakRenewals && !req.ClientIPAddr.IsUnspecified()) {
			kind = dhcpv4.MessageTypeNak
		}
	default:
		return
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(kind),
		dhcpv4.WithServerIP(s.router.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.router.AsSlice())),
	}
	if kind != dhcpv4.MessageTypeNak {
		mods = append(mods,
			dhcpv4.WithYourIP(s.addr.Addr().AsSlice()),
			dhcpv4.WithNetmask(net.CIDRMask(s.addr.Bits(), 32)),
			dhcpv4.WithRouter(s.router.AsSlice()),
			dhcpv4.WithLeaseTime(uint32(s.lease/time.Second)),
			dhcpv4.WithOption(dhcpv4.OptDomainName(s.domain)))
		var ns []net.IP
		for _, a := range s.dns {
			ns = append(ns, a.AsSlice())
		}
		if len(ns) > 0 {
			mods = append(mods, dhcpv4.WithDNS(ns...))
		}
		if s.mtu != 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.Option{Code: dhcpv4.OptionInterfaceMTU,
				Value: dhcpv4.Uint16(s.mtu)}))
		}
	}
	resp, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		return
	}
	// To a client with its address, unicast; to one without, broadcast.
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
	if !req.ClientIPAddr.IsUnspecified() {
		dst.IP = req.ClientIPAddr
	}
	_, _ = conn.WriteTo(resp.ToBytes(), dst)
}

func (s *testDHCPServer) counts() (requests, renewals int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.renewals
}

// serveDHCP runs s on the router's link until the test ends.
func serveDHCP(t *testing.T, router *testNS, link string, s *testDHCPServer) {
	t.Helper()
	var srv *server4.Server
	err := inThreadOf(router.ns, func() error {
		var err error
		srv, err = server4.NewServer(link, &net.UDPAddr{Port: dhcpv4.ServerPort}, s.handle)
		return err
	})
	if err != nil {
		t.Fatalf("DHCP server on %s: %v", link, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve()
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

// testVMNetwork is the helper's network code working in guest.
func testVMNetwork(t *testing.T, guest *testNS, resolvConf string, logf func(string, ...any)) *vmNetwork {
	n := newVMNetwork(resolvConf, logf)
	n.h = guest.h
	n.timeout = 300 * time.Millisecond
	n.maxBackoff = time.Second
	n.openConn = func(ifc *net.Interface) (net.PacketConn, error) {
		var conn net.PacketConn
		err := inThreadOf(guest.ns, func() error {
			var err error
			conn, err = nclient4.NewRawUDPConn(ifc.Name, nclient4.ClientPort)
			return err
		})
		return conn, err
	}
	return n
}

// testLogf logs through t while the test runs; the helper's goroutines may log a
// moment after it ended.
func testLogf(t *testing.T) (logf func(string, ...any), stop func()) {
	var mu sync.Mutex
	done := false
	return func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				t.Log(fmt.Sprintf(format, args...))
			}
		}, func() {
			mu.Lock()
			done = true
			mu.Unlock()
		}
}
