package cloud

import (
	"time"

	"strato/internal/store"
)

// Hooks get a transaction and a scope, not the cloud's clock: every transaction
// the Cloud opens carries the clock's reading (clockedTx, see Cloud.clocked), so a
// hook uses the cloud's time through txNow. A bare store transaction falls back to
// the wall clock.

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
