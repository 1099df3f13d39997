// Package container is the compute driver that runs each instance as a system
// container with runc: its own PID, mount, UTS, IPC and network namespaces, the
// CPU, memory and process limits of its type in cgroups, its root volume (a
// loop device, through dm-crypt when encrypted) as its root file system, and
// every volume a block device at the name its mapping asked for. PID 1 inside
// is strato itself (`strato guest-init`), bind-mounted read-only at
// /.strato/strato; it tells the driver why it ended in /.strato/run/exit-reason
// ("poweroff" or "reboot").
//
// No process of strato is a container's parent: the driver watches each
// container's init through a pidfd, and keeps what it knows of an instance in
// DIR/ID/state.json, so that a new strato adopts the containers the previous
// one left running and reports those that ended meanwhile.
//
// It needs root, runc (crun refuses these hosts' hybrid cgroups), cgroup v1's
// devices controller for hot-plugging volumes, and for encrypted volumes the
// kernel's device-mapper with dmsetup.
package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"strato/internal/cloud"
	"strato/internal/compute"

	"strato/internal/compute/host"
)

// Name is the driver's name, as `--driver` spells it.
const Name = "container"

func init() {
	compute.Register(Name, func(o compute.Options) (cloud.Compute, error) { return Open(o) })
}

// Driver is the container driver. Beyond cloud.Compute it has Close (its
// watchers stop; the containers keep running) and the test hooks of
// conformance.GuestEvents.
type Driver struct {
	opts      compute.Options
	dir       string
	runc      runc
	guestInit string
	caps      []string // what the instances' root may do
	watchers  sync.WaitGroup

	table *host.Table[*instance]

	mu       sync.Mutex
	watching map[*os.File]struct{} // the watchers' pidfds, closed by Close
	closed   bool
}

// instance is one instance. Operations hold its lock (host.Slot) for as long as
// they take (a graceful stop waits for the guest); Status reads the status it
// published instead, so it never waits for them.
type instance struct {
	host.Slot
	id   string
	dir  string
	rec  record
	boot uint64 // counts containers started: a watcher of an earlier one is stale
}

var _ cloud.Compute = (*Driver)(nil)

// Open opens the driver on opts.Dir("container"), adopting the instances an
// earlier process left: running containers are watched again, and those that
// ended meanwhile are reported as their guest left them.
func Open(opts compute.Options) (*Driver, error) {
	opts = opts.WithDefaults()
	dir := opts.Dir(Name)
	if dir == "" {
		return nil, errors.New("compute container: a data directory is needed")
	}
	if err := Available(); err != nil {
		return nil, err
	}
	guestInit := opts.GuestInit
	if guestInit == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("compute container: finding strato's executable for the guest: %w", err)
		}
		guestInit = exe
	}
	if _, err := os.Stat(guestInit); err != nil {
		return nil, fmt.Errorf("compute container: the guest init helper: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("compute container: %w", err)
	}
	d := &Driver{opts: opts, dir: dir, runc: runc{root: filepath.Join(dir, "runc")}, guestInit: guestInit,
		caps: guestCapabilities(), table: host.NewTable[*instance]("compute container"), watching: map[*os.File]struct{}{}}
	records, err := loadRecords(dir)
	if err != nil {
		d.Close()
		return nil, err
	}
	for id, rec := range records {
		d.table.Adopt(id, &instance{id: id, dir: filepath.Join(dir, id), rec: rec}, rec.Runtime())
	}
	// Every instance is in the map before the first watcher starts.
	for _, in := range d.table.All() {
		in.Lock()
		d.adopt(in)
		in.Unlock()
	}
	opts.Log.Info("compute container: adopted instances", "count", len(records), "dir", dir)
	return d, nil
}

// Available tells whether this host can run the driver's instances: root,
// runc and loop devices (for `--driver auto`, which falls back to mock).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("compute container: strato must run as root to run containers")
	}
	if err := runcAvailable(); err != nil {
		return fmt.Errorf("compute container: %w", err)
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("compute container: volumes are loop devices, and this host has none: %w", err)
	}
	return nil
}

// Close stops watching the containers, which keep running for the next driver
// opened on the same directory to adopt.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	for f := range d.watching {
		f.Close() // ends the watcher's wait
	}
	d.mu.Unlock()
	d.watchers.Wait()
	return nil
}

func (d *Driver) Name() string { return Name }

// Create makes the instance's directory and record and, for an instance-store
// root, its copy of the image; nothing runs yet.
func (d *Driver) Create(ctx context.Context, spec cloud.InstanceSpec) error {
	if err := d.table.CheckCreate(ctx, spec, host.CheckVolume); err != nil {
		return err
	}
	in, added := d.table.Add(spec.ID, &instance{id: spec.ID, dir: filepath.Join(d.dir, spec.ID)})
	if !added {
		return nil // made already: creating again is a no-op
	}
	defer in.Unlock()
	if err := d.create(in, spec); err != nil {
		d.table.Forget(in.id, in)
		if rerr := removeInstanceDir(in.dir); rerr != nil {
			d.opts.Log.Error("compute container: removing a failed instance", "instance", in.id, "err", rerr)
		}
		return fmt.Errorf("compute container: create %s: %w", spec.ID, err)
	}
	return nil
}

func (d *Driver) create(in *instance, spec cloud.InstanceSpec) error {
	if err := os.MkdirAll(filepath.Join(in.dir, runDirName), 0o700); err != nil {
		return err
	}
	spec = host.CloneSpec(spec)
	if spec.RootType == "instance-store" {
		// The image's disk stays as it is; the instance gets a copy of its own,
		// which goes with it.
		copyPath := filepath.Join(in.dir, rootCopyName)
		if err := host.CopySparse(spec.Root.Path, copyPath); err != nil {
			return err
		}
		spec.Root.Path = copyPath
	}
	console, err := os.OpenFile(filepath.Join(in.dir, consoleFileName), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	console.Close()
	in.rec = record{Record: host.Record{Version: stateVersion, Spec: spec, State: stateCreated}}
	return d.save(in)
}

// Destroy removes the container, its mounts and devices, its instance-store
// volumes, its network namespace and its directory. The EBS volumes' files are
// the control plane's and stay.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := d.table.Lock(ctx, id)
	if errors.Is(err, compute.ErrNotFound) {
		if !host.IsInstanceID(id) {
			return nil
		}
		// A Create interrupted before its record was written.
		return removeInstanceDir(filepath.Join(d.dir, id))
	}
	if err != nil {
		return err
	}
	defer in.Unlock()
	errs := []error{d.stopInit(in, 0)}
	errs = append(errs, d.release(ctx, in, false))
	for _, b := range in.rec.Spec.Devices {
		if b.Ephemeral {
			if err := os.Remove(b.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, d.removeNetwork(ctx, in))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("compute container: destroy %s: %w", id, err)
	}
	if err := removeInstanceDir(in.dir); err != nil {
		return fmt.Errorf("compute container: destroy %s: %w", id, err)
	}
	d.table.Forget(in.id, in)
	return nil
}

// Status reports the instance; an unknown one is "gone" with ErrNotFound.
func (d *Driver) Status(ctx context.Context, id string) (cloud.InstanceRuntime, error) {
	return d.table.Status(ctx, id)
}

// ConsoleOutput is what the guest wrote to its stdout and stderr, across its
// boots.
func (d *Driver) ConsoleOutput(ctx context.Context, id string) ([]byte, error) {
	return d.table.Console(ctx, id, func(in *instance) string { return filepath.Join(in.dir, consoleFileName) }, maxConsole)
}

func (d *Driver) invalidState(op, id, why string) error { return d.table.InvalidState(op, id, why) }
