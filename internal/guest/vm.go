package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// VM mode (`strato guest-init --vm`): in a virtual machine the helper is the kernel's
// init, started by the initramfs's switch_root. Nothing made the instance's
// environment before it, so it does what runc and the container driver do for a
// container: mounts the API file systems, names the disks, brings up the network by
// DHCP, and, at shutdown, unmounts, remounts / read-only and asks the kernel to power
// off or restart. Every kernel call that could harm the machine running the tests
// (mount, umount, reboot) goes through vmSystem, which tests fake.

// DefaultVMHelperPath is where strato's images keep the helper for VM instances (the
// initramfs starts `/usr/local/sbin/strato guest-init --vm` as init).
const DefaultVMHelperPath = "/usr/local/sbin/strato"

// vmSystem is the kernel as VM mode uses it. Paths are host paths (g.path of the
// instance's).
type vmSystem interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
	// Stat tells which file system holds path.
	Stat(path string) (fsInfo, error)
	Sync()
	// Reboot is reboot(2) with a LINUX_REBOOT_CMD_*.
	Reboot(cmd int) error
	// RandomReady says whether the kernel's random number generator is initialized.
	RandomReady() bool
}

// fsInfo is what VM mode needs to know of the file system at a path.
type fsInfo struct {
	Magic    int64  // statfs f_type
	ReadOnly bool   // mounted read-only
	Dev      uint64 // st_dev: differs from the parent directory's at a mount point
}

// errNotInit keeps the real kernel calls from running anywhere but in a VM's init: a
// helper started with --vm by mistake on a host must not remount its root read-only.
var errNotInit = errors.New("refused: only the init process (PID 1) may do this")

// kernelSystem is the real vmSystem.
type kernelSystem struct{}

func (kernelSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	if os.Getpid() != 1 {
		return errNotInit
	}
	return unix.Mount(source, target, fstype, flags, data)
}

func (kernelSystem) Unmount(target string, flags int) error {
	if os.Getpid() != 1 {
		return errNotInit
	}
	return unix.Unmount(target, flags)
}

func (kernelSystem) Stat(path string) (fsInfo, error) {
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return fsInfo{}, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fsInfo{}, err
	}
	return fsInfo{Magic: int64(sfs.Type), ReadOnly: sfs.Flags&unix.ST_RDONLY != 0, Dev: uint64(st.Dev)}, nil
}

func (kernelSystem) Sync() { unix.Sync() }

func (kernelSystem) RandomReady() bool {
	var b [1]byte
	_, err := unix.Getrandom(b[:], unix.GRND_NONBLOCK)
	return err != unix.EAGAIN
}

func (kernelSystem) Reboot(cmd int) error {
	if os.Getpid() != 1 {
		return errNotInit
	}
	return unix.Reboot(cmd)
}

// apiMount is one of the file systems a VM's init mounts before anything else runs.
type apiMount struct {
	fstype, target string
	magic          int64
	flags          uintptr
	data           string
}

// apiMounts are mounted in this order, as systemd and busybox's init scripts do.
// devpts's group is filled in from the image's tty group (ptys are group tty, 0620).
func apiMounts(ttyGID int) []apiMount {
	pts := "mode=0620,ptmxmode=0666"
	if ttyGID >= 0 {
		pts = fmt.Sprintf("gid=%d,%s", ttyGID, pts)
	}
	return []apiMount{
		{"proc", "/proc", unix.PROC_SUPER_MAGIC, unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", unix.SYSFS_MAGIC, unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"devtmpfs", "/dev", unix.TMPFS_MAGIC, unix.MS_NOSUID, "mode=0755"},
		{"devpts", "/dev/pts", unix.DEVPTS_SUPER_MAGIC, unix.MS_NOSUID | unix.MS_NOEXEC, pts},
		{"tmpfs", "/dev/shm", unix.TMPFS_MAGIC, unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
		{"tmpfs", "/run", unix.TMPFS_MAGIC, unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	}
}

// vmState is what VM mode runs beside the boot: the device watcher and its network.
type vmState struct {
	sys     vmSystem
	network *vmNetwork
	// openUevents is the watcher's event source; tests give one in their namespace.
	openUevents func() (*ueventSocket, error)
	stop        context.CancelFunc
	done        sync.WaitGroup
	stopOnce    sync.Once
}

// vmEarly makes the instance's environment before anything else: the API file
// systems (those the initramfs moved over are left as they are), / writable, the
// /dev links programs expect, and Ctrl-Alt-Del as a signal instead of an instant reset.
func (g *Guest) vmEarly() {
	sys := g.vm.sys
	rootInfo, err := sys.Stat(g.path("/"))
	if err != nil {
		g.logf("vm: stat /: %v", err)
	}
	if err == nil && rootInfo.ReadOnly {
		if err := sys.Mount("", g.path("/"), "", unix.MS_REMOUNT, ""); err != nil {
			g.logf("vm: remounting / read-write: %v", err)
		}
	}
	ttyGID, ok := g.lookupGroup("tty")
	if !ok {
		ttyGID = -1
	}
	for _, m := range apiMounts(ttyGID) {
		target := g.path(m.target)
		if g.mounted(target, m.magic) {
			continue
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			g.logf("vm: %s: %v", m.target, err)
			continue
		}
		if err := sys.Mount(m.fstype, target, m.fstype, m.flags, m.data); err != nil {
			g.logf("vm: mounting %s on %s: %v", m.fstype, m.target, err)
		}
	}
	// What udev or systemd would make; shells' process substitution needs /dev/fd.
	for name, target := range map[string]string{
		"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
	} {
		if _, err := os.Lstat(g.path(name)); os.IsNotExist(err) {
			_ = os.Symlink(target, g.path(name))
		}
	}
	// Until the kernel's random number generator is initialized, getrandom(2) blocks:
	// SSH host keys and DHCP transaction IDs wait for it. Without RDRAND (QEMU's TCG
	// with its default CPU) or a virtio-rng device that took 3 minutes under TCG here,
	// so say why the boot is slow.
	if !sys.RandomReady() {
		g.logf("vm: the kernel's random number generator is not ready (no RDRAND, no virtio-rng?): SSH host keys and DHCP wait for it")
	}
	// The kernel's default for Ctrl-Alt-Del (QEMU's sendkey ctrl-alt-delete) is an
	// immediate reset; with it off, init gets SIGINT and shuts down cleanly.
	if err := sys.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		g.logf("vm: Ctrl-Alt-Del as SIGINT: %v", err)
	}
}

// mounted says whether a file system of that type is mounted at path: the type alone
// is not enough when / itself is of the same type (a tmpfs root), so the device must
// also differ from the parent directory's.
func (g *Guest) mounted(path string, magic int64) bool {
	info, err := g.vm.sys.Stat(path)
	if err != nil || info.Magic != magic {
		return false
	}
	parent, err := g.vm.sys.Stat(filepath.Dir(path))
	return err == nil && parent.Dev != info.Dev
}

// startVM starts the device watcher (disks, network, power button) for the life of
// the boot.
func (g *Guest) startVM(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	g.vm.stop = cancel
	w := newVMWatcher(g)
	g.vm.done.Add(1)
	go func() {
		defer g.vm.done.Done()
		w.run(ctx)
	}()
}

// stopVM ends the watcher and every DHCP client; idempotent. The wait is bounded: a
// DHCP exchange that waits for the kernel's random number generator (the library
// takes its transaction ID from getrandom(2), for up to 2 minutes, without a context)
// must not hold up a shutdown.
func (g *Guest) stopVM() {
	g.vm.stopOnce.Do(func() {
		if g.vm.stop != nil {
			g.vm.stop()
		}
		done := make(chan struct{})
		go func() {
			g.vm.done.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(vmStopWait):
			g.logf("vm: the device watcher did not stop within %s; going on", vmStopWait)
		}
	})
}

// vmStopWait bounds stopVM's wait.
const vmStopWait = 5 * time.Second

// waitForNetwork holds the boot until eth0 has its DHCP lease, so that the metadata
// service's retries do not run out while the network is still coming up; after
// NetworkTimeout the boot goes on (and DHCP keeps trying).
func (g *Guest) waitForNetwork(ctx context.Context) {
	start := time.Now()
	select {
	case <-g.vm.network.primaryReady():
		g.logf("network: eth0 configured %.2f s after start", time.Since(start).Seconds())
	case <-time.After(g.cfg.NetworkTimeout):
		g.logf("network: eth0 has no DHCP lease after %s; reading the metadata anyway", g.cfg.NetworkTimeout)
	case <-ctx.Done():
	}
}

// vmReasonFor maps a signal to a VM's init to a shutdown, as busybox init does:
// poweroff (SIGUSR2), halt (SIGUSR1), reboot (SIGTERM), and SIGINT, which the kernel
// sends for Ctrl-Alt-Del once it is turned off, restarts. SIGHUP is init's "reload",
// not a shutdown.
func vmReasonFor(sig os.Signal) string {
	switch sig {
	case unix.SIGUSR2, unix.SIGUSR1:
		return ReasonPoweroff
	case unix.SIGTERM, unix.SIGINT:
		return ReasonReboot
	}
	return ""
}

// vmPowerOff ends a VM's shutdown after every process is gone: the watcher stops, the
// log file is closed (a file open for writing keeps / from going read-only), every
// file system but the API ones is unmounted (remounted read-only when busy), / is
// remounted read-only, and the kernel powers off or restarts. It returns only if
// reboot(2) failed.
func (g *Guest) vmPowerOff(reason string) {
	g.stopVM()
	g.console.closeFiles()
	sys := g.vm.sys
	sys.Sync()
	mounts, err := readMountPoints(g.path("/proc/self/mountinfo"))
	if err != nil {
		g.logf("vm: %v", err)
	}
	for _, mp := range slices.Backward(mounts) {
		if mp == "/" || isAPIMount(mp) {
			continue
		}
		if err := sys.Unmount(g.path(mp), 0); err != nil {
			if rerr := sys.Mount("", g.path(mp), "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); rerr != nil {
				g.logf("vm: %s stays mounted read-write: unmount: %v; remount: %v", mp, err, rerr)
			} else {
				g.logf("vm: %s busy (%v): remounted read-only", mp, err)
			}
		}
	}
	if err := sys.Mount("", g.path("/"), "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		g.logf("vm: remounting / read-only: %v", err)
	}
	sys.Sync()
	cmd, what := unix.LINUX_REBOOT_CMD_POWER_OFF, "powering off"
	if reason == ReasonReboot {
		cmd, what = unix.LINUX_REBOOT_CMD_RESTART, "restarting"
	}
	g.logf("%s: file systems synced and read-only; %s", reason, what)
	if err := sys.Reboot(cmd); err != nil {
		g.logf("vm: reboot(2): %v", err)
	}
}

// isAPIMount says whether a mount point belongs to the kernel's own file systems,
// which hold no data and which the last steps of a shutdown still read.
func isAPIMount(mp string) bool {
	for _, p := range []string{"/proc", "/sys", "/dev"} {
		if mp == p || strings.HasPrefix(mp, p+"/") {
			return true
		}
	}
	return false
}

// readMountPoints lists the mount points of a mountinfo file in mount order.
func readMountPoints(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mount-point options …
		if f := strings.Fields(line); len(f) >= 5 {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out, nil
}
