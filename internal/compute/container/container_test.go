package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/imagebuild"

	"strato/internal/compute/host"
)

// The tests boot real containers from the minimal image's root file system,
// built once per test binary. They need root, runc, loop devices, e2fsprogs
// and busybox-static; without them they skip, unless STRATO_TEST_REQUIRE_TOOLS
// is set (scripts/test.sh sets it), when they fail.
var (
	testRoot     string // every file of the tests is under it (TMPDIR points there)
	testDisk     string // the minimal image: MBR, one ext4 partition
	testBareDisk string // the same file system without a partition table
	testInit     string // the stand-in for strato's guest init
	missingTools string // why the tests cannot run here
	buildErr     error
)

// testInitScript stands in for `strato guest-init`, whose contract the driver
// relies on: it says it booted, then ends as the real one does when the driver
// asks (SIGUSR2: poweroff, SIGTERM: reboot), writing the reason first.
const testInitScript = `#!/bin/sh
echo "test-init: booted as $(hostname)"
trap 'echo poweroff > /.strato/run/exit-reason; echo "test-init: poweroff"; exit 0' USR2
trap 'echo reboot > /.strato/run/exit-reason; echo "test-init: reboot"; exit 0' TERM
while :; do sleep 3600 & wait $!; done
`

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	missingTools = checkTools()
	if missingTools != "" {
		return m.Run()
	}
	var err error
	if testRoot, err = os.MkdirTemp("", "strato-container-test-"); err != nil {
		buildErr = err
		return m.Run()
	}
	defer os.RemoveAll(testRoot)
	defer sweep(testRoot)
	os.Setenv("TMPDIR", testRoot) // t.TempDir too, so that sweep finds everything
	buildErr = buildTestImages(testRoot)
	return m.Run()
}

func checkTools() string {
	if os.Geteuid() != 0 {
		return "the container driver's tests need root"
	}
	for _, tool := range []string{"runc", "mke2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	if _, err := os.Stat(imagebuild.BusyboxPath); err != nil {
		return "busybox-static is not installed"
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return "this host has no loop devices"
	}
	return ""
}

func buildTestImages(dir string) error {
	ctx := context.Background()
	root := filepath.Join(dir, "image-root")
	if err := imagebuild.MinimalRoot(ctx, root, ""); err != nil {
		return err
	}
	testDisk = filepath.Join(dir, "minimal.img")
	if err := imagebuild.Disk(ctx, root, testDisk, 64<<20, imagebuild.RootLabel); err != nil {
		return err
	}
	testBareDisk = filepath.Join(dir, "bare.img")
	if err := os.WriteFile(testBareDisk, nil, 0o600); err != nil {
		return err
	}
	if err := os.Truncate(testBareDisk, 48<<20); err != nil {
		return err
	}
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", root, testBareDisk).CombinedOutput(); err != nil {
		return fmt.Errorf("mke2fs: %v: %s", err, out)
	}
	testInit = filepath.Join(dir, "test-init")
	return os.WriteFile(testInit, []byte(testInitScript), 0o755)
}

// needContainers skips (or, with STRATO_TEST_REQUIRE_TOOLS, fails) a test that
// cannot run containers here.
func needContainers(t *testing.T) {
	t.Helper()
	if missingTools != "" {
		if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
			t.Fatalf("cannot test the container driver: %s", missingTools)
		}
		t.Skipf("cannot test the container driver: %s", missingTools)
	}
	if buildErr != nil {
		t.Fatalf("building the test image: %v", buildErr)
	}
}

// testEnv is one test's data directory and the options its drivers open with.
type testEnv struct {
	t    *testing.T
	data string
	opts compute.Options
}

func newEnv(t *testing.T) *testEnv {
	needContainers(t)
	data := t.TempDir()
	e := &testEnv{t: t, data: data, opts: compute.Options{DataDir: data, GuestInit: testInit, StopTimeout: 5 * time.Second}}
	// Runs after the test's own clean-ups (instances destroyed, driver
	// closed): whatever a failed test left is destroyed here.
	t.Cleanup(func() { e.destroyAll() })
	return e
}

// open opens a driver on the test's directory, closed when the test ends.
func (e *testEnv) open() *Driver {
	e.t.Helper()
	d, err := Open(e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { d.Close() })
	return d
}

func (e *testEnv) destroyAll() {
	d, err := Open(e.opts)
	if err != nil {
		e.t.Errorf("clean-up: %v", err)
		return
	}
	defer d.Close()
	for _, in := range d.table.All() {
		if err := d.Destroy(context.Background(), in.id); err != nil {
			e.t.Errorf("clean-up: %v", err)
		}
	}
}

// spec is an instance booting a copy of disk, with one instance-store volume.
func spec(t *testing.T, id, disk string) cloud.InstanceSpec {
	s := conformance.DefaultSpec(t, id)
	s.Root.Path = filepath.Join(t.TempDir(), "root.img")
	if err := host.CopySparse(disk, s.Root.Path); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	needContainers(t)
	envs := map[*testing.T]*testEnv{}
	conformance.RunConfig(t, conformance.Config{
		Open: func(t *testing.T) cloud.Compute {
			e, ok := envs[t]
			if !ok {
				e = newEnv(t)
				envs[t] = e
			}
			d, err := Open(e.opts)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Spec: func(t *testing.T, id string) cloud.InstanceSpec { return spec(t, id, testDisk) },
	})
}

// exec runs a command in a running instance and returns its output.
func (d *Driver) exec(t *testing.T, id string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("runc", append([]string{"--root", d.runc.root, "exec", id}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func (d *Driver) mustExec(t *testing.T, id string, args ...string) string {
	t.Helper()
	out, err := d.exec(t, id, args...)
	if err != nil {
		t.Fatalf("in %s: %q: %v: %s", id, args, err, out)
	}
	return out
}

// initPID is the PID of the instance's init now (0 when none).
func (d *Driver) initPID(id string) int {
	in, _ := d.table.Get(id)
	in.Lock()
	defer in.Unlock()
	return in.rec.Init.PID
}

// waitStatus waits until the instance reports state.
func waitStatus(t *testing.T, d *Driver, id, state string) cloud.InstanceRuntime {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rt, err := d.Status(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rt.State == state {
			return rt
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status(%s) = %+v, want %s", id, rt, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sweep removes whatever the tests left under root, should a test have failed
// half-way: containers, mounts, device-mapper devices, loop devices.
func sweep(root string) {
	runcRoots, _ := filepath.Glob(filepath.Join(root, "*", "compute", Name, "runc"))
	more, _ := filepath.Glob(filepath.Join(root, "*", "*", "compute", Name, "runc"))
	for _, r := range append(runcRoots, more...) {
		entries, _ := os.ReadDir(r)
		for _, e := range entries {
			exec.Command("runc", "--root", r, "delete", "--force", e.Name()).Run()
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
			unmountAll(f[4])
		}
	}
	host.SweepDisks(root)
}
