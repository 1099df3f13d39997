package cloud

import (
	"context"
	"fmt"
	"strings"

	"strato/internal/catalog"
	"strato/internal/store"
)

// Volume states.
const (
	VolumeCreating  = "creating"
	VolumeAvailable = "available"
	VolumeInUse     = "in-use"
	VolumeDeleting  = "deleting"
	VolumeError     = "error"
)

// VolumeRequest is what CreateVolume asks for; zero numbers are "not given".
type VolumeRequest struct {
	AvailabilityZone string
	Size             int32
	SnapshotID       string
	VolumeType       string
	IOPS             int32
	Throughput       int32
	Encrypted        bool
	KMSKeyID         string
	MultiAttach      bool
	Tags             []Tag
	// imageOwner, set by launches, is the owner of the image whose snapshot the
	// volume is restored from: launching an image needs no grant on its
	// snapshots, as on AWS.
	imageOwner *Scope
}

// CreateVolume makes a volume: recorded as creating, then made (or restored
// from its snapshot) by the block store in the background, then available. A
// repeated client token returns the first volume.
func (c *Cloud) CreateVolume(ctx context.Context, s Scope, token string, req VolumeRequest) (Volume, error) {
	if c.blocks == nil {
		return Volume{}, errNoBlocks
	}
	if err := ValidateTags(req.Tags); err != nil {
		return Volume{}, err
	}
	if req.VolumeType == "" {
		req.VolumeType = DefaultVolumeType
	}
	v, err := Idempotent(ctx, c, s, "CreateVolume", token, req, func(tx store.Tx) (Volume, error) {
		return c.createVolume(tx, s, req)
	})
	if err != nil {
		return Volume{}, err
	}
	// A repeated token finds the job done, or running, or (after a restart)
	// recorded: launchRecorded does what is left.
	c.launchRecorded(ctx, newBlockJob(jobCreateVolume, s, v.ID).ID)
	if v.Tags == nil {
		v.Tags = tagMap(req.Tags)
	}
	return v, nil
}

func (c *Cloud) createVolume(tx store.Tx, s Scope, req VolumeRequest) (Volume, error) {
	now := c.clock.Now()
	zone, err := volumeZone(s.Region, req.AvailabilityZone)
	if err != nil {
		return Volume{}, err
	}
	if req.Size == 0 && req.SnapshotID == "" {
		return Volume{}, errorf("MissingParameter", "The request must contain the parameter size or snapshotId")
	}
	byDefault, _, err := volumeEncryptionDefaults(tx, s)
	if err != nil {
		return Volume{}, err
	}
	if req.KMSKeyID != "" && !req.Encrypted && !byDefault {
		return Volume{}, errorf("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	v := Volume{
		ID: NewID("vol"), OwnerID: s.Account, AvailabilityZone: zone.ZoneName, Size: req.Size, VolumeType: req.VolumeType,
		IOPS: req.IOPS, Throughput: req.Throughput, MultiAttach: req.MultiAttach, State: VolumeCreating, CreatedAt: now,
	}
	j := newBlockJob(jobCreateVolume, s, v.ID)
	var snap Snapshot
	if req.SnapshotID != "" {
		var owner Scope
		if req.imageOwner != nil {
			owner = *req.imageOwner
			snap, err = snapshots.get(tx, owner, req.SnapshotID)
		} else {
			snap, owner, err = visibleSnapshot(tx, s, req.SnapshotID)
		}
		if err != nil {
			return Volume{}, err
		}
		if snap.State != SnapshotCompleted {
			return Volume{}, errorf("IncorrectState", "Snapshot '%s' is in the '%s' state; a volume can only be made from a completed snapshot.", snap.ID, snap.State)
		}
		if v.Size == 0 {
			v.Size = snap.VolumeSize
		} else if v.Size < snap.VolumeSize {
			return Volume{}, errorf("InvalidParameterValue", "Volume of %dGiB is smaller than snapshot '%s', expect size >= %dGiB", v.Size, snap.ID, snap.VolumeSize)
		}
		v.SnapshotID = snap.ID
		j.Source, j.SourceScope = snap.ID, owner
		if err := c.restoredVolumeKey(tx, s, &v, snap, owner, req.KMSKeyID); err != nil {
			return Volume{}, err
		}
	}
	spec := v.spec()
	if err := checkVolumeSpec(&spec, req.IOPS != 0, req.Throughput != 0); err != nil {
		return Volume{}, err
	}
	v.IOPS, v.Throughput = spec.IOPS, spec.Throughput
	if err := checkVolumeStorage(tx, s, v.VolumeType, v.Size); err != nil {
		return Volume{}, err
	}
	if !v.Encrypted && (req.Encrypted || byDefault) {
		plain, key, err := newVolumeKey(tx, s, req.KMSKeyID)
		if err != nil {
			return Volume{}, err
		}
		clear(plain)
		v.Encrypted, v.KMSKeyARN, v.DataKey = true, key.KeyARN, &key
	}
	if err := volumes.insert(tx, s, &v, now, req.Tags); err != nil {
		return Volume{}, err
	}
	if err := recordJob(tx, j); err != nil {
		return Volume{}, err
	}
	v.Tags = tagMap(req.Tags)
	return v, nil
}

// restoredVolumeKey gives a volume made from an encrypted snapshot its key, as
// AWS does: the snapshot's data key, unless another KMS key is named (then a
// fresh data key, and the block store re-encrypts while restoring). A snapshot
// shared by another account has its data key wrapped anew under the caller's
// default key, since the owner's key is not the caller's to use.
func (c *Cloud) restoredVolumeKey(tx store.Tx, s Scope, v *Volume, snap Snapshot, owner Scope, kmsKeyRef string) error {
	if !snap.Encrypted || snap.DataKey == nil {
		return nil
	}
	var key DataKey
	var err error
	switch {
	case kmsKeyRef != "":
		var plain []byte
		plain, key, err = newVolumeKey(tx, s, kmsKeyRef)
		clear(plain)
	case owner != s:
		key, err = rewrapVolumeKey(tx, owner, *snap.DataKey, s, "")
	default:
		key = *snap.DataKey
	}
	if err != nil {
		return err
	}
	v.Encrypted, v.KMSKeyARN, v.DataKey = true, key.KeyARN, &key
	return nil
}

// volumeZone checks a zone of the request's Region.
func volumeZone(region, name string) (catalog.Zone, error) {
	if name == "" {
		return catalog.Zone{}, errorf("MissingParameter", "The request must contain the parameter AvailabilityZone")
	}
	if z, ok := catalog.LookupZone(name); ok && z.RegionName == region && strings.EqualFold(z.ZoneName, name) {
		return z, nil
	}
	return catalog.Zone{}, errorf("InvalidParameterValue", "Invalid availability zone: [%s]", name)
}

// runCreateVolume makes or restores the volume's data, then makes it available.
func (c *Cloud) runCreateVolume(ctx context.Context, j blockJob) error {
	var v Volume
	var key, srcKey []byte
	done := false
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		if v, err = volumes.get(tx, j.Scope, j.Resource); err != nil {
			return ignoreNotFound(err, nil)
		}
		if v.State != VolumeCreating {
			done = true
			return nil
		}
		if v.DataKey != nil {
			if key, err = openVolumeKey(tx, j.Scope, *v.DataKey); err != nil {
				return err
			}
		}
		if j.Source != "" {
			snap, err := snapshots.get(tx, j.SourceScope, j.Source)
			if err != nil {
				return err
			}
			if snap.DataKey != nil {
				srcKey, err = openVolumeKey(tx, j.SourceScope, *snap.DataKey)
			}
		}
		return err
	}); err != nil {
		return err
	}
	if !done && v.ID != "" {
		var err error
		if j.Source == "" {
			err = c.blocks.CreateVolume(v.ID, gib(v.Size), key)
		} else {
			err = c.blocks.RestoreVolume(ctx, v.ID, gib(v.Size), j.Source, srcKey, key, func(done, total int64) {})
		}
		if err != nil {
			return fmt.Errorf("making volume %s: %w", v.ID, err)
		}
	}
	return c.update(ctx, func(tx store.Tx) error {
		v, err := volumes.get(tx, j.Scope, j.Resource)
		if err == nil && v.State == VolumeCreating {
			v.State = VolumeAvailable
			err = volumes.update(tx, j.Scope, &v)
		}
		if err := ignoreNotFound(err, nil); err != nil {
			return err
		}
		return finishJob(tx, j)
	})
}

// DeleteVolume deletes a volume that is not attached: deleting until the block
// store has dropped its data, then gone.
func (c *Cloud) DeleteVolume(ctx context.Context, s Scope, id string) error {
	if c.blocks == nil {
		return errNoBlocks
	}
	j := newBlockJob(jobDeleteVolume, s, id)
	err := c.update(ctx, func(tx store.Tx) error {
		v, err := volumes.get(tx, s, id)
		if err != nil {
			return err
		}
		switch {
		case len(v.Attachments) > 0:
			return errorf("VolumeInUse", "Volume %s is currently attached to %s", id, v.Attachments[0].InstanceID)
		case v.State == VolumeDeleting:
			return nil
		case v.State == VolumeCreating:
			return errorf("IncorrectState", "The volume '%s' is in the '%s' state.", id, v.State)
		}
		v.State = VolumeDeleting
		if err := volumes.update(tx, s, &v); err != nil {
			return err
		}
		if ok, err := jobRecorded(tx, j.ID); ok || err != nil {
			return err
		}
		return recordJob(tx, j)
	})
	if err == nil {
		c.launch(j, nil)
	}
	return err
}

func (c *Cloud) runDeleteVolume(ctx context.Context, j blockJob) error {
	if err := c.blocks.DeleteVolume(j.Resource); err != nil {
		return fmt.Errorf("deleting volume %s: %w", j.Resource, err)
	}
	return c.update(ctx, func(tx store.Tx) error {
		if err := ignoreNotFound(volumes.remove(tx, j.Scope, j.Resource), nil); err != nil {
			return err
		}
		return finishJob(tx, j)
	})
}
