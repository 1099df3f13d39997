package container

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"strato/internal/cloud"
	"strato/internal/compute"

	"strato/internal/compute/host"
)

// AttachVolume attaches a volume at a device name: at once to a running
// instance (its block device and partitions appear in the guest's /dev), and
// from the next start to a stopped one. The root device name takes the
// volume as the new root while the root volume is detached.
func (d *Driver) AttachVolume(ctx context.Context, id string, dev cloud.BlockDevice) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if err := host.CheckVolume(dev); err != nil {
		return fmt.Errorf("compute container: attach to %s: %w", id, err)
	}
	spec := &in.rec.Spec
	if held, ok := host.VolumeAt(*spec, dev.Device); ok {
		if held.Path == dev.Path {
			return nil // the same volume again: a no-op
		}
		return fmt.Errorf("compute container: attach to %s at %s: %w: the device holds %s",
			id, dev.Device, compute.ErrInvalidState, held.Path)
	}
	if host.IsRootDevice(*spec, dev.Device) {
		if in.rec.State == stateRunning {
			return d.invalidState("attach", id, "a root volume cannot be attached to a running instance")
		}
		spec.Root = dev
		return d.save(in)
	}
	if in.rec.State == stateRunning {
		if err := d.hotPlug(ctx, in, host.GuestName(dev.Device), dev); err != nil {
			return fmt.Errorf("compute container: attach to %s at %s: %w", id, dev.Device, err)
		}
	}
	spec.Devices = append(spec.Devices, dev)
	return d.save(in)
}

// DetachVolume detaches the volume at a device name; none there is a no-op.
// A running instance's root volume stays.
func (d *Driver) DetachVolume(ctx context.Context, id, device string) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	spec := &in.rec.Spec
	v, ok := host.VolumeAt(*spec, device)
	switch {
	case !ok:
		return nil // not attached: detaching again is a no-op
	case v.Index < 0:
		if in.rec.State == stateRunning {
			return d.invalidState("detach", id, "the root volume of a running instance")
		}
		spec.Root = cloud.BlockDevice{Device: spec.Root.Device}
		return d.save(in)
	}
	if in.rec.State == stateRunning {
		err := unplugNodes(in.rec.Init.PID, v.Guest)
		if err == nil {
			err = removeFromSysView(filepath.Join(in.dir, sysDirName), v.Guest)
		}
		if err != nil {
			return fmt.Errorf("compute container: detach %s from %s: %w", device, id, err)
		}
	}
	if err := host.CloseDisk(ctx, id, v.Guest, v.BlockDevice); err != nil {
		return fmt.Errorf("compute container: detach %s from %s: %w", device, id, err)
	}
	spec.Devices = slices.Delete(spec.Devices, v.Index, v.Index+1)
	return d.save(in)
}

// ResizeVolume shows a running instance the new size of the volume at device,
// whose file has grown (ModifyVolume): its block device grows to the file's size
// (host.GrowDisk: the loop device's capacity, an encrypted volume's table), and
// the instance's /sys/block says so; the device node inside reports it at once
// (blockdev --getsize64, lsblk). Its partitions' devices keep their sizes. A
// stopped instance finds the size at its next start, and a device without a
// volume is nothing to do.
func (d *Driver) ResizeVolume(ctx context.Context, id, device string, size int64) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	v, ok := host.VolumeAt(in.rec.Spec, device)
	if !ok || in.rec.State != stateRunning {
		return nil
	}
	sectors, err := host.GrowDisk(ctx, id, v.Guest, v.BlockDevice)
	if err == nil {
		err = resizeInSysView(filepath.Join(in.dir, sysDirName), v.Guest, sectors)
	}
	if err != nil {
		return fmt.Errorf("compute container: resize %s of %s: %w", device, id, err)
	}
	return nil
}

// hotPlug gives a running instance a volume: its host devices, then its nodes
// in the guest; a failure leaves nothing behind.
func (d *Driver) hotPlug(ctx context.Context, in *instance, guest string, dev cloud.BlockDevice) error {
	h, err := openDisk(ctx, in.id, guest, dev)
	if err == nil {
		var nodes []deviceNode
		if nodes, err = h.nodes(); err == nil {
			err = addToSysView(filepath.Join(in.dir, sysDirName), nodes)
		}
		if err == nil {
			err = plugNodes(in.rec.Init.PID, nodes)
		}
	}
	if err != nil {
		uerr := errors.Join(unplugNodes(in.rec.Init.PID, guest), removeFromSysView(filepath.Join(in.dir, sysDirName), guest))
		if uerr != nil {
			d.opts.Log.Error("compute container: undoing a failed attach", "instance", in.id, "err", uerr)
		}
		if cerr := host.CloseDisk(context.WithoutCancel(ctx), in.id, guest, dev); cerr != nil {
			d.opts.Log.Error("compute container: undoing a failed attach", "instance", in.id, "err", cerr)
		}
	}
	return err
}
