package qemu

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/compute/host"
	"strato/internal/imagebuild"
)

// The disk tests look at the guest's disks from inside: booted with
// strato.init=/sbin/strato-test-init (the initramfs starts it instead of
// /sbin/init), the test image's guest runs a probe that writes to the console
// what its kernel says of every virtio disk whenever that changes, then becomes
// the instance helper as usual. A line reads
//
//	probe: xvda=524288:................ xvdf=16384:plaintext-marker
//
// for each disk its serial (the EC2 device name), its size in 512-byte sectors
// (/sys/block/vdX/size), and its first 16 bytes (a-z and '-' kept, the rest '.').
const probeInitPath = "sbin/strato-test-init"

const probeInit = `#!/bin/sh
(
	last=
	while :; do
		now=
		for d in /sys/block/vd*; do
			[ -r "$d/size" ] || continue
			now="$now $(cat "$d/serial")=$(cat "$d/size"):$(head -c 16 "/dev/${d##*/}" | tr -c 'a-z-' '.')"
		done
		if [ "$now" != "$last" ]; then
			echo "probe:$now"
			last=$now
		fi
		sleep 1
	done
) </dev/null 2>&1 &
exec /usr/local/sbin/strato guest-init --vm
`

// probeEnv is a test's driver whose guests run the probe, and the specs it boots.
type probeEnv struct {
	t    *testing.T
	d    *Driver
	opts compute.Options
	spec func(t *testing.T, id string) cloud.InstanceSpec
}

// probing opens a driver whose guests run the probe. Its instances are destroyed
// when the test ends, and whatever loop or device-mapper device a failed test
// left over the test's files goes.
func probing(t *testing.T) *probeEnv {
	t.Helper()
	boot, disk := testGuest(t)
	boot.Cmdline += " strato.init=/" + probeInitPath
	files := filepath.Dir(t.TempDir())
	t.Cleanup(func() { host.SweepDisks(files) })
	e := &probeEnv{t: t, opts: compute.Options{DataDir: t.TempDir(), StopTimeout: 30 * time.Second, VMBoot: boot}, spec: testSpec(disk)}
	e.reopen()
	t.Cleanup(func() {
		for _, in := range e.d.table.All() {
			if err := e.d.Destroy(context.Background(), in.id); err != nil {
				t.Errorf("clean-up: %v", err)
			}
		}
		e.d.Close()
	})
	return e
}

// reopen opens the driver (again, as after a restart of strato).
func (e *probeEnv) reopen() {
	e.t.Helper()
	if e.d != nil {
		e.d.Close()
	}
	d, err := Open(e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.d = d
}

// waitProbe waits until the guest's latest probe line has every part of want
// ("xvdf=16384:plaintext"); it returns that line.
func waitProbe(t *testing.T, d *Driver, id string, want ...string) string {
	t.Helper()
	var line string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := d.ConsoleOutput(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndex(out, []byte("probe:")); i >= 0 {
			line, _, _ = strings.Cut(string(out[i:]), "\n")
			seen := 0
			for _, w := range want {
				if strings.Contains(line, " "+w) {
					seen++
				}
			}
			if seen == len(want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest's disks are %q, want %q; console:\n%s", line, want, out)
		}
	}
}

func grow(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// TestResizeVolumeInGuest: volumes whose files grew (ModifyVolume), an attached one
// and the root, show their new sizes in the running guest, their data kept.
func TestResizeVolumeInGuest(t *testing.T) {
	e := probing(t)
	ctx := context.Background()
	spec := e.spec(t, conformance.NewID())
	st, err := os.Stat(spec.Root.Path)
	if err != nil {
		t.Fatal(err)
	}
	rootSize := st.Size()
	if err := e.d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	vol := cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "kept")}
	if err := e.d.AttachVolume(ctx, spec.ID, vol); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, e.d, spec.ID, sectors("xvda", rootSize, ""), "xvdf=16384:kept")
	grow(t, vol.Path, 24<<20)
	grow(t, spec.Root.Path, rootSize+64<<20)
	if err := e.d.ResizeVolume(ctx, spec.ID, vol.Device, 24<<20); err != nil {
		t.Fatal(err)
	}
	if err := e.d.ResizeVolume(ctx, spec.ID, spec.Root.Device, rootSize+64<<20); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, e.d, spec.ID, sectors("xvda", rootSize+64<<20, ""), "xvdf=49152:kept")
}

// TestEncryptedVolumesInGuest: an encrypted volume's file holds ciphertext, and the
// guest reads its plaintext (dm-crypt on the host): it boots from an encrypted root,
// reads an encrypted volume it started with and one hot-plugged, and sees one grow.
// Detach, stop and destroy leave no loop or device-mapper device behind, also when
// a driver opened after a restart of strato stops the machine. On a host without
// device-mapper, Create and AttachVolume say so.
func TestEncryptedVolumesInGuest(t *testing.T) {
	e := probing(t)
	ctx := context.Background()
	key := bytes.Repeat([]byte{0x5a, 0xa5}, host.XTSKeySize/2)
	encrypted := func(b cloud.BlockDevice) cloud.BlockDevice {
		conformance.EncryptFile(t, b.Path, key)
		b.Key = key
		return b
	}
	spec := e.spec(t, conformance.NewID())
	spec.Root = encrypted(spec.Root)
	cold := encrypted(cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "cold-plaintext")})
	spec.Devices = append(spec.Devices, cold)
	hot := encrypted(cloud.BlockDevice{Device: "/dev/sdg", Path: conformance.VolumeWith(t, "hot-plaintext")})

	if host.DeviceMapperReady() != nil {
		if misc, _ := os.ReadFile("/proc/misc"); bytes.Contains(misc, []byte(" device-mapper\n")) && os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
			t.Fatal("the kernel has device-mapper but dmsetup is not installed (Debian package dmsetup)")
		}
		if err := e.d.Create(ctx, spec); err == nil || !strings.Contains(err.Error(), "device-mapper") {
			t.Fatalf("Create with encrypted volumes on a host without device-mapper = %v, want an error saying so", err)
		}
		plain := e.spec(t, conformance.NewID())
		if err := e.d.Create(ctx, plain); err != nil {
			t.Fatal(err)
		}
		if err := e.d.AttachVolume(ctx, plain.ID, hot); err == nil || !strings.Contains(err.Error(), "device-mapper") {
			t.Fatalf("AttachVolume of an encrypted volume without device-mapper = %v, want an error saying so", err)
		}
		t.Skip("no device-mapper on this host: encrypted volumes cannot be opened (checked that they are refused)")
	}

	if err := e.d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	// The probe runs from the encrypted root: the guest booted from its plaintext.
	waitProbe(t, e.d, spec.ID, "xvdf=16384:cold-plaintext")
	if err := e.d.AttachVolume(ctx, spec.ID, hot); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, e.d, spec.ID, "xvdf=16384:cold-plaintext", "xvdg=16384:hot-plaintext")
	grow(t, hot.Path, 24<<20)
	if err := e.d.ResizeVolume(ctx, spec.ID, hot.Device, 24<<20); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, e.d, spec.ID, "xvdg=49152:hot-plaintext")
	for path, plaintext := range map[string]string{spec.Root.Path: imagebuild.RootLabel, cold.Path: "cold-plaintext", hot.Path: "hot-plaintext"} {
		if data, err := os.ReadFile(path); err != nil || bytes.Contains(data, []byte(plaintext)) {
			t.Errorf("%s holds %q in clear (%v)", path, plaintext, err)
		}
	}

	if err := e.d.DetachVolume(ctx, spec.ID, hot.Device); err != nil {
		t.Fatal(err)
	}
	wantNoDevices(t, spec.ID, "xvdg", hot.Path)
	e.reopen() // the mappings of the running machine are found again
	if err := e.d.Stop(ctx, spec.ID, false); err != nil {
		t.Fatal(err)
	}
	wantNoDevices(t, spec.ID, "", spec.Root.Path, cold.Path)
	if err := e.d.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, e.d, spec.ID, "xvdf=16384:cold-plaintext")
	if err := e.d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	wantNoDevices(t, spec.ID, "", spec.Root.Path, cold.Path, hot.Path)
}

// wantNoDevices checks that no device-mapper device of the instance (of one disk,
// or any) and no loop device over the files is left.
func wantNoDevices(t *testing.T, id, disk string, files ...string) {
	t.Helper()
	pattern := host.MapperName(id, "*")
	if disk != "" {
		pattern = host.MapperName(id, disk)
	}
	if left, _ := filepath.Glob("/dev/mapper/" + pattern); len(left) > 0 {
		t.Errorf("device-mapper devices left: %v", left)
	}
	for _, f := range files {
		if loops, err := host.LoopsOf(f); err != nil || len(loops) > 0 {
			t.Errorf("loop devices left over %s: %v (%v)", f, loops, err)
		}
	}
}

// sectors is a probe's word for a disk of size bytes whose head starts with head.
func sectors(name string, size int64, head string) string {
	return name + "=" + strconv.FormatInt(size/512, 10) + ":" + head
}
