package cloud

import (
	"context"
	"errors"
	"fmt"

	"strato/internal/catalog"
	"strato/internal/store"
)

// Attaching and detaching volumes and interfaces of instances. The request
// records the attachment attaching (or detaching) and the driver does it in
// the background, as on AWS; then the attachment is attached (or gone). A
// driver that fails leaves things as they were, but a forced detach, which
// detaches whatever the guest does.

// attachTarget reads an instance that volumes and interfaces may be attached
// to or detached from now: running or stopped (AWS's hot and cold attach).
func attachTarget(tx store.Tx, s Scope, id string) (Instance, error) {
	in, err := liveInstance(tx, s, id)
	if err != nil {
		return Instance{}, err
	}
	switch in.State {
	case InstanceRunning, InstanceStopped:
		return in, nil
	case InstanceTerminated, InstanceShuttingDown:
		return Instance{}, errorf("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", id)
	}
	return Instance{}, errorf("IncorrectState", "Instance '%s' is not 'running' or 'stopped'.", id)
}

// attachVolumeWork has the driver attach a volume recorded attaching.
func (c *Cloud) attachVolumeWork(s Scope, volumeID, instanceID string) {
	c.instanceWork(s, instanceID, "attach-volume:"+volumeID, func(ctx context.Context) error {
		if c.compute == nil {
			return errNoCompute
		}
		var dev BlockDevice
		due := false
		if err := c.view(ctx, func(tx store.Tx) error {
			v, err := volumes.get(tx, s, volumeID)
			if err != nil {
				return err
			}
			a := attachmentTo(&v, instanceID)
			if due = a.State == AttachAttaching; due {
				dev, err = c.volumeDevice(tx, s, &v, a.Device)
			}
			return err
		}); err != nil || !due {
			return ignoreNotFound(err, nil)
		}
		derr := c.compute.AttachVolume(ctx, instanceID, dev)
		if derr != nil {
			derr = fmt.Errorf("driver %s attaching %s to %s: %w", c.compute.Name(), volumeID, instanceID, derr)
		}
		err := c.update(ctx, func(tx store.Tx) error {
			v, err := volumes.get(tx, s, volumeID)
			if err != nil || attachmentTo(&v, instanceID).State != AttachAttaching {
				return ignoreNotFound(err, nil)
			}
			if derr == nil {
				return finishVolumeAttach(tx, s, volumeID, instanceID)
			}
			// Not attached after all: the volume is as it was.
			return dropVolumeAttachment(tx, s, volumeID, instanceID)
		})
		return errors.Join(derr, err)
	})
}

// detachVolumeWork has the driver detach a volume recorded detaching.
func (c *Cloud) detachVolumeWork(s Scope, volumeID, instanceID, device string, force bool) {
	c.instanceWork(s, instanceID, "detach-volume:"+volumeID, func(ctx context.Context) error {
		if c.compute == nil {
			return errNoCompute
		}
		derr := c.compute.DetachVolume(ctx, instanceID, device)
		if errors.Is(derr, ErrComputeNotFound) {
			derr = nil // the driver has no such instance: nothing is attached there
		}
		if derr != nil {
			derr = fmt.Errorf("driver %s detaching %s from %s: %w", c.compute.Name(), volumeID, instanceID, derr)
		}
		err := c.update(ctx, func(tx store.Tx) error {
			v, err := volumes.get(tx, s, volumeID)
			if err != nil || attachmentTo(&v, instanceID).State != AttachDetaching {
				return ignoreNotFound(err, nil)
			}
			if derr != nil && !force {
				// Still attached: the guest holds it. Force detaches anyway.
				return changeAttachment(tx, s, volumeID, instanceID, func(v *Volume, i int) { v.Attachments[i].State = AttachAttached })
			}
			return dropVolumeAttachment(tx, s, volumeID, instanceID)
		})
		return errors.Join(derr, err)
	})
}

// dropVolumeAttachment ends a volume's attachment to an instance; the
// instance's root volume it was is no more.
func dropVolumeAttachment(tx store.Tx, s Scope, volumeID, instanceID string) error {
	if err := finishVolumeDetach(tx, s, volumeID, instanceID); err != nil {
		return err
	}
	in, err := instances.get(tx, s, instanceID)
	if err != nil || in.RootVolumeID != volumeID {
		return ignoreNotFound(err, nil)
	}
	in.RootVolumeID = ""
	return instances.update(tx, s, &in)
}

// checkInterfaceSlot checks an instance can take one more interface at a
// device index: the index free, the instance type's limit not reached.
func checkInterfaceSlot(tx store.Tx, s Scope, in *Instance, deviceIndex int) error {
	enis, err := interfacesOfInstance(tx, s, in.ID)
	if err != nil {
		return err
	}
	for _, n := range enis {
		if n.Attachment.DeviceIndex == deviceIndex {
			return errorf("InvalidParameterValue", "Instance '%s' already has an interface attached at device index '%d'.", in.ID, deviceIndex)
		}
	}
	if it, ok := catalog.LookupInstanceType(in.InstanceType); ok && len(enis)+1 > it.NetworkInfo.MaximumNetworkInterfaces {
		return errorf("AttachmentLimitExceeded", "Interface count %d exceeds the limit for %s", len(enis)+1, in.InstanceType)
	}
	return nil
}

// attachInterfaceWork has the driver plug an interface recorded attaching.
func (c *Cloud) attachInterfaceWork(s Scope, eniID, instanceID, attachmentID string) {
	c.instanceWork(s, instanceID, "attach-interface:"+eniID, func(ctx context.Context) error {
		if c.compute == nil {
			return errNoCompute
		}
		var spec InterfaceSpec
		due := false
		if err := c.view(ctx, func(tx store.Tx) error {
			n, err := networkInterfaces.get(tx, s, eniID)
			if err != nil {
				return err
			}
			if due = n.Attachment != nil && n.Attachment.ID == attachmentID && n.Attachment.Status == AttachAttaching; due {
				spec, err = interfaceSpec(tx, s, &n)
			}
			return err
		}); err != nil || !due {
			return ignoreNotFound(err, nil)
		}
		derr := c.compute.AttachInterface(ctx, instanceID, spec)
		if derr != nil {
			derr = fmt.Errorf("driver %s attaching %s to %s: %w", c.compute.Name(), eniID, instanceID, derr)
		}
		err := c.update(ctx, func(tx store.Tx) error {
			n, err := networkInterfaces.get(tx, s, eniID)
			if err != nil || n.Attachment == nil || n.Attachment.ID != attachmentID || n.Attachment.Status != AttachAttaching {
				return ignoreNotFound(err, nil)
			}
			if derr == nil {
				n.Attachment.Status = AttachAttached
				return networkInterfaces.update(tx, s, &n)
			}
			// Not attached after all: the interface is available again.
			return endInterfaceAttachment(tx, s, &n)
		})
		return errors.Join(derr, err)
	})
}

// detachInterfaceWork has the driver unplug an interface recorded detaching.
func (c *Cloud) detachInterfaceWork(s Scope, eniID, instanceID, attachmentID string, force bool) {
	c.instanceWork(s, instanceID, "detach-interface:"+eniID, func(ctx context.Context) error {
		if c.compute == nil {
			return errNoCompute
		}
		derr := c.compute.DetachInterface(ctx, instanceID, eniID)
		if errors.Is(derr, ErrComputeNotFound) {
			derr = nil
		}
		if derr != nil {
			derr = fmt.Errorf("driver %s detaching %s from %s: %w", c.compute.Name(), eniID, instanceID, derr)
		}
		err := c.update(ctx, func(tx store.Tx) error {
			n, err := networkInterfaces.get(tx, s, eniID)
			if err != nil || n.Attachment == nil || n.Attachment.ID != attachmentID || n.Attachment.Status != AttachDetaching {
				return ignoreNotFound(err, nil)
			}
			if derr != nil && !force {
				n.Attachment.Status = AttachAttached
				return networkInterfaces.update(tx, s, &n)
			}
			return endInterfaceAttachment(tx, s, &n)
		})
		return errors.Join(derr, err)
	})
}

// endInterfaceAttachment makes an interface available: its Elastic IPs stay
// mapped to it, no longer to the instance.
func endInterfaceAttachment(tx store.Tx, s Scope, n *NetworkInterface) error {
	n.Attachment = nil
	if err := networkInterfaces.update(tx, s, n); err != nil {
		return err
	}
	return setAddressesInstance(tx, s, n, "")
}

// resumeAttachments redoes, after a restart, the attachments and detachments
// a previous process left half done in a scope (the drivers' calls are
// repeat-safe).
func (c *Cloud) resumeAttachments(ctx context.Context, s Scope) error {
	var vols []Volume
	var enis []NetworkInterface
	targets := map[string]bool{}
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err := instances.load(tx, s, nil, nil)
		if err != nil {
			return err
		}
		for _, in := range list {
			targets[in.ID] = in.State == InstanceRunning || in.State == InstanceStopped
		}
		if vols, err = volumes.load(tx, s, nil, nil); err != nil {
			return err
		}
		enis, err = networkInterfaces.load(tx, s, nil, nil)
		return err
	}); err != nil {
		return err
	}
	for _, v := range vols {
		for _, a := range v.Attachments {
			switch {
			case !targets[a.InstanceID]:
			case a.State == AttachAttaching:
				c.attachVolumeWork(s, v.ID, a.InstanceID)
			case a.State == AttachDetaching:
				c.detachVolumeWork(s, v.ID, a.InstanceID, a.Device, false)
			}
		}
	}
	for _, n := range enis {
		switch a := n.Attachment; {
		case a == nil || !targets[a.InstanceID]:
		case a.Status == AttachAttaching:
			c.attachInterfaceWork(s, n.ID, a.InstanceID, a.ID)
		case a.Status == AttachDetaching:
			c.detachInterfaceWork(s, n.ID, a.InstanceID, a.ID, false)
		}
	}
	return nil
}
