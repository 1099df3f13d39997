package cloud

import "context"

// Blocks is the block store as the control plane uses it: the real bytes of EBS
// volumes and snapshots (internal/blockstore implements it). IDs are the EBS IDs
// (vol-…, snap-…); the control plane keeps the state machine, the block store the
// data. Every method is safe to repeat after a crash (creating what exists,
// deleting what is gone), so unfinished work can be resumed on restart.
type Blocks interface {
	// CreateVolume makes an empty (sparse) volume of size bytes. key is nil for a
	// plaintext volume, or the volume's 64-byte data key (AES-256-XTS, the layout of
	// dm-crypt's plain mode: aes-xts-plain64, 512-byte sectors) for an encrypted one.
	CreateVolume(id string, size int64, key []byte) error
	// RestoreVolume makes a volume of size bytes (at least the snapshot's) holding
	// the snapshot's data, sparse where the snapshot had no data. srcKey is the
	// snapshot's data key (nil if plaintext), key the new volume's (nil for
	// plaintext; it differs from srcKey when the new volume is re-keyed).
	RestoreVolume(ctx context.Context, id string, size int64, snapshotID string, srcKey, key []byte, progress func(done, total int64)) error
	// ImportVolume makes a plaintext volume of size bytes holding the raw disk
	// image in the file at path (a host file, such as a disk strato built),
	// sparse where the image has holes or zero blocks.
	ImportVolume(ctx context.Context, id string, size int64, path string) error
	// GrowVolume makes a volume larger (never smaller).
	GrowVolume(id string, size int64) error
	// DeleteVolume removes a volume's data.
	DeleteVolume(id string) error
	// VolumePath is the volume's file, for drivers (it holds ciphertext when the
	// volume is encrypted).
	VolumePath(id string) string

	// StartSnapshot fixes the point in time of a snapshot of a volume: from its
	// return on, the snapshot sees the volume as it was then, whatever is written
	// later. parentID is the volume's previous completed snapshot ("" for none):
	// chunks unchanged since it are not stored again. The job does the work.
	StartSnapshot(volumeID, snapshotID, parentID string) (SnapshotJob, error)
	// CopySnapshot copies a snapshot (to another Region, or re-keyed): only chunks
	// the chunk store lacks are written. srcKey/dstKey as in RestoreVolume.
	CopySnapshot(ctx context.Context, srcID, dstID string, srcKey, dstKey []byte, progress func(done, total int64)) (SnapshotStats, error)
	// DeleteSnapshot removes a snapshot's manifest and frees the chunks no other
	// snapshot uses.
	DeleteSnapshot(id string) error
	// AbandonSnapshot removes whatever an unfinished snapshot left (after a crash).
	AbandonSnapshot(id string) error
}

// SnapshotJob is a snapshot being taken.
type SnapshotJob interface {
	// Run reads the volume as it was at StartSnapshot and stores the snapshot,
	// reporting progress; it ends the copy-before-write of the volume.
	Run(ctx context.Context, progress func(done, total int64)) (SnapshotStats, error)
}

// SnapshotStats describes a stored snapshot.
type SnapshotStats struct {
	// Size is the volume's size in bytes.
	Size int64
	// StoredBytes is what this snapshot added to the chunk store (compressed),
	// the figure AWS calls the snapshot's full or incremental size.
	StoredBytes int64
	// Chunks and NewChunks count the chunks with data, and those stored anew.
	Chunks, NewChunks int
}
