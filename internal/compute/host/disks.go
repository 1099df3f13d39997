package host

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"strato/internal/cloud"
)

// A volume's file becomes a host block device when a driver needs one: the
// container driver for every volume (a loop device, whose node the container
// gets), the qemu driver for encrypted volumes only (QEMU reads other volumes'
// files itself). An encrypted volume's block device is the dm-crypt plaintext on
// its loop device. The devices' names follow from the instance, the device name
// and the file, never from memory, so that a driver finds what it made after a
// restart of strato.

// MapperName names an encrypted volume's device-mapper device
// (/dev/mapper/NAME), per instance and guest device name (xvdf, /dev/xvdf).
func MapperName(id, guest string) string { return "strato-" + id + "-" + filepath.Base(guest) }

// CheckVolume checks what can be checked of a volume before a driver uses it: an
// encrypted one needs an AES-256-XTS key and device-mapper on this host.
func CheckVolume(b cloud.BlockDevice) error {
	if len(b.Key) == 0 {
		return nil
	}
	if len(b.Key) != XTSKeySize {
		return fmt.Errorf("volume at %s: key of %d bytes, want %d (AES-256-XTS)", b.Device, len(b.Key), XTSKeySize)
	}
	if err := DeviceMapperReady(); err != nil {
		return fmt.Errorf("volume at %s: %w", b.Device, err)
	}
	return nil
}

// OpenDisk gives a volume's host block device: a loop device over its file and,
// for an encrypted volume, the plaintext on that loop device
// (/dev/mapper/MapperName). What exists is reused, so that a start after an
// interrupted one, or a reboot, finds it.
func OpenDisk(ctx context.Context, id, guest string, b cloud.BlockDevice) (string, error) {
	loop, err := LoopFor(b.Path, b.ReadOnly, LoopSpan{})
	if err != nil {
		return "", err
	}
	if len(b.Key) == 0 {
		return loop, nil
	}
	dev, err := openCrypt(ctx, MapperName(id, guest), loop, b.Key, b.ReadOnly)
	if err != nil {
		return "", fmt.Errorf("volume at %s: %w", b.Device, err)
	}
	return dev, nil
}

// CloseDisk releases what OpenDisk made for a volume, with every loop device over
// its file or its plaintext (a container's partitions); what is gone already is
// skipped. A device still open goes when it is closed.
func CloseDisk(ctx context.Context, id, guest string, b cloud.BlockDevice) error {
	var errs []error
	if len(b.Key) > 0 {
		name := MapperName(id, guest)
		errs = append(errs, DetachLoopsOf("/dev/mapper/"+name), closeCrypt(ctx, name))
	}
	errs = append(errs, DetachLoopsOf(b.Path))
	return errors.Join(errs...)
}

// GrowDisk makes the block device OpenDisk gave a volume as long as its file is
// now, after the file grew (ModifyVolume), while a guest uses it: the loop
// device's capacity, then for an encrypted volume the plaintext's table. It
// returns the device's new size in sectors.
func GrowDisk(ctx context.Context, id, guest string, b cloud.BlockDevice) (uint64, error) {
	loops, err := LoopsOf(b.Path)
	if err != nil {
		return 0, err
	}
	i := slices.IndexFunc(loops, func(l BoundLoop) bool { return l.Span == LoopSpan{} })
	if i < 0 {
		return 0, fmt.Errorf("volume at %s: no loop device over %s (the volume is not open)", b.Device, b.Path)
	}
	dev := loops[i].Dev
	if err := growLoop(dev); err != nil {
		return 0, fmt.Errorf("volume at %s: %w", b.Device, err)
	}
	if len(b.Key) > 0 {
		name := MapperName(id, guest)
		if err := growCrypt(ctx, name, dev, b.Key, b.ReadOnly); err != nil {
			return 0, fmt.Errorf("volume at %s: %w", b.Device, err)
		}
		dev = "/dev/mapper/" + name
	}
	return deviceSectors(dev)
}

// SweepDisks releases the block devices left over files under dir: strato's
// device-mapper devices on loop devices over them, then those loop devices. It
// is for tests, whose files live in directories of their own, to clean up
// whatever a failed test left.
func SweepDisks(dir string) {
	ctx := context.Background()
	under := func(loop string) bool {
		file := loopBackingFile(filepath.Join("/sys/block", loop))
		return strings.HasPrefix(file, dir+"/")
	}
	if DeviceMapperReady() == nil {
		out, _ := dmsetup(ctx, "", "ls")
		for _, line := range strings.Split(out, "\n") {
			name, _, _ := strings.Cut(line, "\t")
			if !strings.HasPrefix(name, "strato-i-") {
				continue
			}
			// "1 dependencies	: (loop3)"
			deps, _ := dmsetup(ctx, "", "deps", "-o", "devname", name)
			_, loop, _ := strings.Cut(deps, "(")
			if loop, _, _ = strings.Cut(loop, ")"); loop != "" && under(loop) {
				_ = DetachLoopsOf("/dev/mapper/" + name)
				_ = closeCrypt(ctx, name)
			}
		}
	}
	backings, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, b := range backings {
		if loop := filepath.Base(filepath.Dir(filepath.Dir(b))); under(loop) {
			_ = detachLoop("/dev/" + loop)
		}
	}
}
