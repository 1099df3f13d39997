package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// deviceNode is a block device node inside an instance: its name there, the
// host device it stands for, and what the instance's /sys/block says of it.
type deviceNode struct {
	Guest        string // /dev/xvda1
	Major, Minor uint32
	ReadOnly     bool
	Sectors      uint64
	Partition    int    // 0 for a whole disk
	Start        uint64 // a partition's first sector
}

// nodes lists the device nodes a volume gives its instance: the disk first,
// then its partitions (/dev/xvda, /dev/xvda1 …).
func (h hostDisk) nodes() ([]deviceNode, error) {
	nodes := []deviceNode{{Guest: h.Guest, Sectors: h.Sectors}}
	devs := []string{h.Dev}
	for _, p := range h.Parts {
		nodes = append(nodes, deviceNode{Guest: h.Guest + strconv.Itoa(p.Number), Sectors: p.Sectors, Partition: p.Number, Start: p.Start})
		devs = append(devs, p.Dev)
	}
	for i, dev := range devs {
		var st unix.Stat_t
		if err := unix.Stat(dev, &st); err != nil {
			return nil, fmt.Errorf("device %s: %w", dev, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFBLK {
			return nil, fmt.Errorf("device %s is not a block device", dev)
		}
		nodes[i].Major, nodes[i].Minor, nodes[i].ReadOnly = unix.Major(st.Rdev), unix.Minor(st.Rdev), h.ReadOnly
	}
	return nodes, nil
}

// access is the devices cgroup's access for the node: read and write (and
// mknod, so the guest may make its own node for it), or read only.
func (n deviceNode) access() string {
	if n.ReadOnly {
		return "rm"
	}
	return "rwm"
}

// plugNodes hot-plugs block devices into a running instance whose init is pid:
// the devices cgroup lets the instance use them, and their nodes appear in its
// /dev.
func plugNodes(pid int, nodes []deviceNode) error {
	cgroup, devDir, err := guestDevices(pid)
	if err != nil {
		return err
	}
	defer devDir.Close()
	dev := int(devDir.Fd())
	gid := guestDiskGroup(fmt.Sprintf("/proc/%d/root", pid))
	for _, n := range nodes {
		rule := fmt.Sprintf("b %d:%d %s", n.Major, n.Minor, n.access())
		if err := os.WriteFile(filepath.Join(cgroup, "devices.allow"), []byte(rule), 0); err != nil {
			return fmt.Errorf("allowing %s: %w", n.Guest, err)
		}
		name := filepath.Base(n.Guest)
		if err := unix.Unlinkat(dev, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("replacing %s: %w", n.Guest, err)
		}
		if err := unix.Mknodat(dev, name, unix.S_IFBLK|0o660, int(unix.Mkdev(n.Major, n.Minor))); err != nil {
			return fmt.Errorf("making %s: %w", n.Guest, err)
		}
		if err := unix.Fchownat(dev, name, 0, int(gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("giving %s to the disk group: %w", n.Guest, err)
		}
	}
	return nil
}

// unplugNodes takes a disk and its partitions (guest, guest+N) out of a running
// instance: their nodes go and the devices cgroup denies them. The numbers are
// read from the nodes inside, so nothing of the host side is needed.
func unplugNodes(pid int, guest string) error {
	cgroup, devDir, err := guestDevices(pid)
	if err != nil {
		return err
	}
	defer devDir.Close()
	dev := int(devDir.Fd())
	names, err := devDir.Readdirnames(-1)
	if err != nil {
		return err
	}
	base := filepath.Base(guest)
	var errs []error
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, base)
		if !ok || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dev, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
			continue
		}
		rule := fmt.Sprintf("b %d:%d rwm", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		errs = append(errs, os.WriteFile(filepath.Join(cgroup, "devices.deny"), []byte(rule), 0))
		if err := unix.Unlinkat(dev, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// guestDevices opens what hot-plugging works on in the instance whose init is
// pid: its devices cgroup directory, and its /dev. The latter is resolved
// inside the instance's root, so a symbolic link the guest made cannot lead the
// host's mknod elsewhere.
func guestDevices(pid int) (cgroup string, dev *os.File, err error) {
	if cgroup, err = devicesCgroup(pid); err != nil {
		return "", nil, err
	}
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("the instance's root: %w", err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, "dev", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return "", nil, fmt.Errorf("the instance's /dev: %w", err)
	}
	return cgroup, os.NewFile(uintptr(fd), "dev"), nil
}

// devicesCgroup is the cgroup v1 devices directory of the process pid.
func devicesCgroup(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && parts[1] == "devices" {
			return filepath.Join("/sys/fs/cgroup/devices", parts[2]), nil
		}
	}
	return "", fmt.Errorf("hot-plugging block devices needs the cgroup v1 devices controller, which process %d is not under", pid)
}
