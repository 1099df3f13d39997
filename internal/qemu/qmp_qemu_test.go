package qemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of a program the test needs. Without it the test
// skips, saying why, unless STRATO_TEST_REQUIRE_TOOLS is set (CI), when it
// fails.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is not installed (Debian package %s)", name, pkg)
	}
	t.Skipf("%s is not installed (Debian package %s)", name, pkg)
	return ""
}

// startQEMU starts a machine that never runs (-S, no guest kernel, TCG, no
// network, no default devices) with its monitor on a socket, and dials it.
// The process is killed, and its files removed, when the test ends.
func startQEMU(t *testing.T, dir string, machineArgs ...string) *QMP {
	t.Helper()
	bin := needTool(t, "qemu-system-x86_64", "qemu-system-x86")
	sock := filepath.Join(dir, "qmp.sock")
	args := append([]string{
		"-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none",
		"-nic", "none", "-m", "64", "-S",
		"-qmp", "unix:" + sock + ",server=on,wait=off",
	}, machineArgs...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // our child, by its PID
			<-exited
		}
		if t.Failed() {
			t.Logf("qemu %s\nstderr: %s", strings.Join(args, " "), stderr.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := Dial(ctx, sock)
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("%v (qemu said: %s)", err, stderr.String())
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// TestRealQEMU drives a real QEMU through what the driver does to a disk:
// open a raw file, hot-plug it as a virtio-blk disk, grow it, unplug it, close
// it, then quit. No guest runs: the machine stays in prelaunch, so QEMU
// completes the unplug itself (see the machine arguments).
func TestRealQEMU(t *testing.T) {
	for _, m := range []struct {
		name string
		args []string
	}{
		// q35's root bus refuses hot-plug; a pcie-root-port takes one device.
		// With ACPI hot-plug (q35's default since QEMU 6.1) an unplug waits for
		// the guest's ACPI eject, which no guest here will do; with native
		// PCIe hot-plug QEMU unplugs at once from a slot the guest never
		// powered on.
		{"q35", []string{"-machine", "q35,sata=off,smbus=off",
			"-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
			"-device", "pcie-root-port,id=hp1,bus=pcie.0,chassis=1"}},
		// microvm has no PCI unless pcie=on; its virtio-mmio slots refuse
		// hot-plug, its PCIe root ports do not.
		{"microvm", []string{"-machine", "microvm,pcie=on",
			"-device", "pcie-root-port,id=hp1,chassis=1"}},
	} {
		t.Run(m.name, func(t *testing.T) {
			checkGoroutines(t)
			dir := socketDir(t)
			q := startQEMU(t, dir, m.args...)
			ctx := testContext(t)
			t.Logf("QEMU %s", q.Greeting().QEMUVersion())

			st, err := q.QueryStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != "prelaunch" || st.Running {
				t.Errorf("status %+v, want prelaunch", st)
			}

			disk := filepath.Join(dir, "vol.raw")
			if err := os.WriteFile(disk, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(disk, 1<<20); err != nil {
				t.Fatal(err)
			}
			if err := q.BlockdevAdd(ctx, RawFile{NodeName: "vol1", Filename: disk, Discard: true}); err != nil {
				t.Fatal(err)
			}
			if err := q.DeviceAdd(ctx, VirtioBlk{ID: "vd1", Drive: "vol1", Serial: "vol0123456789abcdef0"}); err == nil {
				t.Error("device_add on the root bus succeeded; this test's notes say it refuses hot-plug")
			} else {
				t.Logf("without a bus: %v", err)
			}
			if err := q.DeviceAdd(ctx, VirtioBlk{ID: "vd1", Drive: "vol1", Serial: "vol0123456789abcdef0", Bus: "hp1"}); err != nil {
				t.Fatal(err)
			}
			checkSize := func(want int64) {
				t.Helper()
				bs, err := q.QueryBlock(ctx)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, b := range bs {
					if b.Inserted != nil && b.Inserted.NodeName == "vol1" {
						found = true
						if !strings.HasPrefix(b.QDev, "/machine/peripheral/vd1") || b.Inserted.Image.VirtualSize != want || b.Inserted.Image.Filename != disk {
							t.Errorf("query-block: %+v %+v, want vd1 with %d bytes of %s", b, *b.Inserted, want, disk)
						}
					}
				}
				if !found {
					t.Errorf("query-block does not list vol1: %+v", bs)
				}
				if fi, err := os.Stat(disk); err != nil || fi.Size() != want {
					t.Errorf("the file: %v, %v; want %d bytes", fi.Size(), err, want)
				}
			}
			checkSize(1 << 20)
			if err := q.BlockResize(ctx, "vol1", 3<<20); err != nil {
				t.Fatal(err)
			}
			checkSize(3 << 20)

			if err := q.BlockdevDel(ctx, "vol1"); !IsErrorClass(err, ClassGenericError) {
				t.Errorf("blockdev-del of a node in use: %v, want GenericError", err)
			}
			delCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := q.DeviceDel(delCtx, "vd1"); err != nil {
				t.Fatal(err)
			}
			if err := q.BlockdevDel(ctx, "vol1"); err != nil {
				t.Fatal(err)
			}
			if err := q.DeviceDel(ctx, "vd1"); !IsErrorClass(err, ClassDeviceNotFound) {
				t.Errorf("device_del of a device that is gone: %v, want DeviceNotFound", err)
			}

			shutdown, stop := q.Events("SHUTDOWN")
			defer stop()
			if err := q.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case ev := <-shutdown:
				if ev.Name != "SHUTDOWN" || !strings.Contains(string(ev.Data), "host-qmp-quit") {
					t.Errorf("event %s %s, want SHUTDOWN for host-qmp-quit", ev.Name, ev.Data)
				}
			case <-ctx.Done():
				t.Fatal("no SHUTDOWN after quit")
			}
			select {
			case <-q.Done():
				if errors.Is(q.Err(), ErrClosed) {
					t.Errorf("Err() = %v, want QEMU's end", q.Err())
				}
			case <-ctx.Done():
				t.Fatal("the connection outlived quit")
			}
		})
	}
}

// TestRealQEMUGrowsABlockDevice: a disk over a block device (host_device, as the
// driver opens an encrypted volume's plaintext) takes the device's new size once
// the device has grown: QEMU cannot grow a block device itself, and block_resize
// to the device's size is how the guest learns of it. The device here is a loop
// device over a file (root, losetup).
func TestRealQEMUGrowsABlockDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	losetup := needTool(t, "losetup", "mount")
	dir := socketDir(t)
	q := startQEMU(t, dir, "-machine", "q35,sata=off,smbus=off", "-device", "pcie-root-port,id=hp1,bus=pcie.0,chassis=1")
	ctx := testContext(t)
	file := filepath.Join(dir, "vol.raw")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, 1<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", file).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command(losetup, "--detach", loop).Run() })

	if err := q.BlockdevAdd(ctx, RawFile{NodeName: "vol1", Filename: loop, HostDevice: true}); err != nil {
		t.Fatal(err)
	}
	if err := q.DeviceAdd(ctx, VirtioBlk{ID: "vd1", Drive: "vol1", Serial: "xvdf", Bus: "hp1"}); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		bs, err := q.QueryBlock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Inserted != nil && b.Inserted.NodeName == "vol1" {
				return b.Inserted.Image.VirtualSize
			}
		}
		t.Fatalf("query-block does not list vol1: %+v", bs)
		return 0
	}
	if got := size(); got != 1<<20 {
		t.Fatalf("the disk has %d bytes, want %d", got, 1<<20)
	}
	if err := q.BlockResize(ctx, "vol1", 3<<20); err == nil {
		t.Error("block_resize grew a block device that had not grown")
	}
	if err := os.Truncate(file, 3<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(losetup, "--set-capacity", loop).CombinedOutput(); err != nil {
		t.Fatalf("losetup --set-capacity: %v: %s", err, out)
	}
	if err := q.BlockResize(ctx, "vol1", 3<<20); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 3<<20 {
		t.Errorf("after block_resize the disk has %d bytes, want %d", got, 3<<20)
	}
	if err := q.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}
