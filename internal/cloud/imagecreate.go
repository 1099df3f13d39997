package cloud

import (
	"context"
	"fmt"

	"strato/internal/store"
)

// InstanceForImage is what CreateImage needs to know about an instance.
type InstanceForImage struct {
	RootDeviceName     string
	Architecture       string
	VirtualizationType string
	BootMode           string
	ENASupport         bool
	// Ephemeral maps instance-store device names to their virtual names.
	Ephemeral map[string]string
}

// instanceForImage describes an instance for CreateImage; the instances' code
// replaces it. Until then there are no instances.
var instanceForImage = func(tx store.Tx, s Scope, instanceID string) (InstanceForImage, error) {
	return InstanceForImage{}, &NotFoundError{Kind: KindInstance, ID: instanceID}
}

// rebootForImage reboots a running instance for a consistent image (CreateImage
// without NoReboot): the guest shuts down cleanly (its init syncs the file
// systems) and starts again, and the snapshots' point in time is taken after.
// An instance that is not running has nothing in flight.
func (c *Cloud) rebootForImage(ctx context.Context, s Scope, instanceID string) error {
	var running bool
	if err := c.view(ctx, func(tx store.Tx) error {
		in, err := liveInstance(tx, s, instanceID)
		running = in.State == InstanceRunning
		return err
	}); err != nil || !running || c.compute == nil {
		return err
	}
	if err := c.compute.Reboot(ctx, instanceID); err != nil {
		return fmt.Errorf("rebooting %s for its image: %w", instanceID, err)
	}
	return nil
}

// CreateImageRequest is what CreateImage asks for.
type CreateImageRequest struct {
	InstanceID, Name, Description string
	NoReboot                      bool
	// BlockDevices override the instance's: NoDevice leaves a volume out, an
	// ephemeral name adds instance storage, an EBS size grows a volume.
	BlockDevices []ImageBlockDevice
	Tags         []Tag
}

// CreateImage makes an image of an instance: a snapshot of each EBS volume
// attached to it, taken at the same moment (after a reboot unless NoReboot), and
// the launch facts of the instance. The image is pending until its snapshots
// complete.
func (c *Cloud) CreateImage(ctx context.Context, s Scope, req CreateImageRequest) (Image, error) {
	if c.blocks == nil {
		return Image{}, errNoBlocks
	}
	if err := checkImageText(req.Name, req.Description); err != nil {
		return Image{}, err
	}
	if err := ValidateTags(req.Tags); err != nil {
		return Image{}, err
	}
	if !req.NoReboot {
		if err := c.view(ctx, func(tx store.Tx) error {
			_, err := instanceForImage(tx, s, req.InstanceID)
			return err
		}); err != nil {
			return Image{}, err
		}
		if err := c.rebootForImage(ctx, s, req.InstanceID); err != nil {
			return Image{}, err
		}
	}
	var img Image
	var snaps []Snapshot
	var jobs []blockJob
	err := c.update(ctx, func(tx store.Tx) error {
		inst, err := instanceForImage(tx, s, req.InstanceID)
		if err != nil {
			return err
		}
		if err := checkCount(tx, s, KindImage, QuotaImages); err != nil {
			return err
		}
		if err := checkImageNameFree(tx, s, req.Name); err != nil {
			return err
		}
		vols, err := volumesOfInstance(tx, s, req.InstanceID)
		if err != nil {
			return err
		}
		now := c.clock.Now()
		img = Image{
			ID: NewID("ami"), OwnerID: s.Account, Name: req.Name, Description: req.Description,
			Architecture: inst.Architecture, VirtualizationType: inst.VirtualizationType, BootMode: inst.BootMode,
			ENASupport: inst.ENASupport, RootDeviceName: inst.RootDeviceName, RootDeviceType: "ebs",
			State: "pending", CreatedAt: now, SourceInstanceID: req.InstanceID,
		}
		overrides := map[string]ImageBlockDevice{}
		for _, b := range req.BlockDevices {
			overrides[b.DeviceName] = b
		}
		for _, v := range vols {
			device, deleteOnTermination := "", true
			for _, a := range v.Attachments {
				if a.InstanceID == req.InstanceID {
					device, deleteOnTermination = a.Device, a.DeleteOnTermination
				}
			}
			o, overridden := overrides[device]
			delete(overrides, device)
			if overridden && o.NoDevice {
				img.BlockDevices = append(img.BlockDevices, o)
				continue
			}
			snap, j, err := newSnapshotOf(tx, s, now, v, fmt.Sprintf("Created by CreateImage(%s) for %s", req.InstanceID, img.ID), nil)
			if err != nil {
				return err
			}
			snaps, jobs = append(snaps, snap), append(jobs, j)
			e := &ImageEBS{SnapshotID: snap.ID, VolumeSize: v.Size, VolumeType: v.VolumeType, IOPS: v.IOPS, Throughput: v.Throughput,
				DeleteOnTermination: deleteOnTermination, Encrypted: v.Encrypted, KMSKeyARN: v.KMSKeyARN}
			if overridden && o.EBS != nil {
				if o.EBS.VolumeSize > 0 {
					if o.EBS.VolumeSize < v.Size {
						return errorf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", o.EBS.VolumeSize, snap.ID, v.Size)
					}
					e.VolumeSize = o.EBS.VolumeSize
				}
				if o.EBS.VolumeType != "" {
					e.VolumeType = o.EBS.VolumeType
				}
				e.DeleteOnTermination = o.EBS.DeleteOnTermination
			}
			img.BlockDevices = append(img.BlockDevices, ImageBlockDevice{DeviceName: device, EBS: e})
		}
		for device, virtual := range inst.Ephemeral {
			if _, ok := overrides[device]; !ok {
				img.BlockDevices = append(img.BlockDevices, ImageBlockDevice{DeviceName: device, VirtualName: virtual})
			}
		}
		for _, o := range overrides { // mappings that add what the instance lacks
			if o.VirtualName == "" && !o.NoDevice {
				return errorf("InvalidBlockDeviceMapping", "Device %s is not attached to instance %s; only ephemeral or NoDevice mappings can be added.", o.DeviceName, req.InstanceID)
			}
			img.BlockDevices = append(img.BlockDevices, o)
		}
		sortImageDevices(img.BlockDevices)
		if err := images.insert(tx, s, &img, now, req.Tags); err != nil {
			return err
		}
		img.Tags = tagMap(req.Tags)
		return nil
	})
	if err != nil {
		return Image{}, err
	}
	// Every snapshot's point in time is fixed before any runs: crash-consistent
	// across the instance's volumes.
	if err := c.startSnapshots(ctx, jobs, snaps); err != nil {
		return Image{}, err
	}
	return img, nil
}

// sortImageDevices orders mappings by device name, the root first when it sorts so.
func sortImageDevices(list []ImageBlockDevice) {
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && list[j].DeviceName < list[j-1].DeviceName; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}
