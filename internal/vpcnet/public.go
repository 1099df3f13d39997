package vpcnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SetPublicAddresses replaces a VPC's public addresses: each public address in the map is
// NATed 1:1 to its private address in the VPC's router, and routed to the VPC's uplink in
// the inet namespace. Connections through an address that goes away or changes target are
// cut. The router is made if the VPC has none yet.
func (n *Network) SetPublicAddresses(ctx context.Context, vpcID string, publicToPrivate map[netip.Addr]netip.Addr) error {
	if err := validateID("vpc", vpcID); err != nil {
		return err
	}
	want := make(map[netip.Addr]netip.Addr, len(publicToPrivate))
	owner := map[netip.Addr]netip.Addr{}
	for pub, priv := range publicToPrivate {
		pub, priv = pub.Unmap(), priv.Unmap()
		if !pub.Is4() || !n.opts.PublicPool.Contains(pub) {
			return fmt.Errorf("vpcnet: public address %v is not in the pool %s", pub, n.opts.PublicPool)
		}
		if !priv.Is4() {
			return fmt.Errorf("vpcnet: private address %v is not IPv4", priv)
		}
		if other, dup := owner[priv]; dup {
			return fmt.Errorf("vpcnet: %v has two public addresses (%v, %v)", priv, other, pub)
		}
		owner[priv] = pub
		want[pub] = priv
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.mu.Unlock()
	if err := n.setPublic(vpcID, want); err != nil {
		return fmt.Errorf("vpcnet: public addresses of %s: %w", vpcID, err)
	}
	return nil
}

func (n *Network) setPublic(vpcID string, want map[netip.Addr]netip.Addr) error {
	router, err := n.ensureRouter(vpcID)
	if err != nil {
		return err
	}
	st, err := n.vpcState(router, vpcID)
	if err != nil {
		return err
	}
	before := st.public
	st.public = want
	inet := n.inetNamespace()
	uplink := uplinkLink(vpcID)
	// Order: routes to addresses that go are removed before the table changes, routes to
	// new ones added after, so the inet namespace never sends the router an address it
	// has no mapping for.
	if err := withHandle(inet, func(h *netlink.Handle) error {
		link, err := h.LinkByName(uplink)
		if err != nil {
			return err
		}
		if err := checkPublicRoutesFree(h, link, want); err != nil {
			return err
		}
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: link.Attrs().Index}, netlink.RT_FILTER_OIF)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if ones, _ := r.Dst.Mask.Size(); ones != 32 {
				continue
			}
			if a, _ := netip.AddrFromSlice(r.Dst.IP.To4()); !hasKey(want, a) {
				if err := h.RouteDel(&r); err != nil && !isNotFound(err) {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := n.writeVPCTable(router, vpcID, st); err != nil {
		return err
	}
	if err := withHandle(inet, func(h *netlink.Handle) error {
		link, err := h.LinkByName(uplink)
		if err != nil {
			return err
		}
		for pub := range want {
			if err := h.RouteReplace(&netlink.Route{
				LinkIndex: link.Attrs().Index,
				Dst:       ipNet(netip.PrefixFrom(pub, 32)),
				Gw:        net.IP(uplinkRouterAddr.AsSlice()),
				Flags:     int(netlink.FLAG_ONLINK),
			}); err != nil {
				return fmt.Errorf("route to %v: %w", pub, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	var gone []netip.Addr
	for pub, priv := range before {
		if want[pub] != priv {
			gone = append(gone, pub)
		}
	}
	return forgetConnections(router, gone)
}

// checkPublicRoutesFree fails when a wanted public address is routed to another VPC.
func checkPublicRoutesFree(h *netlink.Handle, uplink netlink.Link, want map[netip.Addr]netip.Addr) error {
	for pub := range want {
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4,
			&netlink.Route{Dst: ipNet(netip.PrefixFrom(pub, 32))}, netlink.RT_FILTER_DST)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.LinkIndex != uplink.Attrs().Index {
				other := "another link"
				if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
					other = l.Attrs().Alias
				}
				return fmt.Errorf("public address %v is mapped in %s", pub, other)
			}
		}
	}
	return nil
}

// forgetConnections deletes the router's conntrack entries through public addresses that
// went away, so that live connections stop with the mapping (as on AWS) instead of living
// on through NAT state the table no longer describes.
func forgetConnections(router string, public []netip.Addr) error {
	if len(public) == 0 {
		return nil
	}
	var filters []netlink.CustomConntrackFilter
	for _, pub := range public {
		ip := net.IP(pub.AsSlice())
		inbound, outbound := &netlink.ConntrackFilter{}, &netlink.ConntrackFilter{}
		if err := inbound.AddIP(netlink.ConntrackOrigDstIP, ip); err != nil {
			return err
		}
		if err := outbound.AddIP(netlink.ConntrackReplyDstIP, ip); err != nil {
			return err
		}
		filters = append(filters, inbound, outbound)
	}
	return withHandle(router, func(h *netlink.Handle) error {
		_, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
		return err
	})
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}
