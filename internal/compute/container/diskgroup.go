package container

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Block device nodes are root:disk 0660 in the guest, as udev makes them on
// Linux, so members of the image's disk group (ec2-user on strato's minimal
// image) use volumes without root; without a disk group they are root's.

// guestDiskGroup is the gid of the group "disk" in the guest whose root
// directory is root (a host path, or /proc/PID/root), or 0. The guest's
// /etc/group is opened inside its root, so a guest symlink cannot point the
// driver at a host file.
func guestDiskGroup(root string) uint32 {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, "etc/group", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return 0
	}
	f := os.NewFile(uintptr(fd), "group")
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return 0
	}
	return diskGroupIn(data)
}

// diskGroupIn finds the gid of "disk" in the contents of an /etc/group.
func diskGroupIn(group []byte) uint32 {
	sc := bufio.NewScanner(bytes.NewReader(group))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == "disk" {
			if gid, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
				return uint32(gid)
			}
		}
	}
	return 0
}
