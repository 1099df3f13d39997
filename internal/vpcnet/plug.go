package vpcnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
)

// Plug is one network interface (ENI) to wire into an instance's namespace.
type Plug struct {
	VpcID, InterfaceID string
	Netns              string // path from InstanceNetns
	DeviceIndex        int    // 0 → eth0 with the default route
	MAC                string
	PrivateIPs         []netip.Addr // first is primary
	Subnet             netip.Prefix
	Gateway            netip.Addr
}

// maxDeviceIndex bounds the instance-side names (eth0 … eth31); AWS's largest instance
// types take fewer interfaces than that per network card.
const maxDeviceIndex = 31

// validate checks p; withNetns says whether p.Netns must be an instance's namespace (a
// tap for a virtual machine has none).
func (p Plug) validate(withNetns bool) (net.HardwareAddr, error) {
	if err := validateID("vpc", p.VpcID); err != nil {
		return nil, err
	}
	if err := validateID("eni", p.InterfaceID); err != nil {
		return nil, err
	}
	if ok, err := isNamespaceFile(p.Netns); withNetns && (err != nil || !ok) {
		return nil, fmt.Errorf("vpcnet: %q is not a network namespace (%v)", p.Netns, err)
	}
	if p.DeviceIndex < 0 || p.DeviceIndex > maxDeviceIndex {
		return nil, fmt.Errorf("vpcnet: device index %d out of 0–%d", p.DeviceIndex, maxDeviceIndex)
	}
	mac, err := net.ParseMAC(p.MAC)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("vpcnet: MAC %q is not an Ethernet address", p.MAC)
	}
	if !p.Subnet.IsValid() || !p.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("vpcnet: subnet %v is not an IPv4 prefix", p.Subnet)
	}
	if !p.Subnet.Contains(p.Gateway) {
		return nil, fmt.Errorf("vpcnet: gateway %v is not in %v", p.Gateway, p.Subnet)
	}
	if len(p.PrivateIPs) == 0 {
		return nil, fmt.Errorf("vpcnet: %s has no private address", p.InterfaceID)
	}
	for _, a := range p.PrivateIPs {
		if !p.Subnet.Contains(a) || a == p.Gateway {
			return nil, fmt.Errorf("vpcnet: private address %v is not a host address of %v", a, p.Subnet)
		}
	}
	return mac, nil
}

// PlugInterface wires an interface into an instance's namespace and its VPC's router
// (made here if needed), and starts its metadata listener. Plugging the same interface
// again reconciles it: addresses, MAC and routes become what p says.
func (n *Network) PlugInterface(ctx context.Context, p Plug) error {
	mac, err := p.validate(true)
	if err != nil {
		return err
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.plug(p, func(router, link string) (int, error) { return wireInterface(router, link, p, mac) }); err != nil {
		return fmt.Errorf("vpcnet: plugging %s into %s: %w", p.InterfaceID, p.VpcID, err)
	}
	return nil
}

// plug wires an interface into its VPC's router (made here if needed) with wire, which
// makes and configures the router's link for it and returns its index, then brings the
// VPC's table, routes and the interface's metadata listener up to date.
func (n *Network) plug(p Plug, wire func(router, link string) (int, error)) error {
	router, err := n.ensureRouter(p.VpcID)
	if err != nil {
		return err
	}
	link := eniLink(p.InterfaceID)
	index, err := wire(router, link)
	if err != nil {
		return err
	}
	if err := n.syncVPCTable(router, p.VpcID); err != nil {
		return err
	}
	if policy := n.policies[p.VpcID]; policy != nil {
		// Routes through this interface (an appliance's) were blackholes until now.
		if err := n.applyRouting(router, policy); err != nil {
			return fmt.Errorf("routing: %w", err)
		}
	}
	return n.ensureListener(p.VpcID, p.InterfaceID, router, link, index)
}

// wireInterface makes an interface's veth pair (router end link) and configures both
// ends as p says; it returns the router end's index.
func wireInterface(router, link string, p Plug, mac net.HardwareAddr) (int, error) {
	if err := ensureInterfaceLink(router, link, p, mac); err != nil {
		return 0, err
	}
	if err := configureInstanceSide(p, mac); err != nil {
		return 0, err
	}
	return configureRouterSide(router, link, p)
}

// UnplugInterface removes an interface's veth pair and metadata listener. An interface that
// is not plugged is fine.
func (n *Network) UnplugInterface(ctx context.Context, vpcID, interfaceID string) error {
	if err := validateID("vpc", vpcID); err != nil {
		return err
	}
	if err := validateID("eni", interfaceID); err != nil {
		return err
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.mu.Unlock()
	n.stopListeners(func(l *metadataListener) bool { return l.interfaceID == interfaceID })
	router := n.routerNamespace(vpcID)
	if ok, err := isNamespaceFile(router); err != nil || !ok {
		return err
	}
	err := withHandle(router, func(h *netlink.Handle) error {
		link, err := h.LinkByName(eniLink(interfaceID))
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if alias := link.Attrs().Alias; alias != "" && alias != interfaceID {
			return nil // another interface's, whose ID ends the same way
		}
		return h.LinkDel(link)
	})
	if err == nil {
		err = n.syncVPCTable(router, vpcID)
	}
	if err != nil {
		return fmt.Errorf("vpcnet: unplugging %s: %w", interfaceID, err)
	}
	return nil
}

// ensureRouter makes (or checks) a VPC's router namespace and its uplink.
func (n *Network) ensureRouter(vpcID string) (string, error) {
	router := n.routerNamespace(vpcID)
	if err := ensureNamespace(router); err != nil {
		return "", err
	}
	// rp_filter off: which addresses an interface may use is decided exactly, per
	// interface, by the anti-spoofing rules; the reverse-path heuristic would only add
	// surprises (and hide a missing rule from the tests). accept_local for the same
	// reason, and for speed: with policy routing in place, the kernel otherwise checks
	// every forwarded packet's source with a second route lookup through all the rules,
	// only to refuse the router's own addresses, which the anti-spoofing rules and the
	// inet namespace's forward chain already keep out.
	if err := setSysctls(router, map[string]string{
		"ipv4.ip_forward":                  "1",
		"ipv4.conf.all.rp_filter":          "0",
		"ipv4.conf.default.rp_filter":      "0",
		"ipv4.conf.all.accept_local":       "1",
		"ipv4.conf.all.send_redirects":     "0",
		"ipv4.conf.default.send_redirects": "0",
	}); err != nil {
		return "", err
	}
	if err := withHandle(router, func(h *netlink.Handle) error {
		lo, err := h.LinkByName(metadataDevice)
		if err != nil {
			return err
		}
		return h.AddrReplace(lo, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(metadataAddr, 32))})
	}); err != nil {
		return "", err
	}
	if err := n.ensureUplink(vpcID, router); err != nil {
		return "", err
	}
	return router, nil
}

// ensureInterfaceLink makes the interface's veth pair — router end named link in the
// router, instance end ethN in the instance's namespace with the interface's MAC — unless
// the pair is already there.
func ensureInterfaceLink(router, link string, p Plug, mac net.HardwareAddr) error {
	inside := instanceLink(p.DeviceIndex)
	return withHandle(router, func(h *netlink.Handle) error {
		existing, err := h.LinkByName(link)
		if err == nil {
			if alias := existing.Attrs().Alias; alias != "" && alias != p.InterfaceID {
				return fmt.Errorf("link %s in the router belongs to %s", link, alias)
			}
			peered, err := peeredWith(existing, p.Netns, inside)
			if err != nil {
				return err
			}
			if peered {
				return nil
			}
			// Plugged elsewhere (another namespace or device index): start again.
			if err := h.LinkDel(existing); err != nil {
				return err
			}
		} else if !isNotFound(err) {
			return err
		}
		taken := false
		if err := withHandle(p.Netns, func(ih *netlink.Handle) error {
			_, err := ih.LinkByName(inside)
			taken = err == nil
			if isNotFound(err) {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("%s in the instance's namespace is another interface's", inside)
		}
		_, err = addVeth(h, link, p.Netns, inside, mac)
		return err
	})
}

// configureInstanceSide gives ethN its MAC and private addresses on the subnet's prefix,
// brings it up and, for device index 0, routes everything through the subnet's gateway.
func configureInstanceSide(p Plug, mac net.HardwareAddr) error {
	return withHandle(p.Netns, func(h *netlink.Handle) error {
		link, err := h.LinkByName(instanceLink(p.DeviceIndex))
		if err != nil {
			return err
		}
		if !slices.Equal(link.Attrs().HardwareAddr, mac) {
			if err := h.LinkSetDown(link); err != nil {
				return err
			}
			if err := h.LinkSetHardwareAddr(link, mac); err != nil {
				return fmt.Errorf("MAC %s: %w", mac, err)
			}
		}
		want := map[netip.Addr]bool{}
		for _, a := range p.PrivateIPs {
			want[a] = true
		}
		addrs, err := h.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			addr, _ := netip.AddrFromSlice(a.IP.To4())
			ones, _ := a.Mask.Size()
			if !want[addr] || ones != p.Subnet.Bits() {
				if err := h.AddrDel(link, &a); err != nil && !isNotFound(err) {
					return err
				}
			}
		}
		for _, a := range p.PrivateIPs {
			if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a, p.Subnet.Bits()))}); err != nil {
				return fmt.Errorf("address %v: %w", a, err)
			}
		}
		if err := h.LinkSetUp(link); err != nil {
			return err
		}
		if p.DeviceIndex != 0 {
			return nil
		}
		return h.RouteReplace(&netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       ipNet(netip.MustParsePrefix("0.0.0.0/0")),
			Gw:        net.IP(p.Gateway.AsSlice()),
		})
	})
}

// configureRouterSide names the router end after its interface (alias), gives it the
// subnet's gateway address (so the instance's ARP for its gateway is answered, and the
// router's own ARP requests come from an address in the instance's subnet), proxy ARP for
// the rest of the VPC, and a /32 route per private address. It returns the link's index.
func configureRouterSide(router, link string, p Plug) (int, error) {
	var index int
	err := withHandle(router, func(h *netlink.Handle) error {
		l, err := h.LinkByName(link)
		if err != nil {
			return err
		}
		index = l.Attrs().Index
		if err := h.LinkSetAlias(l, p.InterfaceID); err != nil {
			return err
		}
		gateway := netip.PrefixFrom(p.Gateway, 32)
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if addr, _ := netip.AddrFromSlice(a.IP.To4()); addr != p.Gateway {
				if err := h.AddrDel(l, &a); err != nil && !isNotFound(err) {
					return err
				}
			}
		}
		if err := h.AddrReplace(l, &netlink.Addr{IPNet: ipNet(gateway), Scope: int(netlink.SCOPE_LINK)}); err != nil {
			return err
		}
		if err := h.LinkSetUp(l); err != nil {
			return err
		}
		want := map[netip.Addr]bool{}
		for _, a := range p.PrivateIPs {
			want[a] = true
		}
		routes, err := interfaceRoutes(h, l)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if addr, _ := netip.AddrFromSlice(r.Dst.IP.To4()); !want[addr] {
				if err := h.RouteDel(&r); err != nil && !isNotFound(err) {
					return err
				}
			}
		}
		for _, a := range p.PrivateIPs {
			if err := h.RouteReplace(&netlink.Route{
				LinkIndex: index,
				Dst:       ipNet(netip.PrefixFrom(a, 32)),
				Scope:     netlink.SCOPE_LINK,
			}); err != nil {
				return fmt.Errorf("route to %v: %w", a, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// proxy_delay 0: answer at once instead of after up to 0.8 s (the kernel's default
	// delay for proxied ARP replies).
	return index, setSysctls(router, map[string]string{
		"ipv4.conf." + link + ".proxy_arp":    "1",
		"ipv4.neigh." + link + ".proxy_delay": "0",
	})
}

// interfaceRoutes are the /32 routes through an interface's router-side link: its private
// addresses.
func interfaceRoutes(h *netlink.Handle, l netlink.Link) ([]netlink.Route, error) {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: l.Attrs().Index}, netlink.RT_FILTER_OIF)
	if err != nil {
		return nil, err
	}
	var out []netlink.Route
	for _, r := range routes {
		if r.Dst != nil && r.Gw == nil {
			if ones, bits := r.Dst.Mask.Size(); ones == 32 && bits == 32 {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// syncVPCTable rewrites a VPC's table from what the router holds (each interface link
// and its /32 routes) and the VPC's policy as last set (or, before the first SetVPC, the
// public mappings already in the table).
func (n *Network) syncVPCTable(router, vpcID string) error {
	st, err := n.vpcState(router, vpcID)
	if err != nil {
		return err
	}
	return n.writeVPCTable(router, vpcID, st)
}

func (n *Network) vpcState(router, vpcID string) (vpcTableState, error) {
	st := vpcTableState{interfaces: map[string][]netip.Addr{}}
	err := withHandle(router, func(h *netlink.Handle) error {
		links, err := linkList(h)
		if err != nil {
			return err
		}
		for _, l := range links {
			if !isInterfaceDevice(l) {
				continue
			}
			routes, err := interfaceRoutes(h, l)
			if err != nil {
				return err
			}
			// An interface without routes gets an empty set: everything it sends is dropped.
			addrs := []netip.Addr{}
			for _, r := range routes {
				a, _ := netip.AddrFromSlice(r.Dst.IP.To4())
				addrs = append(addrs, a)
			}
			st.interfaces[l.Attrs().Name] = addrs
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if policy := n.policies[vpcID]; policy != nil {
		st.policy, st.public = policy, policy.Public
		return st, nil
	}
	st.public, err = n.readPublicMap(router, vpcID)
	return st, err
}

func isInterfaceLink(name string) bool {
	return strings.HasPrefix(name, "e") && name != routerUplink
}

// isInterfaceDevice tells an interface's router link — a veth to an instance's
// namespace, or a virtual machine's tap — from the router's other links.
func isInterfaceDevice(l netlink.Link) bool {
	switch l.(type) {
	case *netlink.Veth, *netlink.Tuntap:
		return isInterfaceLink(l.Attrs().Name)
	}
	return false
}
