package mock_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/compute/mock"
)

func openMock(t *testing.T, opts compute.Options) *mock.Driver {
	t.Helper()
	d, err := mock.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// runningMock opens a driver with one running instance of conformance.DefaultSpec.
func runningMock(t *testing.T, opts compute.Options) (*mock.Driver, string) {
	t.Helper()
	d := openMock(t, opts)
	id := conformance.NewID()
	must(t, d.Create(t.Context(), conformance.DefaultSpec(t, id)))
	must(t, d.Start(t.Context(), id))
	return d, id
}

func TestStateFileUnderDataDirWithoutKeys(t *testing.T) {
	data := t.TempDir()
	d := openMock(t, compute.Options{DataDir: data})
	id := conformance.NewID()
	spec := conformance.DefaultSpec(t, id)
	secret := bytes.Repeat([]byte{0xA5}, 64)
	spec.Root.Key = secret
	if err := d.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(data, "compute", "mock", "instances.json"))
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if !strings.Contains(string(raw), id) {
		t.Errorf("state file does not record %s", id)
	}
	if bytes.Contains(raw, []byte("paWl")) || strings.Contains(string(raw), `"Key":"`) {
		t.Errorf("state file holds a volume key: %s", raw)
	}
}

func TestCorruptStateFileRefused(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "compute", "mock")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "instances.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mock.Open(compute.Options{DataDir: data}); err == nil {
		t.Fatal("Open over a corrupt state file succeeded; it must not silently lose instances")
	}
}

func TestInMemoryWithoutDataDir(t *testing.T) {
	d := openMock(t, compute.Options{})
	id := conformance.NewID()
	if err := d.Create(t.Context(), conformance.DefaultSpec(t, id)); err != nil {
		t.Fatal(err)
	}
	if rt, err := d.Status(t.Context(), id); err != nil || rt.State != mock.StateCreated {
		t.Fatalf("Status = %+v, %v", rt, err)
	}
	other := openMock(t, compute.Options{})
	rt, err := other.Status(t.Context(), id)
	if !errors.Is(err, compute.ErrNotFound) || rt.State != mock.StateGone {
		t.Fatalf("a second in-memory driver sees %+v, %v; want gone, ErrNotFound", rt, err)
	}
}

func TestConsoleStampedByClock(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	d, id := runningMock(t, compute.Options{Clock: clock})
	ctx := t.Context()
	clock.Advance(time.Hour)
	must(t, d.Reboot(ctx, id))
	out, err := d.ConsoleOutput(ctx, id)
	must(t, err)
	for _, want := range []string{
		"[2025-03-04T05:06:07Z] Linux version",
		"[2025-03-04T06:06:07Z] reboot: Restarting system",
		"ip-10-0-0-10 login:",
		"eth0: 02:00:0a:00:00:0a (eni-0123456789abcdef0) 10.0.0.10",
		"xvdb: 16777216 bytes, instance storage",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
}

func TestConsoleKeepsLast64KiB(t *testing.T) {
	d, id := runningMock(t, compute.Options{})
	ctx := t.Context()
	for range 1000 {
		must(t, d.Reboot(ctx, id))
	}
	out, err := d.ConsoleOutput(ctx, id)
	must(t, err)
	if len(out) > 64<<10 || len(out) < 60<<10 {
		t.Errorf("console holds %d bytes, want the last 64 KiB", len(out))
	}
	if !bytes.HasPrefix(out, []byte("[")) {
		t.Errorf("console was cut mid-line: %q", out[:40])
	}
}

func TestDevicesRecordAttachAndDetach(t *testing.T) {
	d, id := runningMock(t, compute.Options{})
	ctx := t.Context()
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: "/volumes/vol-1", Key: []byte("k")}
	must(t, d.AttachVolume(ctx, id, vol))
	if got := deviceNames(t, d, id); got != "/dev/xvda /dev/sdb /dev/sdf" {
		t.Errorf("devices after attach = %q", got)
	}
	out, _ := d.ConsoleOutput(ctx, id)
	if !strings.Contains(string(out), "blkfront: xvdf: attached") {
		t.Errorf("console does not show the hot-plug:\n%s", out)
	}
	must(t, d.DetachVolume(ctx, id, "/dev/sdf"))
	if got := deviceNames(t, d, id); got != "/dev/xvda /dev/sdb" {
		t.Errorf("devices after detach = %q", got)
	}
	err := d.DetachVolume(ctx, id, "/dev/xvda")
	if !errors.Is(err, compute.ErrInvalidState) {
		t.Errorf("detaching the root of a running instance = %v, want ErrInvalidState", err)
	}
	must(t, d.Stop(ctx, id, false))
	must(t, d.DetachVolume(ctx, id, "/dev/xvda"))
}

func TestGuestHooksNeedRunningInstance(t *testing.T) {
	d := openMock(t, compute.Options{})
	id := conformance.NewID()
	must(t, d.Create(t.Context(), conformance.DefaultSpec(t, id)))
	if err := d.PowerOffFromGuest(id); !errors.Is(err, compute.ErrInvalidState) {
		t.Errorf("PowerOffFromGuest(created) = %v, want ErrInvalidState", err)
	}
	if err := d.Crash(id); !errors.Is(err, compute.ErrInvalidState) {
		t.Errorf("Crash(created) = %v, want ErrInvalidState", err)
	}
	if err := d.Crash("i-00000000000000000"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("Crash(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCanceledContext(t *testing.T) {
	d := openMock(t, compute.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := d.Create(ctx, conformance.DefaultSpec(t, conformance.NewID())); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a canceled context = %v", err)
	}
}

func deviceNames(t *testing.T, d *mock.Driver, id string) string {
	t.Helper()
	devs, err := d.Devices(id)
	must(t, err)
	var names []string
	for _, b := range devs {
		names = append(names, b.Device)
	}
	return strings.Join(names, " ")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
