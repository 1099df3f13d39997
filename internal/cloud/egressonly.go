package cloud

import (
	"context"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// EgressOnlyInternetGateway lets a VPC's IPv6 traffic out while refusing
// connections from outside. It is attached to its VPC from creation to deletion.
type EgressOnlyInternetGateway struct {
	ID        string    `json:"id"`
	OwnerID   string    `json:"ownerId"`
	VpcID     string    `json:"vpcId"`
	CreatedAt time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

var egressOnlyGateways = docKind[EgressOnlyInternetGateway]{
	kind:   KindEgressOnlyInternetGateway,
	id:     func(g *EgressOnlyInternetGateway) string { return g.ID },
	parent: func(g *EgressOnlyInternetGateway) string { return g.VpcID },
	tags:   func(g *EgressOnlyInternetGateway) *map[string]string { return &g.Tags },
}

// Quota names for egress-only internet gateways.
const QuotaEgressOnlyGateways = "egress-only-internet-gateways-per-region"

func init() {
	quotaDefs[QuotaEgressOnlyGateways] = QuotaDef{
		Name:        QuotaEgressOnlyGateways,
		Description: "Egress-only internet gateways per Region",
		Default:     5,
		// AWS documents no code of its own for this quota.
		Code:    "ResourceLimitExceeded",
		Message: "The maximum number of egress-only internet gateways has been reached (%d).",
	}
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		rows, err := tx.ListChildren(s, KindEgressOnlyInternetGateway, vpcID)
		return len(rows) > 0, err
	})
	// Routes to the gateway carry IPv6 traffic only; the route tables check the
	// destination's family.
	routeTargets[KindEgressOnlyInternetGateway] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		g, err := egressOnlyGateways.get(tx, s, id)
		if err != nil {
			return RouteTarget{}, err
		}
		return RouteTarget{VpcIDs: []string{g.VpcID}, Active: true}, nil
	}
}

// CreateEgressOnlyInternetGateway makes a gateway attached to a VPC; a VPC has at
// most one.
func (c *Cloud) CreateEgressOnlyInternetGateway(ctx context.Context, s Scope, vpcID string, tags []Tag, clientToken string) (EgressOnlyInternetGateway, error) {
	if err := ValidateTags(tags); err != nil {
		return EgressOnlyInternetGateway{}, err
	}
	params := struct {
		VpcID string
		Tags  []Tag
	}{vpcID, tags}
	g, err := Idempotent(ctx, c, s, "CreateEgressOnlyInternetGateway", clientToken, params, func(tx store.Tx) (EgressOnlyInternetGateway, error) {
		if _, err := vpcs.get(tx, s, vpcID); err != nil {
			return EgressOnlyInternetGateway{}, err
		}
		attached, err := tx.ListChildren(s, KindEgressOnlyInternetGateway, vpcID)
		if err != nil {
			return EgressOnlyInternetGateway{}, err
		}
		if len(attached) > 0 {
			return EgressOnlyInternetGateway{}, errorf("Resource.AlreadyAssociated", "network %s already has an egress-only internet gateway attached (%s)", vpcID, attached[0].ID)
		}
		if err := checkCount(tx, s, KindEgressOnlyInternetGateway, QuotaEgressOnlyGateways); err != nil {
			return EgressOnlyInternetGateway{}, err
		}
		g := EgressOnlyInternetGateway{ID: NewID("eigw"), OwnerID: s.Account, VpcID: vpcID, CreatedAt: c.clock.Now()}
		return g, egressOnlyGateways.insert(tx, s, &g, g.CreatedAt, tags)
	})
	g.Tags = tagMap(tags)
	return g, err
}

// DeleteEgressOnlyInternetGateway deletes a gateway (routes to it become blackholes).
func (c *Cloud) DeleteEgressOnlyInternetGateway(ctx context.Context, s Scope, id string) error {
	return c.update(ctx, func(tx store.Tx) error {
		if _, err := egressOnlyGateways.get(tx, s, id); err != nil {
			return err
		}
		return egressOnlyGateways.remove(tx, s, id)
	})
}

// AWS documents only the tag filters for egress-only internet gateways.
var egressOnlyGatewayFields = filter.Fields[EgressOnlyInternetGateway]{}

// DescribeEgressOnlyInternetGateways lists gateways by ID or all, filtered and
// paginated (MaxResults 5..255).
func (c *Cloud) DescribeEgressOnlyInternetGateways(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]EgressOnlyInternetGateway, string, error) {
	return describe(ctx, c, s, egressOnlyGateways, "DescribeEgressOnlyInternetGateways", egressOnlyGatewayFields, ids, filters, page, 5, 255)
}
