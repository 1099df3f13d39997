package container

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"strato/internal/cloud"
	"strato/internal/compute"
)

// AttachInterface attaches a network interface: plugged into a running
// instance at once, and into a stopped one when it starts. Without a Network
// in the driver's options it is only recorded.
func (d *Driver) AttachInterface(ctx context.Context, id string, nic cloud.InterfaceSpec) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	for _, have := range in.rec.Spec.Interfaces {
		switch {
		case have.ID == nic.ID:
			return nil // the same interface again: a no-op
		case have.DeviceIndex == nic.DeviceIndex:
			return fmt.Errorf("compute container: attach %s to %s: %w: device index %d holds %s",
				nic.ID, id, compute.ErrInvalidState, nic.DeviceIndex, have.ID)
		}
	}
	if in.rec.State == stateRunning && d.opts.Network != nil {
		netns, err := d.opts.Network.InstanceNetns(ctx, id)
		if err == nil {
			err = d.opts.Network.PlugInterface(ctx, netns, nic)
		}
		if err != nil {
			return fmt.Errorf("compute container: attach %s to %s: %w", nic.ID, id, err)
		}
	}
	in.rec.Spec.Interfaces = append(in.rec.Spec.Interfaces, nic)
	return d.save(in)
}

// DetachInterface detaches a network interface other than the primary; one not
// attached is a no-op.
func (d *Driver) DetachInterface(ctx context.Context, id, interfaceID string) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	nics := in.rec.Spec.Interfaces
	i := slices.IndexFunc(nics, func(n cloud.InterfaceSpec) bool { return n.ID == interfaceID })
	if i < 0 {
		return nil
	}
	if nics[i].DeviceIndex == 0 {
		return d.invalidState("detach", interfaceID, "the primary interface of "+id)
	}
	// Unplugged whatever the state: a stopped instance keeps its namespace,
	// and what was plugged in it.
	if d.opts.Network != nil {
		if err := d.opts.Network.UnplugInterface(ctx, nics[i].VpcID, nics[i].ID); err != nil {
			return fmt.Errorf("compute container: detach %s from %s: %w", interfaceID, id, err)
		}
	}
	in.rec.Spec.Interfaces = slices.Delete(nics, i, i+1)
	return d.save(in)
}

// plugNetwork makes the instance's network namespace and plugs its interfaces
// in, returning the namespace's path; "" (a new namespace with loopback only)
// without a Network.
func (d *Driver) plugNetwork(ctx context.Context, in *instance) (string, error) {
	if d.opts.Network == nil {
		return "", nil
	}
	netns, err := d.opts.Network.InstanceNetns(ctx, in.id)
	if err != nil {
		return "", fmt.Errorf("network namespace: %w", err)
	}
	for _, nic := range in.rec.Spec.Interfaces {
		if err := d.opts.Network.PlugInterface(ctx, netns, nic); err != nil {
			return "", fmt.Errorf("interface %s: %w", nic.ID, err)
		}
	}
	return netns, nil
}

// removeNetwork unplugs the instance's interfaces and removes its namespace.
func (d *Driver) removeNetwork(ctx context.Context, in *instance) error {
	if d.opts.Network == nil {
		return nil
	}
	var errs []error
	for _, nic := range in.rec.Spec.Interfaces {
		errs = append(errs, d.opts.Network.UnplugInterface(ctx, nic.VpcID, nic.ID))
	}
	errs = append(errs, d.opts.Network.RemoveInstanceNetns(ctx, in.id))
	return errors.Join(errs...)
}
