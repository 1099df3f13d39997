package guest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A VM's network is what a DHCP client does on EC2's images: each virtio-net NIC (eth0,
// eth1 … with net.ifnames=0) asks the VPC router's DHCP server for its address, and
// the lease says the rest: prefix, gateway, name servers, domain, MTU. Only eth0 gets
// the default route and writes /etc/resolv.conf, as on EC2 where a secondary
// interface's traffic leaves by eth0 unless the user adds routes. Each lease is renewed
// at its T1 (half the lease) in the background; one that cannot be renewed is dropped
// at its end, and the client starts over.

// ethName is the kernel's name of a NIC with net.ifnames=0.
var ethName = regexp.MustCompile(`^eth[0-9]+$`)

// dhcpOptions are the options the client asks for, as dhclient does.
var dhcpOptions = dhcpv4.WithRequestedOptions(
	dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionDomainName, dhcpv4.OptionDNSDomainSearchList, dhcpv4.OptionHostName,
	dhcpv4.OptionInterfaceMTU, dhcpv4.OptionBroadcastAddress,
)

// vmNetwork runs one DHCP client per ethN.
type vmNetwork struct {
	// h is the netlink handle links and addresses are configured through; tests give
	// one inside a network namespace of their own.
	h *netlink.Handle
	// openConn opens the raw socket a DHCP exchange on ifc uses (it works before the
	// interface has an address).
	openConn   func(ifc *net.Interface) (net.PacketConn, error)
	resolvConf string
	logf       func(format string, args ...any)
	// timeout is each DHCP message's wait for an answer (sent retries times); backoff
	// bounds the pause between failed exchanges.
	timeout    time.Duration
	retries    int
	maxBackoff time.Duration

	mu        sync.Mutex
	clients   map[string]*linkClient
	wg        sync.WaitGroup
	ready     chan struct{}
	readyOnce sync.Once
}

// linkClient is the DHCP client of one link.
type linkClient struct {
	index  int
	cancel context.CancelFunc
}

func newVMNetwork(resolvConf string, logf func(string, ...any)) *vmNetwork {
	return &vmNetwork{
		h: &netlink.Handle{}, openConn: defaultDHCPConn, resolvConf: resolvConf, logf: logf,
		timeout: 2 * time.Second, retries: 3, maxBackoff: 30 * time.Second,
		clients: map[string]*linkClient{}, ready: make(chan struct{}),
	}
}

func defaultDHCPConn(ifc *net.Interface) (net.PacketConn, error) {
	return nclient4.NewRawUDPConn(ifc.Name, nclient4.ClientPort)
}

// primaryReady is closed when eth0 has its first lease.
func (n *vmNetwork) primaryReady() <-chan struct{} { return n.ready }

// sync brings lo up, starts a client for every ethN without one, and stops those
// whose link went away (an interface detached; one plugged back under the same name
// is a new link with a new index).
func (n *vmNetwork) sync(ctx context.Context) {
	links, err := n.h.LinkList()
	if err != nil {
		n.logf("network: listing links: %v", err)
		return
	}
	present := map[string]int{}
	for _, l := range links {
		a := l.Attrs()
		if a.Name == "lo" && a.Flags&net.FlagUp == 0 {
			// The kernel gives lo 127.0.0.1/8 and ::1 when it goes up.
			if err := n.h.LinkSetUp(l); err != nil {
				n.logf("network: lo: %v", err)
			}
		}
		if ethName.MatchString(a.Name) {
			present[a.Name] = a.Index
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	for name, c := range n.clients {
		if present[name] != c.index {
			c.cancel()
			delete(n.clients, name)
		}
	}
	for name, index := range present {
		if n.clients[name] != nil {
			continue
		}
		cctx, cancel := context.WithCancel(ctx)
		n.clients[name] = &linkClient{index: index, cancel: cancel}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.runLink(cctx, name, index)
		}()
	}
}

// stop ends every client and waits for them; the addresses stay (the machine is
// going down, and a lease outlives its client anyway).
func (n *vmNetwork) stop() {
	n.mu.Lock()
	for name, c := range n.clients {
		c.cancel()
		delete(n.clients, name)
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// runLink is one interface's DHCP client until ctx ends: lease, configure, renew.
func (n *vmNetwork) runLink(ctx context.Context, name string, index int) {
	link, err := n.h.LinkByIndex(index)
	if err != nil {
		n.logf("network: %s: %v", name, err)
		return
	}
	if err := n.h.LinkSetUp(link); err != nil {
		n.logf("network: %s: setting it up: %v", name, err)
	}
	primary := name == "eth0"
	backoff := time.Second
	failures := 0
	for ctx.Err() == nil {
		lease, err := n.exchange(ctx, link, func(c *nclient4.Client) (*nclient4.Lease, error) {
			return c.Request(ctx, dhcpOptions)
		})
		var cfg dhcpConfig
		if err == nil {
			cfg, err = leaseConfig(lease.ACK)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The first failure and then every tenth: a NIC on a network without a
			// server must not flood the console.
			if failures%10 == 0 {
				n.logf("network: %s: DHCP: %v; trying again", name, err)
			}
			failures++
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, n.maxBackoff)
			continue
		}
		failures, backoff = 0, time.Second
		if err := n.apply(link, netip.Prefix{}, cfg, primary); err != nil {
			n.logf("network: %s: %v", name, err)
		}
		n.logf("network: %s: %s, gateway %s, name servers %s, lease %s", name, cfg.Addr,
			orNone(addrString(cfg.Router)), orNone(joinAddrs(cfg.DNS)), cfg.Lease)
		if primary {
			n.readyOnce.Do(func() { close(n.ready) })
		}
		n.keepLease(ctx, link, name, lease, cfg, primary)
	}
}

// keepLease renews the lease at T1, and again on failure (every half of the time
// left, at most a minute apart), until ctx ends or the lease is lost: refused (NAK) or
// run out. A lost lease's address is removed, and runLink starts over.
func (n *vmNetwork) keepLease(ctx context.Context, link netlink.Link, name string, lease *nclient4.Lease, cfg dhcpConfig, primary bool) {
	renewAt := lease.CreationTime.Add(cfg.Renew)
	for {
		if !sleepCtx(ctx, time.Until(renewAt)) {
			return
		}
		next, err := n.exchange(ctx, link, func(c *nclient4.Client) (*nclient4.Lease, error) {
			return c.Renew(ctx, lease, dhcpOptions)
		})
		var nextCfg dhcpConfig
		if err == nil {
			nextCfg, err = leaseConfig(next.ACK)
		}
		if ctx.Err() != nil {
			return
		}
		expiry := lease.CreationTime.Add(cfg.Lease)
		var nak *nclient4.ErrNak
		switch {
		case errors.As(err, &nak):
			n.logf("network: %s: the server refused the renewal of %s; asking again", name, cfg.Addr)
			n.drop(link, cfg)
			return
		case err != nil && !time.Now().Before(expiry):
			n.logf("network: %s: the lease of %s ran out (%v); asking again", name, cfg.Addr, err)
			n.drop(link, cfg)
			return
		case err != nil:
			renewAt = time.Now().Add(min(max(time.Until(expiry)/2, time.Second), time.Minute))
			continue
		}
		if err := n.apply(link, cfg.Addr, nextCfg, primary); err != nil {
			n.logf("network: %s: %v", name, err)
		}
		if nextCfg.Addr != cfg.Addr {
			n.logf("network: %s: the renewal moved it from %s to %s", name, cfg.Addr, nextCfg.Addr)
		}
		lease, cfg = next, nextCfg
		renewAt = lease.CreationTime.Add(cfg.Renew)
	}
}

// exchange runs one DHCP exchange on a raw socket of its own, closed after it: an
// open raw socket would be handed every IP packet of the link for the lease's life.
func (n *vmNetwork) exchange(ctx context.Context, link netlink.Link, do func(*nclient4.Client) (*nclient4.Lease, error)) (*nclient4.Lease, error) {
	a := link.Attrs()
	ifc := &net.Interface{Index: a.Index, MTU: a.MTU, Name: a.Name, HardwareAddr: a.HardwareAddr, Flags: a.Flags}
	conn, err := n.openConn(ifc)
	if err != nil {
		return nil, fmt.Errorf("opening a DHCP socket: %w", err)
	}
	c, err := nclient4.NewWithConn(conn, a.HardwareAddr, nclient4.WithTimeout(n.timeout), nclient4.WithRetry(n.retries))
	if err != nil {
		conn.Close()
		return nil, err
	}
	defer c.Close()
	return do(c)
}

// dhcpConfig is what a lease says to configure.
type dhcpConfig struct {
	Addr      netip.Prefix
	Broadcast netip.Addr
	Router    netip.Addr
	DNS       []netip.Addr
	Search    []string
	MTU       int
	// Lease is the lease's length, Renew its T1 (RFC 2131: half the lease when the
	// server does not say).
	Lease, Renew time.Duration
}

// leaseConfig reads an ACK.
func leaseConfig(ack *dhcpv4.DHCPv4) (dhcpConfig, error) {
	var cfg dhcpConfig
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || ip.IsUnspecified() {
		return cfg, fmt.Errorf("the server's answer has no address")
	}
	bits := 32
	if mask := ack.SubnetMask(); mask != nil {
		if ones, size := mask.Size(); size == 32 {
			bits = ones
		}
	}
	cfg.Addr = netip.PrefixFrom(ip, bits)
	if b, ok := netip.AddrFromSlice(ack.BroadcastAddress().To4()); ok {
		cfg.Broadcast = b
	}
	if routers := ack.Router(); len(routers) > 0 {
		if r, ok := netip.AddrFromSlice(routers[0].To4()); ok {
			cfg.Router = r
		}
	}
	for _, s := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(s.To4()); ok {
			cfg.DNS = append(cfg.DNS, a)
		}
	}
	// The search list (option 119) wins; otherwise the domain name, which AWS lets
	// hold several domains separated by spaces, as dhclient-script reads it.
	if labels := ack.DomainSearch(); labels != nil && len(labels.Labels) > 0 {
		cfg.Search = labels.Labels
	} else {
		cfg.Search = strings.Fields(ack.DomainName())
	}
	if b := ack.Options.Get(dhcpv4.OptionInterfaceMTU); len(b) == 2 {
		if mtu := int(binary.BigEndian.Uint16(b)); mtu >= 68 {
			cfg.MTU = mtu
		}
	}
	cfg.Lease = ack.IPAddressLeaseTime(time.Hour)
	cfg.Renew = ack.IPAddressRenewalTime(cfg.Lease / 2)
	if cfg.Renew <= 0 || cfg.Renew >= cfg.Lease {
		cfg.Renew = cfg.Lease / 2
	}
	return cfg, nil
}

// apply configures a lease on the link: the MTU, the address (old, from an earlier
// lease, removed when it differs), and for the primary interface the default route
// and resolv.conf. The address carries the lease's lifetime, as dhclient and
// systemd-networkd set it, so the kernel drops it if the client stops renewing.
func (n *vmNetwork) apply(link netlink.Link, old netip.Prefix, cfg dhcpConfig, primary bool) error {
	var errs []error
	if cfg.MTU > 0 && cfg.MTU != link.Attrs().MTU {
		if err := n.h.LinkSetMTU(link, cfg.MTU); err != nil {
			errs = append(errs, fmt.Errorf("MTU %d: %w", cfg.MTU, err))
		}
	}
	if old.IsValid() && old != cfg.Addr {
		_ = n.h.AddrDel(link, &netlink.Addr{IPNet: prefixNet(old)})
	}
	secs := int(cfg.Lease / time.Second)
	addr := &netlink.Addr{IPNet: prefixNet(cfg.Addr), ValidLft: secs, PreferedLft: secs}
	if cfg.Broadcast.IsValid() {
		addr.Broadcast = cfg.Broadcast.AsSlice()
	}
	if err := n.h.AddrReplace(link, addr); err != nil {
		errs = append(errs, fmt.Errorf("address %s: %w", cfg.Addr, err))
	}
	if primary && cfg.Router.IsValid() {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: cfg.Router.AsSlice()}
		if err := n.h.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("default route via %s: %w", cfg.Router, err))
		}
	}
	if primary && len(cfg.DNS) > 0 && n.resolvConf != "" {
		if err := writeFileAtomic(n.resolvConf, []byte(renderResolvConf(link.Attrs().Name, cfg)), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("resolv.conf: %w", err))
		}
	}
	return errors.Join(errs...)
}

// drop removes a lost lease's address (the default route goes with it).
func (n *vmNetwork) drop(link netlink.Link, cfg dhcpConfig) {
	// The kernel may have dropped it already: its lifetime was the lease's.
	if err := n.h.AddrDel(link, &netlink.Addr{IPNet: prefixNet(cfg.Addr)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		n.logf("network: %s: removing %s: %v", link.Attrs().Name, cfg.Addr, err)
	}
}

// renderResolvConf is /etc/resolv.conf as a DHCP client writes it: the search domains
// and at most three name servers (the C library reads no more).
func renderResolvConf(ifname string, cfg dhcpConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by strato-guest from the DHCP lease of %s.\n", ifname)
	if len(cfg.Search) > 0 {
		b.WriteString("search " + strings.Join(cfg.Search, " ") + "\n")
	}
	for i, ns := range cfg.DNS {
		if i == 3 {
			break
		}
		b.WriteString("nameserver " + ns.String() + "\n")
	}
	return b.String()
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// sleepCtx waits d, or less if ctx ends first; it reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
