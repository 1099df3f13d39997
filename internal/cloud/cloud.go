// Package cloud is strato's control plane: accounts, resources, their IDs, tags,
// filters, pagination and idempotency, kept in a store.Store. It speaks in domain
// terms; internal/ec2 turns API requests into calls here and errors into AWS codes.
package cloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"strato/internal/cloud/paging"
	"strato/internal/store"
)

// Clock gives the time; tests drive lifecycle timing with a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Cloud is the control plane over one store.
type Cloud struct {
	store  store.Store
	clock  Clock
	log    *slog.Logger
	paging *paging.Codec
	keys   *keyCache
	// defaults tracks the lazily made default VPCs.
	defaults defaultVPCs
	// blocks holds the bytes of volumes and snapshots (nil until UseBlocks).
	blocks Blocks
	// compute runs instances (nil until UseCompute).
	compute Compute
	// jobs runs the block store's background work (blockjobs.go).
	jobs blockJobs
	// dataplane is told public address changes (nil until UseDataplane).
	dataplane *dataplaneLink
	// capacity is what the host gives running instances (UseCapacity).
	capacity HostCapacity
}

// UseBlocks gives the control plane its block store; call it before serving.
func (c *Cloud) UseBlocks(b Blocks) { c.blocks = b }

// UseCompute gives the control plane its instance driver; call it before serving.
func (c *Cloud) UseCompute(d Compute) { c.compute = d }

// Scope is an account in a region.
type Scope = store.Scope

// New opens the control plane on a store, creating installation-wide secrets on first use.
func New(ctx context.Context, st store.Store, clock Clock, log *slog.Logger) (*Cloud, error) {
	secret, err := installationSecret(ctx, st, "paging-secret")
	if err != nil {
		return nil, err
	}
	return &Cloud{store: st, clock: clock, log: log, paging: paging.NewCodec(secret), keys: newKeyCache()}, nil
}

// installationSecret returns a random secret kept in the store, so pagination tokens
// stay valid across restarts.
func installationSecret(ctx context.Context, st store.Store, name string) ([]byte, error) {
	var secret []byte
	err := st.Update(ctx, func(tx store.Tx) error {
		v, err := tx.GetSetting(name)
		if err == nil {
			secret = v
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		secret = make([]byte, 32)
		rand.Read(secret)
		return tx.PutSetting(name, secret)
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	return secret, nil
}

type dryRunKey struct{}

// WithDryRun marks a context as a dry run: update transactions then validate
// everything, roll back and return ErrDryRun instead of committing.
func WithDryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

func isDryRun(ctx context.Context) bool {
	v, _ := ctx.Value(dryRunKey{}).(bool)
	return v
}

// ErrDryRun: the request would have succeeded, and nothing was changed.
var ErrDryRun = errors.New("dry run: request would have succeeded")

var errRollback = errors.New("rollback")

// update runs fn in a write transaction, or in a dry run validates and rolls back.
func (c *Cloud) update(ctx context.Context, fn func(tx store.Tx) error) error {
	dry := isDryRun(ctx)
	err := c.store.Update(ctx, func(tx store.Tx) error {
		if err := fn(c.clocked(tx)); err != nil {
			return err
		}
		if dry {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		return ErrDryRun
	}
	return err
}

func (c *Cloud) view(ctx context.Context, fn func(tx store.Tx) error) error {
	return c.store.View(ctx, func(tx store.Tx) error { return fn(c.clocked(tx)) })
}

// clocked gives a transaction the cloud's time, for hooks (see txNow).
func (c *Cloud) clocked(tx store.Tx) store.Tx { return clockedTx{Tx: tx, now: c.clock.Now()} }
