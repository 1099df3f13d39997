// Package cloudtest opens a control plane on a fresh SQLite store for tests.
package cloudtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"strato/internal/cloud"
	"strato/internal/store/sqlite"
)

// New returns a control plane whose store lives in the test's temporary directory and
// is closed when the test ends. It makes no default VPCs by itself, so tests count
// only what they create; WithDefaultVPCs gives one that does.
func New(t testing.TB) *cloud.Cloud {
	return NewWithClock(t, cloud.SystemClock{})
}

// NewWithClock is New with the given clock instead of the wall clock.
func NewWithClock(t testing.TB, clock cloud.Clock) *cloud.Cloud {
	c := open(t, clock)
	c.DisableDefaultVPCs()
	return c
}

// WithDefaultVPCs returns a control plane like New that makes each account's
// default VPC on first use of a Region, as strato serve does.
func WithDefaultVPCs(t testing.TB) *cloud.Cloud {
	return open(t, cloud.SystemClock{})
}

func open(t testing.TB, clock cloud.Clock) *cloud.Cloud {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strato.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := cloud.New(ctx, db, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c.UseBlocks(NewBlocks())
	t.Cleanup(func() { c.Close() })
	return c
}
