package vpcnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// SetVPC renders a VPC's whole policy: its public addresses (each NATed 1:1 to its
// private address in the VPC's router and routed to the VPC's uplink in the inet
// namespace), security groups, network ACLs, routes, gateways, peerings, DNS and flow
// logs. Connections through a public address that goes away or changes target are cut.
// The router is made if the VPC has none yet. The policy is kept, so that plugging an
// interface later renders it again; until a VPC's first SetVPC (after Open, say), the
// tables already in the kernel stay as they are.
func (n *Network) SetVPC(ctx context.Context, policy netpolicy.VPC) error {
	if err := validateID("vpc", policy.ID); err != nil {
		return err
	}
	want, err := n.checkPublic(policy.Public)
	if err != nil {
		return err
	}
	policy.Public = want
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.mu.Unlock()
	before := n.policies[policy.ID]
	n.policies[policy.ID] = &policy
	if err := n.setVPC(before, &policy); err != nil {
		return fmt.Errorf("vpcnet: policy of %s: %w", policy.ID, err)
	}
	return nil
}

// checkPublic validates a public → private map: public addresses from the pool, IPv4
// private addresses, no private address with two public ones.
func (n *Network) checkPublic(publicToPrivate map[netip.Addr]netip.Addr) (map[netip.Addr]netip.Addr, error) {
	want := make(map[netip.Addr]netip.Addr, len(publicToPrivate))
	owner := map[netip.Addr]netip.Addr{}
	for pub, priv := range publicToPrivate {
		pub, priv = pub.Unmap(), priv.Unmap()
		if !pub.Is4() || !n.opts.PublicPool.Contains(pub) {
			return nil, fmt.Errorf("vpcnet: public address %v is not in the pool %s", pub, n.opts.PublicPool)
		}
		if !priv.Is4() {
			return nil, fmt.Errorf("vpcnet: private address %v is not IPv4", priv)
		}
		if other, dup := owner[priv]; dup {
			return nil, fmt.Errorf("vpcnet: %v has two public addresses (%v, %v)", priv, other, pub)
		}
		owner[priv] = pub
		want[pub] = priv
	}
	return want, nil
}

// setVPC renders policy: the table (public addresses, filter), then routing (and, when
// the routes changed, a new generation of the filter's verdict cache, now that they are
// in place), DNS and flow logs. before is the policy it replaces (nil when none): flows it left untracked
// that policy no longer allows are cut.
func (n *Network) setVPC(before, policy *netpolicy.VPC) error {
	router, err := n.ensureRouter(policy.ID)
	if err != nil {
		return err
	}
	routes, err := routingState(router)
	if err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	if err := n.setPublic(router, policy.ID, policy.Public); err != nil {
		return err
	}
	if err := forgetUntracked(router, before, policy); err != nil {
		return fmt.Errorf("untracked connections: %w", err)
	}
	if err := n.applyRouting(router, policy); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	// The table was rendered with the routes before: when they changed, what passed in
	// between was judged with the old ones.
	if newRoutes, err := routingState(router); err != nil || newRoutes != routes {
		if err := n.renewVerdictCache(router, policy.ID, policy); err != nil {
			return fmt.Errorf("verdict cache: %w", err)
		}
	}
	if err := n.applyDNS(router, policy); err != nil {
		return fmt.Errorf("DNS: %w", err)
	}
	if err := n.applyFlowLogs(router, policy); err != nil {
		return fmt.Errorf("flow logs: %w", err)
	}
	if err := n.applyDHCP(router, policy); err != nil {
		return fmt.Errorf("DHCP: %w", err)
	}
	return nil
}

// setPublic writes the VPC's table with want as its public mappings, and the inet
// namespace's routes to them.
func (n *Network) setPublic(router, vpcID string, want map[netip.Addr]netip.Addr) error {
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
