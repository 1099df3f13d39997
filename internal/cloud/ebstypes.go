package cloud

import "time"

// The documents of EBS volumes and snapshots. Their behaviour lives in volumes*.go
// and snapshots*.go; images (AMIs) and instances read them.

// Volume is an EBS volume.
type Volume struct {
	ID               string    `json:"id"`
	OwnerID          string    `json:"ownerId"`
	AvailabilityZone string    `json:"availabilityZone"`
	Size             int32     `json:"size"` // GiB
	VolumeType       string    `json:"volumeType"`
	IOPS             int32     `json:"iops,omitempty"`
	Throughput       int32     `json:"throughput,omitempty"`
	SnapshotID       string    `json:"snapshotId,omitempty"`
	Encrypted        bool      `json:"encrypted"`
	KMSKeyARN        string    `json:"kmsKeyArn,omitempty"`
	DataKey          *DataKey  `json:"dataKey,omitempty"`
	MultiAttach      bool      `json:"multiAttachEnabled"`
	AutoEnableIO     bool      `json:"autoEnableIo"`
	State            string    `json:"state"` // creating, available, in-use, deleting, deleted, error
	CreatedAt        time.Time `json:"createdAt"`
	// Attachments are the instances it is attached to (several with multi-attach).
	Attachments []VolumeAttachment `json:"attachments,omitempty"`
	// Modification is the volume's latest ModifyVolume, if any.
	Modification *VolumeModification `json:"modification,omitempty"`
	// StatusMessage says why a volume is in the error state.
	StatusMessage string `json:"statusMessage,omitempty"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// VolumeAttachment ties a volume to an instance.
type VolumeAttachment struct {
	InstanceID          string    `json:"instanceId"`
	Device              string    `json:"device"`
	State               string    `json:"state"` // attaching, attached, detaching, detached
	AttachTime          time.Time `json:"attachTime"`
	DeleteOnTermination bool      `json:"deleteOnTermination"`
}

// VolumeModification is a ModifyVolume of a volume: modifying while the block
// store works, optimizing for VolumeOptimizing after that, then completed (the
// state is computed from the clock when read).
type VolumeModification struct {
	State          string     `json:"state"` // modifying, optimizing, completed, failed
	StatusMessage  string     `json:"statusMessage,omitempty"`
	Original       VolumeSpec `json:"original"`
	Target         VolumeSpec `json:"target"`
	StartTime      time.Time  `json:"startTime"`
	OptimizingFrom time.Time  `json:"optimizingFrom,omitzero"`
	// EndTime is set when read, once completed or failed.
	EndTime time.Time `json:"endTime,omitzero"`
	// Progress is set when read (percent).
	Progress int64 `json:"-"`
}

// VolumeSpec is what ModifyVolume can change.
type VolumeSpec struct {
	Size        int32  `json:"size"`
	VolumeType  string `json:"volumeType"`
	IOPS        int32  `json:"iops,omitempty"`
	Throughput  int32  `json:"throughput,omitempty"`
	MultiAttach bool   `json:"multiAttach,omitempty"`
}

// DataKey is a volume's or snapshot's data key as stored: wrapped by a key of the
// key store (KeyARN), never in the clear.
type DataKey = WrappedKey

// Snapshot is an EBS snapshot.
type Snapshot struct {
	ID          string   `json:"id"`
	OwnerID     string   `json:"ownerId"`
	VolumeID    string   `json:"volumeId"` // the volume it was taken of (may be gone)
	VolumeSize  int32    `json:"volumeSize"`
	Description string   `json:"description,omitempty"`
	Encrypted   bool     `json:"encrypted"`
	KMSKeyARN   string   `json:"kmsKeyArn,omitempty"`
	DataKey     *DataKey `json:"dataKey,omitempty"`
	State       string   `json:"state"` // pending, completed, error
	// StateMessage says why a snapshot is in the error state.
	StateMessage string    `json:"stateMessage,omitempty"`
	Progress     int       `json:"progress"` // percent
	StartTime    time.Time `json:"startTime"`
	// StoredBytes is what the snapshot added to the chunk store.
	StoredBytes int64 `json:"storedBytes"`
	// ParentID is the snapshot this one is incremental to ("" for a full one).
	ParentID string `json:"parentId,omitempty"`
	// CreateVolumePermissions: account IDs, or "all" for public.
	CreateVolumePermissions []string `json:"createVolumePermissions,omitempty"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

var (
	volumes = docKind[Volume]{
		kind: KindVolume,
		id:   func(v *Volume) string { return v.ID },
		tags: func(v *Volume) *map[string]string { return &v.Tags },
	}
	snapshots = docKind[Snapshot]{
		kind: KindSnapshot,
		id:   func(s *Snapshot) string { return s.ID },
		// A snapshot is listed under the volume it was taken of.
		parent: func(s *Snapshot) string { return s.VolumeID },
		tags:   func(s *Snapshot) *map[string]string { return &s.Tags },
	}
)

// snapshotUsers keep a snapshot from being deleted (images registered from it:
// InvalidSnapshot.InUse).
var snapshotUsers []inUseCheck
