package vpcnet

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// kernelRoute is one route of a kernel table: to a next hop on a link (onlink), or a
// blackhole.
type kernelRoute struct {
	dst  netip.Prefix
	gw   netip.Addr // invalid for a blackhole
	link string
}

func (r kernelRoute) blackhole() bool { return !r.gw.IsValid() }

// routeTablesWanted renders every route table of the policy as kernel routes, by table
// number. A target that is not usable here (no internet gateway attached, a link not
// plugged yet, a NAT gateway left out) is a blackhole, as EC2 shows such a route; plugging
// the link renders the routes again. A route to a NAT gateway becomes the routes of the NAT
// gateway's subnet within it (natRoutes).
func routeTablesWanted(policy *netpolicy.VPC, tables map[string]int, links map[string]bool, peerAddr map[string]netip.Addr,
	nats map[string]natGateway) map[int][]kernelRoute {
	out := make(map[int][]kernelRoute, len(tables))
	for _, rt := range policy.RouteTables {
		routes := []kernelRoute{}
		seen := map[netip.Prefix]bool{}
		add := func(dst netip.Prefix, gw netip.Addr, link string) {
			if seen[dst] {
				return
			}
			seen[dst] = true
			kr := kernelRoute{dst: dst, gw: gw, link: link}
			if kr.link != "" && !links[kr.link] {
				kr.gw, kr.link = netip.Addr{}, ""
			}
			routes = append(routes, kr)
		}
		for _, r := range ipv4Routes(rt.Routes) {
			if r.Target != netpolicy.TargetNATGateway {
				gw, link := routeTarget(policy, r, peerAddr)
				add(r.Destination, gw, link)
				continue
			}
			nat, ok := nats[r.TargetID]
			if !ok {
				add(r.Destination, netip.Addr{}, "")
				continue
			}
			for _, part := range natRoutes(rt.Routes, r.Destination, routeTableOf(policy, nat.subnet.RouteTable)) {
				gw, link := natNextHop(policy, nat, part)
				add(part.Destination, gw, link)
			}
		}
		out[tables[rt.ID]] = routes
	}
	return out
}

// routeTableOf is the routes of the policy's route table with an ID (none when it has no
// such table).
func routeTableOf(policy *netpolicy.VPC, id string) []netpolicy.Route {
	for _, rt := range policy.RouteTables {
		if rt.ID == id {
			return rt.Routes
		}
	}
	return nil
}

// routeTarget is the next hop and link of a route other than to a NAT gateway, or nothing
// for a blackhole.
func routeTarget(policy *netpolicy.VPC, r netpolicy.Route, peerAddr map[string]netip.Addr) (netip.Addr, string) {
	switch r.Target {
	case netpolicy.TargetInternetGateway:
		if policy.InternetGateway != "" && r.TargetID == policy.InternetGateway {
			return uplinkInetAddr, routerUplink
		}
	case netpolicy.TargetInterface:
		if iface, ok := interfaceOf(policy, r.TargetID); ok && len(iface.Addresses) > 0 {
			return iface.Addresses[0], eniLink(iface.ID)
		}
	case netpolicy.TargetPeering:
		if addr, ok := peerAddr[r.TargetID]; ok {
			return addr, peeringLink(r.TargetID)
		}
	case netpolicy.TargetEndpoint:
		return serviceSideAddr, routerEndpointLink
	}
	return netip.Addr{}, ""
}

// syncRoutes makes strato's kernel tables in the router hold exactly want: routes are
// replaced in place (a packet always finds the old route or the new one), then routes
// and tables no longer wanted are deleted.
func syncRoutes(router string, want map[int][]kernelRoute) error {
	return withHandle(router, func(h *netlink.Handle) error {
		for _, table := range slices.Sorted(maps.Keys(want)) {
			for _, r := range want[table] {
				route, err := r.netlinkRoute(h, table)
				if err != nil {
					return err
				}
				if err := h.RouteReplace(route); err != nil {
					return fmt.Errorf("table %d, route to %v: %w", table, r.dst, err)
				}
			}
		}
		existing, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		for _, r := range existing {
			if !isRouteTableNumber(r.Table) {
				continue
			}
			if slices.ContainsFunc(want[r.Table], func(k kernelRoute) bool { return ipNet(k.dst).String() == dstString(r.Dst) }) {
				continue
			}
			if err := h.RouteDel(&r); err != nil && !isNotFound(err) {
				return fmt.Errorf("table %d, deleting the route to %s: %w", r.Table, dstString(r.Dst), err)
			}
		}
		return nil
	})
}

func dstString(dst *net.IPNet) string {
	if dst == nil {
		return "0.0.0.0/0"
	}
	return dst.String()
}

func (r kernelRoute) netlinkRoute(h *netlink.Handle, table int) (*netlink.Route, error) {
	route := &netlink.Route{Table: table, Dst: ipNet(r.dst)}
	if r.blackhole() {
		route.Type = unix.RTN_BLACKHOLE
		return route, nil
	}
	link, err := h.LinkByName(r.link)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", r.link, err)
	}
	route.LinkIndex = link.Attrs().Index
	route.Gw = net.IP(r.gw.AsSlice())
	route.Flags = int(netlink.FLAG_ONLINK)
	return route, nil
}

// ruleKey is what tells strato's rules apart.
type ruleKey struct {
	priority int
	table    int // 0: blackhole
	dst      string
	iif      string
}

// rulesWanted are the router's rules for a policy.
func rulesWanted(policy *netpolicy.VPC, tables map[string]int) []ruleKey {
	want := []ruleKey{{priority: ruleLocal, table: unix.RT_TABLE_MAIN}}
	for _, cidr := range policy.CIDRs {
		if cidr.Addr().Is4() {
			want = append(want, ruleKey{priority: ruleVPCBlackhole, dst: ipNet(cidr.Masked()).String()})
		}
	}
	for _, iface := range policy.Interfaces {
		if iface.Kind == netpolicy.InterfaceNATGateway {
			continue // no link: the router does its forwarding
		}
		subnet, ok := subnetOf(policy, iface.SubnetID)
		if !ok {
			continue
		}
		table, ok := tables[subnet.RouteTable]
		if !ok {
			continue // no route table: the local route only
		}
		want = append(want, ruleKey{priority: ruleInterface, table: table, iif: eniLink(iface.ID)})
	}
	return append(want, ruleKey{priority: ruleDrop})
}

// syncRules makes strato's rules (priorities ruleLocal to ruleDrop) in the router exactly
// want: missing ones first, then the unwanted ones go, so an interface moving to another
// table always finds one of the two.
func syncRules(router string, want []ruleKey) error {
	return withHandle(router, func(h *netlink.Handle) error {
		rules, err := h.RuleList(netlink.FAMILY_V4)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		have := map[ruleKey][]netlink.Rule{}
		for _, r := range rules {
			if r.Priority < ruleLocal || r.Priority > ruleDrop {
				continue
			}
			k := ruleKey{priority: r.Priority, table: r.Table, iif: r.IifName}
			if r.Dst != nil {
				k.dst = r.Dst.String()
			}
			have[k] = append(have[k], r)
		}
		for _, k := range want {
			if len(have[k]) > 0 {
				continue
			}
			if err := h.RuleAdd(k.rule()); err != nil {
				return fmt.Errorf("adding %+v: %w", k, err)
			}
			have[k] = append(have[k], *k.rule())
		}
		for k, rs := range have {
			extra := rs
			if slices.Contains(want, k) {
				extra = rs[1:] // duplicates
			}
			for _, r := range extra {
				if err := h.RuleDel(&r); err != nil && !isNotFound(err) {
					return fmt.Errorf("deleting %+v: %w", k, err)
				}
			}
		}
		return nil
	})
}

func (k ruleKey) rule() *netlink.Rule {
	r := netlink.NewRule()
	r.Family = netlink.FAMILY_V4
	r.Priority = k.priority
	r.IifName = k.iif
	if k.dst != "" {
		_, dst, _ := net.ParseCIDR(k.dst)
		r.Dst = dst
	}
	if k.table == 0 {
		r.Type = unix.FR_ACT_BLACKHOLE
	} else {
		r.Table = k.table
	}
	return r
}

// routerLinks are the names of the router's links.
func routerLinks(router string) (map[string]bool, error) {
	out := map[string]bool{}
	err := withHandle(router, func(h *netlink.Handle) error {
		links, err := linkList(h)
		if err != nil {
			return err
		}
		for _, l := range links {
			out[l.Attrs().Name] = true
		}
		return nil
	})
	return out, err
}
