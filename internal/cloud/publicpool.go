package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"strato/internal/cloud/ipam"
	"strato/internal/store"
)

// The public address pool (Elastic IPs, and later the public addresses of
// instances) is one for the whole installation: every account and Region takes
// its addresses from it, because they are the host's. Its state is a setting of
// the store, read and written inside the transaction that allocates or releases,
// so concurrent requests (and, later, several strato processes on one database)
// never hand out an address twice.
const publicPoolSetting = "public-pool"

// loadPublicPool reads the pool; before any is configured it is
// ipam.DefaultPublicPrefix.
func loadPublicPool(tx store.Tx) (*ipam.PublicPool, error) {
	raw, err := tx.GetSetting(publicPoolSetting)
	if errors.Is(err, store.ErrNotFound) {
		return ipam.NewPublicPool()
	}
	if err != nil {
		return nil, err
	}
	var pp ipam.PublicPool
	if err := json.Unmarshal(raw, &pp); err != nil {
		return nil, fmt.Errorf("public address pool: %w", err)
	}
	return &pp, nil
}

func savePublicPool(tx store.Tx, pp *ipam.PublicPool) error {
	raw, err := json.Marshal(pp)
	if err != nil {
		return err
	}
	return tx.PutSetting(publicPoolSetting, raw)
}

// ConfigurePublicPool sets the prefixes public addresses come from (strato serve
// --public-pool). Addresses already handed out stay so; it fails, changing
// nothing, when one of them lies outside the new prefixes.
func (c *Cloud) ConfigurePublicPool(ctx context.Context, prefixes []netip.Prefix) error {
	return c.store.Update(ctx, func(tx store.Tx) error {
		old, err := loadPublicPool(tx)
		if err != nil {
			return err
		}
		if slices.Equal(old.Prefixes(), sortedMasked(prefixes)) {
			return nil
		}
		pp, err := ipam.NewPublicPool(prefixes...)
		if err != nil {
			return err
		}
		for _, a := range old.Taken() {
			if err := pp.Take(a); err != nil {
				return fmt.Errorf("public address %s is in use and outside the new pool %v: release it first", a, pp.Prefixes())
			}
		}
		return savePublicPool(tx, pp)
	})
}

func sortedMasked(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(prefixes))
	for i, p := range prefixes {
		out[i] = p.Masked()
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// PublicPool reports the pool's prefixes and how many addresses are free.
func (c *Cloud) PublicPool(ctx context.Context) (prefixes []netip.Prefix, available int, err error) {
	err = c.view(ctx, func(tx store.Tx) error {
		pp, err := loadPublicPool(tx)
		if err == nil {
			prefixes, available = pp.Prefixes(), pp.Available()
		}
		return err
	})
	return prefixes, available, err
}
