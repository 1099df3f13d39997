// Package qemu is the compute driver that runs each instance as a virtual machine
// with QEMU: its own kernel, its EBS and instance-store volumes as virtio-blk disks
// that hot-plug, its network interfaces as virtio-net devices over taps in the VPC's
// router (vpcnet.PlugTap: the same groups, ACLs, routes and metadata service as
// containers; the guest takes its address by DHCP), its serial console appended to
// a file for GetConsoleOutput. KVM where it really runs guests, TCG elsewhere
// (qemu.DetectAccel).
//
// QEMU daemonizes itself, so no process of strato is its parent: the driver watches
// each QEMU through a pidfd and its monitor (QMP), and keeps what it knows of an
// instance in DIR/ID/state.json, so that a new strato adopts the machines the
// previous one left running. QEMU runs with -no-shutdown: a guest that powers off
// leaves QEMU paused in "shutdown", which the driver (or the next one, after a
// restart) tells from a crash.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/host"
	vmm "strato/internal/qemu"
)

// Name is the driver's name, as `--driver` spells it.
const Name = "qemu"

func init() {
	compute.Register(Name, func(o compute.Options) (cloud.Compute, error) { return Open(o) })
}

// Binary is the QEMU system emulator the driver runs.
const Binary = "qemu-system-x86_64"

// Driver is the qemu driver. Beyond cloud.Compute it has Close (its watchers stop;
// the machines keep running) and the test hooks of conformance.GuestEvents.
type Driver struct {
	opts  compute.Options
	dir   string
	bin   string
	accel vmm.AccelResult
	net   compute.TapNetwork // nil: machines get no network devices
	table *host.Table[*instance]

	mu       sync.Mutex // guards closed and each instance's run
	closed   bool
	watchers sync.WaitGroup
}

// instance is one instance. Operations hold its lock (host.Slot) for as long as they
// take; Status reads the status it published instead, so it never waits for them.
type instance struct {
	host.Slot
	id  string
	dir string
	rec record
	run *machine // the running QEMU, while the driver watches one (guarded by Driver.mu too)
}

var _ cloud.Compute = (*Driver)(nil)

// Available tells whether this host can run the driver's machines: root (taps in the
// VPC routers), QEMU installed, a kernel to boot strato's images with.
func Available(opts compute.Options) error {
	if os.Geteuid() != 0 {
		return errors.New("compute qemu: strato must run as root to run virtual machines")
	}
	if _, err := exec.LookPath(Binary); err != nil {
		return fmt.Errorf("compute qemu: %s is not installed (Debian: apt-get install qemu-system-x86): %w", Binary, err)
	}
	if opts.VMBoot.Kernel == "" {
		return errors.New("compute qemu: no kernel to boot strato's images with (strato image build makes one)")
	}
	return nil
}

// Open opens the driver on opts.Dir("qemu"), adopting the machines an earlier process
// left.
func Open(opts compute.Options) (*Driver, error) {
	opts = opts.WithDefaults()
	dir := opts.Dir(Name)
	if dir == "" {
		return nil, errors.New("compute qemu: a data directory is needed")
	}
	if err := Available(opts); err != nil {
		return nil, err
	}
	bin, _ := exec.LookPath(Binary)
	accel, err := vmm.DetectAccel(context.Background())
	if err != nil {
		return nil, fmt.Errorf("compute qemu: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("compute qemu: %w", err)
	}
	d := &Driver{opts: opts, dir: dir, bin: bin, accel: accel, table: host.NewTable[*instance]("compute qemu")}
	if tn, ok := opts.Network.(compute.TapNetwork); ok {
		d.net = tn
	}
	records, err := loadRecords(dir)
	if err != nil {
		return nil, err
	}
	for id, rec := range records {
		d.table.Adopt(id, &instance{id: id, dir: filepath.Join(dir, id), rec: rec}, rec.Runtime())
	}
	// Every instance is in the table before the first watcher starts.
	for _, in := range d.table.All() {
		in.Lock()
		d.adopt(in)
		in.Unlock()
	}
	opts.Log.Info("compute qemu: ready", "accelerator", accel.String(), "adopted", len(records), "dir", dir)
	return d, nil
}

// Accelerator says which accelerator the driver's machines use, and why.
func (d *Driver) Accelerator() vmm.AccelResult { return d.accel }

// Close stops watching the machines, which keep running for the next driver opened
// on the same directory to adopt.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	var runs []*machine
	for _, in := range d.table.All() {
		if in.run != nil {
			runs = append(runs, in.run)
		}
	}
	d.mu.Unlock()
	for _, m := range runs {
		m.close()
	}
	d.watchers.Wait()
	return nil
}

func (d *Driver) Name() string { return Name }

// Create makes the instance's directory and record and, for an instance-store root,
// its copy of the image; nothing runs yet.
func (d *Driver) Create(ctx context.Context, spec cloud.InstanceSpec) error {
	if err := d.table.CheckCreate(ctx, spec, host.CheckVolume); err != nil {
		return err
	}
	in, added := d.table.Add(spec.ID, &instance{id: spec.ID, dir: filepath.Join(d.dir, spec.ID)})
	if !added {
		return nil // made already: creating again is a no-op
	}
	defer in.Unlock()
	err := func() error {
		if err := os.MkdirAll(in.dir, 0o700); err != nil {
			return err
		}
		spec = host.CloneSpec(spec)
		if spec.RootType == "instance-store" {
			// The image's disk stays as it is; the instance gets a copy of its own.
			copyPath := filepath.Join(in.dir, rootCopyName)
			if err := host.CopySparse(spec.Root.Path, copyPath); err != nil {
				return err
			}
			spec.Root.Path = copyPath
		}
		in.rec = record{Record: host.Record{Version: stateVersion, Spec: spec, State: stateCreated}}
		return d.save(in)
	}()
	if err != nil {
		d.table.Forget(in.id, in)
		os.RemoveAll(in.dir)
		return fmt.Errorf("compute qemu: create %s: %w", spec.ID, err)
	}
	return nil
}

// Destroy ends the machine if it runs, takes its interfaces out of their subnets and
// removes its directory (its instance-store volumes with it). Destroying what is gone
// is a no-op.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	in, err := d.table.Lock(ctx, id)
	if errors.Is(err, compute.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.rec.State == stateRunning {
		if err := d.halt(ctx, in, true); err != nil {
			return fmt.Errorf("compute qemu: destroy %s: %w", id, err)
		}
	}
	errs := []error{d.closeVolumes(ctx, in)}
	if d.net != nil {
		for _, nic := range in.rec.Spec.Interfaces {
			errs = append(errs, d.net.UnplugInterface(ctx, nic.VpcID, nic.ID))
		}
	}
	for _, b := range in.rec.Spec.Devices {
		if b.Ephemeral {
			errs = append(errs, removeIfThere(b.Path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("compute qemu: destroy %s: %w", id, err)
	}
	// The record goes last, so that an interrupted removal is found and redone.
	if err := host.RemoveInstanceDir(in.dir); err != nil {
		return fmt.Errorf("compute qemu: destroy %s: %w", id, err)
	}
	d.table.Forget(in.id, in)
	return nil
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Status reports the instance; an unknown one is "gone" with ErrNotFound.
func (d *Driver) Status(ctx context.Context, id string) (cloud.InstanceRuntime, error) {
	return d.table.Status(ctx, id)
}

// ConsoleOutput is what the guest wrote to its serial console, across its boots.
func (d *Driver) ConsoleOutput(ctx context.Context, id string) ([]byte, error) {
	return d.table.Console(ctx, id, func(in *instance) string { return filepath.Join(in.dir, consoleFileName) }, maxConsole)
}

// maxConsole is how much of the console ConsoleOutput returns at most (EC2 gives the
// last 64 KiB; GetConsoleOutput cuts further).
const maxConsole = 1 << 20

func (d *Driver) invalidState(op, id, why string) error { return d.table.InvalidState(op, id, why) }
