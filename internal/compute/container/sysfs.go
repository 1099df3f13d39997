package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// An instance sees the host's sysfs (read-only), whose block devices are the
// host's: every loop device, named loopN. Tools like lsblk and growpart read
// /sys/block, /sys/dev/block and /sys/class/block, so the driver mounts its
// own directories there, holding only the instance's volumes under their guest
// names (xvda, xvda1 …), and keeps them up to date as volumes come and go.

// sysViews are the directories of the instance's sysfs view: the host
// directory under DIR/ID/sys, and where the guest sees it.
var sysViews = []struct{ host, guest string }{
	{"block", "/sys/block"},
	{"dev-block", "/sys/dev/block"},
	{"class-block", "/sys/class/block"},
}

// resetSysView empties the instance's sysfs view, for a new boot.
func resetSysView(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for _, v := range sysViews {
		if err := os.MkdirAll(filepath.Join(dir, v.host), 0o755); err != nil {
			return err
		}
	}
	return worldReadable(dir)
}

// addToSysView describes a disk and its partitions (nodes, the disk first) as
// sysfs does: block/xvda/{dev,size,ro,removable}, block/xvda/xvda1/{dev,size,
// partition,start,ro}, and links to them from dev-block/MAJ:MIN and
// class-block/NAME.
func addToSysView(dir string, nodes []deviceNode) error {
	if len(nodes) == 0 {
		return nil
	}
	disk := filepath.Base(nodes[0].Guest)
	for _, n := range nodes {
		name := filepath.Base(n.Guest)
		rel := filepath.Join(disk, name) // block/xvda/xvda1 for a partition
		attrs := map[string]string{"dev": fmt.Sprintf("%d:%d", n.Major, n.Minor), "size": strconv.FormatUint(n.Sectors, 10), "ro": "0"}
		if n.ReadOnly {
			attrs["ro"] = "1"
		}
		if n.Partition == 0 {
			rel = disk
			attrs["removable"] = "0"
		} else {
			attrs["partition"], attrs["start"] = strconv.Itoa(n.Partition), strconv.FormatUint(n.Start, 10)
		}
		entry := filepath.Join(dir, "block", rel)
		if err := os.MkdirAll(entry, 0o755); err != nil {
			return err
		}
		for attr, value := range attrs {
			if err := os.WriteFile(filepath.Join(entry, attr), []byte(value+"\n"), 0o444); err != nil {
				return err
			}
		}
		target := filepath.Join("../../block", rel)
		if err := relink(filepath.Join(dir, "dev-block", attrs["dev"]), target); err != nil {
			return err
		}
		if err := relink(filepath.Join(dir, "class-block", name), target); err != nil {
			return err
		}
	}
	return worldReadable(dir)
}

// worldReadable gives the view sysfs's modes (directories 0755, attributes
// 0444) whatever strato's umask took away: every user of the guest reads
// sysfs (lsblk as ec2-user does).
func worldReadable(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.Type()&fs.ModeSymlink != 0:
			return nil
		case d.IsDir():
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o444)
	})
}

// resizeInSysView gives a disk (guest name) its new size in sectors.
func resizeInSysView(dir, guest string, sectors uint64) error {
	return os.WriteFile(filepath.Join(dir, "block", filepath.Base(guest), "size"), []byte(strconv.FormatUint(sectors, 10)+"\n"), 0o444)
}

// removeFromSysView takes a disk (guest name) and its partitions out.
func removeFromSysView(dir, guest string) error {
	disk := filepath.Base(guest)
	errs := []error{os.RemoveAll(filepath.Join(dir, "block", disk))}
	for _, v := range sysViews[1:] {
		links, _ := os.ReadDir(filepath.Join(dir, v.host))
		for _, l := range links {
			path := filepath.Join(dir, v.host, l.Name())
			target, err := os.Readlink(path)
			if err == nil && (target == "../../block/"+disk || strings.HasPrefix(target, "../../block/"+disk+"/")) {
				errs = append(errs, os.Remove(path))
			}
		}
	}
	return errors.Join(errs...)
}

func relink(path, target string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Symlink(target, path)
}
