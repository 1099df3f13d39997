package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"strato/internal/cloud"

	"strato/internal/compute/host"
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

// openDisk gives the host block devices for a volume and its partitions: its
// block device (host.OpenDisk), and loop devices over that device's plaintext
// for its partitions, reusing what exists, so that a start after an interrupted
// one, or a reboot, finds them.
func openDisk(ctx context.Context, id, guest string, b cloud.BlockDevice) (hostDisk, error) {
	h := hostDisk{Guest: guest, ReadOnly: b.ReadOnly}
	if b.Ephemeral {
		if err := host.EnsureSparse(b.Path, b.Size); err != nil {
			return h, err
		}
	}
	dev, err := host.OpenDisk(ctx, id, guest, b)
	if err != nil {
		return h, err
	}
	h.Dev = dev
	plain := b.Path // what the partitions' loops read
	if len(b.Key) > 0 {
		plain = dev
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
		dev, err := host.LoopFor(plain, b.ReadOnly, host.LoopSpan{Offset: p.Start * sectorSize, Size: length * sectorSize})
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
