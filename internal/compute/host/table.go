package host

import (
	"context"
	"fmt"
	"sync"

	"strato/internal/cloud"
	"strato/internal/compute"
)

// Table is a driver's instances by ID. Each has a lock that serializes the operations
// on it (a graceful stop holds it while the guest shuts down) and the status it last
// published, which Status reads without waiting for that lock. A driver's instance
// type embeds Slot; the Table holds pointers to it.
type Table[P interface{ slot() *Slot }] struct {
	driver string // "compute qemu": how its errors begin
	mu     sync.Mutex
	m      map[string]P
}

// Slot is what a Table keeps of each instance.
type Slot struct {
	mu     sync.Mutex
	gone   bool                  // forgotten (destroyed) while an operation waited for mu
	status cloud.InstanceRuntime // guarded by the Table's mu
}

func (s *Slot) slot() *Slot { return s }

// Lock locks the instance itself, for a watcher that holds it already (check Gone).
func (s *Slot) Lock() { s.mu.Lock() }

// Unlock ends the operation Lock (or Add) began.
func (s *Slot) Unlock() { s.mu.Unlock() }

// Gone says whether the instance has been forgotten; call it with the lock held.
func (s *Slot) Gone() bool { return s.gone }

// NewTable is an empty table of the named driver ("compute qemu").
func NewTable[P interface{ slot() *Slot }](driver string) *Table[P] {
	return &Table[P]{driver: driver, m: map[string]P{}}
}

// Adopt puts an instance a previous process left into the table, with its status.
func (t *Table[P]) Adopt(id string, p P, status cloud.InstanceRuntime) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.slot().status = status
	t.m[id] = p
}

// Add puts a new instance into the table, locked, and reports true; when the ID is
// there already it reports the one there, unlocked, and false (a Create done twice).
func (t *Table[P]) Add(id string, p P) (P, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if have, ok := t.m[id]; ok {
		return have, false
	}
	p.slot().mu.Lock()
	t.m[id] = p
	return p, true
}

// Lock finds an instance and locks it, or answers ErrNotFound.
func (t *Table[P]) Lock(ctx context.Context, id string) (P, error) {
	var none P
	if err := ctx.Err(); err != nil {
		return none, err
	}
	t.mu.Lock()
	p, ok := t.m[id]
	t.mu.Unlock()
	if !ok {
		return none, t.NotFound(id)
	}
	s := p.slot()
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return none, t.NotFound(id)
	}
	return p, nil
}

// Get finds an instance without locking it.
func (t *Table[P]) Get(id string) (P, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[id]
	return p, ok
}

// All is every instance, in no order.
func (t *Table[P]) All() []P {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]P, 0, len(t.m))
	for _, p := range t.m {
		out = append(out, p)
	}
	return out
}

// Publish makes status what Status reports of the instance.
func (t *Table[P]) Publish(p P, status cloud.InstanceRuntime) {
	t.mu.Lock()
	p.slot().status = status
	t.mu.Unlock()
}

// Forget takes a locked instance out of the table: operations waiting for it then
// answer ErrNotFound.
func (t *Table[P]) Forget(id string, p P) {
	p.slot().gone = true
	t.mu.Lock()
	if have, ok := t.m[id]; ok && have.slot() == p.slot() {
		delete(t.m, id)
	}
	t.mu.Unlock()
}

// Status reports an instance; an unknown one (or one whose Create has not finished)
// is "gone" with ErrNotFound.
func (t *Table[P]) Status(ctx context.Context, id string) (cloud.InstanceRuntime, error) {
	if err := ctx.Err(); err != nil {
		return cloud.InstanceRuntime{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.m[id]
	if !ok || p.slot().status.State == "" {
		return cloud.InstanceRuntime{State: "gone"}, t.NotFound(id)
	}
	return p.slot().status, nil
}

// NotFound is the error for an instance the driver does not have.
func (t *Table[P]) NotFound(id string) error {
	return fmt.Errorf("%s: instance %s: %w", t.driver, id, compute.ErrNotFound)
}

// InvalidState is the error for an operation the instance cannot do now.
func (t *Table[P]) InvalidState(op, id, why string) error {
	return fmt.Errorf("%s: %s %s: %w: %s", t.driver, op, id, compute.ErrInvalidState, why)
}

// CheckCreate is what every Create checks before it makes anything: the ID is an
// instance ID (it names a directory) and the driver can use each of the spec's volumes.
func (t *Table[P]) CheckCreate(ctx context.Context, spec cloud.InstanceSpec, usable func(cloud.BlockDevice) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !IsInstanceID(spec.ID) {
		return fmt.Errorf("%s: create: %w: bad instance ID %q", t.driver, compute.ErrInvalidState, spec.ID)
	}
	for _, b := range append([]cloud.BlockDevice{spec.Root}, spec.Devices...) {
		if err := usable(b); err != nil {
			return fmt.Errorf("%s: create %s: %w", t.driver, spec.ID, err)
		}
	}
	return nil
}

// Save writes a locked instance's record in its directory (SaveRecord) and publishes
// the status it holds.
func (t *Table[P]) Save(p P, dir string, rec any, status cloud.InstanceRuntime) error {
	if err := SaveRecord(dir, rec); err != nil {
		return fmt.Errorf("%s: %w", t.driver, err)
	}
	t.Publish(p, status)
	return nil
}

// Console is the last bytes (at most n) of an instance's console log, which path
// names: what ConsoleOutput answers, across the guest's boots.
func (t *Table[P]) Console(ctx context.Context, id string, path func(P) string, n int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, ok := t.Get(id)
	if !ok {
		return nil, t.NotFound(id)
	}
	return ReadTail(path(p), n)
}
