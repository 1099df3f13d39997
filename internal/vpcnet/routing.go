package vpcnet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Routing is policy routing in the VPC's router namespace:
//
//   - The main table holds a /32 per interface address (made by plug) and nothing that
//     leaves the VPC. A rule sends everything to it first, so the local route always
//     wins; a rule per VPC CIDR then drops what main did not know (an address of the VPC
//     that no interface has goes nowhere, as on AWS).
//   - Each route table of the policy is a kernel table (a stable number from its ID). A
//     rule per interface of the policy ("iif e…") looks up its subnet's table.
//   - A last rule drops the rest silently (blackhole: no ICMP, as AWS): the uplink, a
//     peering link and the endpoint link follow the local route only.
//
// Rules and routes are reconciled (what is missing added, then what is not wanted
// deleted), never flushed, so live connections keep flowing while a policy changes.

// Rule priorities in a router. Everything from ruleLocal to ruleDrop is strato's.
const (
	ruleLocal        = 100   // lookup main (the interfaces' /32s)
	ruleVPCBlackhole = 110   // to <VPC CIDR> blackhole
	ruleInterface    = 1000  // iif e… lookup <its subnet's table>
	ruleDrop         = 32000 // blackhole
)

// Kernel table numbers of route tables: routeTableBase + a hash of the route table's ID.
const (
	routeTableBase  = 0x10000
	routeTableRange = 1 << 24
)

// applyRouting makes the router's rules, routes, NAT gateways' next hops, peering links
// and endpoint link what the VPC's policy says.
func (n *Network) applyRouting(router string, policy *netpolicy.VPC) error {
	if err := n.ensurePeerings(router, policy); err != nil {
		return fmt.Errorf("peering: %w", err)
	}
	if err := n.ensureEndpointLink(router, policy); err != nil {
		return fmt.Errorf("endpoints: %w", err)
	}
	nats, errs := natGateways(policy)
	for _, err := range errs {
		n.log.Warn("vpcnet: NAT gateway left out", "vpc", policy.ID, "err", err)
	}
	// Next hops before the routes through them, so that no packet waits for an ARP
	// answer that never comes.
	if err := n.syncNATNeighbours(router, policy, nats); err != nil {
		return fmt.Errorf("NAT gateways: %w", err)
	}
	links, err := routerLinks(router)
	if err != nil {
		return err
	}
	tables := kernelTables(policy.RouteTables)
	if err := syncRoutes(router, routeTablesWanted(policy, tables, links, n.peerAddrs(policy), nats)); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	if err := syncRules(router, rulesWanted(policy, tables)); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	// What goes last: links nobody routes through any more, and the NAT gateway
	// namespaces of earlier versions.
	return errors.Join(n.removeStalePeerings(router, policy), n.removeNATNamespaces(policy.ID))
}

// routingState is what decides where the router sends a packet, as text that is equal
// when nothing changed: its IPv4 routes of every table and its rules.
func routingState(router string) (string, error) {
	var lines []string
	err := withHandle(router, func(h *netlink.Handle) error {
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return err // an interrupted dump too: a partial list would look like a change or hide one
		}
		for _, r := range routes {
			lines = append(lines, fmt.Sprintf("route %d %s %v %d %d %d %d", r.Table, dstString(r.Dst), r.Gw, r.LinkIndex, r.Type, r.Flags, r.Priority))
		}
		rules, err := h.RuleList(netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range rules {
			lines = append(lines, fmt.Sprintf("rule %d %d %s %v %d", r.Priority, r.Table, r.IifName, r.Dst, r.Type))
		}
		return nil
	})
	slices.Sort(lines)
	return strings.Join(lines, "\n"), err
}

// removeRouting removes what routing made for a VPC outside its router namespace: its link
// into the services namespace (and NAT gateway namespaces an earlier version made).
// Peering links and the rest live in the router and go with it.
func (n *Network) removeRouting(vpcID string) error {
	return errors.Join(n.removeNATNamespaces(vpcID), n.removeEndpointLink(vpcID))
}

// kernelTables numbers route tables: a hash of the ID, so the number is the same after a
// restart; on a collision (rare: 2^24 numbers) the later ID in sorted order takes the
// next free one.
func kernelTables(tables []netpolicy.RouteTable) map[string]int {
	ids := make([]string, 0, len(tables))
	for _, t := range tables {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	out := make(map[string]int, len(ids))
	taken := map[int]bool{}
	for _, id := range ids {
		h := fnv.New32a()
		h.Write([]byte(id))
		slot := int(h.Sum32() % routeTableRange)
		for taken[routeTableBase+slot] {
			slot = (slot + 1) % routeTableRange
		}
		taken[routeTableBase+slot] = true
		out[id] = routeTableBase + slot
	}
	return out
}

func isRouteTableNumber(table int) bool {
	return table >= routeTableBase && table < routeTableBase+routeTableRange
}

// subnetOf finds a subnet of the policy by ID.
func subnetOf(policy *netpolicy.VPC, id string) (netpolicy.Subnet, bool) {
	for _, s := range policy.Subnets {
		if s.ID == id {
			return s, true
		}
	}
	return netpolicy.Subnet{}, false
}

// interfaceOf finds an interface of the policy by ID.
func interfaceOf(policy *netpolicy.VPC, id string) (netpolicy.Interface, bool) {
	for _, i := range policy.Interfaces {
		if i.ID == id {
			return i, true
		}
	}
	return netpolicy.Interface{}, false
}

// subnetGateway is the router's address in a subnet (its base + 1).
func subnetGateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }
