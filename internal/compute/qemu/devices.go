package qemu

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute/host"
	vmm "strato/internal/qemu"
)

// unplugTimeout bounds how long an unplug waits for the guest: Linux honours a PCIe
// slot's attention button after 5 s.
const unplugTimeout = 30 * time.Second

// freePort is the lowest root port no device of the running machine sits on.
func freePort(in *instance) (int, error) {
	used := map[int]bool{}
	for _, p := range in.rec.Ports {
		used[p] = true
	}
	for p := range in.rec.PortCount {
		if !used[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free PCIe root port left (the machine started with %d): stop the instance to attach more", in.rec.PortCount)
}

// AttachVolume attaches a volume at a device name: hot-plugged into a running machine
// (the guest sees /dev/xvdX appear), recorded for the next boot of a stopped one.
// Attaching the same volume again is a no-op; another one at a used name is refused.
// The root device name takes the volume as the new root while the root volume is
// detached (the machine stopped).
func (d *Driver) AttachVolume(ctx context.Context, id string, dev cloud.BlockDevice) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if err := host.CheckVolume(dev); err != nil {
		return fmt.Errorf("compute qemu: attach to %s: %w", id, err)
	}
	name := diskName(dev, false)
	spec := &in.rec.Spec
	if held, ok := host.VolumeAt(*spec, dev.Device); ok {
		if held.Path == dev.Path {
			return nil
		}
		return d.invalidState("attach a volume to", id, name+" is taken")
	}
	if host.IsRootDevice(*spec, dev.Device) {
		if in.rec.State == stateRunning {
			return d.invalidState("attach a root volume to", id, "it is running")
		}
		spec.Root = dev
		return d.save(in)
	}
	if in.rec.State == stateRunning && in.run != nil {
		port, err := freePort(in)
		if err != nil {
			return d.invalidState("attach a volume to", id, err.Error())
		}
		ctx, cancel := context.WithTimeout(ctx, unplugTimeout)
		defer cancel()
		if err := d.hotPlug(ctx, in, name, port, dev); err != nil {
			return fmt.Errorf("compute qemu: attach %s to %s: %w", name, id, err)
		}
		in.rec.Ports[name] = port
	}
	in.rec.Spec.Devices = append(in.rec.Spec.Devices, dev)
	return d.save(in)
}

// hotPlug gives the running machine a disk for the volume on a free root port; a
// failure leaves nothing behind.
func (d *Driver) hotPlug(ctx context.Context, in *instance, name string, port int, dev cloud.BlockDevice) (err error) {
	defer func() {
		if err == nil {
			return
		}
		if cerr := closeVolume(context.WithoutCancel(ctx), in.id, name, dev); cerr != nil {
			d.opts.Log.Error("compute qemu: undoing a failed attach", "instance", in.id, "err", cerr)
		}
	}()
	path, hostDevice, err := openVolume(ctx, in.id, name, dev)
	if err != nil {
		return err
	}
	node := vmm.NodeName(diskID(name))
	if err := in.run.qmp.BlockdevAdd(ctx, vmm.RawFile{NodeName: node, Filename: path, HostDevice: hostDevice, ReadOnly: dev.ReadOnly, Discard: true}); err != nil {
		return err
	}
	if err := in.run.qmp.DeviceAdd(ctx, vmm.VirtioBlk{ID: diskID(name), Drive: node, Serial: name, Bus: vmm.Port(port)}); err != nil {
		_ = in.run.qmp.BlockdevDel(ctx, node)
		return err
	}
	return nil
}

// DetachVolume detaches the volume at a device name: unplugged from a running machine
// (the guest sees it go), dropped from a stopped one's. A name with no volume is a
// no-op; the root volume of a running machine stays.
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
		return nil
	case v.Index < 0:
		if in.rec.State == stateRunning {
			return d.invalidState("detach the root volume of", id, "it is running")
		}
		spec.Root.Path = ""
		return d.save(in)
	}
	name := strings.TrimPrefix(v.Guest, "/dev/")
	if in.rec.State == stateRunning && in.run != nil {
		ctx, cancel := context.WithTimeout(ctx, unplugTimeout)
		defer cancel()
		if err := in.run.qmp.DeviceDel(ctx, diskID(name)); err != nil && !vmm.IsErrorClass(err, vmm.ClassDeviceNotFound) {
			return fmt.Errorf("compute qemu: detach %s from %s: %w", name, id, err)
		}
		if err := in.run.qmp.BlockdevDel(ctx, vmm.NodeName(diskID(name))); err != nil && !vmm.IsErrorClass(err, vmm.ClassDeviceNotFound) {
			return fmt.Errorf("compute qemu: detach %s from %s: %w", name, id, err)
		}
		delete(in.rec.Ports, name)
	}
	if err := closeVolume(ctx, id, name, v.BlockDevice); err != nil {
		return fmt.Errorf("compute qemu: detach %s from %s: %w", name, id, err)
	}
	spec.Devices = slices.Delete(spec.Devices, v.Index, v.Index+1)
	return d.save(in)
}

// AttachInterface attaches a network interface: a tap in its subnet's router, hot-
// plugged as a virtio-net device into a running machine. The same interface again is a
// no-op; another at a used device index is refused.
func (d *Driver) AttachInterface(ctx context.Context, id string, nic cloud.InterfaceSpec) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	for _, have := range in.rec.Spec.Interfaces {
		switch {
		case have.ID == nic.ID:
			return nil
		case have.DeviceIndex == nic.DeviceIndex:
			return d.invalidState("attach an interface to", id, fmt.Sprintf("device index %d is %s's", nic.DeviceIndex, have.ID))
		}
	}
	if in.rec.State == stateRunning && in.run != nil && d.net != nil {
		port, err := freePort(in)
		if err != nil {
			return d.invalidState("attach an interface to", id, err.Error())
		}
		tap, err := d.net.PlugTap(ctx, nic)
		if err != nil {
			return fmt.Errorf("compute qemu: attach %s to %s: %w", nic.ID, id, err)
		}
		defer tap.Close()
		fdName := "tap-" + nic.ID
		if err := in.run.qmp.SendFD(ctx, fdName, tap); err != nil {
			return fmt.Errorf("compute qemu: attach %s to %s: %w", nic.ID, id, err)
		}
		if err := in.run.qmp.NICAdd(ctx, vmm.TapNIC{ID: nic.ID, FDName: fdName, MAC: nic.MAC, Bus: vmm.Port(port)}); err != nil {
			return fmt.Errorf("compute qemu: attach %s to %s: %w", nic.ID, id, err)
		}
		in.rec.Ports[nic.ID] = port
	}
	in.rec.Spec.Interfaces = append(in.rec.Spec.Interfaces, nic)
	return d.save(in)
}

// DetachInterface detaches a network interface (never the primary one): unplugged from
// a running machine and taken out of its subnet. One that is not attached is a no-op.
func (d *Driver) DetachInterface(ctx context.Context, id, interfaceID string) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	i := slices.IndexFunc(in.rec.Spec.Interfaces, func(n cloud.InterfaceSpec) bool { return n.ID == interfaceID })
	if i < 0 {
		return nil
	}
	nic := in.rec.Spec.Interfaces[i]
	if nic.DeviceIndex == 0 {
		return d.invalidState("detach an interface from", id, "device index 0 is the primary interface")
	}
	if in.rec.State == stateRunning && in.run != nil {
		ctx, cancel := context.WithTimeout(ctx, unplugTimeout)
		defer cancel()
		if err := in.run.qmp.NICDel(ctx, nic.ID); err != nil {
			return fmt.Errorf("compute qemu: detach %s from %s: %w", nic.ID, id, err)
		}
		delete(in.rec.Ports, nic.ID)
	}
	if d.net != nil {
		if err := d.net.UnplugInterface(ctx, nic.VpcID, nic.ID); err != nil {
			return fmt.Errorf("compute qemu: detach %s from %s: %w", nic.ID, id, err)
		}
	}
	in.rec.Spec.Interfaces = slices.Delete(in.rec.Spec.Interfaces, i, i+1)
	return d.save(in)
}
