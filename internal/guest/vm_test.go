package guest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeSystem stands in for the kernel in VM mode's tests: it records mounts,
// unmounts, syncs and reboots (doing none of them) with paths relative to the root.
type fakeSystem struct {
	root string
	mu   sync.Mutex
	// fs says what Stat answers for a path (instance path); others are the root's
	// ext4 (device 1).
	fs map[string]fsInfo
	// busy paths refuse to be unmounted.
	busy map[string]bool
	// noRandom: the kernel's random number generator is not initialized yet.
	noRandom bool
	calls    []string
}

func (f *fakeSystem) rel(path string) string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(path, f.root), "/")
}

func (f *fakeSystem) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	f.record("mount %s %s %s %s", orDash(fstype), f.rel(target), mountFlags(flags), orDash(data))
	return nil
}

func (f *fakeSystem) Unmount(target string, flags int) error {
	f.record("umount %s", f.rel(target))
	if f.busy[f.rel(target)] {
		return unix.EBUSY
	}
	return nil
}

func (f *fakeSystem) Stat(path string) (fsInfo, error) {
	if info, ok := f.fs[f.rel(path)]; ok {
		return info, nil
	}
	return fsInfo{Magic: unix.EXT4_SUPER_MAGIC, Dev: 1}, nil
}

func (f *fakeSystem) Sync() { f.record("sync") }

func (f *fakeSystem) RandomReady() bool { return !f.noRandom }

func (f *fakeSystem) Reboot(cmd int) error {
	name := map[int]string{unix.LINUX_REBOOT_CMD_CAD_OFF: "cad-off", unix.LINUX_REBOOT_CMD_POWER_OFF: "power-off",
		unix.LINUX_REBOOT_CMD_RESTART: "restart"}[cmd]
	f.record("reboot %s", name)
	return nil
}

func (f *fakeSystem) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mountFlags(flags uintptr) string {
	var names []string
	for _, f := range []struct {
		bit  uintptr
		name string
	}{{unix.MS_REMOUNT, "remount"}, {unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"}} {
		if flags&f.bit != 0 {
			names = append(names, f.name)
			flags &^= f.bit
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	return orDash(strings.Join(names, ","))
}

// newVMGuest is a helper in VM mode on root with the kernel faked; PID1 stays false,
// so a shutdown signals only the test's own children.
func newVMGuest(t *testing.T, root string, cfg Config) (*Guest, *fakeSystem, *syncBuffer) {
	t.Helper()
	console := &syncBuffer{}
	cfg.Root, cfg.Console, cfg.VM = root, console, true
	g := New(cfg)
	sys := &fakeSystem{root: root, fs: map[string]fsInfo{}, busy: map[string]bool{}}
	g.vm.sys = sys
	g.vm.openUevents = func() (*ueventSocket, error) { return nil, fmt.Errorf("no uevents in this test") }
	return g, sys, console
}

func TestVMEarlyMountsWhatIsMissing(t *testing.T) {
	root := newRoot(t)
	g, sys, console := newVMGuest(t, root, Config{})
	sys.fs["/"] = fsInfo{Magic: unix.EXT4_SUPER_MAGIC, Dev: 1, ReadOnly: true}
	// The initramfs moved /proc over; /sys is an empty directory of the root.
	sys.fs["/proc"] = fsInfo{Magic: unix.PROC_SUPER_MAGIC, Dev: 4}
	sys.noRandom = true
	g.vmEarly()
	want := []string{
		"mount - / remount -",
		"mount sysfs /sys nosuid,nodev,noexec -",
		"mount devtmpfs /dev nosuid mode=0755",
		"mount devpts /dev/pts nosuid,noexec gid=5,mode=0620,ptmxmode=0666",
		"mount tmpfs /dev/shm nosuid,nodev mode=1777",
		"mount tmpfs /run nosuid,nodev mode=0755",
		"reboot cad-off",
	}
	if got := sys.log(); !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	assertContains(t, "console", console.String(), "random number generator is not ready")
	if target, _ := os.Readlink(filepath.Join(root, "dev/fd")); target != "/proc/self/fd" {
		t.Errorf("/dev/fd -> %q", target)
	}
	for _, d := range []string{"sys", "dev/pts", "dev/shm", "run"} {
		if st, err := os.Stat(filepath.Join(root, d)); err != nil || !st.IsDir() {
			t.Errorf("%s: not made (%v)", d, err)
		}
	}
}

const vmMountInfo = `22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec - sysfs sysfs rw
25 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw,mode=755
26 25 0:23 / /dev/pts rw,nosuid,noexec - devpts devpts rw
27 22 0:24 / /run rw,nosuid,nodev - tmpfs tmpfs rw,mode=755
28 22 254:16 / /mnt/data rw - ext4 /dev/vdb rw
29 22 254:32 / /mnt/my\040disk rw - ext4 /dev/vdc rw
30 28 254:33 / /mnt/data/inner rw - ext4 /dev/vdc1 rw
`

func TestVMPowerOffUnmountsThenCallsTheKernel(t *testing.T) {
	for reason, last := range map[string]string{ReasonPoweroff: "reboot power-off", ReasonReboot: "reboot restart"} {
		t.Run(reason, func(t *testing.T) {
			root := newRoot(t)
			writeFiles(t, root, map[string]string{"proc/self/mountinfo": vmMountInfo})
			g, sys, console := newVMGuest(t, root, Config{})
			sys.busy["/mnt/my disk"] = true
			log, err := openAppend(filepath.Join(root, LogPath))
			if err != nil {
				t.Fatal(err)
			}
			g.console.tee(log)
			g.vmPowerOff(reason)
			want := []string{
				"sync",
				"umount /mnt/data/inner",
				"umount /mnt/my disk",
				"mount - /mnt/my disk remount,ro -", // busy: read-only at least
				"umount /mnt/data",
				"umount /run",
				"mount - / remount,ro -",
				"sync",
				last,
			}
			if got := sys.log(); !slices.Equal(got, want) {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// The log file was closed before / went read-only.
			if _, err := log.Write([]byte("x")); err == nil {
				t.Error("the log file is still open")
			}
			assertContains(t, "console", console.String(), "/mnt/my disk busy", reason+": file systems synced and read-only")
			if _, err := os.Stat(filepath.Join(root, ExitReasonPath)); err == nil {
				t.Error("a VM wrote the container driver's exit-reason file")
			}
		})
	}
}

func TestVMSignalsMapToReasons(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{
		syscall.SIGUSR2: ReasonPoweroff, syscall.SIGUSR1: ReasonPoweroff, syscall.SIGTERM: ReasonReboot,
		syscall.SIGINT: ReasonReboot, syscall.SIGHUP: "", syscall.SIGWINCH: "",
	} {
		if got := vmReasonFor(sig); got != want {
			t.Errorf("%v: %q, want %q", sig, got, want)
		}
	}
}

// TestVMRunBootsAfterTheNetworkAndPowersOffOnThePowerButton runs the whole VM mode
// with the kernel faked and the network in namespaces of the test's: the API file
// systems are "mounted", eth0 gets its lease before the metadata is read, the boot
// finishes, and a power button press ends in unmounting and reboot(2) power-off.
func TestVMRunBootsAfterTheNetworkAndPowersOffOnThePowerButton(t *testing.T) {
	guest, router := newTestNS(t), newTestNS(t)
	vethPair(t, guest, router, "eth0", "r0", net.HardwareAddr{2, 0, 0, 0, 1, 5}, netip.MustParsePrefix("10.0.1.1/24"))
	dhcp := &testDHCPServer{addr: netip.MustParsePrefix("10.0.1.5/24"), router: netip.MustParseAddr("10.0.1.1"),
		dns: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, domain: "ec2.internal", lease: time.Hour}
	serveDHCP(t, router, "r0", dhcp)
	imds := newFakeIMDS(t, &fakeIMDS{values: standardMetadata("")})

	root := newRoot(t)
	writeFiles(t, root, map[string]string{
		"proc/self/mountinfo":                vmMountInfo,
		"sys/class/input/event1/device/name": "Power Button\n",
		"sys/block/vda/serial":               "xvda\n",
	})
	os.MkdirAll(filepath.Join(root, "dev/input"), 0o755)
	fifo := filepath.Join(root, "dev/input/event1")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	button, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer button.Close()

	g, sys, console := newVMGuest(t, root, Config{MetadataURL: imds.URL, MetadataTimeout: 10 * time.Second,
		SSHListen: "127.0.0.1:0", CloudInit: "never"})
	g.vm.network = testVMNetwork(t, guest, filepath.Join(root, "etc/resolv.conf"), g.logf)
	reason := make(chan string, 1)
	go func() { reason <- g.Run(context.Background()) }()
	waitFor(t, "the boot to finish", func() bool { return strings.Contains(console.String(), "finished at") })

	out := console.String()
	netAt, mdAt := strings.Index(out, "network: eth0 configured"), strings.Index(out, "metadata (IMDSv2)")
	if netAt < 0 || mdAt < 0 || netAt > mdAt {
		t.Errorf("eth0's lease must come before the metadata:\n%s", out)
	}
	assertContains(t, "console", out, "disks: /dev/xvda -> vda", "power button: listening on /dev/input/event1")
	if got := readFile(t, filepath.Join(root, "etc/resolv.conf")); !strings.Contains(got, "nameserver 10.0.0.2") {
		t.Errorf("resolv.conf:\n%s", got)
	}

	button.Write(inputEventBytes(evKey, keyPower, 1))
	select {
	case r := <-reason:
		if r != ReasonPoweroff {
			t.Errorf("reason %q", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the power button")
	}
	calls := sys.log()
	if len(calls) == 0 || calls[len(calls)-1] != "reboot power-off" {
		t.Errorf("calls:\n%s", strings.Join(calls, "\n"))
	}
	if !slices.Contains(calls, "mount proc /proc nosuid,nodev,noexec -") || !slices.Contains(calls, "umount /mnt/data") {
		t.Errorf("calls:\n%s", strings.Join(calls, "\n"))
	}
	assertContains(t, "console", console.String(), "power button pressed: poweroff")
	if _, err := os.Stat(filepath.Join(root, ExitReasonPath)); err == nil {
		t.Error("a VM wrote the container driver's exit-reason file")
	}
}
