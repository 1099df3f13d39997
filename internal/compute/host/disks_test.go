package host

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"strato/internal/cloud"
	"strato/internal/compute/conformance"
)

// TestDisks opens a volume as a block device, grows it and closes it, plain and
// encrypted: the device reads what the guest should see, takes the file's new
// size, and goes with nothing left. It needs root and loop devices; the encrypted
// case needs device-mapper too.
func TestDisks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("this host has no loop devices")
	}
	key := bytes.Repeat([]byte{0x5a, 0xa5}, XTSKeySize/2)
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"encrypted", key}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key != nil && DeviceMapperReady() != nil {
				if misc, _ := os.ReadFile("/proc/misc"); bytes.Contains(misc, []byte(" device-mapper\n")) && os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
					t.Fatal("the kernel has device-mapper but dmsetup is not installed (Debian package dmsetup)")
				}
				t.Skip("no device-mapper on this host")
			}
			ctx := context.Background()
			b := cloud.BlockDevice{Device: "/dev/sdf", Path: conformance.VolumeWith(t, "disk-marker"), Key: tc.key}
			t.Cleanup(func() { SweepDisks(filepath.Dir(filepath.Dir(b.Path))) })
			if tc.key != nil {
				conformance.EncryptFile(t, b.Path, tc.key)
			}
			id := conformance.NewID()
			dev, err := OpenDisk(ctx, id, "/dev/xvdf", b)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := OpenDisk(ctx, id, "/dev/xvdf", b); err != nil || again != dev {
				t.Errorf("OpenDisk again = %s, %v; want %s reused", again, err, dev)
			}
			check := func(when string, sectors uint64) {
				t.Helper()
				if n, err := deviceSectors(dev); err != nil || n != sectors {
					t.Errorf("%s: %s has %d sectors (%v), want %d", when, dev, n, err, sectors)
				}
				head := make([]byte, len("disk-marker"))
				f, err := os.Open(dev)
				if err == nil {
					_, err = f.ReadAt(head, 0)
					f.Close()
				}
				if err != nil || string(head) != "disk-marker" {
					t.Errorf("%s: %s reads %q (%v), want the volume's plaintext", when, dev, head, err)
				}
			}
			check("opened", 8<<20/SectorSize)
			if err := os.Truncate(b.Path, 24<<20); err != nil {
				t.Fatal(err)
			}
			if n, err := GrowDisk(ctx, id, "/dev/xvdf", b); err != nil || n != 24<<20/SectorSize {
				t.Errorf("GrowDisk = %d, %v; want %d sectors", n, err, 24<<20/SectorSize)
			}
			check("grown", 24<<20/SectorSize)

			if err := CloseDisk(ctx, id, "/dev/xvdf", b); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat("/dev/mapper/" + MapperName(id, "xvdf")); !os.IsNotExist(err) {
				t.Errorf("the plaintext device is left after CloseDisk (%v)", err)
			}
			if loops, err := LoopsOf(b.Path); err != nil || len(loops) > 0 {
				t.Errorf("loop devices left after CloseDisk: %v (%v)", loops, err)
			}
			if err := CloseDisk(ctx, id, "/dev/xvdf", b); err != nil {
				t.Errorf("CloseDisk again = %v, want nothing to do", err)
			}
			if _, err := GrowDisk(ctx, id, "/dev/xvdf", b); err == nil {
				t.Error("GrowDisk of a closed volume succeeded")
			}

			// What a failed test leaves is swept.
			if _, err := OpenDisk(ctx, id, "/dev/xvdf", b); err != nil {
				t.Fatal(err)
			}
			SweepDisks(filepath.Dir(filepath.Dir(b.Path)))
			if loops, _ := LoopsOf(b.Path); len(loops) > 0 {
				t.Errorf("loop devices left after SweepDisks: %v", loops)
			}
			if _, err := os.Stat("/dev/mapper/" + MapperName(id, "xvdf")); !os.IsNotExist(err) {
				t.Errorf("the plaintext device is left after SweepDisks (%v)", err)
			}
		})
	}
}
