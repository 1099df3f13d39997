package cloud

import (
	"context"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// InternetGateway connects a VPC to the internet (in strato, to the unrouted public
// address pool's network, once the dataplane exists).
type InternetGateway struct {
	ID      string `json:"id"`
	OwnerID string `json:"ownerId"`
	// VpcID is the VPC it is attached to, or empty.
	VpcID     string    `json:"vpcId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

var internetGateways = docKind[InternetGateway]{
	kind: KindInternetGateway,
	id:   func(g *InternetGateway) string { return g.ID },
	// An attached gateway belongs to its VPC.
	parent: func(g *InternetGateway) string { return g.VpcID },
	tags:   func(g *InternetGateway) *map[string]string { return &g.Tags },
}

// Quota names for internet gateways.
const QuotaInternetGateways = "internet-gateways-per-region"

func init() {
	quotaDefs[QuotaInternetGateways] = QuotaDef{
		Name:        QuotaInternetGateways,
		Description: "Internet gateways per Region",
		Default:     5,
		Code:        "InternetGatewayLimitExceeded",
		Message:     "The maximum number of internet gateways has been reached (%d).",
	}
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		g, err := gatewayOfVPC(tx, s, vpcID)
		return g != nil, err
	})
	routeTargets[KindInternetGateway] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		g, err := internetGateways.get(tx, s, id)
		if g.VpcID == "" {
			return RouteTarget{}, err
		}
		return RouteTarget{VpcIDs: []string{g.VpcID}, Active: true}, err
	}
}

// gatewayOfVPC returns the internet gateway attached to a VPC, if any.
func gatewayOfVPC(tx store.Tx, s Scope, vpcID string) (*InternetGateway, error) {
	attached, err := internetGateways.children(tx, s, vpcID)
	if err != nil || len(attached) == 0 {
		return nil, err
	}
	return &attached[0], nil
}

// CreateInternetGateway makes a detached internet gateway.
func (c *Cloud) CreateInternetGateway(ctx context.Context, s Scope, tags []Tag) (InternetGateway, error) {
	if err := ValidateTags(tags); err != nil {
		return InternetGateway{}, err
	}
	g := InternetGateway{ID: NewID("igw"), OwnerID: s.Account, CreatedAt: c.clock.Now()}
	err := c.update(ctx, func(tx store.Tx) error {
		if err := checkCount(tx, s, KindInternetGateway, QuotaInternetGateways); err != nil {
			return err
		}
		return internetGateways.insert(tx, s, &g, g.CreatedAt, tags)
	})
	g.Tags = tagMap(tags)
	return g, err
}

// AttachInternetGateway attaches a gateway to a VPC; each has at most one of the other.
func (c *Cloud) AttachInternetGateway(ctx context.Context, s Scope, gatewayID, vpcID string) error {
	err := c.update(ctx, func(tx store.Tx) error {
		g, err := internetGateways.get(tx, s, gatewayID)
		if err != nil {
			return err
		}
		if _, err := vpcs.get(tx, s, vpcID); err != nil {
			return err
		}
		if g.VpcID != "" {
			return errorf("Resource.AlreadyAssociated", "resource %s is already attached to network %s", g.ID, g.VpcID)
		}
		other, err := gatewayOfVPC(tx, s, vpcID)
		if err != nil {
			return err
		}
		if other != nil {
			return errorf("Resource.AlreadyAssociated", "network %s already has an internet gateway attached (%s)", vpcID, other.ID)
		}
		g.VpcID = vpcID
		return internetGateways.update(tx, s, &g)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// DetachInternetGateway detaches a gateway from the VPC it is attached to, once no
// public address of the VPC needs it and no route table is edge-associated with
// it. (An attached gateway cannot be deleted, so an associated one cannot either.)
func (c *Cloud) DetachInternetGateway(ctx context.Context, s Scope, gatewayID, vpcID string) error {
	err := c.update(ctx, func(tx store.Tx) error {
		g, err := internetGateways.get(tx, s, gatewayID)
		if err != nil {
			return err
		}
		if _, err := vpcs.get(tx, s, vpcID); err != nil {
			return err
		}
		if g.VpcID != vpcID {
			return errorf("Gateway.NotAttached", "resource %s is not attached to network %s", g.ID, vpcID)
		}
		mapped, err := anyInUse(publicAddressUsers, tx, s, vpcID)
		if err != nil {
			return err
		}
		if mapped {
			return errorf("DependencyViolation", "Network %s has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.", vpcID)
		}
		// A gateway route table steers the gateway's traffic: it must let go first.
		edge, i, err := tableWith(tx, s, vpcID, func(a RouteTableAssociation) bool { return a.GatewayID == gatewayID })
		if err != nil {
			return err
		}
		if edge != nil {
			return errorf("DependencyViolation", "The internetGateway '%s' has dependencies and cannot be detached: route table %s is associated with it (%s).", g.ID, edge.ID, edge.Associations[i].ID)
		}
		g.VpcID = ""
		return internetGateways.update(tx, s, &g)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// DeleteInternetGateway deletes a detached gateway.
func (c *Cloud) DeleteInternetGateway(ctx context.Context, s Scope, gatewayID string) error {
	return c.update(ctx, func(tx store.Tx) error {
		g, err := internetGateways.get(tx, s, gatewayID)
		if err != nil {
			return err
		}
		if g.VpcID != "" {
			return errorf("DependencyViolation", "The internetGateway '%s' has dependencies and cannot be deleted.", g.ID)
		}
		return internetGateways.remove(tx, s, g.ID)
	})
}

var internetGatewayFields = filter.Fields[InternetGateway]{
	"attachment.state": func(g InternetGateway) []string {
		if g.VpcID == "" {
			return nil
		}
		return []string{"available"}
	},
	"attachment.vpc-id": func(g InternetGateway) []string {
		if g.VpcID == "" {
			return nil
		}
		return []string{g.VpcID}
	},
	"internet-gateway-id": func(g InternetGateway) []string { return []string{g.ID} },
	"owner-id":            func(g InternetGateway) []string { return []string{g.OwnerID} },
}

// DescribeInternetGateways lists gateways by ID or all, filtered and paginated
// (MaxResults 5..1000).
func (c *Cloud) DescribeInternetGateways(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]InternetGateway, string, error) {
	return describe(ctx, c, s, internetGateways, "DescribeInternetGateways", internetGatewayFields, ids, filters, page, 5, 1000)
}
