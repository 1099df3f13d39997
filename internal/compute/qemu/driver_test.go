package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/compute/host"
	"strato/internal/imagebuild"
)

// The tests boot real virtual machines (TCG here) from the minimal image with
// Debian's cloud kernel and strato's initramfs; the guest's init is the instance
// helper built from this tree (guest-init --vm). They need root, QEMU, the image
// tools and, the first time, the Debian mirror for the kernel (kept in
// STRATO_TEST_VMKERNEL_CACHE or the user's cache directory). Without them they skip,
// unless STRATO_TEST_REQUIRE_TOOLS is set, when they fail.

var guestOnce struct {
	sync.Once
	dir  string // everything buildGuest made, removed after the tests
	boot compute.VMBoot
	disk string // the minimal image's disk, which each instance copies
	err  error
	skip string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if guestOnce.dir != "" {
		os.RemoveAll(guestOnce.dir)
	}
	os.Exit(code)
}

func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// testGuest is the kernel, initramfs and minimal disk the tests boot.
func testGuest(t *testing.T) (compute.VMBoot, string) {
	t.Helper()
	guestOnce.Do(func() {
		switch {
		case os.Geteuid() != 0:
			guestOnce.skip = "the test image's files belong to root and ec2-user: building it needs root"
		case runtime.GOARCH != "amd64":
			guestOnce.skip = "the VM tests boot an x86_64 kernel"
		}
		for _, tool := range []string{Binary, "mke2fs"} {
			if _, err := exec.LookPath(tool); err != nil && guestOnce.skip == "" {
				guestOnce.skip = tool + " is not installed"
			}
		}
		if guestOnce.skip != "" {
			return
		}
		guestOnce.boot, guestOnce.disk, guestOnce.err = buildGuest()
	})
	if guestOnce.skip != "" {
		need(t, guestOnce.skip)
	}
	if guestOnce.err != nil {
		need(t, guestOnce.err.Error())
	}
	return guestOnce.boot, guestOnce.disk
}

func buildGuest() (compute.VMBoot, string, error) {
	dir, err := os.MkdirTemp("", "strato-qemu-test-")
	if err != nil {
		return compute.VMBoot{}, "", err
	}
	guestOnce.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cache := os.Getenv("STRATO_TEST_VMKERNEL_CACHE")
	if cache == "" {
		if c, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(c, "strato-test", "vmkernel")
		}
	}
	var log bytes.Buffer
	files, err := imagebuild.InstallVMBoot(ctx, dir, cache, "x86_64", &log)
	if err != nil {
		return compute.VMBoot{}, "", fmt.Errorf("the VM kernel: %v\n%s", err, log.String())
	}
	helper := filepath.Join(dir, "strato")
	build := exec.CommandContext(ctx, "go", "build", "-o", helper, "strato/cmd/strato")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return compute.VMBoot{}, "", fmt.Errorf("building the helper: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	if err := imagebuild.MinimalRoot(ctx, root, helper); err != nil {
		return compute.VMBoot{}, "", err
	}
	if err := os.WriteFile(filepath.Join(root, probeInitPath), []byte(probeInit), 0o755); err != nil {
		return compute.VMBoot{}, "", err
	}
	disk := filepath.Join(dir, "minimal.img")
	if err := imagebuild.Disk(ctx, root, disk, 256<<20, imagebuild.RootLabel); err != nil {
		return compute.VMBoot{}, "", err
	}
	os.RemoveAll(root)
	return compute.VMBoot{Kernel: files.Kernel, Initrd: files.Initramfs, Cmdline: imagebuild.VMKernelArgs}, disk, nil
}

// testSpec is conformance's default instance with a copy of the minimal image as its
// root, and less memory (TCG touches what the guest uses only).
func testSpec(disk string) func(t *testing.T, id string) cloud.InstanceSpec {
	return func(t *testing.T, id string) cloud.InstanceSpec {
		spec := conformance.DefaultSpec(t, id)
		root := filepath.Join(t.TempDir(), "root.img")
		if err := host.CopySparse(disk, root); err != nil {
			t.Fatal(err)
		}
		spec.Root.Path, spec.MemoryMiB, spec.VCPUs = root, 512, 1
		return spec
	}
}

func TestConformance(t *testing.T) {
	boot, disk := testGuest(t)
	dirs := map[*testing.T]string{}
	conformance.RunConfig(t, conformance.Config{
		Timeout: 90 * time.Second,
		Spec:    testSpec(disk),
		Open: func(t *testing.T) cloud.Compute {
			dir, ok := dirs[t]
			if !ok {
				dir = t.TempDir()
				dirs[t] = dir
			}
			d, err := Open(compute.Options{DataDir: dir, StopTimeout: 30 * time.Second, VMBoot: boot})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	})
}

func TestMemoryScale(t *testing.T) {
	for _, tc := range []struct {
		scale      float64
		typeMiB    int
		machineMiB int
	}{{0, 1024, 1024}, {1, 1024, 1024}, {0.5, 1024, 512}, {0.1, 1024, 256}, {0.25, 16384, 4096}, {2, 1024, 1024}} {
		d := &Driver{opts: compute.Options{VMBoot: compute.VMBoot{MemoryScale: tc.scale}}}
		if got := d.memoryMiB(tc.typeMiB); got != tc.machineMiB {
			t.Errorf("scale %v, type %d MiB: %d MiB, want %d", tc.scale, tc.typeMiB, got, tc.machineMiB)
		}
	}
}
