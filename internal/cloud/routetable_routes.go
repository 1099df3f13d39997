package cloud

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"strato/internal/store"
)

// Route is one destination of a route table and where traffic to it goes. Where
// several routes match a packet the most specific (longest prefix) wins, so routes
// that contain or are contained in other routes are allowed; only the same
// destination twice is refused.
type Route struct {
	// Exactly one destination is set.
	DestinationCIDR         string `json:"cidr,omitempty"`
	DestinationIPv6CIDR     string `json:"ipv6Cidr,omitempty"`
	DestinationPrefixListID string `json:"prefixListId,omitempty"`
	// Target is TargetLocal or the ID of what the route points at (an internet,
	// egress-only or VPN gateway, a NAT gateway, a network interface, an instance,
	// a peering connection or a gateway VPC endpoint); its prefix says which.
	Target string `json:"target"`
	Origin string `json:"origin"`
	// Local marks the local route of one of the VPC's blocks: it cannot be
	// deleted, and when its target was replaced (by a middlebox) it can be
	// restored to TargetLocal.
	Local bool `json:"local,omitempty"`
	// State is "active" or "blackhole", worked out when the table is read.
	State string `json:"-"`
}

// TargetLocal is the target of a local route: the VPC itself.
const TargetLocal = "local"

// Route states.
const (
	RouteActive    = "active"
	RouteBlackhole = "blackhole"
)

// Destination returns the route's destination, whichever kind it is.
func (r *Route) Destination() string {
	switch {
	case r.DestinationCIDR != "":
		return r.DestinationCIDR
	case r.DestinationIPv6CIDR != "":
		return r.DestinationIPv6CIDR
	}
	return r.DestinationPrefixListID
}

// TargetKind is the resource type of the route's target ("" for a local route).
func (r *Route) TargetKind() string { return kindOfID(r.Target) }

// RouteRequest is what CreateRoute and ReplaceRoute ask for.
type RouteRequest struct {
	TableID                 string
	DestinationCIDR         string
	DestinationIPv6CIDR     string
	DestinationPrefixListID string
	// Targets holds the target parameters given, by their API name
	// ("GatewayId", "NatGatewayId" …); exactly one must be.
	Targets map[string]string
	// LocalTarget (ReplaceRoute only) restores a local route's target.
	LocalTarget bool
}

// routeTargetParams gives, per target parameter, the resource types it may name.
var routeTargetParams = map[string][]string{
	"GatewayId":                   {KindInternetGateway, "vpn-gateway", KindNATGateway},
	"EgressOnlyInternetGatewayId": {KindEgressOnlyInternetGateway},
	"NatGatewayId":                {KindNATGateway},
	"NetworkInterfaceId":          {KindNetworkInterface},
	"InstanceId":                  {KindInstance},
	"VpcPeeringConnectionId":      {KindVPCPeeringConnection},
	"VpcEndpointId":               nil, // Gateway Load Balancer endpoints only
	"TransitGatewayId":            nil,
	"LocalGatewayId":              nil,
	"CarrierGatewayId":            nil,
	"CoreNetworkArn":              nil,
}

// unsupportedTargets are targets of resources strato does not have.
var unsupportedTargets = map[string]string{
	"TransitGatewayId": "transit gateways",
	"LocalGatewayId":   "local gateways (Outposts)",
	"CarrierGatewayId": "carrier gateways (Wavelength)",
	"CoreNetworkArn":   "core networks (Cloud WAN)",
}

// route turns a request into the route it asks for, checking its form: one
// destination, one target of a kind the parameter allows.
func (req RouteRequest) route(replace bool) (Route, error) {
	r := Route{Origin: OriginCreateRoute}
	n := 0
	if req.DestinationCIDR != "" {
		p, err := netip.ParsePrefix(req.DestinationCIDR)
		if err != nil || !p.Addr().Is4() {
			return r, errorf("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", req.DestinationCIDR)
		}
		// AWS keeps the canonical form: 100.68.0.18/18 becomes 100.68.0.0/18.
		r.DestinationCIDR = p.Masked().String()
		n++
	}
	if req.DestinationIPv6CIDR != "" {
		p, err := netip.ParsePrefix(req.DestinationIPv6CIDR)
		if err != nil || p.Addr().Is4() {
			return r, errorf("InvalidParameterValue", "Value (%s) for parameter destinationIpv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.", req.DestinationIPv6CIDR)
		}
		r.DestinationIPv6CIDR = p.Masked().String()
		n++
	}
	if req.DestinationPrefixListID != "" {
		r.DestinationPrefixListID = req.DestinationPrefixListID
		n++
	}
	switch {
	case n == 0:
		return r, errorf("MissingParameter", "The request must contain exactly one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId")
	case n > 1:
		return r, errorf("InvalidParameterCombination", "Only one of destinationCidrBlock, destinationIpv6CidrBlock and destinationPrefixListId may be given.")
	}
	if replace && req.LocalTarget || req.Targets["GatewayId"] == TargetLocal {
		if len(req.Targets) > 1 || req.LocalTarget && len(req.Targets) > 0 {
			return r, errorf("InvalidParameterCombination", "The local target cannot be combined with another target.")
		}
		if !replace {
			return r, errorf("InvalidParameterValue", "Only ReplaceRoute may target 'local', to restore a local route.")
		}
		r.Target = TargetLocal
		return r, nil
	}
	if len(req.Targets) != 1 {
		if len(req.Targets) == 0 {
			return r, errorf("MissingParameter", "The request must contain exactly one of gatewayId, egressOnlyInternetGatewayId, natGatewayId, networkInterfaceId, instanceId or vpcPeeringConnectionId")
		}
		return r, errorf("InvalidParameterCombination", "A route must have exactly one target; %d were given.", len(req.Targets))
	}
	for param, id := range req.Targets {
		if what, ok := unsupportedTargets[param]; ok {
			return r, errorf("UnsupportedOperation", "strato does not support %s, so %s cannot be a route target.", what, param)
		}
		kinds, known := routeTargetParams[param]
		if !known {
			return r, errorf("InvalidParameterValue", "Unknown route target parameter %s.", param)
		}
		if param == "VpcEndpointId" {
			return r, errorf("InvalidParameterValue", "Route target %s is not a Gateway Load Balancer endpoint; strato has no Gateway Load Balancer endpoints.", id)
		}
		kind := kindOfID(id)
		if param == "GatewayId" && kind == KindVPCEndpoint {
			return r, errorf("InvalidParameterValue", "The routes of gateway VPC endpoint %s are managed through the endpoint (ModifyVpcEndpoint AddRouteTableId).", id)
		}
		if !slices.Contains(kinds, kind) {
			if param == "GatewayId" {
				return r, errorf("InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", id)
			}
			return r, &NotFoundError{Kind: kinds[0], ID: id}
		}
		if kind == KindEgressOnlyInternetGateway && r.DestinationIPv6CIDR == "" {
			return r, errorf("InvalidParameterValue", "An egress-only internet gateway can only be the target of an IPv6 route.")
		}
		r.Target = id
	}
	return r, nil
}

// middleboxTargets may be the target of a route more specific than the local route
// (VPC User Guide, "Routing for a middlebox appliance"), and of a replaced local route.
var middleboxTargets = []string{KindNATGateway, KindNetworkInterface}

// checkRoute checks a route against its table: the destination exists (a prefix
// list) and does not take the local route's place, the target exists and serves
// the table's VPC, and a gateway route table only routes to network interfaces.
func checkRoute(tx store.Tx, s Scope, t *RouteTable, r *Route) error {
	if r.DestinationPrefixListID != "" {
		if _, err := lookupPrefixList(tx, s, r.DestinationPrefixListID); err != nil {
			return err
		}
	}
	if r.Target == TargetLocal {
		return nil
	}
	target, found, err := lookupRouteTarget(tx, s, r.Target)
	if err != nil {
		return err
	}
	if !found {
		return &NotFoundError{Kind: kindOfID(r.Target), ID: r.Target}
	}
	if !slices.Contains(target.VpcIDs, t.VpcID) {
		what := map[string]string{KindNetworkInterface: "interface", KindInstance: "instance", KindNATGateway: "NAT gateway", KindVPCPeeringConnection: "peering connection"}[r.TargetKind()]
		if what == "" {
			what = "network gateway"
		}
		return errorf("InvalidParameterValue", "route table %s and %s %s belong to different networks", t.ID, what, r.Target)
	}
	if r.DestinationCIDR != "" && !r.Local {
		if err := checkMoreSpecificThanLocal(tx, s, t, r); err != nil {
			return err
		}
	}
	if hasEdgeAssociation(t) && !slices.Contains([]string{KindNetworkInterface, KindInstance}, r.TargetKind()) {
		return errorf("InvalidParameterValue", "Route target is not supported. This route only supports interface and instance targets.")
	}
	return nil
}

// checkMoreSpecificThanLocal applies AWS's rule for a destination inside one of the
// VPC's blocks: it must be exactly a subnet's block, and its target a middlebox.
func checkMoreSpecificThanLocal(tx store.Tx, s Scope, t *RouteTable, r *Route) error {
	dest := netip.MustParsePrefix(r.DestinationCIDR)
	inside := false
	for _, lr := range t.Routes {
		if lr.Local && lr.DestinationCIDR != "" {
			block := netip.MustParsePrefix(lr.DestinationCIDR)
			inside = inside || block.Bits() < dest.Bits() && block.Contains(dest.Addr())
		}
	}
	if !inside {
		return nil
	}
	if !slices.Contains(middleboxTargets, r.TargetKind()) {
		return errorf("InvalidParameterValue", "The destination CIDR block %s is more specific than a local route of this VPC; such a route can only target a network interface or a NAT gateway.", r.DestinationCIDR)
	}
	in, err := subnetsOfVPC(tx, s, t.VpcID)
	if err != nil {
		return err
	}
	for _, sn := range in {
		if sn.CIDR == r.DestinationCIDR {
			return nil
		}
	}
	return errorf("InvalidParameterValue", "The destination CIDR block %s is more specific than a local route of this VPC and must match the CIDR block of a subnet of the VPC.", r.DestinationCIDR)
}

// hasEdgeAssociation reports whether the table is a gateway route table.
func hasEdgeAssociation(t *RouteTable) bool {
	for _, a := range t.Associations {
		if a.GatewayID != "" {
			return true
		}
	}
	return false
}

// routeWeight is how many routes a route counts as against the quota: a prefix
// list counts as its maximum number of entries, a local route not at all.
func routeWeight(tx store.Tx, s Scope, r *Route) (int, error) {
	switch {
	case r.Local:
		return 0, nil
	case r.DestinationPrefixListID != "":
		pl, err := lookupPrefixList(tx, s, r.DestinationPrefixListID)
		var gone *NotFoundError
		if errors.As(err, &gone) {
			return 0, nil
		}
		return pl.MaxEntries, err
	}
	return 1, nil
}

// tableWeight is how many routes a table counts as.
func tableWeight(tx store.Tx, s Scope, t *RouteTable) (int, error) {
	total := 0
	for i := range t.Routes {
		w, err := routeWeight(tx, s, &t.Routes[i])
		if err != nil {
			return 0, err
		}
		total += w
	}
	return total, nil
}

func findRoute(t *RouteTable, dest string) int {
	return slices.IndexFunc(t.Routes, func(r Route) bool { return r.Destination() == dest })
}

// addRoute adds a route to a table after checking it against the table and the
// routes quota; for callers inside the control plane (CreateRoute, gateway
// endpoints, the default VPC's route to its internet gateway).
func addRoute(tx store.Tx, s Scope, tableID string, r Route) error {
	t, err := routeTables.get(tx, s, tableID)
	if err != nil {
		return err
	}
	if findRoute(&t, r.Destination()) >= 0 {
		return errorf("RouteAlreadyExists", "The route identified by %s already exists.", r.Destination())
	}
	if err := checkRoute(tx, s, &t, &r); err != nil {
		return err
	}
	have, err := tableWeight(tx, s, &t)
	if err != nil {
		return err
	}
	add, err := routeWeight(tx, s, &r)
	if err != nil {
		return err
	}
	// A route weighing several (a prefix list) must fit whole.
	if err := checkQuota(tx, s.Account, QuotaRoutesPerTable, have+add-1); err != nil {
		return err
	}
	t.Routes = append(t.Routes, r)
	return routeTables.update(tx, s, &t)
}

// removeRoutesTo drops every route of a table that targets the given resource (a
// gateway endpoint removed from the table or deleted).
func removeRoutesTo(tx store.Tx, s Scope, tableID, target string) error {
	t, err := routeTables.get(tx, s, tableID)
	if err != nil {
		return err
	}
	t.Routes = slices.DeleteFunc(t.Routes, func(r Route) bool { return r.Target == target })
	return routeTables.update(tx, s, &t)
}

// CreateRoute adds a route to a table.
func (c *Cloud) CreateRoute(ctx context.Context, s Scope, req RouteRequest) error {
	r, err := req.route(false)
	if err != nil {
		return err
	}
	err = c.update(ctx, func(tx store.Tx) error { return addRoute(tx, s, req.TableID, r) })
	if err == nil {
		c.tableChanged(ctx, s, req.TableID)
	}
	return err
}

// ReplaceRoute changes the target of an existing route; a local route's target may
// become a middlebox (a network interface or NAT gateway) and be restored.
func (c *Cloud) ReplaceRoute(ctx context.Context, s Scope, req RouteRequest) error {
	r, err := req.route(true)
	if err != nil {
		return err
	}
	err = c.update(ctx, func(tx store.Tx) error {
		t, err := routeTables.get(tx, s, req.TableID)
		if err != nil {
			return err
		}
		i := findRoute(&t, r.Destination())
		if i < 0 {
			// AWS answers InvalidParameterValue here, not InvalidRoute.NotFound.
			return errorf("InvalidParameterValue", "There is no route defined for '%s' in the route table. Use CreateRoute instead.", r.Destination())
		}
		old := t.Routes[i]
		if old.TargetKind() == KindVPCEndpoint {
			return errorf("InvalidParameterValue", "The route to %s in route table %s is managed by VPC endpoint %s.", old.Destination(), t.ID, old.Target)
		}
		switch {
		case r.Target == TargetLocal && !old.Local:
			return errorf("InvalidParameterValue", "The route to %s in route table %s is not a local route; only a local route can target 'local'.", old.Destination(), t.ID)
		case old.Local && !slices.Contains(middleboxTargets, r.TargetKind()) && r.Target != TargetLocal:
			return errorf("InvalidParameterValue", "The target of local route %s in route table %s can only be replaced by a network interface or a NAT gateway.", old.Destination(), t.ID)
		}
		r.Local, r.Origin = old.Local, old.Origin
		if err := checkRoute(tx, s, &t, &r); err != nil {
			return err
		}
		t.Routes[i] = r
		return routeTables.update(tx, s, &t)
	})
	if err == nil {
		c.tableChanged(ctx, s, req.TableID)
	}
	return err
}

// DeleteRoute removes a route other than a local one from a table.
func (c *Cloud) DeleteRoute(ctx context.Context, s Scope, tableID, destCIDR, destIPv6CIDR, destPrefixList string) error {
	dest, n := "", 0
	for _, d := range []string{destCIDR, destIPv6CIDR, destPrefixList} {
		if d != "" {
			dest, n = d, n+1
		}
	}
	switch {
	case n == 0:
		return errorf("MissingParameter", "The request must contain exactly one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId")
	case n > 1:
		return errorf("InvalidParameterCombination", "Only one of destinationCidrBlock, destinationIpv6CidrBlock and destinationPrefixListId may be given.")
	}
	if p, err := netip.ParsePrefix(dest); err == nil {
		dest = p.Masked().String()
	}
	err := c.update(ctx, func(tx store.Tx) error {
		t, err := routeTables.get(tx, s, tableID)
		if err != nil {
			return err
		}
		i := findRoute(&t, dest)
		if i < 0 {
			return errorf("InvalidRoute.NotFound", "no route with destination-cidr-block %s in route table %s", dest, tableID)
		}
		r := t.Routes[i]
		if r.Local {
			return errorf("InvalidParameterValue", "cannot remove local route %s in route table %s", dest, tableID)
		}
		if r.TargetKind() == KindVPCEndpoint {
			return errorf("InvalidParameterValue", "The route to %s in route table %s is managed by VPC endpoint %s; remove the table from the endpoint instead.", dest, tableID, r.Target)
		}
		t.Routes = slices.Delete(t.Routes, i, i+1)
		return routeTables.update(tx, s, &t)
	})
	if err == nil {
		c.tableChanged(ctx, s, tableID)
	}
	return err
}

// fillRouteStates works out each route's state: active when its target exists,
// can carry traffic and serves the table's VPC; a blackhole otherwise. Computing it
// when read means a deleted NAT gateway or a detached internet gateway turns its
// routes into blackholes with no bookkeeping.
func fillRouteStates(tx store.Tx, s Scope, t *RouteTable) error {
	for i := range t.Routes {
		r := &t.Routes[i]
		if r.Target == TargetLocal {
			r.State = RouteActive
			continue
		}
		target, found, err := lookupRouteTarget(tx, s, r.Target)
		if err != nil {
			return err
		}
		r.State = RouteBlackhole
		if found && target.Active && slices.Contains(target.VpcIDs, t.VpcID) {
			r.State = RouteActive
		}
	}
	return nil
}
