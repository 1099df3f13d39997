package cloud

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"strato/internal/netpolicy"
	"strato/internal/store"
)

// Dataplane is the network that carries the instances' packets
// (internal/vpcnet). The control plane keeps a VPC's network policy (security
// groups, ACLs, routes, gateways, public addresses, DNS, flow logs); the
// dataplane enforces it. It is told each VPC's whole policy after every change
// that alters it commits.
type Dataplane interface {
	// SetVPC replaces everything the dataplane enforces for one VPC.
	SetVPC(ctx context.Context, policy netpolicy.VPC) error
	// RemoveVPC removes what the dataplane has of a deleted VPC.
	RemoveVPC(ctx context.Context, vpcID string) error
}

// dataplaneLink pushes VPC policies to the dataplane in the background. A
// change marks its VPC dirty; one job at a time pushes every dirty VPC's whole
// policy as the store has it at that moment, so a burst of changes costs one
// push per VPC and a push never carries an older state than the one before it.
type dataplaneLink struct {
	d       Dataplane
	mu      sync.Mutex
	dirty   map[string]Scope // VPC ID → its scope
	pushing bool
	// runs numbers the push jobs, so a new job never shares its ID with one
	// that is ending.
	runs int
}

// UseDataplane gives the control plane the network to keep informed; call it
// before serving, then ResyncDataplane.
func (c *Cloud) UseDataplane(d Dataplane) {
	c.dataplane = &dataplaneLink{d: d, dirty: map[string]Scope{}}
}

// networkChanged tells the dataplane, after the transaction that changed them
// has committed, that the VPCs' policies may have changed. It never fails: a
// push that fails is logged, and the next change pushes the whole policy again.
func (c *Cloud) networkChanged(s Scope, vpcIDs ...string) {
	l := c.dataplane
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range vpcIDs {
		if id != "" {
			l.dirty[id] = s
		}
	}
	if l.pushing || len(l.dirty) == 0 {
		return
	}
	l.runs++
	l.pushing = c.jobs.goOnce(fmt.Sprintf("dataplane:push:%d", l.runs), c.pushDirtyVPCs)
}

// pushDirtyVPCs is the push job: it runs until no VPC is dirty.
func (c *Cloud) pushDirtyVPCs(ctx context.Context) {
	l := c.dataplane
	for {
		l.mu.Lock()
		if len(l.dirty) == 0 || ctx.Err() != nil {
			// Stopped by Close, what is left is pushed by ResyncDataplane on
			// the next start.
			l.pushing = false
			l.mu.Unlock()
			return
		}
		batch := l.dirty
		l.dirty = map[string]Scope{}
		l.mu.Unlock()
		for _, vpcID := range slices.Sorted(maps.Keys(batch)) {
			if err := c.pushVPC(ctx, batch[vpcID], vpcID); err != nil && ctx.Err() == nil {
				c.log.Error("telling the dataplane a VPC's policy", "vpc", vpcID, "err", err)
			}
		}
	}
}

// pushVPC gives the dataplane a VPC's policy, or removes the VPC from it once
// DeleteVpc has committed.
func (c *Cloud) pushVPC(ctx context.Context, s Scope, vpcID string) error {
	var policy netpolicy.VPC
	gone := false
	if err := c.view(ctx, func(tx store.Tx) error {
		_, err := vpcs.get(tx, s, vpcID)
		if gone = isNotFound(err); gone {
			return nil
		}
		if err != nil {
			return err
		}
		policy, err = vpcPolicy(tx, s, vpcID)
		return err
	}); err != nil {
		return err
	}
	if gone {
		return c.dataplane.d.RemoveVPC(ctx, vpcID)
	}
	return c.dataplane.d.SetVPC(ctx, policy)
}

// publicMappings is a VPC's public-to-private map from its interfaces: every address
// that has a public address mapped (auto-assigned or Elastic).
func publicMappings(enis []NetworkInterface) (map[netip.Addr]netip.Addr, error) {
	m := map[netip.Addr]netip.Addr{}
	for _, n := range enis {
		for _, a := range n.PrivateIPs {
			if a.Association == nil {
				continue
			}
			pub, err1 := netip.ParseAddr(a.Association.PublicIP)
			priv, err2 := netip.ParseAddr(a.Address)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("interface %s: unreadable address mapping %s → %s", n.ID, a.Association.PublicIP, a.Address)
			}
			m[pub] = priv
		}
	}
	return m, nil
}

// PublicAddresses is a VPC's public-to-private map as the store has it (for the
// dataplane, which knows VPCs by ID only).
func (c *Cloud) PublicAddresses(ctx context.Context, vpcID string) (map[netip.Addr]netip.Addr, error) {
	var m map[netip.Addr]netip.Addr
	err := c.view(ctx, func(tx store.Tx) error {
		s, err := scopeOf(tx, KindVPC, vpcID)
		if err != nil {
			return err
		}
		enis, err := interfacesOfVPC(tx, s, vpcID)
		if err != nil {
			return err
		}
		m, err = publicMappings(enis)
		return err
	})
	return m, err
}

// ResyncDataplane tells the dataplane every VPC's policy, so that what it
// kept from an earlier process agrees with the store; call it after
// UseDataplane, before serving.
func (c *Cloud) ResyncDataplane(ctx context.Context) error {
	if c.dataplane == nil {
		return nil
	}
	type vpcRef struct {
		s  Scope
		id string
	}
	var all []vpcRef
	if err := c.view(ctx, func(tx store.Tx) error {
		return eachScope(tx, func(s Scope) error {
			list, err := vpcs.load(tx, s, nil, nil)
			for _, v := range list {
				all = append(all, vpcRef{s, v.ID})
			}
			return err
		})
	}); err != nil {
		return err
	}
	for _, v := range all {
		if err := c.pushVPC(ctx, v.s, v.id); err != nil {
			return fmt.Errorf("dataplane: VPC %s: %w", v.id, err)
		}
	}
	return nil
}
