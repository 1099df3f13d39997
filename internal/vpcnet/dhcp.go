package vpcnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"
	ipv4net "golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Each router namespace answers DHCP on its interface links, as the VPC's DHCP service
// does on AWS: a guest with its own DHCP client (a virtual machine's; containers have
// their addresses put on their links directly) asks on its link and is given its
// interface's primary private address, the subnet's mask and gateway (base + 1, which
// is also the server's identifier), and the VPC's DHCP options: name servers and
// domain name. The host name option is the interface's private host name
// (ip-10-0-1-5), as AWS's DHCP service sends it. Leases last an hour, as AWS's do.
//
// One UDP socket on port 67 serves every link of the router; the link a request came
// in on (IP_PKTINFO) says which interface asks, so a guest can only ever be given its
// own interface's address whatever MAC or client ID it claims. Replies go back out of
// that link: broadcast to a client that has no address yet, unicast to one renewing.

const (
	dhcpServerPort = 67
	dhcpClientPort = 68
	dhcpLeaseTime  = time.Hour
)

// dhcpLease is what one interface link is given.
type dhcpLease struct {
	addr        netip.Addr
	subnet      netip.Prefix
	nameServers []netip.Addr
	domain      string
	hostname    string
}

// dhcpLeases maps router link names to their leases, one version per policy.
type dhcpLeases map[string]dhcpLease

// leasesOf is the lease of every interface of the policy that has an address.
func leasesOf(policy *netpolicy.VPC) dhcpLeases {
	subnets := map[string]netip.Prefix{}
	for _, s := range policy.Subnets {
		subnets[s.ID] = s.CIDR
	}
	out := dhcpLeases{}
	for _, ifc := range policy.Interfaces {
		subnet, ok := subnets[ifc.SubnetID]
		if len(ifc.Addresses) == 0 || !ok || !subnet.Addr().Is4() {
			continue
		}
		a := ifc.Addresses[0].As4()
		out[eniLink(ifc.ID)] = dhcpLease{addr: ifc.Addresses[0], subnet: subnet, nameServers: policy.DNS.NameServers,
			domain: policy.DNS.DomainName, hostname: fmt.Sprintf("ip-%d-%d-%d-%d", a[0], a[1], a[2], a[3])}
	}
	return out
}

// reply answers one request from the link's lease; nil means no answer (a request
// that is not for this server, or a message a server does not answer).
func (l dhcpLease) reply(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return nil, nil
	}
	gateway := subnetGateway(l.subnet)
	var kind dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		kind = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		// A request for another server's offer is none of ours; one for another
		// address (a lease from an earlier life of the link) is refused, so the client
		// starts over.
		if id := req.ServerIdentifier(); id != nil && !id.Equal(gateway.AsSlice()) {
			return nil, nil
		}
		asked := req.RequestedIPAddress()
		if asked == nil || asked.IsUnspecified() {
			asked = req.ClientIPAddr
		}
		if a, ok := netip.AddrFromSlice(asked.To4()); !ok || a != l.addr {
			return dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
				dhcpv4.WithServerIP(gateway.AsSlice()), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(gateway.AsSlice())))
		}
		kind = dhcpv4.MessageTypeAck
	case dhcpv4.MessageTypeInform:
		kind = dhcpv4.MessageTypeAck
	default:
		// Release and decline change nothing: the address is the interface's.
		return nil, nil
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(kind),
		dhcpv4.WithServerIP(gateway.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(gateway.AsSlice())),
		dhcpv4.WithNetmask(net.CIDRMask(l.subnet.Bits(), 32)),
		dhcpv4.WithRouter(gateway.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptHostName(l.hostname)),
		dhcpv4.WithOption(dhcpv4.OptBroadcastAddress(lastAddr(l.subnet).AsSlice())),
	}
	if req.MessageType() != dhcpv4.MessageTypeInform {
		mods = append(mods, dhcpv4.WithYourIP(l.addr.AsSlice()), dhcpv4.WithLeaseTime(uint32(dhcpLeaseTime/time.Second)))
	}
	if len(l.nameServers) > 0 {
		var ns []net.IP
		for _, a := range l.nameServers {
			ns = append(ns, a.AsSlice())
		}
		mods = append(mods, dhcpv4.WithDNS(ns...))
	}
	if l.domain != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDomainName(l.domain)))
	}
	return dhcpv4.NewReplyFromRequest(req, mods...)
}

// lastAddr is a prefix's last (broadcast) address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// applyDHCP starts the router's DHCP server, or gives the running one the policy's
// leases.
func (n *Network) applyDHCP(router string, policy *netpolicy.VPC) error {
	leases := leasesOf(policy)
	if s := n.dhcpServers[policy.ID]; s != nil {
		s.update(leases)
		return nil
	}
	s, err := startDHCP(router, leases)
	if err != nil {
		return err
	}
	n.dhcpServers[policy.ID] = s
	return nil
}

// dhcpServer is one router's DHCP service.
type dhcpServer struct {
	router string
	conn   *ipv4net.PacketConn
	leases atomic.Pointer[dhcpLeases]
	done   chan struct{}
	mu     sync.Mutex
	names  map[int]string // link index → name, learnt as requests arrive
}

// startDHCP opens the router's DHCP socket and serves it until stop.
func startDHCP(router string, leases dhcpLeases) (*dhcpServer, error) {
	var pc net.PacketConn
	err := inNamespace(router, func() error {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				// Replies go to 255.255.255.255 while the client has no address.
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			})
			return errors.Join(err, serr)
		}}
		var err error
		pc, err = lc.ListenPacket(nil, "udp4", fmt.Sprintf("0.0.0.0:%d", dhcpServerPort))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("DHCP socket: %w", err)
	}
	conn := ipv4net.NewPacketConn(pc)
	if err := conn.SetControlMessage(ipv4net.FlagInterface, true); err != nil {
		pc.Close()
		return nil, fmt.Errorf("DHCP socket: %w", err)
	}
	s := &dhcpServer{router: router, conn: conn, done: make(chan struct{}), names: map[int]string{}}
	s.leases.Store(&leases)
	go s.serve()
	return s, nil
}

func (s *dhcpServer) update(leases dhcpLeases) { s.leases.Store(&leases) }

func (s *dhcpServer) stop() {
	s.conn.Close()
	<-s.done
}

func (s *dhcpServer) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, cm, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if cm == nil {
			continue
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			continue
		}
		lease, ok := (*s.leases.Load())[s.linkName(cm.IfIndex)]
		if !ok {
			continue // a link without an interface of the policy: nothing to give
		}
		resp, err := lease.reply(req)
		if err != nil || resp == nil {
			continue
		}
		to := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpClientPort}
		if src, ok := from.(*net.UDPAddr); ok && !src.IP.IsUnspecified() && !req.IsBroadcast() {
			to = src // renewing: the client has its address
		}
		_, _ = s.conn.WriteTo(resp.ToBytes(), &ipv4net.ControlMessage{IfIndex: cm.IfIndex, Src: subnetGateway(lease.subnet).AsSlice()}, to)
	}
}

// linkName is the name of the router's link with this index. Names are asked of the
// kernel (a link made again gets a new index) and remembered.
func (s *dhcpServer) linkName(index int) string {
	s.mu.Lock()
	name, ok := s.names[index]
	s.mu.Unlock()
	if ok {
		return name
	}
	_ = withHandle(s.router, func(h *netlink.Handle) error {
		l, err := h.LinkByIndex(index)
		if err == nil {
			name = l.Attrs().Name
		}
		return err
	})
	if name != "" {
		s.mu.Lock()
		s.names[index] = name
		s.mu.Unlock()
	}
	return name
}
