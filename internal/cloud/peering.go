package cloud

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"strato/internal/catalog"
	"strato/internal/store"
)

// VPCPeeringConnection joins two VPCs, which may belong to different accounts and
// Regions. It lives in both sides' scopes: one document per side, with the same ID
// and body, written together in one store transaction (transactions span scopes),
// so each side lists, tags and describes its own copy. A VPC's connections are
// found by reading the scope's few connections (both VPCs may be in one scope, and
// a document has one parent).
type VPCPeeringConnection struct {
	ID        string      `json:"id"`
	Requester PeeringSide `json:"requester"`
	Accepter  PeeringSide `json:"accepter"`
	// Status is the stored state; Resolve turns pending-acceptance into expired
	// once ExpiresAt has passed, by the cloud's clock.
	Status    string    `json:"status"`
	Message   string    `json:"message"`
	ChangedAt time.Time `json:"changedAt"` // when Status was last set
	ExpiresAt time.Time `json:"expiresAt"`
	// DeletedBy is the account that deleted the connection (it stays visible to
	// that side for less time than to the other).
	DeletedBy string    `json:"deletedBy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Tags is filled when read; each side tags its own copy.
	Tags map[string]string `json:"-"`
}

// PeeringSide is one VPC of a peering connection.
type PeeringSide struct {
	VpcID   string `json:"vpcId"`
	OwnerID string `json:"ownerId"`
	Region  string `json:"region"`
	// CIDRs are the VPC's IPv4 blocks as the other side may see them (the
	// accepter's once the connection is active).
	CIDRs []string `json:"cidrs,omitempty"`
	// AllowDNSResolution is allowDnsResolutionFromRemoteVpc: this side's VPC
	// resolves the other's private DNS names to private addresses.
	AllowDNSResolution bool `json:"allowDnsResolution"`
}

func (p PeeringSide) scope() Scope { return Scope{Account: p.OwnerID, Region: p.Region} }

// States of a peering connection, as AWS spells them.
const (
	PeeringInitiating = "initiating-request"
	PeeringPending    = "pending-acceptance"
	PeeringActive     = "active"
	PeeringFailed     = "failed"
	PeeringRejected   = "rejected"
	PeeringDeleted    = "deleted"
	PeeringExpired    = "expired"
	// PeeringProvisioning is what AcceptVpcPeeringConnection answers.
	PeeringProvisioning = "provisioning"
)

// AWS's timing for peering connections: an unaccepted request expires after a
// week; a connection that is over stays visible for a while, differently to each
// side (VPC Peering Guide, "VPC peering connection lifecycle").
const (
	peeringExpiry  = 7 * 24 * time.Hour
	peeringShort   = 2 * time.Hour
	peeringLong    = 2 * 24 * time.Hour
	peeringFailMsg = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"
)

// Resolve applies the clock: a request left pending past its expiry is expired.
func (p *VPCPeeringConnection) Resolve(now time.Time) {
	if p.Status == PeeringPending && !now.Before(p.ExpiresAt) {
		p.Status, p.Message, p.ChangedAt = PeeringExpired, "Expired", p.ExpiresAt
	}
}

// visibleTo reports whether the side in scope s still sees the (resolved)
// connection: one that is over vanishes after AWS's delays.
func (p *VPCPeeringConnection) visibleTo(s Scope, now time.Time) bool {
	requester := p.isRequester(s)
	var keep time.Duration
	switch p.Status {
	case PeeringFailed:
		if !requester {
			return false
		}
		keep = peeringShort
	case PeeringRejected:
		keep = peeringShort
		if requester {
			keep = peeringLong
		}
	case PeeringDeleted:
		keep = peeringLong
		if s.Account == p.DeletedBy {
			keep = peeringShort
		}
	case PeeringExpired:
		keep = peeringLong
	default:
		return true
	}
	return now.Before(p.ChangedAt.Add(keep))
}

func (p *VPCPeeringConnection) isRequester(s Scope) bool { return p.Requester.scope() == s }
func (p *VPCPeeringConnection) isAccepter(s Scope) bool  { return p.Accepter.scope() == s }

// local returns the side whose VPC is in scope s (the requester's when both are).
func (p *VPCPeeringConnection) local(s Scope) *PeeringSide {
	if p.isRequester(s) {
		return &p.Requester
	}
	return &p.Accepter
}

// scopes are where the connection has a copy: both sides', or one when they share
// a scope or the request failed (the accepter never sees a failed request).
func (p *VPCPeeringConnection) scopes() []Scope {
	if p.Requester.scope() == p.Accepter.scope() || p.Status == PeeringFailed {
		return []Scope{p.Requester.scope()}
	}
	return []Scope{p.Requester.scope(), p.Accepter.scope()}
}

var peerings = docKind[VPCPeeringConnection]{
	kind: KindVPCPeeringConnection,
	id:   func(p *VPCPeeringConnection) string { return p.ID },
	tags: func(p *VPCPeeringConnection) *map[string]string { return &p.Tags },
}

// savePeering writes every side's copy of a changed connection. A side whose
// copy was purged (purgePeerings) no longer sees the connection and is skipped.
func savePeering(tx store.Tx, p *VPCPeeringConnection) error {
	for _, s := range p.scopes() {
		if err := peerings.update(tx, s, p); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// purgePeerings removes from scope s the copies of connections that side no
// longer sees (over, and past AWS's delays): hidden connections would otherwise
// stay in the store for good. Each side purges its own copy, on its own delay.
func purgePeerings(tx store.Tx, s Scope, now time.Time) error {
	rows, err := tx.ListResources(s, KindVPCPeeringConnection)
	if err != nil {
		return err
	}
	for _, r := range rows {
		p, err := peerings.decode(r)
		if err != nil {
			return err
		}
		p.Resolve(now)
		if !p.visibleTo(s, now) {
			if err := peerings.remove(tx, s, p.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Quota names for peering connections.
const (
	QuotaActivePeerings      = "active-peering-connections-per-vpc"
	QuotaOutstandingPeerings = "outstanding-peering-connection-requests"
)

func init() {
	quotaDefs[QuotaActivePeerings] = QuotaDef{
		Name:        QuotaActivePeerings,
		Description: "Active VPC peering connections per VPC",
		Default:     50,
		Code:        "ActiveVpcPeeringConnectionPerVpcLimitExceeded",
		Message:     "The VPC has reached the limit of %d active VPC peering connections.",
	}
	quotaDefs[QuotaOutstandingPeerings] = QuotaDef{
		Name:        QuotaOutstandingPeerings,
		Description: "Outstanding VPC peering connection requests",
		Default:     25,
		Code:        "OutstandingVpcPeeringConnectionLimitExceeded",
		Message:     "You have reached the limit of %d outstanding VPC peering connection requests.",
	}
	vpcPeered = peered
	routeTargets[KindVPCPeeringConnection] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		p, err := peerings.get(tx, s, id)
		if err != nil {
			return RouteTarget{}, err
		}
		return RouteTarget{VpcIDs: []string{p.Requester.VpcID, p.Accepter.VpcID}, Active: p.Status == PeeringActive}, nil
	}
	// A VPC that another account asked to peer with cannot be deleted until the
	// request is answered; the VPC Peering Guide says so.
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		list, err := peeringsOfVPC(tx, s, vpcID, txNow(tx))
		for _, p := range list {
			if p.Status == PeeringPending && p.Accepter.VpcID == vpcID && p.Requester.OwnerID != s.Account {
				return true, err
			}
		}
		return false, err
	})
	vpcDeleted = append(vpcDeleted, deletePeeringsOfVPC)
}

// peeringsOfVPC reads the connections of a VPC of scope s, resolved at now (the
// zero time leaves them as stored).
func peeringsOfVPC(tx store.Tx, s Scope, vpcID string, now time.Time) ([]VPCPeeringConnection, error) {
	rows, err := tx.ListResources(s, KindVPCPeeringConnection)
	if err != nil {
		return nil, err
	}
	var out []VPCPeeringConnection
	for _, r := range rows {
		p, err := peerings.decode(r)
		if err != nil {
			return nil, err
		}
		if !(p.isRequester(s) && p.Requester.VpcID == vpcID || p.isAccepter(s) && p.Accepter.VpcID == vpcID) {
			continue
		}
		if !now.IsZero() {
			p.Resolve(now)
		}
		out = append(out, p)
	}
	return out, nil
}

// deletePeeringsOfVPC deletes, with the VPC, its active connections and the
// requests it made.
func deletePeeringsOfVPC(tx store.Tx, s Scope, v *VPC) error {
	now := txNow(tx)
	list, err := peeringsOfVPC(tx, s, v.ID, now)
	if err != nil {
		return err
	}
	for _, p := range list {
		if p.Status == PeeringActive || p.Status == PeeringPending {
			p.Status, p.Message, p.DeletedBy, p.ChangedAt = PeeringDeleted, "Deleted by "+s.Account, s.Account, now
			if err := savePeering(tx, &p); err != nil {
				return err
			}
		}
	}
	return nil
}

// peered reports whether an active connection joins vpcA of scope s with vpcB.
func peered(tx store.Tx, s Scope, vpcA, vpcB string) (bool, error) {
	list, err := peeringsOfVPC(tx, s, vpcA, time.Time{})
	if err != nil {
		return false, err
	}
	for _, p := range list {
		if p.Status != PeeringActive {
			continue
		}
		if p.Requester.VpcID == vpcA && p.Accepter.VpcID == vpcB || p.Accepter.VpcID == vpcA && p.Requester.VpcID == vpcB {
			return true, nil
		}
	}
	return false, nil
}

// PeeringRequest is what CreateVpcPeeringConnection asks for.
type PeeringRequest struct {
	VpcID, PeerVpcID, PeerOwnerID, PeerRegion string
	Tags                                      []Tag
}

func vpcCIDRs(v VPC) []string {
	out := make([]string, len(v.CIDRBlocks))
	for i, b := range v.CIDRBlocks {
		out[i] = b.CIDR
	}
	return out
}

func cidrsOverlap(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if netip.MustParsePrefix(x).Overlaps(netip.MustParsePrefix(y)) {
				return true
			}
		}
	}
	return false
}

// CreateVPCPeeringConnection asks to peer a VPC of the caller's with another VPC,
// of the caller's or another account's, in this or another Region. A request the
// peer cannot take (no such VPC or account, overlapping blocks) is created failed,
// as on AWS, and only the requester sees it.
func (c *Cloud) CreateVPCPeeringConnection(ctx context.Context, s Scope, req PeeringRequest) (VPCPeeringConnection, error) {
	if err := ValidateTags(req.Tags); err != nil {
		return VPCPeeringConnection{}, err
	}
	if req.PeerOwnerID == "" {
		req.PeerOwnerID = s.Account
	}
	if req.PeerRegion == "" {
		req.PeerRegion = s.Region
	}
	if _, ok := catalog.LookupRegion(req.PeerRegion); !ok {
		return VPCPeeringConnection{}, errorf("InvalidParameterValue", "Value (%s) for parameter peerRegion is invalid. The Region does not exist.", req.PeerRegion)
	}
	if !ValidAccountID(req.PeerOwnerID) {
		return VPCPeeringConnection{}, errorf("InvalidParameterValue", "Value (%s) for parameter peerOwnerId is invalid. An account ID has 12 digits.", req.PeerOwnerID)
	}
	if req.PeerVpcID == req.VpcID {
		return VPCPeeringConnection{}, errorf("InvalidParameterValue", "A VPC cannot be peered with itself (%s).", req.VpcID)
	}
	now := c.clock.Now()
	p := VPCPeeringConnection{
		ID:        NewID("pcx"),
		Accepter:  PeeringSide{VpcID: req.PeerVpcID, OwnerID: req.PeerOwnerID, Region: req.PeerRegion},
		Status:    PeeringPending,
		Message:   "Pending Acceptance by " + req.PeerOwnerID,
		ChangedAt: now, ExpiresAt: now.Add(peeringExpiry), CreatedAt: now,
	}
	err := c.update(ctx, func(tx store.Tx) error {
		for _, side := range []Scope{s, p.Accepter.scope()} {
			if err := purgePeerings(tx, side, now); err != nil {
				return err
			}
		}
		own, err := vpcs.get(tx, s, req.VpcID)
		if err != nil {
			return err
		}
		p.Requester = PeeringSide{VpcID: own.ID, OwnerID: s.Account, Region: s.Region, CIDRs: vpcCIDRs(own)}
		peer, err := vpcs.get(tx, p.Accepter.scope(), req.PeerVpcID)
		var nf *NotFoundError
		switch {
		case errors.As(err, &nf) && p.Accepter.scope() == s:
			return err // the caller's own VPC: AWS says at once that it does not exist
		case errors.As(err, &nf):
			p.Status, p.Message = PeeringFailed, peeringFailMsg
		case err != nil:
			return err
		case cidrsOverlap(p.Requester.CIDRs, vpcCIDRs(peer)):
			p.Status, p.Message = PeeringFailed, peeringFailMsg
		}
		if p.Status == PeeringPending {
			if err := checkPeeringRequest(tx, s, &p, now); err != nil {
				return err
			}
		}
		for i, scope := range p.scopes() {
			var tags []Tag
			if i == 0 {
				tags = req.Tags
			}
			if err := peerings.insert(tx, scope, &p, now, tags); err != nil {
				return err
			}
		}
		return nil
	})
	p.Tags = tagMap(req.Tags)
	return p, err
}

// checkPeeringRequest enforces one live connection per pair of VPCs and the
// requester's quota of outstanding requests.
func checkPeeringRequest(tx store.Tx, s Scope, p *VPCPeeringConnection, now time.Time) error {
	mine, err := peeringsOfVPC(tx, s, p.Requester.VpcID, now)
	if err != nil {
		return err
	}
	for _, other := range mine {
		live := other.Status == PeeringPending || other.Status == PeeringActive
		joins := other.Requester.VpcID == p.Accepter.VpcID || other.Accepter.VpcID == p.Accepter.VpcID
		if live && joins {
			return errorf("VpcPeeringConnectionAlreadyExists", "A VPC peering connection between %s and %s already exists (%s).", p.Requester.VpcID, p.Accepter.VpcID, other.ID)
		}
	}
	rows, err := tx.ListResources(s, KindVPCPeeringConnection)
	if err != nil {
		return err
	}
	outstanding := 0
	for _, r := range rows {
		other, err := peerings.decode(r)
		if err != nil {
			return err
		}
		other.Resolve(now)
		if other.Status == PeeringPending && other.isRequester(s) {
			outstanding++
		}
	}
	return checkQuota(tx, s.Account, QuotaOutstandingPeerings, outstanding)
}
