package cloud

import (
	"context"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// changePeering reads the caller's copy of a connection, resolved by the clock
// (one the caller no longer sees does not exist), lets change alter it, and
// writes every side's copy.
func (c *Cloud) changePeering(ctx context.Context, s Scope, id string, change func(tx store.Tx, p *VPCPeeringConnection, now time.Time) error) (VPCPeeringConnection, error) {
	var p VPCPeeringConnection
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if p, err = peerings.get(tx, s, id); err != nil {
			return err
		}
		now := c.clock.Now()
		p.Resolve(now)
		if !p.visibleTo(s, now) {
			return &NotFoundError{Kind: KindVPCPeeringConnection, ID: id}
		}
		if err := change(tx, &p, now); err != nil {
			return err
		}
		return savePeering(tx, &p)
	})
	if err == nil {
		// Each side's routes to the connection and its peer's blocks.
		c.networkChanged(p.Requester.scope(), p.Requester.VpcID)
		c.networkChanged(p.Accepter.scope(), p.Accepter.VpcID)
	}
	return p, err
}

func peeringStateError(p *VPCPeeringConnection, to string) error {
	return errorf("InvalidStateTransition", "Invalid state transition for %s, attempted to transition from %s to %s", p.ID, p.Status, to)
}

// AcceptVPCPeeringConnection activates a pending request; only the accepter may.
func (c *Cloud) AcceptVPCPeeringConnection(ctx context.Context, s Scope, id string) (VPCPeeringConnection, error) {
	p, err := c.changePeering(ctx, s, id, func(tx store.Tx, p *VPCPeeringConnection, now time.Time) error {
		if !p.isAccepter(s) {
			return errorf("OperationNotPermitted", "User %s cannot accept peering %s", s.Account, p.ID)
		}
		if p.Status != PeeringPending {
			return peeringStateError(p, PeeringActive)
		}
		// The accepter's VPC is read now: its blocks are what the requester sees.
		vpc, err := vpcs.get(tx, s, p.Accepter.VpcID)
		if err != nil {
			return err
		}
		for _, side := range []PeeringSide{p.Requester, p.Accepter} {
			if err := checkActivePeerings(tx, side, now); err != nil {
				return err
			}
		}
		p.Accepter.CIDRs = vpcCIDRs(vpc)
		p.Status, p.Message, p.ChangedAt = PeeringActive, "Active", now
		return nil
	})
	if err == nil {
		tags, terr := c.peeringTags(ctx, s, id)
		p.Tags, err = tags, terr
	}
	return p, err
}

// checkActivePeerings enforces the quota of active connections of one side's VPC.
func checkActivePeerings(tx store.Tx, side PeeringSide, now time.Time) error {
	list, err := peeringsOfVPC(tx, side.scope(), side.VpcID, now)
	if err != nil {
		return err
	}
	active := 0
	for _, p := range list {
		if p.Status == PeeringActive {
			active++
		}
	}
	return checkQuota(tx, side.OwnerID, QuotaActivePeerings, active)
}

func (c *Cloud) peeringTags(ctx context.Context, s Scope, id string) (map[string]string, error) {
	var tags map[string]string
	err := c.view(ctx, func(tx store.Tx) error {
		list, err := peerings.load(tx, s, []string{id}, nil)
		if err == nil {
			tags = list[0].Tags
		}
		return err
	})
	return tags, err
}

// RejectVPCPeeringConnection turns down a pending request; only the accepter may.
func (c *Cloud) RejectVPCPeeringConnection(ctx context.Context, s Scope, id string) error {
	_, err := c.changePeering(ctx, s, id, func(tx store.Tx, p *VPCPeeringConnection, now time.Time) error {
		if !p.isAccepter(s) {
			return errorf("OperationNotPermitted", "User %s cannot reject peering %s", s.Account, p.ID)
		}
		if p.Status != PeeringPending {
			return peeringStateError(p, PeeringRejected)
		}
		p.Status, p.Message, p.ChangedAt = PeeringRejected, "Rejected by "+s.Account, now
		return nil
	})
	return err
}

// DeleteVPCPeeringConnection ends an active connection (either side) or withdraws
// a pending request (the requester; the accepter rejects it instead).
func (c *Cloud) DeleteVPCPeeringConnection(ctx context.Context, s Scope, id string) error {
	_, err := c.changePeering(ctx, s, id, func(tx store.Tx, p *VPCPeeringConnection, now time.Time) error {
		switch {
		case p.Status == PeeringPending && !p.isRequester(s):
			return errorf("OperationNotPermitted", "User %s cannot delete peering %s: the accepter of a pending request rejects it.", s.Account, p.ID)
		case p.Status != PeeringActive && p.Status != PeeringPending:
			// AWS names the transition "to deleting", and clients match that text.
			return peeringStateError(p, "deleting")
		}
		p.Status, p.Message, p.DeletedBy, p.ChangedAt = PeeringDeleted, "Deleted by "+s.Account, s.Account, now
		return nil
	})
	return err
}

// PeeringOptionsChange sets allowDnsResolutionFromRemoteVpc of one side or both
// (nil leaves a side as it is).
type PeeringOptionsChange struct {
	Requester, Accepter *bool
}

// ModifyVPCPeeringConnectionOptions changes the DNS option of an active connection;
// each side's owner changes its own side.
func (c *Cloud) ModifyVPCPeeringConnectionOptions(ctx context.Context, s Scope, id string, change PeeringOptionsChange) (VPCPeeringConnection, error) {
	return c.changePeering(ctx, s, id, func(tx store.Tx, p *VPCPeeringConnection, now time.Time) error {
		if p.Status != PeeringActive {
			return errorf("OperationNotPermitted", "Peering %s is not active. Peering options can be added only to active peerings.", p.ID)
		}
		if change.Requester != nil {
			if !p.isRequester(s) {
				return errorf("OperationNotPermitted", "User %s cannot modify the requester options of peering %s", s.Account, p.ID)
			}
			p.Requester.AllowDNSResolution = *change.Requester
		}
		if change.Accepter != nil {
			if !p.isAccepter(s) {
				return errorf("OperationNotPermitted", "User %s cannot modify the accepter options of peering %s", s.Account, p.ID)
			}
			p.Accepter.AllowDNSResolution = *change.Accepter
		}
		return nil
	})
}

// PeeringTimeFormat is how expiration times are written and filtered.
const PeeringTimeFormat = "2006-01-02T15:04:05.000Z"

var peeringFields = filter.Fields[VPCPeeringConnection]{
	"accepter-vpc-info.cidr-block": func(p VPCPeeringConnection) []string { return p.Accepter.CIDRs },
	"accepter-vpc-info.owner-id":   func(p VPCPeeringConnection) []string { return []string{p.Accepter.OwnerID} },
	"accepter-vpc-info.vpc-id":     func(p VPCPeeringConnection) []string { return []string{p.Accepter.VpcID} },
	"expiration-time": func(p VPCPeeringConnection) []string {
		if p.Status != PeeringPending && p.Status != PeeringExpired {
			return nil
		}
		return []string{p.ExpiresAt.UTC().Format(PeeringTimeFormat)}
	},
	"requester-vpc-info.cidr-block": func(p VPCPeeringConnection) []string { return p.Requester.CIDRs },
	"requester-vpc-info.owner-id":   func(p VPCPeeringConnection) []string { return []string{p.Requester.OwnerID} },
	"requester-vpc-info.vpc-id":     func(p VPCPeeringConnection) []string { return []string{p.Requester.VpcID} },
	"status-code":                   func(p VPCPeeringConnection) []string { return []string{p.Status} },
	"status-message":                func(p VPCPeeringConnection) []string { return []string{p.Message} },
	"vpc-peering-connection-id":     func(p VPCPeeringConnection) []string { return []string{p.ID} },
}

// DescribeVPCPeeringConnections lists the connections the caller's side sees, by
// ID (each must be visible) or all, resolved by the clock, filtered and paginated
// (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeVPCPeeringConnections(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]VPCPeeringConnection, string, error) {
	m, err := filter.Compile(filters, peeringFields, func(p VPCPeeringConnection) map[string]string { return p.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []VPCPeeringConnection
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		list, err = peerings.load(tx, s, ids, nil)
		return err
	}); err != nil {
		return nil, "", err
	}
	now := c.clock.Now()
	visible := list[:0]
	for _, p := range list {
		p.Resolve(now)
		if p.visibleTo(s, now) {
			visible = append(visible, p)
		} else if len(ids) > 0 {
			return nil, "", &NotFoundError{Kind: KindVPCPeeringConnection, ID: p.ID}
		}
	}
	out := m.Filter(visible)
	key := func(p VPCPeeringConnection) string { return p.ID }
	sortByUniqueKey(out, key)
	return PageOf(c, s, "DescribeVpcPeeringConnections", filters, page, 5, 1000, out, key)
}

// PeeringStatusMessage is the message of a state as AWS words it, for answers that
// show a state the connection passes through (initiating-request, provisioning).
func PeeringStatusMessage(p VPCPeeringConnection, status string) string {
	switch status {
	case PeeringInitiating:
		return "Initiating Request to " + p.Accepter.OwnerID
	case PeeringProvisioning:
		return "Provisioning"
	}
	return p.Message
}
