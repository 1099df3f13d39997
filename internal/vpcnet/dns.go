package vpcnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// Each VPC's Amazon-provided resolver runs in its router namespace, on UDP and TCP port
// 53 of two addresses the router holds on lo: the VPC's base + 2 (of its primary CIDR)
// and 169.254.169.253. Instances reach them through their gateway (or, for base + 2 in
// their own subnet, by the router answering ARP for its own address), so the packets are
// the router's own: input hook, never forward, and neither security groups nor network
// ACLs see them (as on AWS, where Route 53 Resolver traffic is not filtered).
//
// The router holds both addresses whatever enableDnsSupport says; only the listeners
// follow it. With support off a query reaches an address without a socket and the kernel
// answers at once (ICMP port unreachable, TCP reset), so a client fails fast instead of
// waiting for its timeout: without the addresses, its packets would go out to the
// uplink and get no answer at all.
//
// A policy change swaps the resolver's records (an atomic pointer) under the running
// listeners; a query is answered from one version of them or the next, never a mix.

// resolverPort is DNS's port.
const resolverPort = 53

// resolverShutdownWait bounds how long stopping a resolver waits for its TCP
// connections; UDP stops at once.
const resolverShutdownWait = 2 * time.Second

// resolver is one VPC's running DNS service.
type resolver struct {
	vpcID   string
	addrs   []netip.Addr // base + 2, 169.254.169.253
	zone    atomic.Pointer[dnsZone]
	servers []*dns.Server
}

// ServeDNS answers a query from the zone of the moment.
func (r *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := r.zone.Load().answer(req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m) // a client that went away is no concern of the resolver's
}

// stop closes the resolver's sockets and waits (a little) for its TCP connections.
func (r *resolver) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), resolverShutdownWait)
	defer cancel()
	for _, s := range r.servers {
		_ = s.ShutdownContext(ctx) // only "not started", for a server whose socket failed
	}
}

// resolverAddrs are the addresses a VPC's resolver answers on; none for a VPC
// without a CIDR.
func resolverAddrs(policy *netpolicy.VPC) []netip.Addr {
	if len(policy.CIDRs) == 0 || !policy.CIDRs[0].Addr().Is4() {
		return nil
	}
	base := policy.CIDRs[0].Masked().Addr()
	return []netip.Addr{base.Next().Next(), resolverLinkLocal}
}

// applyDNS puts the resolver's addresses on the router's lo, and starts, updates or
// stops its resolver as policy.DNS.Support says.
func (n *Network) applyDNS(router string, policy *netpolicy.VPC) error {
	running := n.resolvers
	addrs := resolverAddrs(policy)
	if err := addResolverAddrs(router, addrs); err != nil {
		return err
	}
	r := running[policy.ID]
	if r != nil && (!policy.DNS.Support || !slices.Equal(r.addrs, addrs)) {
		r.stop()
		delete(running, policy.ID)
		r = nil
	}
	if !policy.DNS.Support || len(addrs) == 0 {
		return nil
	}
	zone := newDNSZone(policy)
	if r != nil {
		r.zone.Store(zone)
		return nil
	}
	r, err := startResolver(router, policy.ID, addrs, zone)
	if err != nil {
		return err
	}
	running[policy.ID] = r
	n.log.Debug("vpcnet: resolver started", "vpc", policy.ID, "addrs", addrs)
	return nil
}

// addResolverAddrs puts addrs on the router's lo, as ensureRouter does for the metadata
// address.
func addResolverAddrs(router string, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	return withHandle(router, func(h *netlink.Handle) error {
		lo, err := h.LinkByName(metadataDevice)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if err := h.AddrReplace(lo, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a, 32))}); err != nil {
				return fmt.Errorf("resolver address %v: %w", a, err)
			}
		}
		return nil
	})
}

// startResolver opens the resolver's sockets in the router namespace (as the metadata
// listeners are opened: inNamespace) and serves them until stop.
func startResolver(router, vpcID string, addrs []netip.Addr, zone *dnsZone) (*resolver, error) {
	r := &resolver{vpcID: vpcID, addrs: addrs}
	r.zone.Store(zone)
	var conns []net.PacketConn
	var listeners []net.Listener
	err := inNamespace(router, func() error {
		for _, a := range addrs {
			at := netip.AddrPortFrom(a, resolverPort).String()
			pc, err := net.ListenPacket("udp4", at)
			if err != nil {
				return err
			}
			conns = append(conns, pc)
			ln, err := net.Listen("tcp4", at)
			if err != nil {
				return err
			}
			listeners = append(listeners, ln)
		}
		return nil
	})
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		for _, l := range listeners {
			l.Close()
		}
		return nil, fmt.Errorf("resolver sockets: %w", err)
	}
	for _, pc := range conns {
		r.servers = append(r.servers, &dns.Server{PacketConn: pc, Handler: r, UDPSize: dns.DefaultMsgSize})
	}
	for _, ln := range listeners {
		r.servers = append(r.servers, &dns.Server{Listener: ln, Handler: r})
	}
	var errs []error
	for _, s := range r.servers {
		errs = append(errs, serve(s))
	}
	if err := errors.Join(errs...); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// serve runs s in the background and returns once it is serving (so that stopping it
// later cannot race with its start), or with the error that ended it at once.
func serve(s *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	s.NotifyStartedFunc = func() { close(started) }
	go func() { failed <- s.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-failed:
		return fmt.Errorf("resolver: %w", err)
	}
}

// InstanceDNS is what the VPC's DHCP options tell its instances about DNS: the
// resolvers (domain-name-servers; AmazonProvidedDNS as the VPC's base + 2) and the search
// domains (domain-name, which may hold several separated by spaces). For compute drivers
// whose guests have no DHCP client: a container's resolv.conf is written from it at each
// boot, as a DHCP client would at each lease. A VPC whose policy has not arrived yet
// (an instance booting right after its launch committed) is waited for, a little.
func (n *Network) InstanceDNS(ctx context.Context, vpcID string) (nameServers []netip.Addr, search []string, err error) {
	if err := validateID("vpc", vpcID); err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(policyWait)
	for {
		if err := n.lock(ctx); err != nil {
			return nil, nil, err
		}
		p := n.policies[vpcID]
		if p != nil {
			nameServers = append(nameServers, p.DNS.NameServers...)
			search = splitDomains(p.DNS.DomainName)
		}
		n.mu.Unlock()
		if p != nil {
			return nameServers, search, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("vpcnet: no policy for %s yet", vpcID)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(policyPoll):
		}
	}
}

// How long InstanceDNS waits for a VPC's first policy, and how often it looks: the
// control plane pushes it right after the change that created the VPC's first
// interface commits.
const (
	policyWait = 5 * time.Second
	policyPoll = 20 * time.Millisecond
)

// splitDomains is the DHCP domain-name option as a list of domains.
func splitDomains(domainName string) []string {
	var out []string
	for _, d := range strings.Fields(domainName) {
		if d = strings.TrimSuffix(d, "."); d != "" {
			out = append(out, d)
		}
	}
	return out
}
