package cloud

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"strato/internal/catalog"
	"strato/internal/store"
)

// Root device types of images and instances.
const (
	RootDeviceEBS           = "ebs"
	RootDeviceInstanceStore = "instance-store"
)

// InstanceStoreRootSize is the size of the root of an instance-store-backed
// instance: AWS's limit for such root devices, 10 GiB (sparse).
const InstanceStoreRootSize = 10 << 30

// LaunchBlockDevice is one of RunInstances' BlockDeviceMappings: it changes the
// image's mapping of the same device, removes it (NoDevice) or adds a device.
type LaunchBlockDevice struct {
	DeviceName string
	// VirtualName is ephemeralN for instance storage.
	VirtualName string
	NoDevice    bool
	EBS         *LaunchEBS
}

// LaunchEBS is the EBS volume of a launch mapping; zero values are "not given".
type LaunchEBS struct {
	SnapshotID          string
	VolumeSize          int32
	VolumeType          string
	IOPS, Throughput    int32
	Encrypted           *bool
	KMSKeyID            string
	DeleteOnTermination *bool
}

// InstanceStoreDevice is an instance store volume of an instance: storage of
// the host that goes with the instance (emptied when it stops).
type InstanceStoreDevice struct {
	Device      string `json:"device"`
	VirtualName string `json:"virtualName"`
	Size        int64  `json:"size"` // bytes
}

var ephemeralName = regexp.MustCompile(`^ephemeral([0-9]|[1-9][0-9])$`)

// launchDevice is a mapping's device name as a path: AWS takes "xvdh" for
// "/dev/xvdh".
func launchDevice(name string) string {
	if name != "" && !strings.HasPrefix(name, "/") {
		return "/dev/" + name
	}
	return name
}

// validateBlockDevices checks the mappings of a request on their own.
func validateBlockDevices(list []LaunchBlockDevice) error {
	seen := map[string]bool{}
	for _, b := range list {
		dev := launchDevice(b.DeviceName)
		given := 0
		for _, set := range []bool{b.NoDevice, b.VirtualName != "", b.EBS != nil} {
			if set {
				given++
			}
		}
		switch {
		case b.DeviceName == "":
			return errorf("MissingParameter", "The request must contain the parameter blockDeviceMapping.deviceName")
		case !linuxDevice.MatchString(dev):
			return errorf("InvalidBlockDeviceMapping", "Invalid device name %s", b.DeviceName)
		case seen[dev]:
			return errorf("InvalidBlockDeviceMapping", "The device '%s' is used in more than one block-device mapping", strings.TrimPrefix(dev, "/dev/"))
		case given == 0:
			return errorf("InvalidBlockDeviceMapping", "The block device mapping for %s must have an Ebs, a VirtualName or NoDevice.", b.DeviceName)
		case given > 1:
			return errorf("InvalidBlockDeviceMapping", "The block device mapping for %s may have only one of Ebs, VirtualName and NoDevice.", b.DeviceName)
		case b.VirtualName != "" && !ephemeralName.MatchString(b.VirtualName):
			return errorf("InvalidBlockDeviceMapping", "Invalid virtual name %s for %s: instance store volumes are ephemeral0, ephemeral1 …", b.VirtualName, b.DeviceName)
		}
		seen[dev] = true
	}
	return nil
}

// storagePlan is what a launch makes for each instance: EBS volumes, instance
// store volumes and, for an instance-store-backed image, the bundle its root
// is copied from.
type storagePlan struct {
	volumes []plannedVolume
	store   []InstanceStoreDevice
	bundle  string
}

type plannedVolume struct {
	device              string
	root                bool
	req                 VolumeRequest // without zone and tags
	deleteOnTermination bool
}

// mapping is a block device mapping while the image's and the request's are
// merged.
type mapping struct {
	device, virtual string
	ebs             *ImageEBS
	kmsKeyID        string
	// fromImage: the snapshot is the image's, restored with the image owner's
	// rights (launching needs no grant on an image's snapshots).
	fromImage bool
}

// planStorage merges the image's block device mappings with the request's, as
// AWS does, and checks every volume against its snapshot.
func planStorage(tx store.Tx, s Scope, img *Image, it catalog.InstanceType, asked []LaunchBlockDevice) (storagePlan, error) {
	var plan storagePlan
	if img.RootDeviceType == RootDeviceInstanceStore {
		if plan.bundle = img.BundleID(); plan.bundle == "" {
			return storagePlan{}, errorf("InvalidAMIID.Malformed", "Image %s has no bundle to copy its root device from.", img.ID)
		}
		if !slices.Contains(it.SupportedRootDeviceTypes, RootDeviceInstanceStore) {
			return storagePlan{}, errorf("InvalidParameterCombination", "The instance type %s does not support instance-store-backed AMIs such as %s.", it.InstanceType, img.ID)
		}
	}
	var maps []*mapping
	for _, b := range img.BlockDevices {
		if b.NoDevice {
			continue
		}
		m := &mapping{device: b.DeviceName, virtual: b.VirtualName, fromImage: true}
		if b.EBS != nil {
			e := *b.EBS
			m.ebs = &e
		}
		maps = append(maps, m)
	}
	for _, b := range asked {
		dev := launchDevice(b.DeviceName)
		i := slices.IndexFunc(maps, func(m *mapping) bool { return m.device == dev })
		root := dev == img.RootDeviceName
		switch {
		case b.NoDevice:
			if root {
				return storagePlan{}, errorf("InvalidBlockDeviceMapping", "The root device %s cannot be removed with NoDevice.", dev)
			}
			if i >= 0 {
				maps = slices.Delete(maps, i, i+1)
			}
			continue
		case b.VirtualName != "":
			if root {
				return storagePlan{}, errorf("InvalidBlockDeviceMapping", "The root device %s cannot be an instance store volume.", dev)
			}
			m := &mapping{device: dev, virtual: b.VirtualName}
			if i >= 0 {
				maps[i] = m
			} else {
				maps = append(maps, m)
			}
			continue
		}
		if i >= 0 && maps[i].ebs != nil {
			if err := overrideEBS(maps[i], b.EBS, root); err != nil {
				return storagePlan{}, err
			}
			continue
		}
		if root && img.RootDeviceType == RootDeviceInstanceStore {
			return storagePlan{}, errorf("InvalidBlockDeviceMapping", "The root device %s of an instance-store-backed image cannot be an EBS volume.", dev)
		}
		e := b.EBS
		if e.SnapshotID == "" && e.VolumeSize == 0 {
			return storagePlan{}, errorf("InvalidBlockDeviceMapping", "Either snapshot ID or volume size must be provided for: %s", b.DeviceName)
		}
		m := &mapping{device: dev, ebs: &ImageEBS{DeleteOnTermination: true}}
		if err := overrideEBS(m, e, false); err != nil {
			return storagePlan{}, err
		}
		if i >= 0 {
			maps[i] = m
		} else {
			maps = append(maps, m)
		}
	}
	for _, m := range maps {
		if m.virtual != "" {
			if dev, ok := instanceStoreDevice(it, m); ok {
				plan.store = append(plan.store, dev)
			}
			continue
		}
		if m.ebs == nil {
			continue
		}
		v, err := planVolume(tx, s, img, m)
		if err != nil {
			return storagePlan{}, err
		}
		plan.volumes = append(plan.volumes, v)
	}
	if img.RootDeviceType != RootDeviceInstanceStore && !slices.ContainsFunc(plan.volumes, func(v plannedVolume) bool { return v.root }) {
		return storagePlan{}, errorf("InvalidAMIID.Malformed", "Image %s has no EBS root device mapping.", img.ID)
	}
	if len(plan.volumes) > MaxVolumeAttachments {
		return storagePlan{}, errorf("AttachmentLimitExceeded", "You have requested more than the limit of %d volumes attached to an instance.", MaxVolumeAttachments)
	}
	return plan, nil
}

// overrideEBS applies a request's EBS parameters to a mapping.
func overrideEBS(m *mapping, e *LaunchEBS, root bool) error {
	x := m.ebs
	if e.SnapshotID != "" && e.SnapshotID != x.SnapshotID {
		if root {
			return errorf("InvalidBlockDeviceMapping", "The snapshot of the root device %s cannot be changed.", m.device)
		}
		x.SnapshotID, x.VolumeSize, m.fromImage = e.SnapshotID, 0, false
	}
	if e.VolumeType != "" && e.VolumeType != x.VolumeType {
		// The image's IOPS and throughput belong to its volume type.
		x.VolumeType, x.IOPS, x.Throughput = e.VolumeType, 0, 0
	}
	if e.VolumeSize != 0 {
		x.VolumeSize = e.VolumeSize
	}
	if e.IOPS != 0 {
		x.IOPS = e.IOPS
	}
	if e.Throughput != 0 {
		x.Throughput = e.Throughput
	}
	if e.DeleteOnTermination != nil {
		x.DeleteOnTermination = *e.DeleteOnTermination
	}
	if e.Encrypted != nil {
		if !*e.Encrypted && x.Encrypted {
			return errorf("InvalidBlockDeviceMapping", "The volume for %s is made from an encrypted snapshot; it cannot be unencrypted.", m.device)
		}
		x.Encrypted = *e.Encrypted
	}
	if e.KMSKeyID != "" {
		m.kmsKeyID = e.KMSKeyID
	}
	return nil
}

// planVolume checks a mapping's volume against its snapshot: not smaller
// (InvalidBlockDeviceMapping, AWS's message), of the snapshot's size when no
// size is given.
func planVolume(tx store.Tx, s Scope, img *Image, m *mapping) (plannedVolume, error) {
	e := m.ebs
	req := VolumeRequest{
		Size: e.VolumeSize, SnapshotID: e.SnapshotID, VolumeType: orDefault(e.VolumeType, DefaultVolumeType),
		IOPS: e.IOPS, Throughput: e.Throughput, Encrypted: e.Encrypted, KMSKeyID: m.kmsKeyID,
	}
	if e.SnapshotID != "" {
		var snap Snapshot
		var err error
		if m.fromImage {
			owner := Scope{Account: img.OwnerID, Region: s.Region}
			req.imageOwner = &owner
			snap, err = snapshots.get(tx, owner, e.SnapshotID)
		} else {
			snap, _, err = visibleSnapshot(tx, s, e.SnapshotID)
		}
		if err != nil {
			return plannedVolume{}, err
		}
		if req.Size != 0 && req.Size < snap.VolumeSize {
			return plannedVolume{}, errorf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", req.Size, snap.ID, snap.VolumeSize)
		}
	}
	return plannedVolume{device: m.device, root: m.device == img.RootDeviceName, req: req, deleteOnTermination: e.DeleteOnTermination}, nil
}

// instanceStoreDevice is the instance store volume a mapping asks for, if the
// instance type has that many disks; AWS ignores mappings beyond them (and on
// types without instance storage).
func instanceStoreDevice(it catalog.InstanceType, m *mapping) (InstanceStoreDevice, bool) {
	info := it.InstanceStorageInfo
	if info == nil {
		return InstanceStoreDevice{}, false
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(m.virtual, "ephemeral"))
	for _, d := range info.Disks {
		if n < d.Count {
			// Disk sizes are decimal gigabytes; a device is whole sectors.
			return InstanceStoreDevice{Device: m.device, VirtualName: m.virtual, Size: d.SizeInGB * 1e9 / 512 * 512}, true
		}
		n -= d.Count
	}
	return InstanceStoreDevice{}, false
}

// launchVolumes makes an instance's EBS volumes (attaching until it runs) and
// records its instance store volumes.
func (c *Cloud) launchVolumes(tx store.Tx, s Scope, now time.Time, tags []Tag, plan *launchPlan, in *Instance, undo *revert) error {
	for _, p := range plan.storage.volumes {
		r := p.req
		r.AvailabilityZone, r.Tags = in.AvailabilityZone, tags
		vol, err := c.createVolume(tx, s, r)
		if err != nil {
			return err
		}
		// Not made yet: forgetting the volume and its job undoes it.
		undo.add(func(tx store.Tx) error {
			if err := finishJob(tx, newBlockJob(jobCreateVolume, s, vol.ID)); err != nil {
				return err
			}
			return volumes.remove(tx, s, vol.ID)
		})
		// Attached from the start (AWS shows it attaching while the instance
		// is pending); the launch marks it attached.
		vol.Tags = nil
		vol.Attachments = []VolumeAttachment{{InstanceID: in.ID, Device: p.device, State: AttachAttaching, AttachTime: now, DeleteOnTermination: p.deleteOnTermination}}
		if err := volumes.update(tx, s, &vol); err != nil {
			return err
		}
		if p.root {
			in.RootVolumeID = vol.ID
		}
	}
	in.InstanceStore, in.ImageBundle = slices.Clone(plan.storage.store), plan.storage.bundle
	return nil
}

// instanceStoreRootID is the block store's name for the root of an
// instance-store-backed instance: its copy of the image's bundle.
func instanceStoreRootID(instanceID string) string { return instanceID + "-root" }
