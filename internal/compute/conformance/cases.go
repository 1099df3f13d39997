package conformance

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
)

func testLifecycle(t *testing.T, s *suite) {
	id, _ := s.create()
	s.waitState(id, "created")
	s.must("Start", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	s.must("Stop (graceful)", s.d.Stop(ctx(t), id, false))
	s.waitState(id, "stopped")
	s.must("Start after stop", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	s.must("Reboot", s.d.Reboot(ctx(t), id))
	rt := s.waitState(id, "running")
	if rt.ShutdownFromGuest || rt.Impaired {
		t.Errorf("after Reboot Status = %+v, want neither a guest shutdown nor impaired", rt)
	}
	s.must("Stop (force)", s.d.Stop(ctx(t), id, true))
	s.waitState(id, "stopped")
	s.must("Start after forced stop", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	s.must("Destroy (running)", s.d.Destroy(ctx(t), id))
	_, err := s.d.Status(ctx(t), id)
	wantErr(t, "Status after Destroy", err, compute.ErrNotFound)
}

// testRepeatSafe: the control plane redoes unfinished work after a crash, so
// every call made twice ends where one call would.
func testRepeatSafe(t *testing.T, s *suite) {
	id, spec := s.create()
	s.must("Create again", s.d.Create(ctx(t), spec))
	s.waitState(id, "created")
	for range 2 {
		s.must("Start", s.d.Start(ctx(t), id))
	}
	s.waitState(id, "running")
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, t.TempDir(), "vol.img", 8<<20)}
	for range 2 {
		s.must("AttachVolume", s.d.AttachVolume(ctx(t), id, vol))
	}
	for range 2 {
		s.must("DetachVolume", s.d.DetachVolume(ctx(t), id, vol.Device))
	}
	for _, force := range []bool{false, false, true} {
		s.must("Stop", s.d.Stop(ctx(t), id, force))
	}
	s.waitState(id, "stopped")
	for range 2 {
		s.must("Destroy", s.d.Destroy(ctx(t), id))
	}
	_, err := s.d.Status(ctx(t), id)
	wantErr(t, "Status after Destroy", err, compute.ErrNotFound)
}

func testNotFound(t *testing.T, s *suite) {
	id := NewID()
	c := ctx(t)
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, t.TempDir(), "vol.img", 1<<20)}
	wantErr(t, "Start(unknown)", s.d.Start(c, id), compute.ErrNotFound)
	wantErr(t, "Stop(unknown)", s.d.Stop(c, id, false), compute.ErrNotFound)
	wantErr(t, "Stop(unknown, force)", s.d.Stop(c, id, true), compute.ErrNotFound)
	wantErr(t, "Reboot(unknown)", s.d.Reboot(c, id), compute.ErrNotFound)
	wantErr(t, "AttachVolume(unknown)", s.d.AttachVolume(c, id, vol), compute.ErrNotFound)
	wantErr(t, "DetachVolume(unknown)", s.d.DetachVolume(c, id, vol.Device), compute.ErrNotFound)
	wantErr(t, "ResizeVolume(unknown)", s.d.ResizeVolume(c, id, vol.Device, 2<<20), compute.ErrNotFound)
	_, err := s.d.Status(c, id)
	wantErr(t, "Status(unknown)", err, compute.ErrNotFound)
	_, err = s.d.ConsoleOutput(c, id)
	wantErr(t, "ConsoleOutput(unknown)", err, compute.ErrNotFound)
	if err := s.d.Destroy(c, id); err != nil {
		t.Errorf("Destroy(unknown) = %v, want nil: destroying what is gone is a no-op", err)
	}
}

func testInvalidState(t *testing.T, s *suite) {
	id, _ := s.create()
	wantErr(t, "Reboot(created)", s.d.Reboot(ctx(t), id), compute.ErrInvalidState)
	s.must("Start", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	s.must("Stop", s.d.Stop(ctx(t), id, false))
	s.waitState(id, "stopped")
	wantErr(t, "Reboot(stopped)", s.d.Reboot(ctx(t), id), compute.ErrInvalidState)

	dir := t.TempDir()
	first := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, dir, "a.img", 1<<20)}
	other := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, dir, "b.img", 1<<20)}
	s.must("AttachVolume", s.d.AttachVolume(ctx(t), id, first))
	wantErr(t, "AttachVolume(another volume at a used device)", s.d.AttachVolume(ctx(t), id, other), compute.ErrInvalidState)
	s.waitState(id, "stopped")
}

// testVolumes: hot-plug while running and cold-plug while stopped, the root
// volume too; a running instance keeps running through both.
func testVolumes(t *testing.T, s *suite) {
	id, spec := s.running()
	dir := t.TempDir()
	hot := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, dir, "hot.img", 8<<20)}
	s.must("AttachVolume (running)", s.d.AttachVolume(ctx(t), id, hot))
	s.waitState(id, "running")
	s.must("DetachVolume (running)", s.d.DetachVolume(ctx(t), id, hot.Device))
	s.must("AttachVolume again (running)", s.d.AttachVolume(ctx(t), id, hot))
	s.waitState(id, "running")

	s.must("Stop", s.d.Stop(ctx(t), id, false))
	s.waitState(id, "stopped")
	cold := cloud.BlockDevice{Device: "/dev/sdg", Path: SparseFile(t, dir, "cold.img", 8<<20), ReadOnly: true}
	s.must("AttachVolume (stopped)", s.d.AttachVolume(ctx(t), id, cold))
	s.must("DetachVolume (root, stopped)", s.d.DetachVolume(ctx(t), id, spec.Root.Device))
	s.must("AttachVolume (root again, stopped)", s.d.AttachVolume(ctx(t), id, spec.Root))
	s.must("AttachVolume (root, the same again)", s.d.AttachVolume(ctx(t), id, spec.Root))
	s.must("Start with both", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	s.must("DetachVolume (running)", s.d.DetachVolume(ctx(t), id, cold.Device))
	s.must("DetachVolume (never attached)", s.d.DetachVolume(ctx(t), id, "/dev/sdz"))
	s.waitState(id, "running")
}

// testResizeVolume: volumes whose files grew (ModifyVolume) are resized in a
// running instance, the root volume too, and the call is repeat-safe; a device
// without a volume and a stopped instance are nothing to do. What the guest
// sees is each driver's own test.
func testResizeVolume(t *testing.T, s *suite) {
	id, spec := s.running()
	hot := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, t.TempDir(), "hot.img", 8<<20)}
	s.must("AttachVolume", s.d.AttachVolume(ctx(t), id, hot))
	grow := func(path string, size int64) {
		t.Helper()
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
	grow(hot.Path, 16<<20)
	for range 2 {
		s.must("ResizeVolume", s.d.ResizeVolume(ctx(t), id, hot.Device, 16<<20))
	}
	rootSize := fileSize(t, spec.Root.Path) + 8<<20
	grow(spec.Root.Path, rootSize)
	s.must("ResizeVolume (root)", s.d.ResizeVolume(ctx(t), id, spec.Root.Device, rootSize))
	s.must("ResizeVolume (no volume there)", s.d.ResizeVolume(ctx(t), id, "/dev/sdz", 16<<20))
	s.waitState(id, "running")

	s.must("Stop", s.d.Stop(ctx(t), id, false))
	s.waitState(id, "stopped")
	grow(hot.Path, 24<<20)
	s.must("ResizeVolume (stopped)", s.d.ResizeVolume(ctx(t), id, hot.Device, 24<<20))
	s.must("Start after growing", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	s.must("DetachVolume (grown)", s.d.DetachVolume(ctx(t), id, hot.Device))
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// testInterfaces: a second interface hot-plugs and unplugs while running; the
// same one twice is a no-op, another at a used device index is refused, and the
// primary interface stays.
func testInterfaces(t *testing.T, s *suite) {
	id, spec := s.running()
	second := cloud.InterfaceSpec{ID: "eni-0123456789abcdef1", DeviceIndex: 1, MAC: "0e:00:00:00:00:02",
		PrivateIPs: []string{"10.0.1.20"}, SubnetCIDR: "10.0.1.0/24", Gateway: "10.0.1.1"}
	s.must("AttachInterface (running)", s.d.AttachInterface(ctx(t), id, second))
	s.must("AttachInterface again", s.d.AttachInterface(ctx(t), id, second))
	clash := second
	clash.ID = "eni-0123456789abcdef2"
	wantErr(t, "AttachInterface(another at a used device index)", s.d.AttachInterface(ctx(t), id, clash), compute.ErrInvalidState)
	s.waitState(id, "running")
	s.must("DetachInterface", s.d.DetachInterface(ctx(t), id, second.ID))
	s.must("DetachInterface again", s.d.DetachInterface(ctx(t), id, second.ID))
	if len(spec.Interfaces) > 0 {
		wantErr(t, "DetachInterface(primary)", s.d.DetachInterface(ctx(t), id, spec.Interfaces[0].ID), compute.ErrInvalidState)
	}
	s.waitState(id, "running")
}

// testConsole: a booted instance has a console log, which grows across reboots
// and survives a stop (EC2 shows the last output of a stopped instance).
func testConsole(t *testing.T, s *suite) {
	id, _ := s.create()
	if _, err := s.d.ConsoleOutput(ctx(t), id); err != nil {
		t.Fatalf("ConsoleOutput(created) = %v, want no error", err)
	}
	s.must("Start", s.d.Start(ctx(t), id))
	s.waitState(id, "running")
	booted := s.waitConsole(id, 1)
	s.must("Reboot", s.d.Reboot(ctx(t), id))
	s.waitState(id, "running")
	s.waitConsole(id, len(booted)+1)
	s.must("Stop", s.d.Stop(ctx(t), id, false))
	s.waitState(id, "stopped")
	out, err := s.d.ConsoleOutput(ctx(t), id)
	s.must("ConsoleOutput(stopped)", err)
	if len(out) == 0 {
		t.Error("ConsoleOutput of a stopped instance is empty, want its last output")
	}
}

// waitConsole waits until the console holds at least n bytes.
func (s *suite) waitConsole(id string, n int) []byte {
	s.t.Helper()
	deadline := time.Now().Add(s.cfg.Timeout)
	for {
		out, err := s.d.ConsoleOutput(ctx(s.t), id)
		s.must("ConsoleOutput", err)
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("console of %s has %d bytes after %v, want at least %d", id, len(out), s.cfg.Timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testGuestEvents(t *testing.T, s *suite) {
	guest, ok := s.d.(GuestEvents)
	if !ok {
		t.Skipf("driver %s cannot make its guest power off or crash on demand (no GuestEvents)", s.d.Name())
	}
	id, _ := s.running()
	s.must("PowerOffFromGuest", guest.PowerOffFromGuest(id))
	if rt := s.waitState(id, "stopped"); !rt.ShutdownFromGuest || rt.Impaired {
		t.Errorf("after a guest poweroff Status = %+v, want stopped with ShutdownFromGuest", rt)
	}
	s.must("Start", s.d.Start(ctx(t), id))
	if rt := s.waitState(id, "running"); rt.ShutdownFromGuest || rt.Impaired {
		t.Errorf("after Start Status = %+v, want the poweroff forgotten", rt)
	}
	s.must("Crash", guest.Crash(id))
	deadline := time.Now().Add(s.cfg.Timeout)
	for {
		rt, err := s.d.Status(ctx(t), id)
		s.must("Status", err)
		if rt.Impaired && rt.State != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a crash Status = %+v, want Impaired and not running", rt)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.must("Start after crash", s.d.Start(ctx(t), id))
	if rt := s.waitState(id, "running"); rt.Impaired {
		t.Errorf("after Start Status = %+v, want the crash forgotten", rt)
	}
}

// testAdoptOnRestart: a driver opened again on the same data directory reports
// the instances the previous one left, and can still act on them.
func testAdoptOnRestart(t *testing.T, s *suite) {
	up, _ := s.running()
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: SparseFile(t, t.TempDir(), "vol.img", 8<<20)}
	s.must("AttachVolume", s.d.AttachVolume(ctx(t), up, vol))
	down, _ := s.running()
	s.must("Stop", s.d.Stop(ctx(t), down, false))
	s.waitState(down, "stopped")
	created, _ := s.create()
	gone, _ := s.create()
	s.must("Destroy", s.d.Destroy(ctx(t), gone))
	before, err := s.d.ConsoleOutput(ctx(t), up)
	s.must("ConsoleOutput", err)

	s.reopen()
	s.waitState(up, "running")
	s.waitState(down, "stopped")
	s.waitState(created, "created")
	_, err = s.d.Status(ctx(t), gone)
	wantErr(t, "Status(destroyed before the restart)", err, compute.ErrNotFound)
	after, err := s.d.ConsoleOutput(ctx(t), up)
	s.must("ConsoleOutput after restart", err)
	if !bytes.HasPrefix(after, before) && len(before) < 64<<10 {
		t.Errorf("console after restart does not continue the one before:\nbefore %q\nafter  %q", before, after)
	}

	s.must("AttachVolume again after restart", s.d.AttachVolume(ctx(t), up, vol))
	s.must("DetachVolume after restart", s.d.DetachVolume(ctx(t), up, vol.Device))
	s.must("Reboot after restart", s.d.Reboot(ctx(t), up))
	s.must("Start after restart", s.d.Start(ctx(t), down))
	s.waitState(down, "running")
	for _, id := range []string{up, down, created} {
		s.must("Destroy after restart", s.d.Destroy(context.Background(), id))
	}
}
