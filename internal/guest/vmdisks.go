package guest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Disk names in a VM follow Xen's model, as the container driver's do: a volume
// mapped at /dev/sdf or /dev/xvdf is /dev/xvdf in the instance, the root /dev/xvda
// with its partitions /dev/xvda1 …. The kernel names virtio-blk disks vda, vdb … in
// the order it finds them, which says nothing of the mapping, so the driver gives each
// disk the mapping's device name as its virtio serial number ("xvda", "xvdf", "sdf")
// and the helper links /dev/xvdX to the kernel's node, as udev rules link
// /dev/disk/by-id to serials. The links are made at boot and kept current as volumes
// are hot-plugged and unplugged (vmwatch.go).

// diskName is the instance's name for a disk whose virtio serial is serial: sdX is
// shown as xvdX (as the container driver's guestName), and a partition's name (the
// root mapped as /dev/sda1) as its disk's (rootGuestName). ok is false for a serial
// that is no EC2 device name (a disk started by other means, or none at all).
func diskName(serial string) (string, bool) {
	name := strings.TrimPrefix(strings.TrimSpace(serial), "/dev/")
	if rest, ok := strings.CutPrefix(name, "sd"); ok {
		name = "xvd" + rest
	}
	name = strings.TrimRight(name, "0123456789")
	letters, ok := strings.CutPrefix(name, "xvd")
	if !ok || letters == "" || len(letters) > 2 || strings.Trim(letters, "abcdefghijklmnopqrstuvwxyz") != "" {
		return "", false
	}
	return name, true
}

// diskLinks keeps /dev's xvd links in step with the virtio disks of /sys/block.
type diskLinks struct {
	sys, dev string // /sys and /dev (under a test's root)
	logf     func(format string, args ...any)
	// diskGroup owns the disks' nodes, mode 0660, as udev's rules make them (devtmpfs
	// makes them root's alone): the minimal image's ec2-user is in group disk, as on
	// the container driver's instances. -1 leaves the nodes as they are.
	diskGroup int
	// warned holds the disks whose serial was already reported as unusable.
	warned map[string]bool
}

// wanted is every link there should be: name in /dev → the kernel's node name.
func (d *diskLinks) wanted() (map[string]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.sys, "block"))
	if err != nil {
		return nil, err
	}
	var kernelNames []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "vd") {
			kernelNames = append(kernelNames, e.Name())
		}
	}
	slices.SortFunc(kernelNames, naturalCompare)
	want := map[string]string{}
	owner := map[string]string{}
	for _, kname := range kernelNames {
		dir := filepath.Join(d.sys, "block", kname)
		serial, _ := os.ReadFile(filepath.Join(dir, "serial"))
		name, ok := diskName(string(serial))
		if !ok {
			d.warnOnce(kname, "disks: %s: serial %q is no EC2 device name; no link", kname, strings.TrimSpace(string(serial)))
			continue
		}
		if other, taken := owner[name]; taken {
			d.warnOnce(kname, "disks: %s and %s both say they are %s; /dev/%s is %s", other, kname, name, name, other)
			continue
		}
		owner[name] = kname
		want[name] = kname
		// Partitions are subdirectories with a partition file holding their number.
		parts, _ := os.ReadDir(dir)
		for _, p := range parts {
			num, err := os.ReadFile(filepath.Join(dir, p.Name(), "partition"))
			if err != nil {
				continue
			}
			want[name+strings.TrimSpace(string(num))] = p.Name()
		}
	}
	return want, nil
}

func (d *diskLinks) warnOnce(kname, format string, args ...any) {
	if d.warned == nil {
		d.warned = map[string]bool{}
	}
	if !d.warned[kname] {
		d.warned[kname] = true
		d.logf(format, args...)
	}
}

// reconcile makes the links wanted, repoints those that point elsewhere, and removes
// xvd links to disks that are gone. It leaves alone whatever in /dev is not a link
// (a real xvd device node, under Xen).
func (d *diskLinks) reconcile() error {
	want, err := d.wanted()
	if err != nil {
		return fmt.Errorf("disks: %w", err)
	}
	entries, err := os.ReadDir(d.dev)
	if err != nil {
		return fmt.Errorf("disks: %w", err)
	}
	var errs []error
	have := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "xvd") {
			continue
		}
		have[name] = true
		if e.Type()&os.ModeSymlink == 0 {
			delete(want, name)
			continue
		}
		target, err := os.Readlink(filepath.Join(d.dev, name))
		if err == nil && target == want[name] {
			continue
		}
		if err := os.Remove(filepath.Join(d.dev, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		have[name] = false
		if want[name] == "" {
			d.logf("disks: /dev/%s removed (its disk is gone)", name)
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.SortFunc(names, naturalCompare)
	for _, name := range names {
		if d.diskGroup >= 0 {
			node := filepath.Join(d.dev, want[name])
			if err := os.Chown(node, 0, d.diskGroup); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			} else if err := os.Chmod(node, 0o660); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if have[name] {
			continue
		}
		// Relative, as udev's links are, so they resolve inside a chroot too.
		if err := os.Symlink(want[name], filepath.Join(d.dev, name)); err != nil {
			errs = append(errs, err)
			continue
		}
		d.logf("disks: /dev/%s -> %s", name, want[name])
	}
	return errors.Join(errs...)
}
