package container

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"strato/internal/cloud"
	"strato/internal/compute/conformance"

	"strato/internal/compute/host"
)

// kill ends an instance's init from the host, after writing reason ("" for
// none) where the guest init would.
func kill(t *testing.T, d *Driver, id, reason string) {
	t.Helper()
	path := filepath.Join(d.dir, id, runDirName, exitReasonFile)
	os.Remove(path)
	if reason != "" {
		if err := os.WriteFile(path, []byte(reason+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pid := d.initPID(id)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, alive := host.Identify(pid); !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the init of %s did not end", id)
		}
	}
}

// signalInit signals the instance's init from inside, as busybox's poweroff and
// reboot do. The kill itself may die with the instance: its status is not
// checked, what follows is.
func signalInit(t *testing.T, d *Driver, id, sig string) {
	t.Helper()
	if out, err := d.exec(t, id, "kill", sig, "1"); err != nil && !strings.Contains(err.Error(), "signal: killed") && !strings.Contains(err.Error(), "exit status 137") {
		t.Fatalf("kill %s 1 in %s: %v: %s", sig, id, err, out)
	}
}

// TestEndedWhileStratoWasDown: containers that ended while no driver watched
// them are reported as their guest left them when the next driver opens.
func TestEndedWhileStratoWasDown(t *testing.T) {
	e := newEnv(t)
	d := e.open()
	ids := map[string]string{}
	for _, what := range []string{"poweroff", "crash", "reboot", "alive"} {
		s := spec(t, conformance.NewID(), testDisk)
		running(t, d, s)
		ids[what] = s.ID
	}
	alivePID := d.initPID(ids["alive"])
	rebootPID := d.initPID(ids["reboot"])
	d.Close()
	kill(t, d, ids["poweroff"], reasonPoweroff)
	kill(t, d, ids["crash"], "")
	kill(t, d, ids["reboot"], reasonReboot)

	d = e.open()
	t.Cleanup(func() {
		for _, id := range ids {
			d.Destroy(context.Background(), id)
		}
	})
	if rt := waitStatus(t, d, ids["poweroff"], stateStopped); !rt.ShutdownFromGuest || rt.Impaired {
		t.Errorf("powered off while strato was down: %+v, want stopped by the guest", rt)
	}
	if rt := waitStatus(t, d, ids["crash"], stateStopped); !rt.Impaired {
		t.Errorf("crashed while strato was down: %+v, want impaired", rt)
	}
	if rt := waitStatus(t, d, ids["reboot"], stateRunning); rt.Impaired || d.initPID(ids["reboot"]) == rebootPID {
		t.Errorf("rebooted while strato was down: %+v, want running again in a new container", rt)
	}
	waitStatus(t, d, ids["alive"], stateRunning)
	if pid := d.initPID(ids["alive"]); pid != alivePID {
		t.Errorf("a running instance was restarted on adoption (PID %d, was %d)", pid, alivePID)
	}
	for _, what := range []string{"poweroff", "crash"} {
		if isMountPoint(filepath.Join(d.dir, ids[what], rootfsDirName)) {
			t.Errorf("the %s instance's root is still mounted", what)
		}
	}
	// The adopted instance is watched: its guest's poweroff is seen.
	signalInit(t, d, ids["alive"], "-USR2")
	if rt := waitStatus(t, d, ids["alive"], stateStopped); !rt.ShutdownFromGuest {
		t.Errorf("after a poweroff inside an adopted instance: %+v, want stopped by the guest", rt)
	}
}

// TestGuestShutdownsFromInside: the guest's own reboot and poweroff (its init
// signalled from inside, as busybox's reboot and poweroff do).
func TestGuestShutdownsFromInside(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testDisk)
	running(t, d, s)
	d.mustExec(t, s.ID, "sh", "-c", "printf instance-store > /dev/xvdb && sync")
	pid := d.initPID(s.ID)

	signalInit(t, d, s.ID, "-TERM")
	waitFor(t, "a new container after the guest's reboot", func() bool {
		rt, _ := d.Status(context.Background(), s.ID)
		return rt.State == stateRunning && d.initPID(s.ID) != pid
	})
	if rt, _ := d.Status(context.Background(), s.ID); rt.Impaired || rt.ShutdownFromGuest {
		t.Errorf("after a reboot inside: %+v", rt)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "14", "/dev/xvdb"); out != "instance-store" {
		t.Errorf("instance store after a reboot holds %q, want what was written before", out)
	}
	console, _ := d.ConsoleOutput(context.Background(), s.ID)
	if n := bytes.Count(console, []byte("test-init: booted")); n != 2 {
		t.Errorf("console shows %d boots, want 2:\n%s", n, console)
	}

	signalInit(t, d, s.ID, "-USR2")
	if rt := waitStatus(t, d, s.ID, stateStopped); !rt.ShutdownFromGuest || rt.Impaired {
		t.Errorf("after a poweroff inside: %+v, want stopped by the guest", rt)
	}
	if data, _ := os.ReadFile(s.Devices[0].Path); len(data) != 16<<20 || !bytes.Equal(data[:14], make([]byte, 14)) {
		t.Errorf("instance store after a stop: %d bytes starting %q, want 16 MiB of zeros", len(data), data[:14])
	}
}

func TestRebootKeepsInstanceStore(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testDisk)
	running(t, d, s)
	d.mustExec(t, s.ID, "sh", "-c", "printf kept > /dev/xvdb && sync")
	if err := d.Reboot(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "4", "/dev/xvdb"); out != "kept" {
		t.Errorf("instance store after Reboot holds %q, want %q", out, "kept")
	}
	if console, _ := d.ConsoleOutput(context.Background(), s.ID); !bytes.Contains(console, []byte("test-init: reboot")) {
		t.Errorf("the guest was not asked to reboot; console:\n%s", console)
	}
}

// TestStopTimeout: a guest that ignores the request is killed after
// StopTimeout, and the stop is still the user's, not a crash.
func TestStopTimeout(t *testing.T) {
	e := newEnv(t)
	stubborn := filepath.Join(t.TempDir(), "stubborn-init")
	script := "#!/bin/sh\ntrap '' USR2 TERM\necho stubborn\nwhile :; do sleep 3600 & wait $!; done\n"
	if err := os.WriteFile(stubborn, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.opts.GuestInit, e.opts.StopTimeout = stubborn, 500*time.Millisecond
	d := e.open()
	s := spec(t, conformance.NewID(), testDisk)
	running(t, d, s)
	start := time.Now()
	if err := d.Stop(context.Background(), s.ID, false); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < e.opts.StopTimeout {
		t.Errorf("Stop took %v, less than the guest's %v", took, e.opts.StopTimeout)
	}
	if rt := waitStatus(t, d, s.ID, stateStopped); rt.Impaired || rt.ShutdownFromGuest {
		t.Errorf("after a forced-by-timeout stop: %+v, want a plain stop", rt)
	}
}

// TestInstanceStoreRoot: an instance-store-backed instance runs on its own
// copy of the image's disk, which goes with it.
func TestInstanceStoreRoot(t *testing.T) {
	d := newEnv(t).open()
	s := spec(t, conformance.NewID(), testDisk)
	s.RootType = "instance-store"
	before := fileHash(t, s.Root.Path)
	running(t, d, s)
	d.mustExec(t, s.ID, "sh", "-c", "echo changed > /etc/hostname && sync")
	if fileHash(t, s.Root.Path) != before {
		t.Error("the instance wrote to the image's disk, not to its own copy")
	}
	instanceDir := filepath.Join(d.dir, s.ID)
	if _, err := os.Stat(filepath.Join(instanceDir, rootCopyName)); err != nil {
		t.Errorf("no root copy: %v", err)
	}
	if err := d.Destroy(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(instanceDir); !os.IsNotExist(err) {
		t.Errorf("the instance's directory is left after Destroy: %v", err)
	}
	if _, err := os.Stat(s.Devices[0].Path); !os.IsNotExist(err) {
		t.Errorf("the instance-store volume is left after Destroy: %v", err)
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(raw)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestEncryptedVolumes: ciphertext volumes are read through dm-crypt; on a host
// without device-mapper, Create and AttachVolume say so.
func TestEncryptedVolumes(t *testing.T) {
	d := newEnv(t).open()
	key := bytes.Repeat([]byte{0x5a, 0xa5}, host.XTSKeySize/2)
	s := spec(t, conformance.NewID(), testDisk)
	conformance.EncryptFile(t, s.Root.Path, key)
	s.Root.Key = key
	if host.DeviceMapperReady() != nil {
		if misc, _ := os.ReadFile("/proc/misc"); bytes.Contains(misc, []byte(" device-mapper\n")) && os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
			t.Fatal("the kernel has device-mapper but dmsetup is not installed (Debian package dmsetup)")
		}
		err := d.Create(context.Background(), s)
		if err == nil || !strings.Contains(err.Error(), "device-mapper") {
			t.Fatalf("Create with an encrypted root on a host without device-mapper = %v, want an error saying so", err)
		}
		plain := spec(t, conformance.NewID(), testDisk)
		running(t, d, plain)
		vol := cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "x"), Key: key}
		if err := d.AttachVolume(context.Background(), plain.ID, vol); err == nil || !strings.Contains(err.Error(), "device-mapper") {
			t.Fatalf("AttachVolume of an encrypted volume without device-mapper = %v, want an error saying so", err)
		}
		t.Skip("no device-mapper on this host: encrypted volumes cannot be opened (checked that they are refused)")
	}
	running(t, d, s)
	if out := d.mustExec(t, s.ID, "cat", "/etc/os-release"); !strings.Contains(out, "strato minimal") {
		t.Errorf("the encrypted root reads %q", out)
	}
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "plaintext"), Key: key}
	conformance.EncryptFile(t, vol.Path, key)
	if err := d.AttachVolume(context.Background(), s.ID, vol); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "9", "/dev/xvdf"); out != "plaintext" {
		t.Errorf("the encrypted volume reads %q inside, want its plaintext", out)
	}

	// Grown (ModifyVolume): the plaintext device takes the file's new size.
	if err := os.Truncate(vol.Path, 24<<20); err != nil {
		t.Fatal(err)
	}
	if err := d.ResizeVolume(context.Background(), s.ID, vol.Device, 24<<20); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "blockdev", "--getsize64", "/dev/xvdf"); out != strconv.Itoa(24<<20) {
		t.Errorf("blockdev --getsize64 of the grown encrypted volume = %s, want %d", out, 24<<20)
	}
	if out := d.mustExec(t, s.ID, "head", "-c", "9", "/dev/xvdf"); out != "plaintext" {
		t.Errorf("the grown encrypted volume reads %q inside, want its plaintext", out)
	}
}
