package cloud

import (
	"context"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// assocValues collects one field of a table's associations.
func assocValues(t RouteTable, field func(RouteTableAssociation) string) []string {
	var out []string
	for _, a := range t.Associations {
		if v := field(a); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// routeValues collects one field of a table's routes.
func routeValues(t RouteTable, field func(Route) string) []string {
	var out []string
	for _, r := range t.Routes {
		if v := field(r); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// routeTargetsOf collects the targets of a table's routes of the given kinds
// (TargetLocal counts as a gateway, as AWS reports it as gatewayId "local").
func routeTargetsOf(t RouteTable, kinds ...string) []string {
	return routeValues(t, func(r Route) string {
		for _, k := range kinds {
			if r.TargetKind() == k || k == KindInternetGateway && r.Target == TargetLocal {
				return r.Target
			}
		}
		return ""
	})
}

var routeTableFields = filter.Fields[RouteTable]{
	"association.route-table-association-id": func(t RouteTable) []string {
		return assocValues(t, func(a RouteTableAssociation) string { return a.ID })
	},
	"association.route-table-id": func(t RouteTable) []string {
		return assocValues(t, func(RouteTableAssociation) string { return t.ID })
	},
	"association.subnet-id": func(t RouteTable) []string {
		return assocValues(t, func(a RouteTableAssociation) string { return a.SubnetID })
	},
	"association.gateway-id": func(t RouteTable) []string {
		return assocValues(t, func(a RouteTableAssociation) string { return a.GatewayID })
	},
	"association.main": func(t RouteTable) []string {
		return assocValues(t, func(a RouteTableAssociation) string { return boolValue(a.Main)[0] })
	},
	"owner-id":       func(t RouteTable) []string { return []string{t.OwnerID} },
	"route-table-id": func(t RouteTable) []string { return []string{t.ID} },
	"vpc-id":         func(t RouteTable) []string { return []string{t.VpcID} },
	"route.destination-cidr-block": func(t RouteTable) []string {
		return routeValues(t, func(r Route) string { return r.DestinationCIDR })
	},
	"route.destination-ipv6-cidr-block": func(t RouteTable) []string {
		return routeValues(t, func(r Route) string { return r.DestinationIPv6CIDR })
	},
	"route.destination-prefix-list-id": func(t RouteTable) []string {
		return routeValues(t, func(r Route) string { return r.DestinationPrefixListID })
	},
	"route.egress-only-internet-gateway-id": func(t RouteTable) []string {
		return routeTargetsOf(t, KindEgressOnlyInternetGateway)
	},
	"route.gateway-id": func(t RouteTable) []string {
		return routeTargetsOf(t, KindInternetGateway, "vpn-gateway", KindVPCEndpoint)
	},
	"route.instance-id":               func(t RouteTable) []string { return routeTargetsOf(t, KindInstance) },
	"route.nat-gateway-id":            func(t RouteTable) []string { return routeTargetsOf(t, KindNATGateway) },
	"route.vpc-peering-connection-id": func(t RouteTable) []string { return routeTargetsOf(t, KindVPCPeeringConnection) },
	// strato has no transit gateways: this filter matches nothing.
	"route.transit-gateway-id": func(RouteTable) []string { return nil },
	"route.origin":             func(t RouteTable) []string { return routeValues(t, func(r Route) string { return r.Origin }) },
	"route.state":              func(t RouteTable) []string { return routeValues(t, func(r Route) string { return r.State }) },
}

// DescribeRouteTables lists tables by ID (each must exist) or all, with their
// routes' states, filtered and paginated (MaxResults 5..100), ordered by ID.
func (c *Cloud) DescribeRouteTables(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]RouteTable, string, error) {
	m, err := filter.Compile(filters, routeTableFields, func(t RouteTable) map[string]string { return t.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []RouteTable
	if err := c.view(ctx, func(tx store.Tx) error {
		if len(ids) == 0 {
			tagged, narrowed, err := routeTables.taggedCandidates(tx, s, filters)
			if err != nil || narrowed && len(tagged) == 0 {
				return err
			}
			if narrowed {
				ids = tagged
			}
		}
		if list, err = routeTables.load(tx, s, ids, nil); err != nil {
			return err
		}
		// States depend on other resources, so they are read in the same view.
		for i := range list {
			if err := fillRouteStates(tx, s, &list[i]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, "", err
	}
	out := m.Filter(list)
	id := func(t RouteTable) string { return t.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "DescribeRouteTables", filters, page, 5, 100, out, id)
}
