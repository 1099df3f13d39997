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

// hotplug is one attach, detach or resize done in the background. prepare
// reads, in a transaction, whether the attachment still waits for the driver
// (and what the driver needs); call is the driver's part; settle, if set,
// records the outcome with the driver's error, if any, in another transaction.
type hotplug struct {
	what    string // "attaching vol-… to i-…", for errors
	prepare func(tx store.Tx) (due bool, err error)
	call    func(ctx context.Context) error
	settle  func(tx store.Tx, driverErr error) error
	// settled, if set, runs once settle has committed.
	settled func()
}

func (c *Cloud) runHotplug(s Scope, instanceID, op string, h hotplug) {
	c.instanceWork(s, instanceID, op, func(ctx context.Context) error {
		if c.compute == nil {
			return errNoCompute
		}
		due := true
		if h.prepare != nil {
			if err := c.view(ctx, func(tx store.Tx) error {
				var err error
				due, err = h.prepare(tx)
				return err
			}); err != nil || !due {
				return ignoreNotFound(err, nil)
			}
		}
		derr := h.call(ctx)
		if errors.Is(derr, ErrComputeNotFound) {
			derr = nil // the driver has no such instance: nothing is plugged there
		}
		if derr != nil {
			derr = fmt.Errorf("driver %s %s: %w", c.compute.Name(), h.what, derr)
		}
		if h.settle == nil {
			return derr
		}
		err := c.update(ctx, func(tx store.Tx) error { return ignoreNotFound(h.settle(tx, derr), nil) })
		if err == nil && h.settled != nil {
			h.settled()
		}
		return errors.Join(derr, err)
	})
}

// attachVolumeWork has the driver attach a volume recorded attaching; if it
// fails the volume is as it was.
func (c *Cloud) attachVolumeWork(s Scope, volumeID, instanceID string) {
	var dev BlockDevice
	attaching := func(tx store.Tx) (*Volume, bool, error) {
		v, err := volumes.get(tx, s, volumeID)
		return &v, err == nil && attachmentTo(&v, instanceID).State == AttachAttaching, err
	}
	c.runHotplug(s, instanceID, "attach-volume:"+volumeID, hotplug{
		what: "attaching " + volumeID + " to " + instanceID,
		prepare: func(tx store.Tx) (bool, error) {
			v, due, err := attaching(tx)
			if due {
				dev, err = c.volumeDevice(tx, s, v, attachmentTo(v, instanceID).Device)
			}
			return due, err
		},
		call: func(ctx context.Context) error { return c.compute.AttachVolume(ctx, instanceID, dev) },
		settle: func(tx store.Tx, derr error) error {
			if _, due, err := attaching(tx); !due {
				return err
			}
			if derr == nil {
				return finishVolumeAttach(tx, s, volumeID, instanceID)
			}
			return dropVolumeAttachment(tx, s, volumeID, instanceID)
		},
	})
}

// detachVolumeWork has the driver detach a volume recorded detaching; if it
// fails the volume stays attached (the guest holds it), unless forced.
func (c *Cloud) detachVolumeWork(s Scope, volumeID, instanceID, device string, force bool) {
	c.runHotplug(s, instanceID, "detach-volume:"+volumeID, hotplug{
		what: "detaching " + volumeID + " from " + instanceID,
		call: func(ctx context.Context) error { return c.compute.DetachVolume(ctx, instanceID, device) },
		settle: func(tx store.Tx, derr error) error {
			v, err := volumes.get(tx, s, volumeID)
			if err != nil || attachmentTo(&v, instanceID).State != AttachDetaching {
				return err
			}
			if derr != nil && !force {
				return changeAttachment(tx, s, volumeID, instanceID, func(v *Volume, i int) { v.Attachments[i].State = AttachAttached })
			}
			return dropVolumeAttachment(tx, s, volumeID, instanceID)
		},
	})
}

// resizeVolumeWork has the driver show an instance the new size of a volume
// attached to it (ModifyVolume grew the volume's file). Nothing is recorded: a
// failure is logged, and the guest sees the size at the instance's next start.
func (c *Cloud) resizeVolumeWork(s Scope, volumeID, instanceID, device string, size int64) {
	c.runHotplug(s, instanceID, "resize-volume:"+volumeID, hotplug{
		what: "growing " + volumeID + " of " + instanceID,
		prepare: func(tx store.Tx) (bool, error) {
			v, err := volumes.get(tx, s, volumeID)
			a := attachmentTo(&v, instanceID)
			return err == nil && a.State == AttachAttached && a.Device == device, err
		},
		call: func(ctx context.Context) error { return c.compute.ResizeVolume(ctx, instanceID, device, size) },
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

// attachInterfaceWork has the driver plug an interface recorded attaching; if
// it fails the interface is available again.
func (c *Cloud) attachInterfaceWork(s Scope, eniID, instanceID, attachmentID string) {
	var spec InterfaceSpec
	var vpcID string // routes to the interface follow its attachment
	c.runHotplug(s, instanceID, "attach-interface:"+eniID, hotplug{
		what: "attaching " + eniID + " to " + instanceID,
		prepare: func(tx store.Tx) (bool, error) {
			n, due, err := interfaceIn(tx, s, eniID, attachmentID, AttachAttaching)
			if due {
				spec, err = interfaceSpec(tx, s, &n)
			}
			return due, err
		},
		call: func(ctx context.Context) error { return c.compute.AttachInterface(ctx, instanceID, spec) },
		settle: func(tx store.Tx, derr error) error {
			n, due, err := interfaceIn(tx, s, eniID, attachmentID, AttachAttaching)
			vpcID = n.VpcID
			switch {
			case !due:
				return err
			case derr != nil:
				return endInterfaceAttachment(tx, s, &n)
			}
			n.Attachment.Status = AttachAttached
			return networkInterfaces.update(tx, s, &n)
		},
		settled: func() { c.networkChanged(s, vpcID) },
	})
}

// detachInterfaceWork has the driver unplug an interface recorded detaching;
// if it fails the interface stays attached, unless forced.
func (c *Cloud) detachInterfaceWork(s Scope, eniID, instanceID, attachmentID string, force bool) {
	var vpcID string // routes to the interface follow its attachment
	c.runHotplug(s, instanceID, "detach-interface:"+eniID, hotplug{
		what: "detaching " + eniID + " from " + instanceID,
		call: func(ctx context.Context) error { return c.compute.DetachInterface(ctx, instanceID, eniID) },
		settle: func(tx store.Tx, derr error) error {
			n, due, err := interfaceIn(tx, s, eniID, attachmentID, AttachDetaching)
			vpcID = n.VpcID
			switch {
			case !due:
				return err
			case derr != nil && !force:
				n.Attachment.Status = AttachAttached
				return networkInterfaces.update(tx, s, &n)
			}
			return endInterfaceAttachment(tx, s, &n)
		},
		settled: func() { c.networkChanged(s, vpcID) },
	})
}

// interfaceIn reads an interface and reports whether its attachment is still
// the one given, in the given state.
func interfaceIn(tx store.Tx, s Scope, eniID, attachmentID, status string) (NetworkInterface, bool, error) {
	n, err := networkInterfaces.get(tx, s, eniID)
	a := n.Attachment
	return n, err == nil && a != nil && a.ID == attachmentID && a.Status == status, err
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
