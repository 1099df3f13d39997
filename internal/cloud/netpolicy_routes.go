package cloud

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"strato/internal/netpolicy"
	"strato/internal/store"
)

// policyACLs are the VPC's network ACLs, each direction in rule-number order and
// ending with the default deny (IPv4 entries only).
func policyACLs(tx store.Tx, s Scope, vpcID string) ([]netpolicy.NetworkACL, error) {
	acls, err := networkACLs.children(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(acls, func(a, b NetworkACL) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]netpolicy.NetworkACL, 0, len(acls))
	for _, a := range acls {
		pa := netpolicy.NetworkACL{ID: a.ID}
		// Entries are in rule-number order per direction and end with the
		// default rule, numbered as netpolicy numbers it.
		for _, e := range a.Entries() {
			if e.CIDR == "" {
				continue
			}
			entry, err := policyACLEntry(e)
			if err != nil {
				return nil, fmt.Errorf("network ACL %s, rule %d: %w", a.ID, e.RuleNumber, err)
			}
			appendDirection(&pa.Ingress, &pa.Egress, e.Egress, entry)
		}
		out = append(out, pa)
	}
	return out, nil
}

func policyACLEntry(e ACLEntry) (netpolicy.ACLEntry, error) {
	cidr, err := netip.ParsePrefix(e.CIDR)
	if err != nil {
		return netpolicy.ACLEntry{}, fmt.Errorf("unreadable CIDR %q", e.CIDR)
	}
	proto := netpolicy.ProtocolAll
	if e.Protocol != aclProtocolAll {
		if proto, err = strconv.Atoi(e.Protocol); err != nil {
			return netpolicy.ACLEntry{}, fmt.Errorf("unreadable protocol %q", e.Protocol)
		}
	}
	out := netpolicy.ACLEntry{RuleNumber: int(e.RuleNumber), Protocol: proto, FromPort: -1, ToPort: -1, CIDR: cidr.Masked(), Allow: e.RuleAction == "allow"}
	switch {
	case e.PortRange != nil:
		out.FromPort, out.ToPort = int(e.PortRange.From), int(e.PortRange.To)
	case e.ICMP != nil:
		out.FromPort, out.ToPort = int(e.ICMP.Type), int(e.ICMP.Code)
	}
	return out, nil
}

// policyRouteTables are the VPC's route tables without their local routes (the
// VPC's blocks are always local to the dataplane, so a local route whose target
// a middlebox replaced is left out too). A route whose target is gone or cannot
// carry traffic is a blackhole, as DescribeRouteTables reports it; a route to a
// prefix list becomes one route per IPv4 entry; a route to an instance goes to
// the instance's primary interface.
func policyRouteTables(tx store.Tx, s Scope, vpcID string) ([]netpolicy.RouteTable, error) {
	tables, err := routeTables.children(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(tables, func(a, b RouteTable) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]netpolicy.RouteTable, 0, len(tables))
	for _, t := range tables {
		if err := fillRouteStates(tx, s, &t); err != nil {
			return nil, err
		}
		pt := netpolicy.RouteTable{ID: t.ID}
		for _, r := range t.Routes {
			if r.Local || r.Target == TargetLocal || r.DestinationIPv6CIDR != "" {
				continue
			}
			dests, err := routeDestinations(tx, s, r)
			if err != nil {
				return nil, fmt.Errorf("route table %s: %w", t.ID, err)
			}
			target, targetID, err := routeTarget(tx, s, r)
			if err != nil {
				return nil, fmt.Errorf("route table %s: %w", t.ID, err)
			}
			for _, d := range dests {
				pt.Routes = append(pt.Routes, netpolicy.Route{Destination: d, Target: target, TargetID: targetID})
			}
		}
		out = append(out, pt)
	}
	return out, nil
}

// routeDestinations is a route's destination: its CIDR, or the current IPv4
// entries of its prefix list.
func routeDestinations(tx store.Tx, s Scope, r Route) ([]netip.Prefix, error) {
	if r.DestinationPrefixListID != "" {
		return prefixListEntries(tx, s, r.DestinationPrefixListID)
	}
	return parsePrefixes([]string{r.DestinationCIDR})
}

// routeTarget maps a route's target to the dataplane's; the route's state must be
// filled.
func routeTarget(tx store.Tx, s Scope, r Route) (target, id string, err error) {
	if r.State != RouteActive {
		return netpolicy.TargetBlackhole, "", nil
	}
	switch r.TargetKind() {
	case KindInternetGateway:
		return netpolicy.TargetInternetGateway, r.Target, nil
	case KindNATGateway:
		return netpolicy.TargetNATGateway, r.Target, nil
	case KindVPCPeeringConnection:
		return netpolicy.TargetPeering, r.Target, nil
	case KindVPCEndpoint:
		return netpolicy.TargetEndpoint, r.Target, nil
	case KindNetworkInterface:
		return netpolicy.TargetInterface, r.Target, nil
	case KindInstance:
		eni, err := primaryInterfaceOf(tx, s, r.Target)
		if isNotFound(err) || eni == "" {
			return netpolicy.TargetBlackhole, "", nil
		}
		return netpolicy.TargetInterface, eni, err
	}
	// Targets the dataplane cannot carry to (a VPN gateway strato does not have).
	return netpolicy.TargetBlackhole, "", nil
}

func init() {
	// A route to an instance is a route to its primary interface (VPC User
	// Guide, "Route table concepts"): it carries traffic while that interface
	// does.
	if _, ok := routeTargets[KindInstance]; !ok {
		routeTargets[KindInstance] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
			eni, err := primaryInterfaceOf(tx, s, id)
			if err != nil {
				return RouteTarget{}, err
			}
			if eni == "" {
				return RouteTarget{}, &NotFoundError{Kind: KindInstance, ID: id}
			}
			return routeTargets[KindNetworkInterface](tx, s, eni)
		}
	}
}
