package cloud

import (
	"context"
	"fmt"

	"strato/internal/catalog"
	"strato/internal/store"
)

// CopiedVolumeID is the volume ID AWS gives copied snapshots (they were not
// taken of a volume of the caller's).
const CopiedVolumeID = "vol-ffffffff"

// MaxConcurrentCopies is AWS's limit of snapshot copies in progress to one
// destination Region.
var MaxConcurrentCopies = 20

// CopySnapshotRequest is what CopySnapshot asks for; the copy is made in the
// request's Region (the destination).
type CopySnapshotRequest struct {
	SourceRegion     string
	SourceSnapshotID string
	Description      string
	Encrypted        bool
	KMSKeyID         string
	Tags             []Tag
}

// CopySnapshot copies a completed snapshot the caller may use (its own, shared
// with it, or public) from a Region to the request's: pending while the block
// store copies (only chunks it lacks are written), then completed.
func (c *Cloud) CopySnapshot(ctx context.Context, s Scope, req CopySnapshotRequest) (Snapshot, error) {
	if c.blocks == nil {
		return Snapshot{}, errNoBlocks
	}
	if !catalog.KnownRegion(req.SourceRegion) {
		return Snapshot{}, errorf("InvalidParameterValue", "Value (%s) for parameter sourceRegion is invalid.", req.SourceRegion)
	}
	if err := checkDescription(req.Description); err != nil {
		return Snapshot{}, err
	}
	if err := ValidateTags(req.Tags); err != nil {
		return Snapshot{}, err
	}
	var dst Snapshot
	var j blockJob
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		dst, j, err = c.copySnapshot(tx, s, req)
		return err
	})
	if err != nil {
		return Snapshot{}, err
	}
	c.launch(j, nil)
	return dst, nil
}

func (c *Cloud) copySnapshot(tx store.Tx, s Scope, req CopySnapshotRequest) (Snapshot, blockJob, error) {
	now := c.clock.Now()
	src, owner, err := visibleSnapshot(tx, Scope{Account: s.Account, Region: req.SourceRegion}, req.SourceSnapshotID)
	if err != nil {
		return Snapshot{}, blockJob{}, err
	}
	if src.State != SnapshotCompleted {
		return Snapshot{}, blockJob{}, errorf("IncorrectState", "Snapshot '%s' is in the '%s' state; only completed snapshots can be copied.", src.ID, src.State)
	}
	byDefault, _, err := volumeEncryptionDefaults(tx, s)
	if err != nil {
		return Snapshot{}, blockJob{}, err
	}
	if req.KMSKeyID != "" && !req.Encrypted && !byDefault {
		return Snapshot{}, blockJob{}, errorf("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	if err := checkCount(tx, s, KindSnapshot, QuotaSnapshots); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	if err := checkConcurrentCopies(tx, s); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	desc := req.Description
	if desc == "" {
		desc = fmt.Sprintf("[Copied %s from %s]", src.ID, req.SourceRegion)
	}
	dst := Snapshot{
		ID: NewID("snap"), OwnerID: s.Account, VolumeID: CopiedVolumeID, VolumeSize: src.VolumeSize, Description: desc,
		State: SnapshotPending, StartTime: now,
	}
	key, err := copiedSnapshotKey(tx, src, owner, s, req.Encrypted || byDefault, req.KMSKeyID)
	if err != nil {
		return Snapshot{}, blockJob{}, err
	}
	if key != nil {
		dst.Encrypted, dst.KMSKeyARN, dst.DataKey = true, key.KeyARN, key
	}
	if err := snapshots.insert(tx, s, &dst, now, req.Tags); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	j := newBlockJob(jobCopySnapshot, s, dst.ID)
	j.Source, j.SourceScope = src.ID, owner
	if err := recordJob(tx, j); err != nil {
		return Snapshot{}, blockJob{}, err
	}
	dst.Tags = tagMap(req.Tags)
	return dst, j, nil
}

// copiedSnapshotKey is a copy's data key: none for a plaintext copy; a fresh one
// when encrypting a plaintext snapshot or re-keying under a named KMS key; else
// the source's data key wrapped under the destination's key, so the data need
// not be re-encrypted and the chunk store shares every chunk.
func copiedSnapshotKey(tx store.Tx, src Snapshot, owner, dst Scope, encrypt bool, kmsKeyRef string) (*DataKey, error) {
	switch {
	case !src.Encrypted && !encrypt:
		return nil, nil
	case !src.Encrypted || kmsKeyRef != "" && kmsKeyRef != src.KMSKeyARN:
		plain, key, err := newVolumeKey(tx, dst, kmsKeyRef)
		clear(plain)
		return &key, err
	case owner == dst:
		k := *src.DataKey
		return &k, nil
	}
	// Another Region or account: KMS keys are regional and the owner's are its
	// own, so the key is wrapped under the destination's (named or default) key.
	key, err := rewrapVolumeKey(tx, owner, *src.DataKey, dst, kmsKeyRef)
	return &key, err
}

// checkConcurrentCopies applies AWS's limit of copies in progress to a Region.
func checkConcurrentCopies(tx store.Tx, s Scope) error {
	pending, err := snapshots.children(tx, s, CopiedVolumeID)
	if err != nil {
		return err
	}
	n := 0
	for _, p := range pending {
		if p.State == SnapshotPending {
			n++
		}
	}
	if n >= MaxConcurrentCopies {
		return errorf("ResourceLimitExceeded", "You have reached the limit of %d concurrent snapshot copies to this Region.", MaxConcurrentCopies)
	}
	return nil
}

func (c *Cloud) runCopySnapshot(ctx context.Context, j blockJob) error {
	var srcKey, dstKey []byte
	done := false
	if err := c.view(ctx, func(tx store.Tx) error {
		dst, err := snapshots.get(tx, j.Scope, j.Resource)
		if err != nil || dst.State != SnapshotPending {
			done = true
			return ignoreNotFound(err, nil)
		}
		src, err := snapshots.get(tx, j.SourceScope, j.Source)
		if err != nil {
			return err
		}
		if src.DataKey != nil {
			if srcKey, err = openVolumeKey(tx, j.SourceScope, *src.DataKey); err != nil {
				return err
			}
		}
		if dst.DataKey != nil {
			dstKey, err = openVolumeKey(tx, j.Scope, *dst.DataKey)
		}
		return err
	}); err != nil {
		return err
	}
	if done {
		return c.update(ctx, func(tx store.Tx) error { return finishJob(tx, j) })
	}
	stats, err := c.blocks.CopySnapshot(ctx, j.Source, j.Resource, srcKey, dstKey, c.progressOf(ctx, j))
	if err != nil {
		return fmt.Errorf("copying snapshot %s to %s: %w", j.Source, j.Resource, err)
	}
	return c.completeSnapshot(ctx, j, stats)
}
