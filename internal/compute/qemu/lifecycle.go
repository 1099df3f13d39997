package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"strato/internal/cloud"
	"strato/internal/compute/host"
	vmm "strato/internal/qemu"
)

// powerButtonRepeat is how often a stop presses the power button again while the guest
// has not powered off.
const powerButtonRepeat = 3 * time.Second

// freePorts is how many root ports a machine keeps free for volumes and interfaces
// attached while it runs (ports cannot be added to a running machine).
const freePorts = 8

// kernelCmdline is what the driver puts on every kernel command line: the console on
// the serial port (GetConsoleOutput), the root file system by the label strato's
// images carry, interfaces named eth0, eth1 … as on EC2's Xen and Nitro
// instances, and a reboot at once after a panic (which the guest's init
// sees as a new boot).
const kernelCmdline = "console=ttyS0 root=LABEL=cloudimg-rootfs rw net.ifnames=0 panic=-1"

// machine is one running QEMU as the driver watches it.
type machine struct {
	proc   host.Process
	qmp    *vmm.QMP
	pidfd  *os.File
	events <-chan vmm.Event
	stop   func()
	// guestOff is set when the guest powered itself off (SHUTDOWN with guest true)
	// and no stop or reboot of the driver's asked for it.
	guestOff atomic.Bool
	// asked is set while the driver itself stops or reboots the machine.
	asked atomic.Bool
	once  sync.Once
}

// withPidfd runs fn with QEMU's pidfd (File.Fd would put it in blocking mode, under
// the watcher's poller).
func (m *machine) withPidfd(fn func(fd int)) {
	if raw, err := m.pidfd.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { fn(int(fd)) })
	}
}

// hasExited says whether QEMU has exited.
func (m *machine) hasExited() (exited bool) {
	m.withPidfd(func(fd int) { exited = host.HasExited(fd) })
	return exited
}

func (m *machine) close() {
	m.once.Do(func() {
		m.stop()
		m.qmp.Close()
		m.pidfd.Close()
	})
}

// Start boots a created or stopped instance; starting a running one is a no-op.
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
		if cerr := d.closeVolumes(context.WithoutCancel(ctx), in); cerr != nil {
			d.opts.Log.Error("compute qemu: undoing a failed start", "instance", id, "err", cerr)
		}
		return fmt.Errorf("compute qemu: start %s: %w", id, err)
	}
	return nil
}

// boot starts the machine's QEMU and watches it.
func (d *Driver) boot(ctx context.Context, in *instance) error {
	spec := in.rec.Spec
	m := vmm.Machine{
		Name: in.id, Accel: d.accel.Accel, VCPUs: max(spec.VCPUs, 1), MemoryMiB: d.memoryMiB(spec.MemoryMiB),
		Kernel: d.opts.VMBoot.Kernel, Initrd: d.opts.VMBoot.Initrd,
		Console:   filepath.Join(in.dir, consoleFileName),
		QMPSocket: filepath.Join(in.dir, qmpSocketName),
		PIDFile:   filepath.Join(in.dir, pidFileName),
		FreePorts: freePorts,
	}
	ports := map[string]int{}
	for i, b := range devicesOf(spec) {
		if b.Ephemeral {
			if err := host.EnsureSparse(b.Path, b.Size); err != nil {
				return err
			}
		}
		name := diskName(b, i == 0)
		path, hostDevice, err := openVolume(ctx, in.id, name, b)
		if err != nil {
			return err
		}
		ports[name] = len(m.Disks)
		m.Disks = append(m.Disks, vmm.Disk{ID: diskID(name), Path: path, HostDevice: hostDevice, Serial: name, ReadOnly: b.ReadOnly})
	}
	if m.Kernel != "" {
		// The root disk as the guest reads it: an encrypted root's plaintext.
		ownLoader, err := hasBootLoader(m.Disks[0].Path)
		if err != nil {
			return fmt.Errorf("reading the root disk's boot record: %w", err)
		}
		if ownLoader {
			m.Kernel, m.Initrd = "", ""
		} else {
			m.Append = strings.TrimSpace(kernelCmdline + " " + d.opts.VMBoot.Cmdline)
		}
	}
	var taps []*os.File
	defer func() {
		for _, f := range taps {
			f.Close() // QEMU holds its own
		}
	}()
	if d.net != nil {
		for _, nic := range spec.Interfaces {
			f, err := d.net.PlugTap(ctx, nic)
			if err != nil {
				return err
			}
			taps = append(taps, f)
			ports[nic.ID] = len(m.Disks) + len(m.NICs)
			m.NICs = append(m.NICs, vmm.NIC{ID: nic.ID, MAC: nic.MAC, FD: 3 + len(m.NICs)})
		}
	}
	args, err := m.Args()
	if err != nil {
		return err
	}
	args = append(args, "-no-shutdown")
	for _, f := range []string{m.QMPSocket, m.PIDFile} {
		if err := removeIfThere(f); err != nil {
			return err
		}
	}
	cmd := exec.Command(d.bin, args...)
	cmd.ExtraFiles = taps
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// -daemonize: this returns once the machine is set up, and QEMU's own process
	// is no child of ours.
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", Binary, err, strings.TrimSpace(stderr.String()))
	}
	pidText, err := os.ReadFile(m.PIDFile)
	if err != nil {
		return fmt.Errorf("QEMU's PID file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		return fmt.Errorf("QEMU's PID file: %w", err)
	}
	proc, alive := host.Identify(pid)
	if !alive {
		return errors.New("QEMU ended at once: see the console")
	}
	in.rec.QEMU, in.rec.Ports, in.rec.PortCount = proc, ports, m.Ports()
	in.rec.State, in.rec.ShutdownFromGuest, in.rec.Impaired, in.rec.Stopping = stateRunning, false, false, false
	if err := d.save(in); err != nil {
		return err
	}
	run, err := d.attach(ctx, in, proc)
	if err == nil && run == nil {
		err = errors.New("QEMU ended at once: see the console")
	}
	if err != nil {
		// A machine the driver cannot watch must not run on unseen.
		d.killQEMU(proc)
		in.rec.State, in.rec.QEMU, in.rec.Ports = stateStopped, host.Process{}, nil
		return errors.Join(err, d.save(in))
	}
	return nil
}

// memoryMiB is the memory a machine of a type with typeMiB gets: scaled by the
// operator's --vm-memory-scale, never under minMemoryMiB (what the kernel and a small
// image need to boot).
func (d *Driver) memoryMiB(typeMiB int) int {
	scale := d.opts.VMBoot.MemoryScale
	if scale <= 0 || scale > 1 {
		scale = 1
	}
	return max(int(float64(typeMiB)*scale), minMemoryMiB)
}

// minMemoryMiB is the least memory a machine gets.
const minMemoryMiB = 256

// diskName is the name the guest knows a disk by (its virtio serial): xvda, xvdf.
func diskName(b cloud.BlockDevice, root bool) string {
	if root {
		return strings.TrimPrefix(host.RootGuestName(b.Device), "/dev/")
	}
	return strings.TrimPrefix(host.GuestName(b.Device), "/dev/")
}

// diskID is a disk's device ID in QEMU.
func diskID(name string) string { return "disk-" + name }

// attach connects to a running QEMU's monitor and starts watching it; it returns nil
// (and no error) when the process is gone already.
func (d *Driver) attach(ctx context.Context, in *instance, proc host.Process) (*machine, error) {
	fd, alive, err := proc.Open()
	if err != nil || !alive {
		return nil, err
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, err := vmm.Dial(dialCtx, filepath.Join(in.dir, qmpSocketName))
	if err != nil {
		pidfd.Close()
		return nil, err
	}
	events, stop := q.Events("SHUTDOWN")
	m := &machine{proc: proc, qmp: q, pidfd: pidfd, events: events, stop: stop}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		m.close()
		return nil, errors.New("the driver is closed")
	}
	in.run = m
	d.watchers.Add(1)
	d.mu.Unlock()
	go d.watch(in, m)
	return m, nil
}

// watch follows one QEMU until it exits or the driver closes: a guest that powers off
// is marked as such and its QEMU told to quit; the exit then ends the boot.
func (d *Driver) watch(in *instance, m *machine) {
	defer d.watchers.Done()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		conn, err := m.pidfd.SyscallConn()
		if err == nil {
			// The callback says whether the wait is over; the poller calls it again
			// each time the pidfd becomes readable.
			_ = conn.Read(func(fd uintptr) bool { return host.HasExited(int(fd)) })
		}
	}()
	for {
		select {
		case ev, ok := <-m.events:
			if !ok {
				m.events = nil // the monitor went away; the exit follows
				continue
			}
			var data struct {
				Guest bool `json:"guest"`
			}
			if json.Unmarshal(ev.Data, &data) != nil || !data.Guest || m.asked.Load() {
				continue
			}
			// Still off? A reboot of the driver's may have reset it meanwhile (its
			// SHUTDOWN can reach this queue after the reboot is over).
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if st, err := m.qmp.QueryStatus(ctx); err == nil && st.Status == "shutdown" && !m.asked.Load() {
				m.guestOff.Store(true)
				_ = m.qmp.Quit(ctx)
			}
			cancel()
		case <-exited:
			if m.hasExited() {
				d.exited(in, m)
			}
			m.close()
			return
		}
	}
}

// exited records a machine's end that the driver did not cause: the guest powered
// off, or QEMU died.
func (d *Driver) exited(in *instance, m *machine) {
	in.Lock()
	defer in.Unlock()
	if in.run != m || in.Gone() {
		return // stopped by the driver meanwhile, or destroyed
	}
	d.setRun(in, nil)
	in.rec.State = stateStopped
	in.rec.QEMU, in.rec.Ports = host.Process{}, nil
	if !in.rec.Stopping {
		in.rec.ShutdownFromGuest = m.guestOff.Load()
		in.rec.Impaired = !in.rec.ShutdownFromGuest
	}
	in.rec.Stopping = false
	d.stoppedMachine(in)
}

// stoppedMachine finishes an instance whose QEMU ended without the driver's asking
// (in.mu held, its record marked stopped): its instance storage is emptied, its
// volumes' devices go, and the record is written.
func (d *Driver) stoppedMachine(in *instance) {
	d.emptyInstanceStore(in)
	if err := d.closeVolumes(context.Background(), in); err != nil {
		d.opts.Log.Error("compute qemu: releasing a stopped machine's volumes", "instance", in.id, "err", err)
	}
	if err := d.save(in); err != nil {
		d.opts.Log.Error("compute qemu: recording an exit", "instance", in.id, "err", err)
	}
}

// emptyInstanceStore empties the instance-store volumes, as a stop does on EC2.
func (d *Driver) emptyInstanceStore(in *instance) {
	for _, b := range in.rec.Spec.Devices {
		if b.Ephemeral {
			if err := host.MakeSparse(b.Path, b.Size); err != nil {
				d.opts.Log.Error("compute qemu: emptying an instance-store volume", "instance", in.id, "err", err)
			}
		}
	}
}

// setRun records the machine the driver watches for the instance (Close reads it).
func (d *Driver) setRun(in *instance, m *machine) {
	d.mu.Lock()
	in.run = m
	d.mu.Unlock()
}

// adopt picks up a machine an earlier driver left running (called with in.mu held,
// from Open): a guest that powered off meanwhile is stopped, a QEMU that is gone
// crashed (or was being stopped).
func (d *Driver) adopt(in *instance) {
	if in.rec.State != stateRunning {
		// What a start that strato did not see through left.
		if err := d.closeVolumes(context.Background(), in); err != nil {
			d.opts.Log.Error("compute qemu: cleaning up after an interrupted start", "instance", in.id, "err", err)
		}
		return
	}
	run, err := d.attach(context.Background(), in, in.rec.QEMU)
	if err == nil && run != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, serr := run.qmp.QueryStatus(ctx)
		cancel()
		if serr == nil && st.Status == "shutdown" {
			run.guestOff.Store(!in.rec.Stopping)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = run.qmp.Quit(ctx)
			cancel()
		}
		return
	}
	if err != nil {
		d.opts.Log.Warn("compute qemu: adopting a machine", "instance", in.id, "err", err)
		d.killQEMU(in.rec.QEMU)
	}
	in.rec.State = stateStopped
	if !in.rec.Stopping {
		in.rec.Impaired = true
	}
	in.rec.Stopping, in.rec.QEMU, in.rec.Ports = false, host.Process{}, nil
	d.stoppedMachine(in)
}

// Stop shuts the machine down: the ACPI power button and StopTimeout for the guest
// to power off, then (or at once with force) QEMU is told to quit, and killed when it
// does not. Stopping a stopped or created instance is a no-op.
func (d *Driver) Stop(ctx context.Context, id string, force bool) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.rec.State != stateRunning {
		return nil
	}
	if err := d.halt(ctx, in, force); err != nil {
		return fmt.Errorf("compute qemu: stop %s: %w", id, err)
	}
	return nil
}

// halt ends the running machine (with in.mu held) and records it stopped.
func (d *Driver) halt(ctx context.Context, in *instance, force bool) error {
	in.rec.Stopping = true
	if err := d.save(in); err != nil {
		return err
	}
	if m := in.run; m != nil {
		m.asked.Store(true)
		if !force {
			d.powerOff(ctx, m) // off or not, QEMU quits next
		}
		d.quit(m)
		d.setRun(in, nil)
		m.close()
	} else {
		d.killQEMU(in.rec.QEMU)
	}
	in.rec.State, in.rec.Stopping, in.rec.ShutdownFromGuest, in.rec.Impaired = stateStopped, false, false, false
	in.rec.QEMU, in.rec.Ports = host.Process{}, nil
	d.emptyInstanceStore(in)
	return errors.Join(d.closeVolumes(ctx, in), d.save(in))
}

// powerOff presses the power button and waits up to StopTimeout for the guest to
// power off (QEMU, under -no-shutdown, then sits in "shutdown"); false when it did
// not. The button is pressed again every few seconds: a guest still booting has
// nothing listening to it yet, and the press is lost.
func (d *Driver) powerOff(ctx context.Context, m *machine) bool {
	events, stop := m.qmp.Events("SHUTDOWN")
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, d.opts.StopTimeout)
	defer cancel()
	if err := m.qmp.SystemPowerdown(ctx); err != nil {
		return false
	}
	again := time.NewTicker(powerButtonRepeat)
	defer again.Stop()
	for {
		select {
		case <-again.C:
			if err := m.qmp.SystemPowerdown(ctx); err != nil {
				return false
			}
		case ev, ok := <-events:
			if !ok {
				return true // QEMU went away: off, in any case
			}
			var data struct {
				Guest bool `json:"guest"`
			}
			if json.Unmarshal(ev.Data, &data) == nil && data.Guest {
				return true
			}
		case <-ctx.Done():
			d.opts.Log.Info("compute qemu: the guest did not power off in time; stopping it", "pid", m.proc.PID, "timeout", d.opts.StopTimeout)
			return false
		}
	}
}

// quit ends QEMU: quit through its monitor, then SIGKILL when it is still there
// after a few seconds.
func (d *Driver) quit(m *machine) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = m.qmp.Quit(ctx)
	cancel()
	m.withPidfd(func(fd int) {
		if !host.WaitExit(fd, 5*time.Second) {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			host.WaitExit(fd, 5*time.Second)
		}
	})
}

// killQEMU kills a QEMU the driver has no monitor of (it is known by its recorded
// identity only, so a reused PID is never hit).
func (d *Driver) killQEMU(p host.Process) {
	fd, alive, err := p.Open()
	if err != nil || !alive {
		return
	}
	defer unix.Close(fd)
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	host.WaitExit(fd, 5*time.Second)
}

// Reboot restarts the guest in the same QEMU, keeping every disk: the power button,
// and once the guest is off (or after StopTimeout, as EC2 falls back to a hard
// reboot) a reset.
func (d *Driver) Reboot(ctx context.Context, id string) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.rec.State != stateRunning || in.run == nil {
		return d.invalidState("reboot", id, "it is "+in.rec.State)
	}
	m := in.run
	m.asked.Store(true)
	defer m.asked.Store(false)
	d.powerOff(ctx, m)
	if err := m.qmp.SystemReset(ctx); err != nil {
		return fmt.Errorf("compute qemu: reboot %s: %w", id, err)
	}
	st, err := m.qmp.QueryStatus(ctx)
	if err == nil && !st.Running {
		err = m.qmp.Cont(ctx) // out of "shutdown" (-no-shutdown), running again
	}
	if err != nil {
		return fmt.Errorf("compute qemu: reboot %s: %w", id, err)
	}
	return nil
}

// devicesOf lists a spec's block devices, the root first.
func devicesOf(spec cloud.InstanceSpec) []cloud.BlockDevice {
	return slices.Concat([]cloud.BlockDevice{spec.Root}, spec.Devices)
}
