package cloud

import (
	"time"

	"strato/internal/store"
)

// Hooks get a transaction and a scope, not the cloud's clock. A transaction that
// carries the clock's reading (clockedTx) lets a hook use the cloud's time; until
// every transaction carries it (Cloud.update and Cloud.view wrapping their tx),
// hooks fall back to the wall clock.

// clockedTx is a transaction that knows the time it runs at, by the cloud's clock.
type clockedTx struct {
	store.Tx
	now time.Time
}

func (t clockedTx) Now() time.Time { return t.now }

// txNow is the cloud's time for a hook running in tx.
func txNow(tx store.Tx) time.Time {
	if t, ok := tx.(interface{ Now() time.Time }); ok {
		return t.Now()
	}
	return SystemClock{}.Now()
}
