package cloud

import (
	"context"
	"regexp"
	"time"

	"strato/internal/store"
)

// Attachment states.
const (
	AttachAttaching = "attaching"
	AttachAttached  = "attached"
	AttachDetaching = "detaching"
	AttachDetached  = "detached"
)

var (
	// MaxVolumeAttachments is how many volumes one instance may have attached
	// (Nitro instances: 28 attachments, shared with network interfaces; the
	// instances' code may narrow it per type).
	MaxVolumeAttachments = 28
	// MaxMultiAttachInstances is how many instances a Multi-Attach volume may be
	// attached to at once (AWS: 16).
	MaxMultiAttachInstances = 16
)

// linuxDevice is the device names AWS accepts for EBS volumes of Linux
// instances: /dev/sd[a-z] (with partitions 1–15 for the root device),
// /dev/xvd[a-z] and /dev/xvd[b-c][a-z].
var linuxDevice = regexp.MustCompile(`^/dev/(sd[a-z]([1-9]|1[0-5])?|xvd[a-z]|xvd[b-c][a-z])$`)

// instanceForAttach finds an instance volumes may be attached to and returns its
// zone (snapshots of an instance's volumes use it; tests replace it).
var instanceForAttach = func(tx store.Tx, s Scope, instanceID string) (zone string, err error) {
	return "", &NotFoundError{Kind: KindInstance, ID: instanceID}
}

// AttachVolume attaches a volume to a running or stopped instance
// (AttachVolume): attaching until the instance's driver has attached it
// (instance_attach.go). A volume attached at the root device of a stopped
// instance that has none becomes its root volume.
func (c *Cloud) AttachVolume(ctx context.Context, s Scope, volumeID, instanceID, device string) (VolumeAttachment, error) {
	var a VolumeAttachment
	err := c.update(ctx, func(tx store.Tx) error {
		in, err := attachTarget(tx, s, instanceID)
		if err != nil {
			return err
		}
		if a, err = attachVolume(tx, s, c.clock.Now(), volumeID, instanceID, in.AvailabilityZone, device, false); err != nil {
			return err
		}
		if device == in.RootDeviceName && in.RootDeviceType == RootDeviceEBS {
			in.RootVolumeID = volumeID
			return instances.update(tx, s, &in)
		}
		return nil
	})
	if err == nil {
		c.attachVolumeWork(s, volumeID, instanceID)
	}
	return a, err
}

// DetachVolume starts detaching a volume (DetachVolume): instanceID and device
// may be empty when the volume has one attachment. The root volume stays with
// a running instance; force detaches even what the guest holds.
func (c *Cloud) DetachVolume(ctx context.Context, s Scope, volumeID, instanceID, device string, force bool) (VolumeAttachment, error) {
	var a VolumeAttachment
	var target string
	err := c.update(ctx, func(tx store.Tx) error {
		target = ""
		if instanceID != "" {
			if _, err := liveInstance(tx, s, instanceID); err != nil {
				return err
			}
		}
		var err error
		if a, err = detachVolume(tx, s, volumeID, instanceID, device, force); err != nil {
			return err
		}
		in, err := instances.get(tx, s, a.InstanceID)
		if ignoreNotFound(err, nil) != nil {
			return err
		}
		if err != nil || in.State == InstanceTerminated {
			// No instance to detach it from: it is detached.
			return finishVolumeDetach(tx, s, volumeID, a.InstanceID)
		}
		if a.Device == in.RootDeviceName && in.State != InstanceStopped {
			return errorf("IncorrectState", "Unable to detach root volume '%s' from instance '%s'", volumeID, in.ID)
		}
		if _, err := attachTarget(tx, s, in.ID); err != nil {
			return err
		}
		target = in.ID
		return nil
	})
	if err == nil && target != "" {
		c.detachVolumeWork(s, volumeID, target, a.Device, force)
	}
	return a, err
}

// attachVolume records a volume's attachment to an instance of the zone, with
// AWS's rules: same zone, a Linux device name free on the instance, one
// instance unless Multi-Attach, at most MaxVolumeAttachments per instance.
func attachVolume(tx store.Tx, s Scope, now time.Time, volumeID, instanceID, instanceZone, device string, deleteOnTermination bool) (VolumeAttachment, error) {
	v, err := volumes.get(tx, s, volumeID)
	if err != nil {
		return VolumeAttachment{}, err
	}
	if !linuxDevice.MatchString(device) {
		return VolumeAttachment{}, errorf("InvalidParameterValue", "Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", device, device)
	}
	if v.State != VolumeAvailable && v.State != VolumeInUse {
		return VolumeAttachment{}, errorf("IncorrectState", "%s is not 'available'.", volumeID)
	}
	if v.AvailabilityZone != instanceZone {
		return VolumeAttachment{}, errorf("InvalidVolume.ZoneMismatch", "The volume '%s' is not in the same availability zone as instance '%s'", volumeID, instanceID)
	}
	for _, a := range v.Attachments {
		if a.InstanceID == instanceID || !v.MultiAttach {
			return VolumeAttachment{}, errorf("VolumeInUse", "%s is already attached to an instance", volumeID)
		}
	}
	if v.MultiAttach && len(v.Attachments) >= MaxMultiAttachInstances {
		return VolumeAttachment{}, errorf("AttachmentLimitExceeded", "The Multi-Attach volume %s is attached to the maximum number of instances (%d).", volumeID, MaxMultiAttachInstances)
	}
	attached, err := volumesOfInstance(tx, s, instanceID)
	if err != nil {
		return VolumeAttachment{}, err
	}
	for _, o := range attached {
		for _, a := range o.Attachments {
			if a.InstanceID == instanceID && a.Device == device {
				return VolumeAttachment{}, errorf("InvalidParameterValue", "Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
			}
		}
	}
	if len(attached) >= MaxVolumeAttachments {
		return VolumeAttachment{}, errorf("AttachmentLimitExceeded", "You have reached the limit of %d volumes attached to instance %s.", MaxVolumeAttachments, instanceID)
	}
	a := VolumeAttachment{InstanceID: instanceID, Device: device, State: AttachAttaching, AttachTime: now, DeleteOnTermination: deleteOnTermination}
	v.Attachments = append(v.Attachments, a)
	v.State = VolumeInUse
	return a, volumes.update(tx, s, &v)
}

// detachVolume marks a volume's attachment detaching; the instance's driver
// finishes it (finishVolumeDetach). force detaches even an attachment already
// detaching.
func detachVolume(tx store.Tx, s Scope, volumeID, instanceID, device string, force bool) (VolumeAttachment, error) {
	v, err := volumes.get(tx, s, volumeID)
	if err != nil {
		return VolumeAttachment{}, err
	}
	if len(v.Attachments) == 0 {
		return VolumeAttachment{}, errorf("IncorrectState", "Volume '%s' is in the '%s' state.", volumeID, v.State)
	}
	if instanceID == "" && len(v.Attachments) > 1 {
		return VolumeAttachment{}, errorf("InvalidParameterCombination", "The volume %s is attached to several instances; the request must name the instance.", volumeID)
	}
	for i := range v.Attachments {
		a := &v.Attachments[i]
		if instanceID != "" && a.InstanceID != instanceID || device != "" && a.Device != device {
			continue
		}
		if a.State == AttachDetaching && !force {
			return VolumeAttachment{}, errorf("IncorrectState", "Volume '%s' is already detaching from %s.", volumeID, a.InstanceID)
		}
		if a.State == AttachAttaching && !force {
			return VolumeAttachment{}, errorf("IncorrectState", "Volume '%s' is still attaching to %s.", volumeID, a.InstanceID)
		}
		a.State = AttachDetaching
		out := *a
		return out, volumes.update(tx, s, &v)
	}
	return VolumeAttachment{}, errorf("InvalidAttachment.NotFound", "Attachment point %s for volume %s on instance %s does not exist.", device, volumeID, instanceID)
}

// finishVolumeAttach marks an attachment attached (the driver has attached it).
func finishVolumeAttach(tx store.Tx, s Scope, volumeID, instanceID string) error {
	return changeAttachment(tx, s, volumeID, instanceID, func(v *Volume, i int) { v.Attachments[i].State = AttachAttached })
}

// finishVolumeDetach drops an attachment (the driver has detached it); a volume
// without attachments is available again.
func finishVolumeDetach(tx store.Tx, s Scope, volumeID, instanceID string) error {
	return changeAttachment(tx, s, volumeID, instanceID, func(v *Volume, i int) {
		v.Attachments = append(v.Attachments[:i], v.Attachments[i+1:]...)
		if len(v.Attachments) == 0 {
			v.Attachments, v.State = nil, VolumeAvailable
		}
	})
}

func changeAttachment(tx store.Tx, s Scope, volumeID, instanceID string, change func(v *Volume, i int)) error {
	v, err := volumes.get(tx, s, volumeID)
	if err != nil {
		return err
	}
	for i, a := range v.Attachments {
		if a.InstanceID == instanceID {
			change(&v, i)
			return volumes.update(tx, s, &v)
		}
	}
	return errorf("InvalidAttachment.NotFound", "Volume %s is not attached to instance %s.", volumeID, instanceID)
}

// volumesOfInstance lists the scope's volumes attached to an instance.
func volumesOfInstance(tx store.Tx, s Scope, instanceID string) ([]Volume, error) {
	all, err := volumes.load(tx, s, nil, nil)
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, v := range all {
		for _, a := range v.Attachments {
			if a.InstanceID == instanceID {
				out = append(out, v)
				break
			}
		}
	}
	return out, nil
}
