package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"strato/internal/compute/host"
)

// The exit reasons the guest init writes to /.strato/run/exit-reason.
const (
	reasonPoweroff = "poweroff"
	reasonReboot   = "reboot"
)

// The signals busybox's init (and strato's guest init) take for a shutdown.
const (
	signalPoweroff = unix.SIGUSR2
	signalReboot   = unix.SIGTERM
)

// killTimeout bounds the wait for a killed init: the kernel ends every process
// of its PID namespace first.
const killTimeout = 30 * time.Second

// askInterval is how often a stop or reboot signal is repeated.
const askInterval = 250 * time.Millisecond

// Console sizes: ConsoleOutput returns the last maxConsole bytes at most, and a
// longer console is cut to its last keptConsole bytes when the instance boots
// (never while a guest writes to it).
const (
	maxConsole  = 1 << 20
	keptConsole = 256 << 10
)

// Start boots a created or stopped instance.
func (d *Driver) Start(ctx context.Context, id string) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.rec.State == stateRunning {
		return nil
	}
	if in.rec.Spec.Root.Path == "" {
		return d.invalidState("start", id, "it has no root volume")
	}
	if err := d.boot(ctx, in); err != nil {
		if rerr := d.release(context.WithoutCancel(ctx), in, false); rerr != nil {
			d.opts.Log.Error("compute container: undoing a failed start", "instance", id, "err", rerr)
		}
		return fmt.Errorf("compute container: start %s: %w", id, err)
	}
	in.rec.State, in.rec.ShutdownFromGuest, in.rec.Impaired, in.rec.Stopping = stateRunning, false, false, false
	return d.save(in)
}

// Stop shuts the instance down: the guest is asked (busybox's poweroff signal)
// and given StopTimeout, then killed; force kills it at once. Its devices are
// released and its instance-store volumes emptied.
func (d *Driver) Stop(ctx context.Context, id string, force bool) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	switch in.rec.State {
	case stateStopped:
		return nil
	case stateCreated: // never booted: nothing to shut down
		in.rec.State = stateStopped
		return d.save(in)
	}
	in.rec.Stopping = true
	if err := d.save(in); err != nil {
		return err
	}
	ask := signalPoweroff
	if force {
		ask = 0
	}
	if err := d.stopInit(in, ask); err != nil {
		return fmt.Errorf("compute container: stop %s: %w", id, err)
	}
	if err := d.release(ctx, in, true); err != nil {
		return fmt.Errorf("compute container: stop %s: %w", id, err)
	}
	in.rec.State, in.rec.Stopping, in.rec.ShutdownFromGuest, in.rec.Impaired = stateStopped, false, false, false
	return d.save(in)
}

// Reboot restarts the guest with everything kept, instance storage included:
// the guest is asked (busybox's reboot signal), then a new container starts on
// the same mounts and devices.
func (d *Driver) Reboot(ctx context.Context, id string) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.rec.State != stateRunning {
		return d.invalidState("reboot", id, "it is "+in.rec.State)
	}
	// Should strato stop half-way, the next one sees a reboot and finishes it.
	if err := writeExitReason(in, reasonReboot); err != nil {
		return err
	}
	if err := d.stopInit(in, signalReboot); err != nil {
		return fmt.Errorf("compute container: reboot %s: %w", id, err)
	}
	err = d.restart(ctx, in)
	return errors.Join(err, d.save(in))
}

// restart boots the instance again after its container ended for a reboot; an
// instance that cannot boot is left stopped and impaired.
func (d *Driver) restart(ctx context.Context, in *instance) error {
	err := d.runc.delete(ctx, in.id)
	if err == nil {
		err = d.boot(ctx, in)
	}
	if err == nil {
		in.rec.State, in.rec.ShutdownFromGuest, in.rec.Impaired = stateRunning, false, false
		return nil
	}
	if rerr := d.release(context.WithoutCancel(ctx), in, true); rerr != nil {
		d.opts.Log.Error("compute container: releasing an instance that did not reboot", "instance", in.id, "err", rerr)
	}
	in.rec.State, in.rec.Impaired = stateStopped, true
	return fmt.Errorf("compute container: restarting %s after a reboot: %w", in.id, err)
}

// boot makes everything the instance runs on — its volumes' devices, its
// mounted root, its network — and starts its container. Each step keeps what
// exists, so boot also finishes an interrupted one and serves reboots.
func (d *Driver) boot(ctx context.Context, in *instance) error {
	spec := in.rec.Spec
	root, err := openDisk(ctx, in.id, host.RootGuestName(spec.Root.Device), spec.Root)
	if err != nil {
		return fmt.Errorf("root volume: %w", err)
	}
	disks := []hostDisk{root}
	for _, b := range spec.Devices {
		h, err := openDisk(ctx, in.id, host.GuestName(b.Device), b)
		if err != nil {
			return fmt.Errorf("volume at %s: %w", b.Device, err)
		}
		disks = append(disks, h)
	}
	sysDir := filepath.Join(in.dir, sysDirName)
	if err := resetSysView(sysDir); err != nil {
		return err
	}
	var nodes []deviceNode
	for _, h := range disks {
		n, err := h.nodes()
		if err != nil {
			return err
		}
		if err := addToSysView(sysDir, n); err != nil {
			return err
		}
		nodes = append(nodes, n...)
	}
	dev, fsType, err := rootFileSystem(root)
	if err != nil {
		return err
	}
	if err := mountRoot(dev, fsType, filepath.Join(in.dir, rootfsDirName)); err != nil {
		return err
	}
	netns, err := d.plugNetwork(ctx, in)
	if err != nil {
		return err
	}
	resolv, err := d.prepareResolvConf(ctx, in)
	if err != nil {
		return err
	}
	b := bundle{spec: spec, nodes: nodes, netns: netns, resolv: resolv, guestInit: d.guestInit, caps: d.caps,
		runDir: filepath.Join(in.dir, runDirName), sysDir: sysDir, diskGID: guestDiskGroup(filepath.Join(in.dir, rootfsDirName))}
	if err := b.write(in.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(b.runDir, 0o700); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(b.runDir, exitReasonFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	console, err := openConsole(filepath.Join(in.dir, consoleFileName))
	if err != nil {
		return err
	}
	defer console.Close()
	if err := d.runc.delete(ctx, in.id); err != nil { // one a crash left
		return err
	}
	pid, err := d.runc.run(ctx, in.id, in.dir, console)
	if err != nil {
		return err
	}
	proc, alive := host.Identify(pid)
	if !alive {
		return fmt.Errorf("the instance's init (%s) ended at once: see its console", guestHelper)
	}
	pidfd, alive, err := proc.Open()
	if err != nil || !alive {
		return errors.Join(err, fmt.Errorf("the instance's init (%s) ended at once: see its console", guestHelper))
	}
	in.rec.Init = proc
	in.boot++
	d.watch(in.id, in.boot, pidfd)
	return nil
}

// release undoes boot: the container, the root mount, the volumes' devices;
// empty also empties the instance-store volumes (a stop, not a reboot). What is
// gone already is skipped, so it also cleans up after an interrupted boot.
func (d *Driver) release(ctx context.Context, in *instance, empty bool) error {
	spec := in.rec.Spec
	errs := []error{d.runc.delete(ctx, in.id), unmountAll(filepath.Join(in.dir, rootfsDirName))}
	if spec.Root.Path != "" {
		errs = append(errs, host.CloseDisk(ctx, in.id, host.RootGuestName(spec.Root.Device), spec.Root))
	}
	for _, b := range spec.Devices {
		errs = append(errs, host.CloseDisk(ctx, in.id, host.GuestName(b.Device), b))
		if empty && b.Ephemeral {
			errs = append(errs, host.MakeSparse(b.Path, b.Size))
		}
	}
	in.rec.Init = host.Process{}
	return errors.Join(errs...)
}

// stopInit ends the container's init: asked with the signal ask (none: killed
// at once), then killed after StopTimeout. Its watcher is made stale first, so
// the exit is not taken for the guest's own.
func (d *Driver) stopInit(in *instance, ask unix.Signal) error {
	in.boot++
	pidfd, alive, err := in.rec.Init.Open()
	if err != nil || !alive {
		return err
	}
	defer unix.Close(pidfd)
	if ask != 0 {
		if d.ask(pidfd, ask) {
			return nil
		}
		d.opts.Log.Info("compute container: the guest did not stop in time; killing it", "instance", in.id, "timeout", d.opts.StopTimeout)
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing the instance's init: %w", err)
	}
	if !host.WaitExit(pidfd, killTimeout) {
		return fmt.Errorf("the instance's init (PID %d) did not end %v after SIGKILL", in.rec.Init.PID, killTimeout)
	}
	return nil
}

// ask signals the init until it exits or StopTimeout passes, and tells whether
// it exited. The signal is repeated: an init that has only just started may not
// handle it yet, and the kernel drops signals a PID namespace's init does not
// handle.
func (d *Driver) ask(pidfd int, sig unix.Signal) bool {
	deadline := time.Now().Add(d.opts.StopTimeout)
	for {
		if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
			return errors.Is(err, unix.ESRCH)
		}
		if host.WaitExit(pidfd, min(askInterval, time.Until(deadline))) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// exited is called by the watcher of one boot when the container's init ends.
func (d *Driver) exited(id string, boot uint64) {
	in, ok := d.table.Get(id)
	if !ok {
		return
	}
	in.Lock()
	defer in.Unlock()
	if in.Gone() || in.boot != boot || in.rec.State != stateRunning {
		return // the driver ended it itself, or it was destroyed
	}
	d.ended(context.Background(), in)
}

// ended acts on the end of a running instance's container that the driver did
// not finish itself: a reboot from inside restarts it, a poweroff stops it (the
// control plane applies InstanceInitiatedShutdownBehavior), anything else is a
// crash: stopped and impaired.
func (d *Driver) ended(ctx context.Context, in *instance) {
	reason := readExitReason(in)
	switch {
	case in.rec.Stopping:
		// A stop that strato did not see through (it restarted meanwhile).
		d.stopped(ctx, in)
	case reason == reasonReboot:
		d.opts.Log.Info("compute container: the guest rebooted", "instance", in.id)
		if err := d.restart(ctx, in); err != nil {
			d.opts.Log.Error("compute container: the instance did not come back from its reboot", "instance", in.id, "err", err)
		}
	case reason == reasonPoweroff:
		d.opts.Log.Info("compute container: the guest powered off", "instance", in.id)
		d.stopped(ctx, in)
		in.rec.ShutdownFromGuest = true
	default:
		d.opts.Log.Warn("compute container: the instance's init ended unexpectedly", "instance", in.id)
		d.stopped(ctx, in)
		in.rec.Impaired = true
	}
	if err := d.save(in); err != nil {
		d.opts.Log.Error("compute container: recording an instance's end", "instance", in.id, "err", err)
	}
}

// stopped releases an instance whose container ended, and marks it stopped.
func (d *Driver) stopped(ctx context.Context, in *instance) {
	if err := d.release(ctx, in, true); err != nil {
		d.opts.Log.Error("compute container: releasing a stopped instance", "instance", in.id, "err", err)
	}
	in.rec.State, in.rec.Stopping, in.rec.ShutdownFromGuest, in.rec.Impaired = stateStopped, false, false, false
}

// adopt takes over an instance an earlier process left (its mu held): a
// running container is watched again, one that ended meanwhile is acted on as
// if it had just ended, and what an interrupted start left is cleaned up.
func (d *Driver) adopt(in *instance) {
	ctx := context.Background()
	if in.rec.State == stateRunning {
		pidfd, alive, err := in.rec.Init.Open()
		if err != nil {
			d.opts.Log.Error("compute container: adopting an instance", "instance", in.id, "err", err)
		}
		if alive {
			in.boot++
			d.watch(in.id, in.boot, pidfd)
			return
		}
		d.ended(ctx, in)
		return
	}
	if isMountPoint(filepath.Join(in.dir, rootfsDirName)) {
		if err := d.release(ctx, in, false); err != nil {
			d.opts.Log.Error("compute container: cleaning up after an interrupted start", "instance", in.id, "err", err)
		}
	}
}

func readExitReason(in *instance) string {
	raw, _ := os.ReadFile(filepath.Join(in.dir, runDirName, exitReasonFile))
	return strings.TrimSpace(string(raw))
}

func writeExitReason(in *instance, reason string) error {
	return os.WriteFile(filepath.Join(in.dir, runDirName, exitReasonFile), []byte(reason+"\n"), 0o600)
}

// openConsole opens the console log for a new container to append to, first
// cutting it to its end when it has grown long.
func openConsole(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > maxConsole {
		if err := keepTail(path, keptConsole); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

func keepTail(path string, n int64) error {
	tail, err := host.ReadTail(path, n)
	if err != nil {
		return err
	}
	return os.WriteFile(path, tail, 0o600)
}
