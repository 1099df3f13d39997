package cloud

import (
	"context"

	"strato/internal/store"
)

// vpcRef is a VPC with its scope: the dataplane is told about VPCs of other
// accounts and Regions too (the other side of a peering).
type vpcRef struct {
	s  Scope
	id string
}

// otherSide is the side of a connection that is not VPC vpcID of scope s.
func (p *VPCPeeringConnection) otherSide(s Scope, vpcID string) PeeringSide {
	if p.Accepter.VpcID == vpcID && p.isAccepter(s) {
		return p.Requester
	}
	return p.Accepter
}

// activePeers are the VPCs joined to a VPC by an active peering connection.
func activePeers(tx store.Tx, s Scope, vpcID string) ([]vpcRef, error) {
	list, err := peeringsOfVPC(tx, s, vpcID, txNow(tx))
	if err != nil {
		return nil, err
	}
	var out []vpcRef
	for _, p := range list {
		if p.Status != PeeringActive {
			continue
		}
		other := p.otherSide(s, vpcID)
		out = append(out, vpcRef{other.scope(), other.VpcID})
	}
	return out, nil
}

// refsChanged tells the dataplane about VPCs of any scope.
func (c *Cloud) refsChanged(refs []vpcRef) {
	for _, r := range refs {
		c.networkChanged(r.s, r.id)
	}
}

// networkAndPeersChanged marks VPCs and every VPC peered with them, for changes
// the peers' policies show: interfaces' groups or addresses (a group of a peered
// VPC may refer to a group of these, and then holds its members' addresses), and
// the VPCs' blocks (their peers' PeerCIDRs).
func (c *Cloud) networkAndPeersChanged(ctx context.Context, s Scope, vpcIDs ...string) {
	c.networkChanged(s, vpcIDs...)
	if c.dataplane == nil {
		return
	}
	var peers []vpcRef
	err := c.view(context.WithoutCancel(ctx), func(tx store.Tx) error {
		peers = peers[:0]
		for _, id := range vpcIDs {
			if id == "" {
				continue
			}
			more, err := activePeers(tx, s, id)
			if err != nil {
				return err
			}
			peers = append(peers, more...)
		}
		return nil
	})
	if err != nil {
		c.log.Error("finding the VPCs peered with changed VPCs", "vpcs", vpcIDs, "err", err)
	}
	c.refsChanged(peers)
}

// scopeChanged marks every VPC of a scope (a prefix list changed: whichever VPC's
// rules or routes refer to it).
func (c *Cloud) scopeChanged(ctx context.Context, s Scope) {
	if c.dataplane == nil {
		return
	}
	var ids []string
	err := c.view(context.WithoutCancel(ctx), func(tx store.Tx) error {
		list, err := vpcs.load(tx, s, nil, nil)
		ids = ids[:0]
		for _, v := range list {
			ids = append(ids, v.ID)
		}
		return err
	})
	if err != nil {
		c.log.Error("listing the VPCs a change concerns", "account", s.Account, "region", s.Region, "err", err)
	}
	c.networkChanged(s, ids...)
}

// tableChanged marks the VPC of a route table whose routes changed.
func (c *Cloud) tableChanged(ctx context.Context, s Scope, tableID string) {
	if c.dataplane == nil {
		return
	}
	var vpcID string
	err := c.view(context.WithoutCancel(ctx), func(tx store.Tx) error {
		t, err := routeTables.get(tx, s, tableID)
		vpcID = t.VpcID
		return err
	})
	if err != nil {
		c.log.Error("finding the VPC of a changed route table", "table", tableID, "err", err)
	}
	c.networkChanged(s, vpcID)
}
