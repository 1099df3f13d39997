// Package mock is the compute driver that keeps state only: no process, no
// network, no disks touched. Transitions are immediate — the control plane times
// EC2's pending and stopping states from its own clock — so mock serves API
// emulation and the control plane's tests. It still behaves like a driver: it
// remembers instances in a small JSON file under DATA/compute/mock/ (so a new
// process adopts them), records attached devices, and keeps a console log.
package mock

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"strato/internal/cloud"
	"strato/internal/compute"
)

// Name is the driver's name, as `--driver` spells it.
const Name = "mock"

// The states InstanceRuntime reports.
const (
	StateCreated = "created"
	StateRunning = "running"
	StateStopped = "stopped"
	StateGone    = "gone"
)

func init() {
	compute.Register(Name, func(o compute.Options) (cloud.Compute, error) { return Open(o) })
}

// Driver is the mock driver. Its exported methods beyond cloud.Compute are test
// hooks that make the guest do what a real one may do on its own.
type Driver struct {
	opts compute.Options
	file string // "" when nothing is kept on disk

	mu        sync.Mutex
	instances map[string]*instance
}

// instance is what mock remembers about one instance (and writes to its file).
type instance struct {
	Spec              cloud.InstanceSpec
	State             string
	Attached          []cloud.BlockDevice // hot-plugged after Create
	ShutdownFromGuest bool
	Impaired          bool
	Console           []byte
}

var _ cloud.Compute = (*Driver)(nil)

// Open opens the mock driver, adopting the instances recorded under
// opts.Dir("mock") by an earlier process.
func Open(opts compute.Options) (*Driver, error) {
	d := &Driver{opts: opts.WithDefaults(), instances: map[string]*instance{}}
	if dir := d.opts.Dir(Name); dir != "" {
		d.file = stateFile(dir)
		if err := d.load(); err != nil {
			return nil, err
		}
		d.opts.Log.Info("compute mock: adopted instances", "count", len(d.instances))
	}
	return d, nil
}

func (d *Driver) Name() string { return Name }

func (d *Driver) Create(ctx context.Context, spec cloud.InstanceSpec) error {
	if spec.ID == "" {
		return fmt.Errorf("compute mock: create: %w: empty instance ID", compute.ErrInvalidState)
	}
	return d.change(ctx, spec.ID, true, func(in *instance) error {
		if in.State != "" {
			return nil // already made: creating again is a no-op
		}
		in.Spec = withoutKeys(spec)
		in.State = StateCreated
		return nil
	})
}

func (d *Driver) Start(ctx context.Context, id string) error {
	return d.change(ctx, id, false, func(in *instance) error {
		if in.State == StateRunning {
			return nil
		}
		in.State = StateRunning
		in.ShutdownFromGuest, in.Impaired = false, false
		d.boot(in)
		return nil
	})
}

func (d *Driver) Stop(ctx context.Context, id string, force bool) error {
	return d.change(ctx, id, false, func(in *instance) error {
		switch in.State {
		case StateStopped:
			return nil
		case StateCreated: // never booted: nothing to shut down
			in.State = StateStopped
			return nil
		}
		in.State = StateStopped
		if force {
			d.log(in, "reboot: Power down (forced stop, guest not asked)")
		} else {
			d.shutdown(in)
		}
		return nil
	})
}

func (d *Driver) Reboot(ctx context.Context, id string) error {
	return d.change(ctx, id, false, func(in *instance) error {
		if in.State != StateRunning {
			return fmt.Errorf("compute mock: reboot %s: %w: it is %s", id, compute.ErrInvalidState, in.State)
		}
		d.log(in, "systemd-shutdown[1]: Rebooting.")
		d.log(in, "reboot: Restarting system")
		d.boot(in)
		return nil
	})
}

func (d *Driver) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.instances[id]; !ok {
		return nil // already gone: destroying again is a no-op
	}
	delete(d.instances, id)
	return d.save()
}

func (d *Driver) AttachVolume(ctx context.Context, id string, dev cloud.BlockDevice) error {
	return d.change(ctx, id, false, func(in *instance) error {
		if held, ok := in.device(dev.Device); ok {
			if held.Path == dev.Path {
				return nil // the same volume again: a no-op
			}
			return fmt.Errorf("compute mock: attach %s at %s: %w: the device holds %s",
				id, dev.Device, compute.ErrInvalidState, held.Path)
		}
		in.Attached = append(in.Attached, withoutKey(dev))
		if in.State == StateRunning {
			d.log(in, fmt.Sprintf("blkfront: %s: attached (%s)", kernelName(dev.Device), sizeHint(dev)))
		}
		return nil
	})
}

func (d *Driver) DetachVolume(ctx context.Context, id, device string) error {
	return d.change(ctx, id, false, func(in *instance) error {
		if in.State == StateRunning && in.Spec.Root.Device == device {
			return fmt.Errorf("compute mock: detach %s from %s: %w: the root device of a running instance",
				device, id, compute.ErrInvalidState)
		}
		i := slices.IndexFunc(in.Attached, func(b cloud.BlockDevice) bool { return b.Device == device })
		if i < 0 {
			return nil // not attached: detaching again is a no-op
		}
		in.Attached = slices.Delete(in.Attached, i, i+1)
		if in.State == StateRunning {
			d.log(in, fmt.Sprintf("blkfront: %s: detached", kernelName(device)))
		}
		return nil
	})
}

// ResizeVolume records the size the volume at device has grown to (Devices shows
// it) and logs what a guest's kernel says of it. A stopped instance, or a device
// without a volume, is nothing to do.
func (d *Driver) ResizeVolume(ctx context.Context, id, device string, size int64) error {
	return d.change(ctx, id, false, func(in *instance) error {
		b := in.volume(device)
		if b == nil || in.State != StateRunning {
			return nil
		}
		b.Size = size
		d.log(in, fmt.Sprintf("blkfront: %s: capacity changed to %d bytes", kernelName(device), size))
		return nil
	})
}

func (d *Driver) AttachInterface(ctx context.Context, id string, nic cloud.InterfaceSpec) error {
	return d.change(ctx, id, false, func(in *instance) error {
		for _, have := range in.Spec.Interfaces {
			switch {
			case have.ID == nic.ID:
				return nil // the same interface again: a no-op
			case have.DeviceIndex == nic.DeviceIndex:
				return fmt.Errorf("compute mock: attach %s to %s: %w: device index %d holds %s",
					nic.ID, id, compute.ErrInvalidState, nic.DeviceIndex, have.ID)
			}
		}
		in.Spec.Interfaces = append(in.Spec.Interfaces, nic)
		if in.State == StateRunning {
			d.log(in, fmt.Sprintf("vif: eth%d (%s): link up", nic.DeviceIndex, nic.MAC))
		}
		return nil
	})
}

func (d *Driver) DetachInterface(ctx context.Context, id, interfaceID string) error {
	return d.change(ctx, id, false, func(in *instance) error {
		i := slices.IndexFunc(in.Spec.Interfaces, func(n cloud.InterfaceSpec) bool { return n.ID == interfaceID })
		if i < 0 {
			return nil // not attached: detaching again is a no-op
		}
		if in.Spec.Interfaces[i].DeviceIndex == 0 {
			return fmt.Errorf("compute mock: detach %s from %s: %w: the primary interface", interfaceID, id, compute.ErrInvalidState)
		}
		if in.State == StateRunning {
			d.log(in, fmt.Sprintf("vif: eth%d: removed", in.Spec.Interfaces[i].DeviceIndex))
		}
		in.Spec.Interfaces = slices.Delete(in.Spec.Interfaces, i, i+1)
		return nil
	})
}

// Status reports the instance. For an ID mock does not have, the runtime says
// "gone" and the error wraps compute.ErrNotFound, so a caller may look at either.
func (d *Driver) Status(ctx context.Context, id string) (cloud.InstanceRuntime, error) {
	if err := ctx.Err(); err != nil {
		return cloud.InstanceRuntime{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	in, ok := d.instances[id]
	if !ok {
		return cloud.InstanceRuntime{State: StateGone}, notFound(id)
	}
	return cloud.InstanceRuntime{State: in.State, ShutdownFromGuest: in.ShutdownFromGuest, Impaired: in.Impaired}, nil
}

func (d *Driver) ConsoleOutput(ctx context.Context, id string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	in, ok := d.instances[id]
	if !ok {
		return nil, notFound(id)
	}
	return slices.Clone(in.Console), nil
}

// Devices lists the block devices an instance has now: root, those given at
// Create, then the hot-plugged ones.
func (d *Driver) Devices(id string) ([]cloud.BlockDevice, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in, ok := d.instances[id]
	if !ok {
		return nil, notFound(id)
	}
	return in.devices(), nil
}

// PowerOffFromGuest is a test hook: the guest shut itself down (`poweroff` inside
// it). The instance becomes stopped with ShutdownFromGuest set until it starts.
func (d *Driver) PowerOffFromGuest(id string) error {
	return d.change(context.Background(), id, false, func(in *instance) error {
		if in.State != StateRunning {
			return fmt.Errorf("compute mock: guest poweroff %s: %w: it is %s", id, compute.ErrInvalidState, in.State)
		}
		d.shutdown(in)
		in.State, in.ShutdownFromGuest = StateStopped, true
		return nil
	})
}

// Crash is a test hook: the instance's process died. The instance becomes
// stopped with Impaired set until it starts.
func (d *Driver) Crash(id string) error {
	return d.change(context.Background(), id, false, func(in *instance) error {
		if in.State != StateRunning {
			return fmt.Errorf("compute mock: crash %s: %w: it is %s", id, compute.ErrInvalidState, in.State)
		}
		in.State, in.Impaired = StateStopped, true
		return nil
	})
}

// change runs edit on one instance under the lock and writes the state file when
// edit succeeds. create says a missing instance is made (empty State) rather
// than refused.
func (d *Driver) change(ctx context.Context, id string, create bool, edit func(*instance) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	in, ok := d.instances[id]
	if !ok {
		if !create {
			return notFound(id)
		}
		in = &instance{}
	}
	before := in.clone()
	if err := edit(in); err != nil {
		*in = before
		return err
	}
	d.instances[id] = in
	if err := d.save(); err != nil {
		*in = before
		if !ok {
			delete(d.instances, id)
		}
		return err
	}
	return nil
}

func (in *instance) devices() []cloud.BlockDevice {
	return slices.Concat([]cloud.BlockDevice{in.Spec.Root}, in.Spec.Devices, in.Attached)
}

func (in *instance) device(name string) (cloud.BlockDevice, bool) {
	if b := in.volume(name); b != nil {
		return *b, true
	}
	return cloud.BlockDevice{}, false
}

// volume is the block device at a device name, where the instance keeps it (nil:
// none).
func (in *instance) volume(name string) *cloud.BlockDevice {
	if in.Spec.Root.Device == name {
		return &in.Spec.Root
	}
	for _, list := range [][]cloud.BlockDevice{in.Spec.Devices, in.Attached} {
		if i := slices.IndexFunc(list, func(b cloud.BlockDevice) bool { return b.Device == name }); i >= 0 {
			return &list[i]
		}
	}
	return nil
}

func (in *instance) clone() instance {
	c := *in
	c.Spec.Devices = slices.Clone(in.Spec.Devices)
	c.Attached = slices.Clone(in.Attached)
	c.Console = slices.Clone(in.Console)
	return c
}

func notFound(id string) error {
	return fmt.Errorf("compute mock: instance %s: %w", id, compute.ErrNotFound)
}
