package vpcnet

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// A NAT gateway is rendered in its VPC's router, in the pass every packet of the VPC
// already makes there: it has no namespace and no link of its own.
//
//   - Routing. A route whose target is a NAT gateway becomes what the NAT gateway's own
//     subnet's route table does with those destinations (natRoutes): where that table
//     sends them to the internet gateway or to a gateway endpoint, they leave by the
//     uplink or the endpoint link with the NAT gateway's private address as next hop;
//     anywhere else (no route, a blackhole, a peering, an appliance, another NAT gateway)
//     is a blackhole. So the NAT gateway's subnet needs 0.0.0.0/0 → igw for it to work,
//     as on AWS. A permanent neighbour entry on each of those links takes the next hop to
//     the link's other end: the address is the NAT gateway's identity in the router, no
//     one answers ARP for it.
//   - Translation. At the uplink, a connection whose next hop is a NAT gateway leaves
//     from that NAT gateway's Elastic IP (map natgw_eip, by next hop); towards an
//     endpoint, from its private address. The same rule labels the connection with the
//     NAT gateway's private address (its conntrack label, natLabel), by which its replies
//     are known; conntrack keeps the mapping and takes the replies back. One conntrack
//     entry per connection. (The label, not the mark: the mark holds the filter's verdict
//     cache, and a label is set once and never changes, as this one.)
//   - Policy. The network ACLs of the NAT gateway's subnet and its flow logs apply as if
//     the packets crossed its interface, on both legs (filter_nat.go); the instance's
//     groups, ACLs and flow logs apply as to any packet it sends out of its subnet.
//   - Nothing opens a connection through it: conntrack creates a mapping only for a
//     connection that leaves through it. Its Elastic IP is NATed to its private address
//     like any public address, and that address has no route in the router: what comes
//     in to it ends in the VPC's blackhole, silently.
//
// Earlier versions gave each NAT gateway a namespace ("<Prefix>-nat-…", its loopback's
// alias the VPC's ID) and a link in the router; applyRouting removes what is left of them.

// natGateway is a NAT gateway the router can render, and its subnet.
type natGateway struct {
	netpolicy.NATGateway
	subnet netpolicy.Subnet
}

// natGateways are the policy's NAT gateways the router renders, by ID: an IPv4 private
// address in their subnet and an Elastic IP mapped to it. The others are left out (routes
// to them are blackholes) and reported.
func natGateways(policy *netpolicy.VPC) (map[string]natGateway, []error) {
	out := map[string]natGateway{}
	var errs []error
	for _, nat := range policy.NATGateways {
		g, err := usableNATGateway(policy, nat)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nat.ID, err))
			continue
		}
		out[nat.ID] = g
	}
	return out, errs
}

func usableNATGateway(policy *netpolicy.VPC, nat netpolicy.NATGateway) (natGateway, error) {
	if err := validateID("nat", nat.ID); err != nil {
		return natGateway{}, err
	}
	subnetID := nat.SubnetID
	if iface, ok := interfaceOf(policy, nat.InterfaceID); ok && iface.SubnetID != "" {
		subnetID = iface.SubnetID
	}
	subnet, ok := subnetOf(policy, subnetID)
	if !ok {
		return natGateway{}, fmt.Errorf("its subnet %s is not in the policy", subnetID)
	}
	priv, pub := nat.PrivateIP.Unmap(), nat.PublicIP.Unmap()
	if !priv.Is4() || !subnet.CIDR.Contains(priv) {
		return natGateway{}, fmt.Errorf("its private address %v is not in its subnet %v", nat.PrivateIP, subnet.CIDR)
	}
	if !pub.Is4() || policy.Public[pub] != priv {
		return natGateway{}, fmt.Errorf("its Elastic IP %v is not mapped to %v", nat.PublicIP, priv)
	}
	nat.PrivateIP, nat.PublicIP = priv, pub
	return natGateway{NATGateway: nat, subnet: subnet}, nil
}

// natRoutes renders the route dst → NAT gateway of a route table whose routes are own:
// the parts of dst the NAT gateway's subnet's route table (natTable) routes somewhere,
// each with the route of natTable that decides it (the zero Route where natTable has
// none). dst itself comes first, decided by the most specific route of natTable that
// holds all of it; then every route of natTable strictly inside dst, unless a route of own
// more specific than dst holds it (that route decides those addresses, not the NAT
// gateway).
func natRoutes(own []netpolicy.Route, dst netip.Prefix, natTable []netpolicy.Route) []netpolicy.Route {
	covering := netpolicy.Route{}
	var inside []netpolicy.Route
	for _, r := range ipv4Routes(natTable) {
		switch {
		case holds(r.Destination, dst) && (!covering.Destination.IsValid() || r.Destination.Bits() > covering.Destination.Bits()):
			covering = r
		case holds(dst, r.Destination) && r.Destination != dst:
			inside = append(inside, r)
		}
	}
	out := []netpolicy.Route{covering}
	out[0].Destination = dst
	for _, r := range inside {
		taken := slices.ContainsFunc(ipv4Routes(own), func(o netpolicy.Route) bool {
			return o.Destination != dst && holds(dst, o.Destination) && holds(o.Destination, r.Destination)
		})
		if !taken {
			out = append(out, r)
		}
	}
	return out
}

// ipv4Routes are a table's IPv4 routes, masked, the first of each destination (as the
// kernel table holds them).
func ipv4Routes(routes []netpolicy.Route) []netpolicy.Route {
	var out []netpolicy.Route
	seen := map[netip.Prefix]bool{}
	for _, r := range routes {
		r.Destination = r.Destination.Masked()
		if !r.Destination.Addr().Is4() || seen[r.Destination] {
			continue
		}
		seen[r.Destination] = true
		out = append(out, r)
	}
	return out
}

// holds says whether prefix a contains all of prefix b.
func holds(a, b netip.Prefix) bool { return a.Bits() <= b.Bits() && a.Contains(b.Addr()) }

// natNextHop is where a NAT gateway sends what its subnet's route r decides: the uplink
// or the endpoint link, with the NAT gateway's private address as next hop; nothing (a
// blackhole) for any other target.
func natNextHop(policy *netpolicy.VPC, nat natGateway, r netpolicy.Route) (netip.Addr, string) {
	switch r.Target {
	case netpolicy.TargetInternetGateway:
		if policy.InternetGateway != "" && r.TargetID == policy.InternetGateway {
			return nat.PrivateIP, routerUplink
		}
	case netpolicy.TargetEndpoint:
		return nat.PrivateIP, routerEndpointLink
	}
	return netip.Addr{}, ""
}

// natNeighbourLinks are the router's links a NAT gateway's next hop can be on, and the
// namespace and name of each one's other end.
func (n *Network) natNeighbourLinks(vpcID string) map[string][2]string {
	return map[string][2]string{
		routerUplink:       {n.inetNamespace(), uplinkLink(vpcID)},
		routerEndpointLink: {n.servicesNamespace(), serviceLink(vpcID)},
	}
}

// syncNATNeighbours makes the permanent neighbour entries on the uplink and the endpoint
// link (when there is one) exactly one per NAT gateway, each pointing at the link's
// other end.
func (n *Network) syncNATNeighbours(router string, policy *netpolicy.VPC, nats map[string]natGateway) error {
	var errs []error
	for link, peer := range n.natNeighbourLinks(policy.ID) {
		var peerMAC net.HardwareAddr
		if ok, err := isNamespaceFile(peer[0]); err != nil {
			return err
		} else if ok {
			if err := withHandle(peer[0], func(h *netlink.Handle) error {
				l, err := h.LinkByName(peer[1])
				if err == nil {
					peerMAC = l.Attrs().HardwareAddr
				}
				if isNotFound(err) {
					return nil
				}
				return err
			}); err != nil {
				return err
			}
		}
		errs = append(errs, withHandle(router, func(h *netlink.Handle) error {
			l, err := h.LinkByName(link)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return syncNeighbours(h, l.Attrs().Index, peerMAC, nats)
		}))
	}
	return errors.Join(errs...)
}

// syncNeighbours sets a permanent entry per NAT gateway's private address on the link
// (none when the other end's MAC is unknown) and deletes the permanent entries of others.
func syncNeighbours(h *netlink.Handle, index int, mac net.HardwareAddr, nats map[string]natGateway) error {
	want := map[netip.Addr]bool{}
	if mac != nil {
		for _, nat := range nats {
			want[nat.PrivateIP] = true
			if err := h.NeighSet(&netlink.Neigh{LinkIndex: index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
				IP: net.IP(nat.PrivateIP.AsSlice()), HardwareAddr: mac}); err != nil {
				return fmt.Errorf("neighbour %v: %w", nat.PrivateIP, err)
			}
		}
	}
	neighs, err := h.NeighList(index, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, nb := range neighs {
		addr, _ := netip.AddrFromSlice(nb.IP.To4())
		if nb.State&netlink.NUD_PERMANENT == 0 || want[addr] {
			continue
		}
		if err := h.NeighDel(&nb); err != nil && !isNotFound(err) {
			return fmt.Errorf("neighbour %v: %w", addr, err)
		}
	}
	return nil
}

// natNamespace is where an earlier version kept a NAT gateway.
func (n *Network) natNamespace(natID string) string { return n.nsPath(natID) }

// removeNATNamespaces removes the NAT gateway namespaces an earlier version made for a
// VPC (found by their loopback's alias), and with each its link into the router.
func (n *Network) removeNATNamespaces(vpcID string) error {
	entries, err := os.ReadDir(n.opts.RunDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		natID, ok := strings.CutPrefix(e.Name(), n.opts.Prefix+"-")
		if !ok || !strings.HasPrefix(natID, "nat-") {
			continue
		}
		ns := n.natNamespace(natID)
		if ok, err := isNamespaceFile(ns); err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		owner := ""
		if err := withHandle(ns, func(h *netlink.Handle) error {
			lo, err := h.LinkByName("lo")
			if err != nil {
				return err
			}
			owner = lo.Attrs().Alias
			return nil
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		if owner != vpcID {
			continue
		}
		errs = append(errs, deleteLinkIn(ns, "eth0"), removeNamespace(ns))
	}
	return errors.Join(errs...)
}

// Names of the NAT gateways' translation in a VPC table.
const (
	mapNATPublic = "natgw_eip" // next hop (a NAT gateway's private address) → its Elastic IP
	setNATHops   = "natgw"     // the NAT gateways' private addresses
)

// addNATGatewayRules adds, to the VPC's source NAT chain, the translation of connections
// whose next hop is a NAT gateway: to its Elastic IP out of the uplink, to its private
// address towards an endpoint, labelling it with the NAT gateway's private address (the
// 4 bytes of the next hop), which tells its replies apart in the filter. A connection's
// first packet alone passes here, so the rest of the connection costs nothing more.
func addNATGatewayRules(c *nftables.Conn, snat *nftables.Chain, policy *netpolicy.VPC) error {
	var hops, public []nftables.SetElement
	if policy != nil {
		nats, _ := natGateways(policy) // routing reports those left out
		for _, id := range slices.Sorted(maps.Keys(nats)) {
			nat := nats[id]
			hops = append(hops, nftables.SetElement{Key: nat.PrivateIP.AsSlice()})
			public = append(public, nftables.SetElement{Key: nat.PrivateIP.AsSlice(), Val: nat.PublicIP.AsSlice()})
		}
	}
	table := snat.Table
	publicMap := &nftables.Set{Table: table, Name: mapNATPublic, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeIPAddr}
	hopSet := &nftables.Set{Table: table, Name: setNATHops, KeyType: nftables.TypeIPAddr}
	if err := c.AddSet(publicMap, public); err != nil {
		return err
	}
	if err := c.AddSet(hopSet, hops); err != nil {
		return err
	}
	nextHop := []expr.Any{
		// The next hop in the first 4 of register 1's 16 bytes, the rest zero: the label.
		&expr.Immediate{Register: 1, Data: make([]byte, ctLabelBytes)},
		&expr.Rt{Register: 1, Key: expr.RtNexthop4},
	}
	labelWithHop := &expr.Ct{Key: expr.CtKeyLABELS, Register: 1, SourceRegister: true}
	c.AddRule(&nftables.Rule{Table: table, Chain: snat, Exprs: slices.Concat(matchIfname(expr.MetaKeyOIFNAME, routerUplink),
		nextHop, []expr.Any{
			&expr.Lookup{SourceRegister: 1, DestRegister: 2, IsDestRegSet: true, SetName: publicMap.Name, SetID: publicMap.ID},
			labelWithHop,
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 2},
		})})
	c.AddRule(&nftables.Rule{Table: table, Chain: snat, Exprs: slices.Concat(matchIfname(expr.MetaKeyOIFNAME, routerEndpointLink),
		nextHop, []expr.Any{
			&expr.Lookup{SourceRegister: 1, SetName: hopSet.Name, SetID: hopSet.ID},
			labelWithHop,
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
		})})
	return nil
}
