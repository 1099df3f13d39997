package cloud

import (
	"context"
	"slices"

	"strato/internal/store"
)

// tableOfSubnet finds the table a subnet is explicitly associated with, and the
// association's index; nil when the subnet uses its VPC's main table.
func tableOfSubnet(tx store.Tx, s Scope, vpcID, subnetID string) (*RouteTable, int, error) {
	return tableWith(tx, s, vpcID, func(a RouteTableAssociation) bool { return a.SubnetID == subnetID })
}

// tableWith finds the table of a VPC (or of the scope, when vpcID is empty) holding
// an association that matches, and the association's index.
func tableWith(tx store.Tx, s Scope, vpcID string, match func(RouteTableAssociation) bool) (*RouteTable, int, error) {
	var tables []RouteTable
	var err error
	if vpcID != "" {
		tables, err = routeTables.children(tx, s, vpcID)
	} else {
		tables, err = routeTables.load(tx, s, nil, nil)
	}
	if err != nil {
		return nil, 0, err
	}
	for _, t := range tables {
		if i := slices.IndexFunc(t.Associations, match); i >= 0 {
			return &t, i, nil
		}
	}
	return nil, 0, nil
}

// tableOfAssociation finds the table holding an association by its ID.
func tableOfAssociation(tx store.Tx, s Scope, assocID string) (*RouteTable, int, error) {
	t, i, err := tableWith(tx, s, "", func(a RouteTableAssociation) bool { return a.ID == assocID })
	if err == nil && t == nil {
		err = errorf("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", assocID)
	}
	return t, i, err
}

// AssociateRouteTable associates a table with a subnet, or with an internet or
// virtual private gateway attached to its VPC (an edge association), and returns
// the association.
func (c *Cloud) AssociateRouteTable(ctx context.Context, s Scope, tableID, subnetID, gatewayID string) (RouteTableAssociation, error) {
	switch {
	case subnetID == "" && gatewayID == "":
		return RouteTableAssociation{}, errorf("MissingParameter", "The request must contain the parameter subnetId or gatewayId")
	case subnetID != "" && gatewayID != "":
		return RouteTableAssociation{}, errorf("InvalidParameterCombination", "Only one of subnetId and gatewayId may be given.")
	}
	a := RouteTableAssociation{ID: NewID("rtbassoc"), SubnetID: subnetID, GatewayID: gatewayID}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		t, err := routeTables.get(tx, s, tableID)
		if err != nil {
			return err
		}
		vpcID = t.VpcID
		var holder *RouteTable
		if subnetID != "" {
			sn, err := subnets.get(tx, s, subnetID)
			if err != nil {
				return err
			}
			if sn.VpcID != t.VpcID {
				return errorf("InvalidParameterValue", "route table %s and subnet %s belong to different networks", t.ID, subnetID)
			}
			holder, _, err = tableOfSubnet(tx, s, t.VpcID, subnetID)
			if err != nil {
				return err
			}
		} else {
			if err := checkEdgeGateway(tx, s, &t, gatewayID); err != nil {
				return err
			}
			holder, _, err = tableWith(tx, s, t.VpcID, func(o RouteTableAssociation) bool { return o.GatewayID == gatewayID })
			if err != nil {
				return err
			}
		}
		if holder != nil {
			return errorf("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", t.ID)
		}
		t.Associations = append(t.Associations, a)
		return routeTables.update(tx, s, &t)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return a, err
}

// checkEdgeGateway checks that a gateway may be edge-associated with a table: it is
// an internet or virtual private gateway attached to the table's VPC, and the
// table routes only to what a gateway route table may.
func checkEdgeGateway(tx store.Tx, s Scope, t *RouteTable, gatewayID string) error {
	kind := kindOfID(gatewayID)
	if kind != KindInternetGateway && kind != "vpn-gateway" {
		return errorf("InvalidParameterValue", "Gateway %s cannot be associated with a route table: only internet gateways and virtual private gateways can.", gatewayID)
	}
	g, found, err := lookupRouteTarget(tx, s, gatewayID)
	if err != nil {
		return err
	}
	if !found {
		return &NotFoundError{Kind: kind, ID: gatewayID}
	}
	if !slices.Contains(g.VpcIDs, t.VpcID) {
		return errorf("InvalidParameterValue", "route table %s and network gateway %s belong to different networks", t.ID, gatewayID)
	}
	for _, r := range t.Routes {
		if r.Target != TargetLocal && r.TargetKind() != KindNetworkInterface && r.TargetKind() != KindInstance {
			return errorf("InvalidParameterValue", "Route table %s has a route to %s; a gateway route table only supports interface and instance targets.", t.ID, r.Target)
		}
	}
	return nil
}

// DisassociateRouteTable removes a subnet or edge association; the subnet then uses
// its VPC's main table.
func (c *Cloud) DisassociateRouteTable(ctx context.Context, s Scope, assocID string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		t, i, err := tableOfAssociation(tx, s, assocID)
		if err != nil {
			return err
		}
		if t.Associations[i].Main {
			return errorf("InvalidParameterValue", "cannot disassociate the main route table association %s", assocID)
		}
		vpcID = t.VpcID
		t.Associations = slices.Delete(t.Associations, i, i+1)
		return routeTables.update(tx, s, t)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// ReplaceRouteTableAssociation moves an association (a subnet's, a gateway's, or
// the main one, which makes another table of the VPC its main table) to another
// table, under a new association ID.
func (c *Cloud) ReplaceRouteTableAssociation(ctx context.Context, s Scope, assocID, tableID string) (RouteTableAssociation, error) {
	var moved RouteTableAssociation
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		from, i, err := tableOfAssociation(tx, s, assocID)
		if err != nil {
			return err
		}
		to, err := routeTables.get(tx, s, tableID)
		if err != nil {
			return err
		}
		vpcID = to.VpcID
		if to.VpcID != from.VpcID {
			return errorf("InvalidParameterValue", "route table %s and association %s belong to different networks", tableID, assocID)
		}
		moved = from.Associations[i]
		if moved.GatewayID != "" {
			if err := checkEdgeGateway(tx, s, &to, moved.GatewayID); err != nil {
				return err
			}
		}
		moved.ID = NewID("rtbassoc")
		from.Associations = slices.Delete(from.Associations, i, i+1)
		if from.ID == to.ID {
			to.Associations = from.Associations
		} else if err := routeTables.update(tx, s, from); err != nil {
			return err
		}
		to.Associations = append(to.Associations, moved)
		return routeTables.update(tx, s, &to)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return moved, err
}
