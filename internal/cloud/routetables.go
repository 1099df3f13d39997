package cloud

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"strato/internal/store"
)

// RouteTable decides where traffic leaving a subnet (or entering through a gateway,
// for an edge association) goes. Every VPC has a main route table, made with it;
// subnets without an explicit association use it.
type RouteTable struct {
	ID      string `json:"id"`
	VpcID   string `json:"vpcId"`
	OwnerID string `json:"ownerId"`
	// Routes keep the order they were made in: the local routes first.
	Routes       []Route                 `json:"routes"`
	Associations []RouteTableAssociation `json:"associations,omitempty"`
	CreatedAt    time.Time               `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// RouteTableAssociation ties a table to a subnet or a gateway (an edge
// association), or marks it as its VPC's main table.
type RouteTableAssociation struct {
	ID        string `json:"id"`
	SubnetID  string `json:"subnetId,omitempty"`
	GatewayID string `json:"gatewayId,omitempty"`
	Main      bool   `json:"main,omitempty"`
}

// State is always "associated": associations change synchronously in strato.
func (a *RouteTableAssociation) State() string { return "associated" }

// IsMain reports whether the table is its VPC's main route table.
func (t *RouteTable) IsMain() bool {
	for _, a := range t.Associations {
		if a.Main {
			return true
		}
	}
	return false
}

var routeTables = docKind[RouteTable]{
	kind:   KindRouteTable,
	id:     func(t *RouteTable) string { return t.ID },
	parent: func(t *RouteTable) string { return t.VpcID },
	tags:   func(t *RouteTable) *map[string]string { return &t.Tags },
}

// Quota names for route tables.
const (
	QuotaRouteTablesPerVPC = "route-tables-per-vpc"
	QuotaRoutesPerTable    = "routes-per-route-table"
)

// Route origins, as DescribeRouteTables reports them.
const (
	OriginCreateRouteTable = "CreateRouteTable"
	OriginCreateRoute      = "CreateRoute"
)

func init() {
	quotaDefs[QuotaRouteTablesPerVPC] = QuotaDef{
		Name:        QuotaRouteTablesPerVPC,
		Description: "Route tables per VPC",
		Default:     200,
		Code:        "RouteTableLimitExceeded",
		Message:     "The maximum number of route tables has been reached (%d).",
	}
	quotaDefs[QuotaRoutesPerTable] = QuotaDef{
		Name:        QuotaRoutesPerTable,
		Description: "Routes per route table",
		Default:     50,
		Code:        "RouteLimitExceeded",
		Message:     "The maximum number of routes has been reached (%d).",
	}
	vpcCreated = append(vpcCreated, createMainRouteTable)
	vpcBlockAdded = append(vpcBlockAdded, func(tx store.Tx, s Scope, v *VPC, block netip.Prefix) error {
		return addLocalRoute(tx, s, v.ID, block.String())
	})
	vpcBlockRemoved = append(vpcBlockRemoved, func(tx store.Tx, s Scope, v *VPC, block netip.Prefix) error {
		return removeLocalRoute(tx, s, v.ID, block.String())
	})
	// The default VPC's main table sends everything else to its internet gateway.
	defaultVPCCreated = append(defaultVPCCreated, func(tx store.Tx, s Scope, v *VPC, g *InternetGateway) error {
		main, err := mainRouteTable(tx, s, v.ID)
		if err != nil {
			return err
		}
		return addRoute(tx, s, main.ID, Route{DestinationCIDR: "0.0.0.0/0", Target: g.ID, Origin: OriginCreateRoute})
	})
	vpcDeleted = append(vpcDeleted, func(tx store.Tx, s Scope, v *VPC) error {
		tables, err := routeTables.children(tx, s, v.ID)
		if err != nil {
			return err
		}
		for _, t := range tables {
			if err := routeTables.remove(tx, s, t.ID); err != nil {
				return err
			}
		}
		return nil
	})
	// The main table came with the VPC and goes with it; any other keeps it.
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		tables, err := routeTables.children(tx, s, vpcID)
		if err != nil {
			return false, err
		}
		for _, t := range tables {
			if !t.IsMain() {
				return true, nil
			}
		}
		return false, nil
	})
	subnetDeleted = append(subnetDeleted, func(tx store.Tx, s Scope, sn *Subnet) error {
		t, i, err := tableOfSubnet(tx, s, sn.VpcID, sn.ID)
		if err != nil || t == nil {
			return err
		}
		t.Associations = append(t.Associations[:i], t.Associations[i+1:]...)
		return routeTables.update(tx, s, t)
	})
}

// createMainRouteTable gives a new VPC its main route table, with a local route for
// each of its IPv4 blocks.
func createMainRouteTable(tx store.Tx, s Scope, v *VPC) error {
	t := newRouteTable(s, v, v.CreatedAt)
	t.Associations = []RouteTableAssociation{{ID: NewID("rtbassoc"), Main: true}}
	return routeTables.insert(tx, s, &t, t.CreatedAt, nil)
}

// newRouteTable makes a table of the VPC holding its local routes.
func newRouteTable(s Scope, v *VPC, now time.Time) RouteTable {
	t := RouteTable{ID: NewID("rtb"), VpcID: v.ID, OwnerID: s.Account, CreatedAt: now}
	for _, b := range append(slices.Clone(v.CIDRBlocks), v.IPv6Blocks...) {
		t.Routes = append(t.Routes, localRoute(b.CIDR))
	}
	return t
}

// localRoute is the route of one of the VPC's IPv4 or IPv6 blocks.
func localRoute(cidr string) Route {
	r := Route{Target: TargetLocal, Origin: OriginCreateRouteTable, Local: true}
	if strings.Contains(cidr, ":") {
		r.DestinationIPv6CIDR = cidr
	} else {
		r.DestinationCIDR = cidr
	}
	return r
}

// mainRouteTable returns a VPC's main route table.
func mainRouteTable(tx store.Tx, s Scope, vpcID string) (RouteTable, error) {
	tables, err := routeTables.children(tx, s, vpcID)
	if err != nil {
		return RouteTable{}, err
	}
	for _, t := range tables {
		if t.IsMain() {
			return t, nil
		}
	}
	return RouteTable{}, &NotFoundError{Kind: KindRouteTable, ID: "main route table of " + vpcID}
}

// addLocalRoute adds the local route of a new VPC block to every table of the VPC.
func addLocalRoute(tx store.Tx, s Scope, vpcID, cidr string) error {
	tables, err := routeTables.children(tx, s, vpcID)
	if err != nil {
		return err
	}
	for _, t := range tables {
		t.Routes = append(t.Routes, localRoute(cidr))
		if err := routeTables.update(tx, s, &t); err != nil {
			return err
		}
	}
	return nil
}

// removeLocalRoute removes the local route of a VPC block being disassociated from
// every table of the VPC.
func removeLocalRoute(tx store.Tx, s Scope, vpcID, cidr string) error {
	tables, err := routeTables.children(tx, s, vpcID)
	if err != nil {
		return err
	}
	for _, t := range tables {
		kept := t.Routes[:0]
		for _, r := range t.Routes {
			if !(r.Local && (r.DestinationCIDR == cidr || r.DestinationIPv6CIDR == cidr)) {
				kept = append(kept, r)
			}
		}
		t.Routes = kept
		if err := routeTables.update(tx, s, &t); err != nil {
			return err
		}
	}
	return nil
}

// CreateRouteTable makes a table in a VPC holding only its local routes. The client
// token makes a retry return the first table.
func (c *Cloud) CreateRouteTable(ctx context.Context, s Scope, vpcID, clientToken string, tags []Tag) (RouteTable, error) {
	if err := ValidateTags(tags); err != nil {
		return RouteTable{}, err
	}
	params := struct {
		VpcID string
		Tags  []Tag
	}{vpcID, tags}
	t, err := Idempotent(ctx, c, s, "CreateRouteTable", clientToken, params, func(tx store.Tx) (RouteTable, error) {
		v, err := vpcs.get(tx, s, vpcID)
		if err != nil {
			return RouteTable{}, err
		}
		siblings, err := routeTables.children(tx, s, vpcID)
		if err != nil {
			return RouteTable{}, err
		}
		if err := checkQuota(tx, s.Account, QuotaRouteTablesPerVPC, len(siblings)); err != nil {
			return RouteTable{}, err
		}
		t := newRouteTable(s, &v, c.clock.Now())
		return t, routeTables.insert(tx, s, &t, t.CreatedAt, tags)
	})
	t.Tags = tagMap(tags)
	if err == nil {
		c.networkChanged(s, t.VpcID)
	}
	return t, err
}

// DeleteRouteTable deletes a table that is neither main nor associated.
func (c *Cloud) DeleteRouteTable(ctx context.Context, s Scope, id string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		t, err := routeTables.get(tx, s, id)
		if err != nil {
			return err
		}
		vpcID = t.VpcID
		if len(t.Associations) > 0 {
			return errorf("DependencyViolation", "The routeTable '%s' has dependencies and cannot be deleted.", id)
		}
		// Gateway endpoints routing in the table lose it, as on AWS.
		if err := forgetRouteTable(tx, s, &t); err != nil {
			return err
		}
		return routeTables.remove(tx, s, id)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}
