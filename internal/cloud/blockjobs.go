package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"strato/internal/store"
)

// Block jobs are the background work of EBS: making and restoring volumes,
// taking, copying and deleting snapshots, growing volumes. Each is recorded as a
// document in the transaction that starts it (so a crash never loses one), runs
// in a goroutine the Cloud owns, and removes its record in the transaction that
// finishes it. ResumeBlockJobs, at start-up, redoes or fails what a previous
// process left.

// Job operations.
const (
	jobCreateVolume   = "create-volume" // restore when Source is set
	jobDeleteVolume   = "delete-volume"
	jobModifyVolume   = "modify-volume"
	jobSnapshot       = "snapshot"
	jobCopySnapshot   = "copy-snapshot"
	jobDeleteSnapshot = "delete-snapshot"
)

// blockJob is the record of one unfinished job.
type blockJob struct {
	ID       string `json:"id"` // op:resource
	Op       string `json:"op"`
	Scope    Scope  `json:"scope"`
	Resource string `json:"resource"`
	// Source is the snapshot a volume is restored from or a copy made of, or a
	// new snapshot's parent; SourceScope is where it lives. A snapshot that is
	// a job's source cannot be deleted (snapshotInUseByJobs).
	Source      string `json:"source,omitempty"`
	SourceScope Scope  `json:"sourceScope,omitzero"`
}

// kindBlockJob is the store kind of job records; they live in jobsScope, out of
// every account's sight, so start-up finds them all in one listing.
const kindBlockJob = "block-job"

var jobsScope = Scope{Account: "strato", Region: "block-jobs"}

func newBlockJob(op string, s Scope, resource string) blockJob {
	return blockJob{ID: op + ":" + resource, Op: op, Scope: s, Resource: resource}
}

func recordJob(tx store.Tx, j blockJob) error {
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return tx.InsertResource(store.Resource{Scope: jobsScope, Kind: kindBlockJob, ID: j.ID, Parent: j.Source, CreatedAt: txNow(tx), Body: body})
}

func finishJob(tx store.Tx, j blockJob) error {
	err := tx.DeleteResource(jobsScope, kindBlockJob, j.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// jobRecorded reports whether a job is still to be done.
func jobRecorded(tx store.Tx, id string) (bool, error) {
	_, err := tx.GetResource(jobsScope, kindBlockJob, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func decodeJobs(rows []store.Resource) ([]blockJob, error) {
	out := make([]blockJob, 0, len(rows))
	for _, r := range rows {
		var j blockJob
		if err := json.Unmarshal(r.Body, &j); err != nil {
			return nil, fmt.Errorf("block job %s: %w", r.ID, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// snapshotInUseByJobs reports whether unfinished work reads a snapshot: a
// volume being restored from it, a copy being made of it, a snapshot taken on
// top of it.
func snapshotInUseByJobs(tx store.Tx, id string) (bool, error) {
	rows, err := tx.ListChildren(jobsScope, kindBlockJob, id)
	return len(rows) > 0, err
}

// blockJobs tracks the goroutines of a Cloud's jobs; its zero value is ready.
type blockJobs struct {
	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running map[string]bool
	closed  bool
}

// goOnce runs fn in a goroutine unless a job with the ID runs already; false
// when it does, or the Cloud is closed.
func (b *blockJobs) goOnce(id string, fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.running[id] {
		return false
	}
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
		b.running = map[string]bool{}
	}
	b.running[id] = true
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() {
			b.mu.Lock()
			delete(b.running, id)
			b.mu.Unlock()
		}()
		fn(b.ctx)
	}()
	return true
}

func (b *blockJobs) isRunning(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running[id]
}

// WaitBlockJobs waits until every background job of the Cloud has ended.
func (c *Cloud) WaitBlockJobs() { c.jobs.wg.Wait() }

// Close stops the Cloud's background jobs and waits for them; what they leave
// unfinished stays recorded, for ResumeBlockJobs on the next start.
func (c *Cloud) Close() error {
	c.jobs.mu.Lock()
	c.jobs.closed = true
	if c.jobs.cancel != nil {
		c.jobs.cancel()
	}
	c.jobs.mu.Unlock()
	c.jobs.wg.Wait()
	return nil
}

// BlockStore returns the block store given with UseBlocks (nil if none).
func (c *Cloud) BlockStore() Blocks { return c.blocks }

var errNoBlocks = errors.New("the control plane has no block store (UseBlocks was not called)")

// ResumeBlockJobs takes up, at start-up, the work a previous process left:
// volume creations and restores, copies, deletions and modifications are done
// again (every block store step may be repeated); a snapshot whose point in time
// died with the process fails (state error, as AWS fails a snapshot) and the
// block store drops what it had started.
func (c *Cloud) ResumeBlockJobs(ctx context.Context) error {
	if c.blocks == nil {
		return errNoBlocks
	}
	var jobs []blockJob
	if err := c.view(ctx, func(tx store.Tx) error {
		rows, err := tx.ListResources(jobsScope, kindBlockJob)
		if err != nil {
			return err
		}
		jobs, err = decodeJobs(rows)
		return err
	}); err != nil {
		return fmt.Errorf("listing unfinished block jobs: %w", err)
	}
	for _, j := range jobs {
		if c.jobs.isRunning(j.ID) {
			continue
		}
		if j.Op == jobSnapshot {
			if err := c.abandonSnapshot(ctx, j); err != nil {
				return err
			}
			continue
		}
		c.launch(j, nil)
	}
	return nil
}

// abandonSnapshot fails a pending snapshot whose job was lost.
func (c *Cloud) abandonSnapshot(ctx context.Context, j blockJob) error {
	if err := c.blocks.AbandonSnapshot(j.Resource); err != nil {
		return fmt.Errorf("abandoning snapshot %s: %w", j.Resource, err)
	}
	return c.update(ctx, func(tx store.Tx) error {
		if err := markSnapshotFailed(tx, j.Scope, j.Resource, "The snapshot was interrupted by a restart of strato; its point in time is lost."); err != nil {
			return err
		}
		return finishJob(tx, j)
	})
}

// launchRecorded runs the recorded job with the ID, if it is still recorded.
func (c *Cloud) launchRecorded(ctx context.Context, id string) {
	var j blockJob
	found := false
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		j, found, err = recordedJob(tx, id)
		return err
	})
	switch {
	case err != nil:
		c.log.Error("reading a block job", "job", id, "err", err)
	case found:
		c.launch(j, nil)
	}
}

// recordedJob reads a job recorded with its resource; found is false when it
// is done (or was never recorded).
func recordedJob(tx store.Tx, id string) (j blockJob, found bool, err error) {
	r, err := tx.GetResource(jobsScope, kindBlockJob, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, false, nil
	}
	if err != nil {
		return j, false, err
	}
	return j, true, json.Unmarshal(r.Body, &j)
}

// launch runs a recorded job in the background (snap is the block store's job
// for a snapshot, nil otherwise).
func (c *Cloud) launch(j blockJob, snap SnapshotJob) {
	c.jobs.goOnce(j.ID, func(ctx context.Context) {
		err := c.runJob(ctx, j, snap)
		if err == nil || ctx.Err() != nil {
			return // done, or stopped by Close: the record stays for the next start
		}
		c.log.Error("block job failed", "job", j.ID, "account", j.Scope.Account, "region", j.Scope.Region, "err", err)
		if ferr := c.failJob(j, err); ferr != nil {
			c.log.Error("recording a failed block job", "job", j.ID, "err", ferr)
		}
	})
}

func (c *Cloud) runJob(ctx context.Context, j blockJob, snap SnapshotJob) error {
	switch j.Op {
	case jobCreateVolume:
		return c.runCreateVolume(ctx, j)
	case jobDeleteVolume:
		return c.runDeleteVolume(ctx, j)
	case jobModifyVolume:
		return c.runModifyVolume(ctx, j)
	case jobSnapshot:
		return c.runSnapshot(ctx, j, snap)
	case jobCopySnapshot:
		return c.runCopySnapshot(ctx, j)
	case jobDeleteSnapshot:
		return c.runDeleteSnapshot(ctx, j)
	}
	return fmt.Errorf("unknown block job %q", j.Op)
}

// failJob records a job's failure as AWS shows it: a volume or snapshot in the
// error state, a failed modification. A failed deletion stays recorded and is
// tried again on the next start.
func (c *Cloud) failJob(j blockJob, cause error) error {
	ctx := context.Background()
	msg := "The block store failed: " + cause.Error()
	switch j.Op {
	case jobDeleteVolume, jobDeleteSnapshot:
		return nil
	case jobSnapshot:
		if err := c.blocks.AbandonSnapshot(j.Resource); err != nil {
			c.log.Error("abandoning a failed snapshot", "snapshot", j.Resource, "err", err)
		}
		fallthrough
	case jobCopySnapshot:
		return c.update(ctx, func(tx store.Tx) error {
			if err := markSnapshotFailed(tx, j.Scope, j.Resource, msg); err != nil {
				return err
			}
			return finishJob(tx, j)
		})
	}
	return c.update(ctx, func(tx store.Tx) error {
		v, err := volumes.get(tx, j.Scope, j.Resource)
		if err != nil {
			return ignoreNotFound(err, finishJob(tx, j))
		}
		if j.Op == jobModifyVolume {
			if v.Modification != nil && v.Modification.State == ModModifying {
				v.Modification.State, v.Modification.StatusMessage = ModFailed, msg
				v.Modification.EndTime = txNow(tx)
			}
		} else if v.State == VolumeCreating {
			v.State, v.StatusMessage = VolumeError, msg
		}
		if err := volumes.update(tx, j.Scope, &v); err != nil {
			return err
		}
		return finishJob(tx, j)
	})
}

// ignoreNotFound returns then when err is a NotFoundError, else err.
func ignoreNotFound(err, then error) error {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return then
	}
	return err
}
