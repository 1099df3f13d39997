package cloud

import (
	"context"
	"errors"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// NATGateway lets instances of private subnets reach out: a requester-managed
// network interface in a subnet and, for public connectivity, an Elastic IP mapped
// to it while the gateway lives.
type NATGateway struct {
	ID               string `json:"id"`
	OwnerID          string `json:"ownerId"`
	SubnetID         string `json:"subnetId"`
	VpcID            string `json:"vpcId"`
	AvailabilityZone string `json:"availabilityZone"`
	ConnectivityType string `json:"connectivityType"`
	// The address: empty while it has none (failed, or deleted).
	AllocationID       string `json:"allocationId,omitempty"`
	PublicIP           string `json:"publicIp,omitempty"`
	AssociationID      string `json:"associationId,omitempty"`
	NetworkInterfaceID string `json:"networkInterfaceId,omitempty"`
	PrivateIP          string `json:"privateIp,omitempty"`
	// FailureCode and FailureMessage say why creation failed (AWS fails a NAT
	// gateway after accepting it, rather than refusing the request).
	FailureCode    string    `json:"failureCode,omitempty"`
	FailureMessage string    `json:"failureMessage,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	DeletedAt      time.Time `json:"deletedAt,omitzero"`
	// State is computed from the clock when read.
	State string `json:"-"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// NAT gateway states.
const (
	NATPending   = "pending"
	NATAvailable = "available"
	NATFailed    = "failed"
	NATDeleting  = "deleting"
	NATDeleted   = "deleted"
)

// NATGatewayTransition is how long a NAT gateway stays pending after creation and
// deleting after deletion (AWS takes a minute or so; strato has nothing to
// provision, so a short pause keeps clients' waiters honest). NATGatewayRetention
// is how long a deleted or failed gateway stays visible, as on AWS.
var (
	NATGatewayTransition = 2 * time.Second
	NATGatewayRetention  = time.Hour
)

// stateAt is the gateway's state at a time, and whether it has vanished.
func (g *NATGateway) stateAt(now time.Time) (string, bool) {
	switch {
	case g.FailureCode != "":
		failedAt := g.CreatedAt.Add(NATGatewayTransition)
		if now.Before(failedAt) {
			return NATPending, false
		}
		return NATFailed, !now.Before(failedAt.Add(NATGatewayRetention))
	case g.DeletedAt.IsZero():
		if now.Before(g.CreatedAt.Add(NATGatewayTransition)) {
			return NATPending, false
		}
		return NATAvailable, false
	}
	deletedAt := g.DeletedAt.Add(NATGatewayTransition)
	if now.Before(deletedAt) {
		return NATDeleting, false
	}
	return NATDeleted, !now.Before(deletedAt.Add(NATGatewayRetention))
}

// live reports whether the gateway still counts (quota, its VPC's dependents).
func (g *NATGateway) live() bool { return g.FailureCode == "" && g.DeletedAt.IsZero() }

var natGateways = docKind[NATGateway]{
	kind:   KindNATGateway,
	id:     func(g *NATGateway) string { return g.ID },
	parent: func(g *NATGateway) string { return g.VpcID },
	tags:   func(g *NATGateway) *map[string]string { return &g.Tags },
}

// Quota names for NAT gateways.
const QuotaNATGateways = "nat-gateways-per-az"

func init() {
	quotaDefs[QuotaNATGateways] = QuotaDef{
		Name:        QuotaNATGateways,
		Description: "NAT gateways per Availability Zone",
		Default:     5,
		Code:        "NatGatewayLimitExceeded",
		Message:     "The maximum number of NAT gateways in this Availability Zone has been reached (%d).",
	}
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		in, err := natGateways.children(tx, s, vpcID)
		for _, g := range in {
			if g.live() {
				return true, err
			}
		}
		return false, err
	})
	// A route to a NAT gateway carries traffic until the gateway is deleted or
	// has failed (then it is a blackhole, as on AWS); that does not depend on
	// the clock, so the lookup needs none.
	routeTargets[KindNATGateway] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		g, err := natGateways.get(tx, s, id)
		if err != nil {
			return RouteTarget{}, err
		}
		return RouteTarget{VpcIDs: []string{g.VpcID}, Active: g.live()}, nil
	}
}

// NATGatewayRequest is what CreateNatGateway asks for.
type NATGatewayRequest struct {
	SubnetID         string
	ConnectivityType string // "public" (default) or "private"
	AllocationID     string
	PrivateIP        string
	Tags             []Tag
}

// CreateNATGateway makes a NAT gateway; a repeated client token returns the first.
func (c *Cloud) CreateNATGateway(ctx context.Context, s Scope, token string, req NATGatewayRequest) (NATGateway, error) {
	if req.ConnectivityType == "" {
		req.ConnectivityType = "public"
	}
	switch {
	case req.ConnectivityType != "public" && req.ConnectivityType != "private":
		return NATGateway{}, errorf("InvalidParameterValue", "Value (%s) for parameter connectivityType is invalid. Valid values: public, private", req.ConnectivityType)
	case req.ConnectivityType == "public" && req.AllocationID == "":
		return NATGateway{}, errorf("MissingParameter", "The request must contain the parameter AllocationId for a public NAT gateway.")
	case req.ConnectivityType == "private" && req.AllocationID != "":
		return NATGateway{}, errorf("InvalidParameterCombination", "A private NAT gateway cannot have an Elastic IP address (AllocationId).")
	}
	if err := ValidateTags(req.Tags); err != nil {
		return NATGateway{}, err
	}
	g, err := Idempotent(ctx, c, s, "CreateNatGateway", token, req, func(tx store.Tx) (NATGateway, error) {
		return c.createNATGateway(tx, s, req)
	})
	if err == nil {
		if g.Tags == nil {
			g.Tags = tagMap(req.Tags)
		}
		g.State, _ = g.stateAt(c.clock.Now())
		c.networkChanged(s, g.VpcID)
	}
	return g, err
}

func (c *Cloud) createNATGateway(tx store.Tx, s Scope, req NATGatewayRequest) (NATGateway, error) {
	now := c.clock.Now()
	if err := c.sweepNATGateways(tx, s, now); err != nil {
		return NATGateway{}, err
	}
	sn, err := subnets.get(tx, s, req.SubnetID)
	if err != nil {
		return NATGateway{}, err
	}
	all, err := natGateways.load(tx, s, nil, nil)
	if err != nil {
		return NATGateway{}, err
	}
	inZone := 0
	for _, g := range all {
		if g.live() && g.AvailabilityZone == sn.AvailabilityZone {
			inZone++
		}
	}
	if err := checkQuota(tx, s.Account, QuotaNATGateways, inZone); err != nil {
		return NATGateway{}, err
	}
	g := NATGateway{
		ID: NewID("nat"), OwnerID: s.Account, SubnetID: sn.ID, VpcID: sn.VpcID, AvailabilityZone: sn.AvailabilityZone,
		ConnectivityType: req.ConnectivityType, CreatedAt: now,
	}
	if err := c.provisionNATGateway(tx, s, &g, req); err != nil {
		return NATGateway{}, err
	}
	if err := natGateways.insert(tx, s, &g, now, req.Tags); err != nil {
		return NATGateway{}, err
	}
	g.Tags = tagMap(req.Tags)
	return g, nil
}

// provisionNATGateway makes the gateway's interface and maps its Elastic IP, or
// records why it fails, with the failure codes AWS documents for NAT gateways.
func (c *Cloud) provisionNATGateway(tx store.Tx, s Scope, g *NATGateway, req NATGatewayRequest) error {
	fail := func(code, format string, args ...any) error {
		g.FailureCode, g.FailureMessage = code, errorf(code, format, args...).Error()
		g.AllocationID, g.PublicIP = "", ""
		return nil
	}
	var a Address
	if req.ConnectivityType == "public" {
		var err error
		a, err = addresses.get(tx, s, req.AllocationID)
		var nf *NotFoundError
		switch {
		case errors.As(err, &nf):
			return fail("InvalidAllocationID.NotFound", "Elastic IP address %s could not be associated with this NAT gateway", req.AllocationID)
		case err != nil:
			return err
		case a.AssociationID != "":
			return fail("Resource.AlreadyAssociated", "Elastic IP address %s is already associated", req.AllocationID)
		}
		g.AllocationID, g.PublicIP = a.AllocationID, a.PublicIP
		if ig, err := gatewayOfVPC(tx, s, g.VpcID); err != nil || ig == nil {
			if err != nil {
				return err
			}
			return fail("Gateway.NotAttached", "Network %s has no Internet gateway attached", g.VpcID)
		}
	}
	n, err := createInterface(tx, s, g.CreatedAt, InterfaceRequest{
		SubnetID: g.SubnetID, PrimaryIP: req.PrivateIP, Description: "Interface for NAT Gateway " + g.ID,
		InterfaceType: InterfaceTypeNATGateway, RequesterManaged: true, ManagedBy: g.ID,
	})
	if code := errCodeOf(err); code == "InsufficientFreeAddressesInSubnet" {
		return fail(code, "Subnet has insufficient free addresses to create this NAT gateway")
	}
	if err != nil {
		return err
	}
	g.NetworkInterfaceID, g.PrivateIP = n.ID, n.PrimaryIP()
	if g.AllocationID != "" {
		if g.AssociationID, err = bindAddress(tx, s, &a, &n, "", ""); err != nil {
			return err
		}
	}
	return nil
}

func errCodeOf(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

// DeleteNATGateway starts deleting a gateway: its Elastic IP is unmapped and its
// interface deleted at once; it shows "deleting", then "deleted" for an hour.
func (c *Cloud) DeleteNATGateway(ctx context.Context, s Scope, id string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		now := c.clock.Now()
		if err := c.sweepNATGateways(tx, s, now); err != nil {
			return err
		}
		g, err := natGateways.get(tx, s, id)
		if err != nil {
			return err
		}
		switch state, _ := g.stateAt(now); state {
		case NATDeleting:
			return nil
		case NATDeleted, NATFailed:
			return &NotFoundError{Kind: KindNATGateway, ID: id}
		}
		if g.AllocationID != "" {
			// Unbind the address only while it is still this gateway's.
			a, err := addresses.get(tx, s, g.AllocationID)
			var nf *NotFoundError
			switch {
			case errors.As(err, &nf):
			case err != nil:
				return err
			case a.AssociationID == g.AssociationID:
				if err := unbindAddress(tx, s, &a); err != nil {
					return err
				}
			}
		}
		if g.NetworkInterfaceID != "" {
			if err := deleteInterface(tx, s, g.NetworkInterfaceID); err != nil {
				return err
			}
		}
		g.DeletedAt = now
		vpcID = g.VpcID
		return natGateways.update(tx, s, &g)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// sweepNATGateways removes the gateways whose retention has passed.
func (c *Cloud) sweepNATGateways(tx store.Tx, s Scope, now time.Time) error {
	all, err := natGateways.load(tx, s, nil, nil)
	if err != nil {
		return err
	}
	for _, g := range all {
		if _, gone := g.stateAt(now); gone {
			if err := natGateways.remove(tx, s, g.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

var natGatewayFields = filter.Fields[NATGateway]{
	"nat-gateway-id": func(g NATGateway) []string { return []string{g.ID} },
	"state":          func(g NATGateway) []string { return []string{g.State} },
	"subnet-id":      func(g NATGateway) []string { return []string{g.SubnetID} },
	"vpc-id":         func(g NATGateway) []string { return []string{g.VpcID} },
}

// DescribeNATGateways lists gateways by ID (each must exist) or all, with their
// state at the cloud's clock, filtered and paginated (MaxResults 5..1000).
func (c *Cloud) DescribeNATGateways(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]NATGateway, string, error) {
	m, err := filter.Compile(filters, natGatewayFields, func(g NATGateway) map[string]string { return g.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []NATGateway
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err = natGateways.load(tx, s, ids, nil)
		return err
	}); err != nil {
		return nil, "", err
	}
	now := c.clock.Now()
	visible := list[:0]
	for _, g := range list {
		state, gone := g.stateAt(now)
		if gone {
			if len(ids) > 0 {
				return nil, "", &NotFoundError{Kind: KindNATGateway, ID: g.ID}
			}
			continue
		}
		g.State = state
		visible = append(visible, g)
	}
	out := m.Filter(visible)
	id := func(g NATGateway) string { return g.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "DescribeNatGateways", filters, page, 5, 1000, out, id)
}
