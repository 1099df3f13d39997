package cloud

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"strato/internal/store"
)

// Snapshot states.
const (
	SnapshotPending   = "pending"
	SnapshotCompleted = "completed"
	SnapshotError     = "error"
)

// Quota names for snapshots.
const QuotaSnapshots = "snapshots-per-region"

// MaxSnapshotDescription is AWS's limit on a snapshot's description.
const MaxSnapshotDescription = 255

func init() {
	quotaDefs[QuotaSnapshots] = QuotaDef{
		Name:        QuotaSnapshots,
		Description: "Snapshots per Region",
		Default:     100000,
		Code:        "SnapshotLimitExceeded",
		Message:     "The maximum number of snapshots (%d) has been reached in this Region.",
	}
	snapshotUsers = append(snapshotUsers, func(tx store.Tx, s Scope, id string) (bool, error) {
		return snapshotInUseByJobs(tx, id)
	})
}

// concurrentSnapshots is AWS's (fixed) limit of pending snapshots per volume:
// one for the HDD types, five for the others.
func concurrentSnapshots(volumeType string) int {
	if volumeType == "st1" || volumeType == "sc1" {
		return 1
	}
	return 5
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxSnapshotDescription {
		return errorf("InvalidParameterValue", "The description must be at most %d characters long.", MaxSnapshotDescription)
	}
	return nil
}

// CreateSnapshot takes a snapshot of a volume as it is at the call: pending
// while the block store stores it in the background, then completed.
func (c *Cloud) CreateSnapshot(ctx context.Context, s Scope, volumeID, description string, tags []Tag) (Snapshot, error) {
	if c.blocks == nil {
		return Snapshot{}, errNoBlocks
	}
	if err := checkDescription(description); err != nil {
		return Snapshot{}, err
	}
	if err := ValidateTags(tags); err != nil {
		return Snapshot{}, err
	}
	var snap Snapshot
	var job blockJob
	err := c.update(ctx, func(tx store.Tx) error {
		v, err := volumes.get(tx, s, volumeID)
		if err != nil {
			return err
		}
		snap, job, err = newSnapshotOf(tx, s, c.clock.Now(), v, description, tags)
		return err
	})
	if err != nil {
		return Snapshot{}, err
	}
	if err := c.startSnapshot(ctx, job, &snap); err != nil {
		return Snapshot{}, err
	}
	return snap, nil
}

// newSnapshotOf records a pending snapshot of a volume and its job. The parent,
// for incrementality, is the volume's latest completed snapshot.
func newSnapshotOf(tx store.Tx, s Scope, now time.Time, v Volume, description string, tags []Tag) (Snapshot, blockJob, error) {
	if v.State != VolumeAvailable && v.State != VolumeInUse {
		return Snapshot{}, blockJob{}, errorf("IncorrectState", "The volume '%s' is in the '%s' state.", v.ID, v.State)
	}
	earlier, err := snapshots.children(tx, s, v.ID)
	if err != nil {
		return Snapshot{}, blockJob{}, err
	}
	pending, parent := 0, Snapshot{}
	for _, e := range earlier {
		switch {
		case e.State == SnapshotPending:
			pending++
		case e.State == SnapshotCompleted && e.StartTime.After(parent.StartTime):
			parent = e
		}
	}
	if limit := concurrentSnapshots(v.VolumeType); pending >= limit {
		return Snapshot{}, blockJob{}, errorf("ConcurrentSnapshotLimitExceeded", "The maximum number of concurrent snapshots (%d) for volume %s has been reached; wait until its pending snapshots complete.", limit, v.ID)
	}
	if err := checkCount(tx, s, KindSnapshot, QuotaSnapshots); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	snap := Snapshot{
		ID: NewID("snap"), OwnerID: s.Account, VolumeID: v.ID, VolumeSize: v.Size, Description: description,
		Encrypted: v.Encrypted, KMSKeyARN: v.KMSKeyARN, DataKey: v.DataKey, State: SnapshotPending, StartTime: now, ParentID: parent.ID,
	}
	if err := snapshots.insert(tx, s, &snap, now, tags); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	j := newBlockJob(jobSnapshot, s, snap.ID)
	j.Source, j.SourceScope = parent.ID, s
	if err := recordJob(tx, j); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	snap.Tags = tagMap(tags)
	return snap, j, nil
}

// startSnapshot fixes the snapshot's point in time in the block store, right
// after the transaction that recorded it committed (a crash in between leaves a
// recorded job without a point in time, which ResumeBlockJobs fails), then runs
// it in the background.
func (c *Cloud) startSnapshot(ctx context.Context, j blockJob, snap *Snapshot) error {
	return c.startSnapshots(ctx, []blockJob{j}, []Snapshot{*snap})
}

// startSnapshots fixes the point in time of every snapshot before any of them
// runs, so the snapshots of several volumes of an instance are crash-consistent
// with each other, then runs them in the background.
func (c *Cloud) startSnapshots(ctx context.Context, jobs []blockJob, snaps []Snapshot) error {
	started := make([]SnapshotJob, len(snaps))
	var first error
	for i, snap := range snaps {
		sj, err := c.blocks.StartSnapshot(snap.VolumeID, snap.ID, snap.ParentID)
		if err != nil {
			err = fmt.Errorf("starting snapshot %s of %s: %w", snap.ID, snap.VolumeID, err)
			if ferr := c.update(context.WithoutCancel(ctx), func(tx store.Tx) error {
				if err := markSnapshotFailed(tx, jobs[i].Scope, snap.ID, err.Error()); err != nil {
					return err
				}
				return finishJob(tx, jobs[i])
			}); ferr != nil {
				c.log.Error("recording a failed snapshot", "snapshot", snap.ID, "err", ferr)
			}
			if first == nil {
				first = err
			}
			continue
		}
		started[i] = sj
	}
	for i, sj := range started {
		if sj != nil {
			c.launch(jobs[i], sj)
		}
	}
	return first
}

func (c *Cloud) runSnapshot(ctx context.Context, j blockJob, sj SnapshotJob) error {
	if sj == nil {
		return c.abandonSnapshot(ctx, j)
	}
	stats, err := sj.Run(ctx, c.progressOf(ctx, j))
	if err != nil {
		return fmt.Errorf("taking snapshot %s: %w", j.Resource, err)
	}
	return c.completeSnapshot(ctx, j, stats)
}

// progressOf records a pending snapshot's progress, once per percent.
func (c *Cloud) progressOf(ctx context.Context, j blockJob) func(done, total int64) {
	last := -1
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := int(done * 100 / total)
		if pct >= 100 {
			pct = 99 // 100% is for completed
		}
		if pct <= last {
			return
		}
		last = pct
		if err := c.update(ctx, func(tx store.Tx) error {
			snap, err := snapshots.get(tx, j.Scope, j.Resource)
			if err != nil || snap.State != SnapshotPending {
				return ignoreNotFound(err, nil)
			}
			snap.Progress = pct
			return snapshots.update(tx, j.Scope, &snap)
		}); err != nil && ctx.Err() == nil {
			c.log.Warn("recording snapshot progress", "snapshot", j.Resource, "err", err)
		}
	}
}

func (c *Cloud) completeSnapshot(ctx context.Context, j blockJob, stats SnapshotStats) error {
	return c.update(ctx, func(tx store.Tx) error {
		snap, err := snapshots.get(tx, j.Scope, j.Resource)
		if err == nil && snap.State == SnapshotPending {
			snap.State, snap.Progress, snap.StoredBytes = SnapshotCompleted, 100, stats.StoredBytes
			err = snapshots.update(tx, j.Scope, &snap)
		}
		if err := ignoreNotFound(err, nil); err != nil {
			return err
		}
		return finishJob(tx, j)
	})
}

// markSnapshotFailed puts a pending snapshot in the error state.
func markSnapshotFailed(tx store.Tx, s Scope, id, msg string) error {
	snap, err := snapshots.get(tx, s, id)
	if err != nil {
		return ignoreNotFound(err, nil)
	}
	if snap.State != SnapshotPending {
		return nil
	}
	snap.State, snap.StateMessage = SnapshotError, msg
	return snapshots.update(tx, s, &snap)
}

// DeleteSnapshot deletes a snapshot the scope owns: it is gone at once, and the
// block store frees its chunks in the background.
func (c *Cloud) DeleteSnapshot(ctx context.Context, s Scope, id string) error {
	if c.blocks == nil {
		return errNoBlocks
	}
	j := newBlockJob(jobDeleteSnapshot, s, id)
	err := c.update(ctx, func(tx store.Tx) error {
		snap, err := snapshots.get(tx, s, id)
		if err != nil {
			return err
		}
		if snap.State == SnapshotPending {
			return errorf("IncorrectState", "The snapshot '%s' is in the 'pending' state and cannot be deleted until it completes.", id)
		}
		busy, err := anyInUse(snapshotUsers, tx, s, id)
		if err != nil {
			return err
		}
		if busy {
			return errorf("InvalidSnapshot.InUse", "The snapshot %s is currently in use.", id)
		}
		if err := setSnapshotPermissions(tx, s, &snap, nil); err != nil {
			return err
		}
		if err := snapshots.remove(tx, s, id); err != nil {
			return err
		}
		return recordJob(tx, j)
	})
	if err == nil {
		c.launch(j, nil)
	}
	return err
}

func (c *Cloud) runDeleteSnapshot(ctx context.Context, j blockJob) error {
	if err := c.blocks.DeleteSnapshot(j.Resource); err != nil {
		return fmt.Errorf("deleting snapshot %s: %w", j.Resource, err)
	}
	return c.update(ctx, func(tx store.Tx) error { return finishJob(tx, j) })
}

// CreateSnapshots snapshots every EBS volume attached to an instance, all in one
// transaction and started one right after the other (crash-consistent across the
// volumes as far as the block store's point in time is: the instance is not
// paused). excludeBoot leaves out the root device (/dev/sda1 or /dev/xvda);
// copyVolumeTags gives each snapshot its volume's tags under the request's.
func (c *Cloud) CreateSnapshots(ctx context.Context, s Scope, instanceID string, excludeBoot bool, exclude []string, description string, tags []Tag, copyVolumeTags bool) ([]Snapshot, error) {
	if c.blocks == nil {
		return nil, errNoBlocks
	}
	if err := checkDescription(description); err != nil {
		return nil, err
	}
	if err := ValidateTags(tags); err != nil {
		return nil, err
	}
	var snaps []Snapshot
	var jobs []blockJob
	err := c.update(ctx, func(tx store.Tx) error {
		if _, err := instanceForAttach(tx, s, instanceID); err != nil {
			return err
		}
		vols, err := volumesOfInstance(tx, s, instanceID)
		if err != nil {
			return err
		}
		now := c.clock.Now()
		for _, v := range vols {
			if isExcluded(v, instanceID, excludeBoot, exclude) {
				continue
			}
			snapTags := tags
			if copyVolumeTags {
				snapTags = mergeTags(SortedTags(v.Tags), tags)
			}
			snap, j, err := newSnapshotOf(tx, s, now, v, description, snapTags)
			if err != nil {
				return err
			}
			snaps, jobs = append(snaps, snap), append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.startSnapshots(ctx, jobs, snaps); err != nil {
		return nil, err
	}
	return snaps, nil
}

func isExcluded(v Volume, instanceID string, excludeBoot bool, exclude []string) bool {
	for _, id := range exclude {
		if id == v.ID {
			return true
		}
	}
	if excludeBoot {
		for _, a := range v.Attachments {
			if a.InstanceID == instanceID && (a.Device == "/dev/sda1" || a.Device == "/dev/xvda") {
				return true
			}
		}
	}
	return false
}

// mergeTags is base with over's keys overriding.
func mergeTags(base, over []Tag) []Tag {
	m := tagMap(base)
	for _, t := range over {
		if m == nil {
			m = map[string]string{}
		}
		m[t.Key] = t.Value
	}
	return SortedTags(m)
}
