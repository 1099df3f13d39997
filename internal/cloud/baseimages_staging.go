package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"strato/internal/store"
)

// Staging is the block-store work of a publication before its images are
// registered: a volume holding the disk, its snapshot, and the snapshot's copies
// to the other Regions. It is recorded before the block store is touched and
// the record removed in the transaction that registers the images, so whatever
// a crash leaves (a volume file, manifests no snapshot record names) is known
// and removed by the next publication.

const kindImageStaging = "image-staging"

var stagingScope = Scope{Account: "strato", Region: "image-staging"}

type staging struct {
	ID     string `json:"id"`
	Volume string `json:"volume"`
	// Snapshots are the block-store snapshots (bundles for instance-store
	// images) by Region.
	Snapshots map[string]string `json:"snapshots"`
	// Stats are the first snapshot's.
	Stats SnapshotStats `json:"stats"`
}

var stagings = docKind[staging]{
	kind: kindImageStaging,
	id:   func(s *staging) string { return s.ID },
	tags: func(*staging) *map[string]string { return new(map[string]string) },
}

// publishMu runs one publication at a time in a process (one process owns the
// block store): a rebuild of a name waits for the build before it, and
// cleanStaging never sees a running publication's staging.
var publishMu sync.Mutex

// stage puts the disk into the block store: a volume, its snapshot, the copies.
func (c *Cloud) stage(ctx context.Context, p *publishPlan, say func(string)) (staging, error) {
	st := staging{ID: NewID("stage"), Volume: NewID("vol"), Snapshots: map[string]string{}}
	for _, r := range p.regions {
		if p.req.InstanceStore {
			st.Snapshots[r] = NewID("bundle")
		} else {
			st.Snapshots[r] = NewID("snap")
		}
	}
	if err := c.update(ctx, func(tx store.Tx) error { return stagings.insert(tx, stagingScope, &st, txNow(tx), nil) }); err != nil {
		return st, err
	}
	say(fmt.Sprintf("copying %s into a %d GiB volume", p.req.DiskPath, p.gib))
	if err := c.blocks.ImportVolume(ctx, st.Volume, p.size, p.req.DiskPath); err != nil {
		return st, fmt.Errorf("copying the disk: %w", err)
	}
	first := st.Snapshots[p.regions[0]]
	job, err := c.blocks.StartSnapshot(st.Volume, first, "")
	if err != nil {
		return st, err
	}
	say("taking the snapshot")
	st.Stats, err = job.Run(ctx, tenths(say, "snapshot"))
	if err != nil {
		return st, err
	}
	say(fmt.Sprintf("snapshot complete: %d chunks of 1 MiB with data, %.1f MiB stored", st.Stats.Chunks, float64(st.Stats.StoredBytes)/(1<<20)))
	if err := c.blocks.DeleteVolume(st.Volume); err != nil {
		return st, err
	}
	for i, r := range p.regions[1:] {
		if _, err := c.blocks.CopySnapshot(ctx, first, st.Snapshots[r], nil, nil, nil); err != nil {
			return st, fmt.Errorf("copying the snapshot to %s: %w", r, err)
		}
		if n := i + 2; n%10 == 0 || n == len(p.regions) {
			say(fmt.Sprintf("snapshot in %d of %d Regions", n, len(p.regions)))
		}
	}
	return st, nil
}

// tenths reports a block-store job's progress every 10%.
func tenths(say func(string), what string) func(done, total int64) {
	var mu sync.Mutex
	last := -1
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := int(done*100/total) / 10 * 10
		mu.Lock()
		defer mu.Unlock()
		if pct > last {
			last = pct
			say(fmt.Sprintf("%s %d%%", what, pct))
		}
	}
}

// dropStaging removes a staging's data and its record (every step may repeat).
func (c *Cloud) dropStaging(ctx context.Context, st staging) error {
	if st.ID == "" {
		return nil
	}
	errs := []error{c.blocks.DeleteVolume(st.Volume)}
	for _, snap := range st.Snapshots {
		errs = append(errs, c.blocks.DeleteSnapshot(snap))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.update(ctx, func(tx store.Tx) error {
		return ignoreNotFound(stagings.remove(tx, stagingScope, st.ID), nil)
	})
}

// cleanStaging removes what interrupted publications left.
func (c *Cloud) cleanStaging(ctx context.Context) error {
	var left []staging
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		left, err = stagings.load(tx, stagingScope, nil, nil)
		return err
	}); err != nil {
		return err
	}
	for _, st := range left {
		if err := c.dropStaging(ctx, st); err != nil {
			return err
		}
	}
	return nil
}
