package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"strato/internal/cloud"
)

// hostDisk is a volume as the host holds it while its instance runs: the block
// device the guest gets as Guest, and its partitions' devices.
type hostDisk struct {
	Guest    string // /dev/xvdf
	Dev      string // /dev/loop3, or /dev/mapper/… for an encrypted volume
	Sectors  uint64
	Parts    []hostPart
	ReadOnly bool
}

// hostPart is a partition of a hostDisk: its own loop device.
type hostPart struct {
	Number         int
	Dev            string
	Start, Sectors uint64
}

// guestName is the name a device has inside the instance: Linux on Xen and on
// Nitro shows the /dev/sdX of a block device mapping as /dev/xvdX.
func guestName(device string) string {
	name := strings.TrimPrefix(device, "/dev/")
	if rest, ok := strings.CutPrefix(name, "sd"); ok {
		name = "xvd" + rest
	}
	return "/dev/" + name
}

// rootGuestName is the root disk's name inside: many AMIs name the root device
// by its partition (/dev/sda1), and the guest sees the disk /dev/xvda with its
// partition /dev/xvda1.
func rootGuestName(device string) string {
	return strings.TrimRight(guestName(device), "0123456789")
}

// dmName names an encrypted volume's device-mapper device.
func dmName(id, guest string) string { return "strato-" + id + "-" + filepath.Base(guest) }

// openDisk gives the host block devices for a volume and its partitions: loop
// devices (over the dm-crypt plaintext of an encrypted volume), reusing what
// exists, so that a start after an interrupted one, or a reboot, finds them.
func openDisk(ctx context.Context, id, guest string, b cloud.BlockDevice) (hostDisk, error) {
	h := hostDisk{Guest: guest, ReadOnly: b.ReadOnly}
	if b.Ephemeral {
		if err := ensureSparse(b.Path, b.Size); err != nil {
			return h, err
		}
	}
	loop, err := loopFor(b.Path, b.ReadOnly, loopSpan{})
	if err != nil {
		return h, err
	}
	h.Dev = loop
	plain := b.Path // what the partitions' loops read
	if len(b.Key) > 0 {
		if h.Dev, err = openCrypt(ctx, dmName(id, guest), loop, b.Key, b.ReadOnly); err != nil {
			return h, fmt.Errorf("volume at %s: %w", b.Device, err)
		}
		plain = h.Dev
	}
	parts, size, err := partitionsOf(plain)
	if err != nil {
		return h, fmt.Errorf("volume at %s: %w", b.Device, err)
	}
	h.Sectors = size / sectorSize
	for _, p := range parts {
		if p.Start >= h.Sectors {
			continue // a table that promises more than the disk holds
		}
		length := min(p.Length, h.Sectors-p.Start)
		dev, err := loopFor(plain, b.ReadOnly, loopSpan{Offset: p.Start * sectorSize, Size: length * sectorSize})
		if err != nil {
			return h, fmt.Errorf("partition %d of the volume at %s: %w", p.Number, b.Device, err)
		}
		h.Parts = append(h.Parts, hostPart{Number: p.Number, Dev: dev, Start: p.Start, Sectors: length})
	}
	return h, nil
}

// partitionsOf reads the partition table of a disk (file or device) and its size.
func partitionsOf(path string) ([]partition, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, err
	}
	parts, err := readPartitions(f)
	return parts, uint64(size), err
}

// closeDisk releases what openDisk made for a volume; what is gone already is
// skipped.
func closeDisk(ctx context.Context, id, guest string, b cloud.BlockDevice) error {
	var errs []error
	if len(b.Key) > 0 {
		name := dmName(id, guest)
		errs = append(errs, detachLoopsOf("/dev/mapper/"+name), closeCrypt(ctx, name))
	}
	errs = append(errs, detachLoopsOf(b.Path))
	return errors.Join(errs...)
}

// ensureSparse makes a sparse file of size bytes at path unless one is there.
func ensureSparse(path string, size int64) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return makeSparse(path, size)
}

// makeSparse (re)makes the sparse file at path: an empty instance-store volume
// of size bytes (0: the size of the file there now).
func makeSparse(path string, size int64) error {
	if st, err := os.Stat(path); size <= 0 && err == nil {
		size = st.Size()
	}
	if size <= 0 {
		return fmt.Errorf("instance-store volume %s: no size given", path)
	}
	if err := replaceFile(path, func(f *os.File) error { return f.Truncate(size) }); err != nil {
		return fmt.Errorf("instance-store volume %s: %w", path, err)
	}
	return nil
}

// copySparse copies the file src to dst, data extents only, so that the copy
// of a mostly empty disk stays mostly holes (an instance-store root).
func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := replaceFile(dst, func(out *os.File) error { return copyExtents(in, out, st.Size()) }); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}

// replaceFile makes the file at path anew with fill, in a temporary file
// renamed over the old one: a crash leaves one or the other, never half.
func replaceFile(path string, fill func(*os.File) error) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func copyExtents(in, out *os.File, size int64) error {
	if err := out.Truncate(size); err != nil {
		return err
	}
	for off := int64(0); off < size; {
		start, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole follows
		}
		if err != nil {
			return err
		}
		end, err := unix.Seek(int(in.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, start), io.NewSectionReader(in, start, end-start)); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// mountRoot mounts the root volume's file system at target, unless it is
// mounted there already.
func mountRoot(dev, fsType, target string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if isMountPoint(target) {
		return nil
	}
	if err := unix.Mount(dev, target, fsType, unix.MS_NOATIME, ""); err != nil {
		return fmt.Errorf("mounting the root file system (%s %s): %w", fsType, dev, err)
	}
	return nil
}

// unmountAll unmounts whatever is mounted at target (lazily when busy), so that
// the root volume's devices can go.
func unmountAll(target string) error {
	for range 8 {
		err := unix.Unmount(target, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(target, unix.MNT_DETACH)
		}
		switch {
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not (or no longer) a mount point
		case err != nil:
			return fmt.Errorf("unmounting %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmounting %s: still mounted", target)
}

// isMountPoint tells whether something is mounted at dir: its device differs
// from its parent's.
func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(dir, &st) != nil || unix.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
