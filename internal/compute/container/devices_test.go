package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/compute/host"
)

// running makes and starts an instance from spec, destroyed when the test ends.
func running(t *testing.T, d *Driver, s cloud.InstanceSpec) {
	t.Helper()
	ctx := context.Background()
	if err := d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Destroy(context.Background(), s.ID) })
	if err := d.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, d, s.ID, stateRunning)
}

func TestBlockDevicesInside(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testDisk)
	s.Root.Device = "/dev/sda1" // as many AMIs name it: the guest still sees xvda and xvda1
	running(t, d, s)
	for _, dev := range []string{"/dev/xvda", "/dev/xvda1", "/dev/xvdb"} {
		if out := d.mustExec(t, s.ID, "ls", "-l", dev); !strings.HasPrefix(out, "b") {
			t.Errorf("ls -l %s = %q, want a block device", dev, out)
		}
	}
	if out := d.mustExec(t, s.ID, "blockdev", "--getsize64", "/dev/xvdb"); out != strconv.Itoa(16<<20) {
		t.Errorf("size of the instance-store volume /dev/xvdb = %s, want %d", out, 16<<20)
	}
	// The root file system is the root volume's partition, writable.
	d.mustExec(t, s.ID, "sh", "-c", "echo kept > /root/file && sync")
	if out := d.mustExec(t, s.ID, "cat", "/etc/os-release"); !strings.Contains(out, "strato minimal") {
		t.Errorf("/etc/os-release = %q, want the minimal image's", out)
	}

	// Hot-plugged while running, at /dev/sdf: the guest sees /dev/xvdf.
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "strato-volume")}
	if err := d.AttachVolume(context.Background(), s.ID, vol); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "ls", "-l", "/dev/xvdf"); !strings.HasPrefix(out, "b") {
		t.Errorf("ls -l /dev/xvdf = %q, want a block device", out)
	}
	if out := d.mustExec(t, s.ID, "blockdev", "--getsize64", "/dev/xvdf"); out != strconv.Itoa(8<<20) {
		t.Errorf("blockdev --getsize64 /dev/xvdf = %s, want %d", out, 8<<20)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "13", "/dev/xvdf"); out != "strato-volume" {
		t.Errorf("the volume reads %q inside, want its marker", out)
	}
	d.mustExec(t, s.ID, "sh", "-c", "printf written | dd of=/dev/xvdf bs=512 seek=8 conv=notrunc,fsync 2>/dev/null")
	got := make([]byte, 7)
	f, err := os.Open(vol.Path)
	if err != nil {
		t.Fatal(err)
	}
	f.ReadAt(got, 8*512)
	f.Close()
	if string(got) != "written" {
		t.Errorf("the volume file holds %q where the guest wrote, want %q", got, "written")
	}

	// The instance's /sys/block lists its volumes under their guest names, as
	// lsblk reads them.
	if out := d.mustExec(t, s.ID, "ls", "/sys/block"); strings.Fields(out)[0] != "xvda" || !strings.Contains(out, "xvdf") {
		t.Errorf("ls /sys/block = %q, want xvda … xvdf", out)
	}
	if out := d.mustExec(t, s.ID, "cat", "/sys/class/block/xvdf/size"); out != strconv.Itoa(8<<20/512) {
		t.Errorf("/sys/class/block/xvdf/size = %s, want %d sectors", out, 8<<20/512)
	}
	wantLsblk(t, d, s.ID, []string{"xvda 64M disk", "xvda1 63M part", "xvdb 16M disk", "xvdf 8M disk"})

	// Detached: the node goes, and a node the guest makes itself is refused
	// by the devices cgroup.
	numbers := d.mustExec(t, s.ID, "stat", "-c", "%t %T", "/dev/xvdf")
	if err := d.DetachVolume(context.Background(), s.ID, "/dev/sdf"); err != nil {
		t.Fatal(err)
	}
	if out, err := d.exec(t, s.ID, "ls", "/dev/xvdf"); err == nil {
		t.Errorf("/dev/xvdf is still there after DetachVolume: %s", out)
	}
	var major, minor int
	fmt.Sscanf(numbers, "%x %x", &major, &minor)
	script := fmt.Sprintf("mknod /tmp/stale b %d %d && head -c 1 /tmp/stale", major, minor)
	if out, err := d.exec(t, s.ID, "sh", "-c", script); err == nil {
		t.Errorf("a detached volume's device is still readable inside: %q", out)
	}
	if loops, _ := host.LoopsOf(vol.Path); len(loops) != 0 {
		t.Errorf("loop devices left on a detached volume: %v", loops)
	}
	if out := d.mustExec(t, s.ID, "ls", "/sys/block", "/sys/class/block", "/sys/dev/block"); strings.Contains(out, "xvdf") ||
		strings.Contains(out, fmt.Sprintf("%d:%d", major, minor)) {
		t.Errorf("the instance's sysfs still shows the detached volume:\n%s", out)
	}

	// Read-only: the guest reads, but cannot write.
	ro := cloud.BlockDevice{Device: "/dev/xvdg", Path: conformance.VolumeWith(t, "read-only"), ReadOnly: true}
	if err := d.AttachVolume(context.Background(), s.ID, ro); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "9", "/dev/xvdg"); out != "read-only" {
		t.Errorf("the read-only volume reads %q inside", out)
	}
	if out, err := d.exec(t, s.ID, "sh", "-c", "printf x | dd of=/dev/xvdg conv=notrunc,fsync 2>&1"); err == nil {
		t.Errorf("writing to a read-only volume succeeded: %s", out)
	}
}

// TestResizeVolume: a volume whose file grew (ModifyVolume) shows its new size
// inside a running instance, its data kept: the device node (blockdev) and the
// instance's /sys/block (lsblk). The root disk grows too; its partition stays as
// it was (growing it is the user's part).
func TestResizeVolume(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testDisk)
	running(t, d, s)
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "kept")}
	if err := d.AttachVolume(context.Background(), s.ID, vol); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "blockdev", "--getsize64", "/dev/xvdf"); out != strconv.Itoa(8<<20) {
		t.Fatalf("blockdev --getsize64 /dev/xvdf = %s before, want %d", out, 8<<20)
	}
	for path, size := range map[string]int64{vol.Path: 24 << 20, s.Root.Path: 80 << 20} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.ResizeVolume(context.Background(), s.ID, vol.Device, 24<<20); err != nil {
		t.Fatal(err)
	}
	if err := d.ResizeVolume(context.Background(), s.ID, s.Root.Device, 80<<20); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "blockdev", "--getsize64", "/dev/xvdf"); out != strconv.Itoa(24<<20) {
		t.Errorf("blockdev --getsize64 /dev/xvdf = %s after ResizeVolume, want %d", out, 24<<20)
	}
	if out := d.mustExec(t, s.ID, "cat", "/sys/block/xvdf/size"); out != strconv.Itoa(24<<20/512) {
		t.Errorf("/sys/block/xvdf/size = %s after ResizeVolume, want %d sectors", out, 24<<20/512)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "4", "/dev/xvdf"); out != "kept" {
		t.Errorf("the grown volume reads %q, want what it held", out)
	}
	wantLsblk(t, d, s.ID, []string{"xvda 80M disk", "xvda1 63M part", "xvdb 16M disk", "xvdf 24M disk"})
}

func TestLimitsAndNamespaces(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testDisk)
	s.VCPUs, s.MemoryMiB, s.Hostname = 2, 512, "ip-10-1-2-3"
	running(t, d, s)
	pid := d.initPID(s.ID)
	for controller, want := range map[string]map[string]string{
		"cpu":    {"cpu.cfs_quota_us": "200000", "cpu.cfs_period_us": "100000"},
		"memory": {"memory.limit_in_bytes": strconv.Itoa(512 << 20)},
		"pids":   {"pids.max": strconv.Itoa(pidsLimit)},
	} {
		dir := cgroupDir(t, pid, controller)
		for file, value := range want {
			raw, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(raw)); got != value {
				t.Errorf("%s/%s = %s, want %s", controller, file, got, value)
			}
		}
	}
	if out := d.mustExec(t, s.ID, "hostname"); out != s.Hostname {
		t.Errorf("hostname inside = %q, want %q", out, s.Hostname)
	}
	if out := d.mustExec(t, s.ID, "sh", "-c", "echo $$"); out == "" {
		t.Error("no shell inside")
	}
	if out := d.mustExec(t, s.ID, "cat", "/proc/1/cmdline"); !strings.Contains(out, guestHelper) {
		t.Errorf("PID 1 inside runs %q, want the guest init helper", out)
	}
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net"} {
		mine, _ := os.Readlink("/proc/self/ns/" + ns)
		theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if mine == theirs {
			t.Errorf("the instance shares strato's %s namespace", ns)
		}
	}
	// A fresh network namespace without a Network: loopback only.
	if out := d.mustExec(t, s.ID, "ls", "/sys/class/net"); out != "lo" {
		t.Errorf("interfaces inside = %q, want only lo", out)
	}
}

// wantLsblk runs the host's lsblk on the instance's view of /sys (the guest's
// image may have none) and checks it lists want ("NAME SIZE TYPE").
func wantLsblk(t *testing.T, d *Driver, id string, want []string) {
	t.Helper()
	if _, err := exec.LookPath("lsblk"); err != nil {
		t.Log("no lsblk on this host (util-linux): not checking its output")
		return
	}
	sys := filepath.Join(d.dir, id, sysDirName)
	script := fmt.Sprintf("mount --bind %[1]s/block /sys/block && mount --bind %[1]s/dev-block /sys/dev/block && lsblk -n -r -o NAME,SIZE,TYPE", sys)
	out, err := exec.Command("unshare", "-m", "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("lsblk on the instance's sysfs: %v: %s", err, out)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !slices.Equal(got, want) {
		t.Errorf("lsblk in the instance lists %q, want %q", got, want)
	}
}

// cgroupDir is the cgroup v1 directory of a process for one controller.
func cgroupDir(t *testing.T, pid int, controller string) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ","+controller+",") {
			return filepath.Join("/sys/fs/cgroup", controller, parts[2])
		}
	}
	t.Fatalf("process %d has no %s cgroup", pid, controller)
	return ""
}

func TestBareFileSystemRoot(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testBareDisk)
	running(t, d, s)
	if out := d.mustExec(t, s.ID, "cat", "/etc/hostname"); out != "localhost" {
		t.Errorf("/etc/hostname = %q, want the image's", out)
	}
	if _, err := d.exec(t, s.ID, "ls", "/dev/xvda1"); err == nil {
		t.Error("a root volume without a partition table shows a partition")
	}
}

// TestColdPlug: volumes attached to and detached from a stopped instance are
// there, or gone, when it starts.
func TestColdPlug(t *testing.T) {
	d := newEnv(t).open()
	ctx := context.Background()
	s := spec(t, conformance.NewID(), testDisk)
	if err := d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Destroy(context.Background(), s.ID) })
	vol := cloud.BlockDevice{Device: "/dev/sdh", Path: conformance.VolumeWith(t, "cold")}
	if err := d.AttachVolume(ctx, s.ID, vol); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "4", "/dev/xvdh"); out != "cold" {
		t.Errorf("a volume attached while created reads %q at start", out)
	}
	if err := d.Stop(ctx, s.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := d.DetachVolume(ctx, s.ID, "/dev/sdh"); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if out, err := d.exec(t, s.ID, "ls", "/dev/xvdh", "/sys/block/xvdh"); err == nil {
		t.Errorf("a volume detached while stopped is there at start: %s", out)
	}

	// The root volume: not while running; detached while stopped, the
	// instance cannot start until a volume is attached at its root device.
	if err := d.DetachVolume(ctx, s.ID, s.Root.Device); !errors.Is(err, compute.ErrInvalidState) {
		t.Errorf("DetachVolume(root, running) = %v, want ErrInvalidState", err)
	}
	if err := d.Stop(ctx, s.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := d.DetachVolume(ctx, s.ID, s.Root.Device); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s.ID); !errors.Is(err, compute.ErrInvalidState) {
		t.Errorf("Start without a root volume = %v, want ErrInvalidState", err)
	}
	if err := d.AttachVolume(ctx, s.ID, s.Root); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	d.mustExec(t, s.ID, "ls", "/dev/xvda1")
}
