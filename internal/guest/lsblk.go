package guest

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The minimal image's busybox has no lsblk, and users check their EBS volumes with it,
// so the helper is also lsblk (a multi-call binary: cmd/strato runs Lsblk when started
// under that name). It lists the block device nodes of /dev, which in a container
// instance are exactly the instance's volumes, named as the mapping asked (xvdf), even
// though the kernel knows them as loop devices. In a VM the nodes are the kernel's
// (vda, vdb1); the helper's /dev/xvdX links to them (vmdisks.go) give the names shown.

// BlockSources are the places lsblk reads; tests point them at fakes.
type BlockSources struct {
	Dev       string // default /dev
	Sys       string // default /sys
	MountInfo string // default /proc/self/mountinfo
}

func (s *BlockSources) setDefaults() {
	if s.Dev == "" {
		s.Dev = "/dev"
	}
	if s.Sys == "" {
		s.Sys = "/sys"
	}
	if s.MountInfo == "" {
		s.MountInfo = "/proc/self/mountinfo"
	}
}

// blockDevice is one row of lsblk (and its partitions).
type blockDevice struct {
	Name string
	// Kernel is the node's own name when Name is a link's (vdb for xvdf in a VM).
	Kernel       string
	Major, Minor uint32
	Size         int64
	Removable    bool
	ReadOnly     bool
	Type         string // disk, part, loop, rom
	Mounts       []string
	Parts        []*blockDevice
}

func (d *blockDevice) majMin() string {
	return strconv.FormatUint(uint64(d.Major), 10) + ":" + strconv.FormatUint(uint64(d.Minor), 10)
}

// listBlockDevices finds the block device nodes in src.Dev (symbolic links such as
// /dev/sdf → xvdf are not listed again), their sizes and flags, and their mount points,
// with partitions under their disks.
func listBlockDevices(src BlockSources) ([]*blockDevice, error) {
	src.setDefaults()
	entries, err := os.ReadDir(src.Dev)
	if err != nil {
		return nil, err
	}
	mounts := readMountInfo(src.MountInfo)
	aliases := xvdAliases(src.Dev, entries)
	seen := map[uint64]bool{}
	var all []*blockDevice
	for _, e := range entries {
		if e.Type()&os.ModeDevice == 0 || e.Type()&os.ModeCharDevice != 0 {
			continue
		}
		path := filepath.Join(src.Dev, e.Name())
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
			continue
		}
		rdev := uint64(st.Rdev)
		if seen[rdev] {
			continue
		}
		seen[rdev] = true
		d := &blockDevice{Name: e.Name(), Major: unix.Major(rdev), Minor: unix.Minor(rdev)}
		if alias := aliases[rdev]; alias != "" {
			d.Name, d.Kernel = alias, e.Name()
		}
		sys := filepath.Join(src.Sys, "dev", "block", d.majMin())
		d.Size = deviceSize(path, sys)
		d.ReadOnly = readSysInt(filepath.Join(sys, "ro")) == 1
		d.Removable = readSysInt(filepath.Join(sys, "removable")) == 1
		d.Mounts = mounts[d.majMin()]
		d.Type = "disk"
		if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
			d.Type = "part"
		}
		switch {
		case strings.HasPrefix(d.Name, "loop"):
			d.Type = "loop"
		case strings.HasPrefix(d.Name, "sr"):
			d.Type = "rom"
		}
		all = append(all, d)
	}
	slices.SortFunc(all, func(a, b *blockDevice) int { return naturalCompare(a.Name, b.Name) })
	return nest(all, src.Sys), nil
}

// nest puts partitions under their disk: the disk whose name the partition's extends
// with a number (xvda1, nvme0n1p1), else the disk sysfs names as its parent (what the
// kernel calls the devices may differ from their names in /dev).
func nest(all []*blockDevice, sysRoot string) []*blockDevice {
	byName := map[string]*blockDevice{}
	byDev := map[string]*blockDevice{}
	for _, d := range all {
		byName[d.Name] = d
		byDev[d.majMin()] = d
	}
	var top []*blockDevice
	for _, d := range all {
		parent := partitionParent(d, byName)
		if parent == nil && d.Type == "part" {
			parent = sysfsParent(d, sysRoot, byDev)
		}
		if parent == nil || parent == d {
			top = append(top, d)
			continue
		}
		d.Type = "part"
		if !d.Removable {
			d.Removable = parent.Removable
		}
		parent.Parts = append(parent.Parts, d)
	}
	return top
}

// xvdAliases maps device numbers to the names of the /dev/xvd* links to their nodes:
// a VM's disks are listed under the names EC2 users know them by.
func xvdAliases(dev string, entries []os.DirEntry) map[uint64]string {
	out := map[uint64]string{}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 || !strings.HasPrefix(e.Name(), "xvd") {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join(dev, e.Name()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
			continue
		}
		out[uint64(st.Rdev)] = e.Name()
	}
	return out
}

func partitionParent(d *blockDevice, byName map[string]*blockDevice) *blockDevice {
	base := strings.TrimRight(d.Name, "0123456789")
	if base == d.Name || base == "" {
		return nil
	}
	if p := byName[base]; p != nil && !endsInDigit(base) {
		return p
	}
	// nvme0n1p1, mmcblk0p1, loop0p1: a "p" between a name ending in a digit and the number.
	if strings.HasSuffix(base, "p") {
		if p := byName[strings.TrimSuffix(base, "p")]; p != nil && endsInDigit(p.Name) {
			return p
		}
	}
	return nil
}

func endsInDigit(s string) bool { return s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' }

// sysfsParent follows /sys/dev/block/M:m to the kernel's disk directory and finds the
// listed device with that disk's number.
func sysfsParent(d *blockDevice, sysRoot string, byDev map[string]*blockDevice) *blockDevice {
	link := filepath.Join(sysRoot, "dev", "block", d.majMin())
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(target), "dev"))
	if err != nil {
		return nil
	}
	return byDev[strings.TrimSpace(string(b))]
}

// deviceSize asks the device (BLKGETSIZE64), or sysfs when it cannot be opened (a user
// without access to the node): sysfs counts 512-byte sectors.
func deviceSize(path, sys string) int64 {
	if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
		var size uint64
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
		unix.Close(fd)
		if errno == 0 && size > 0 {
			return int64(size)
		}
	}
	if sectors := readSysInt(filepath.Join(sys, "size")); sectors > 0 {
		return sectors * 512
	}
	return 0
}

func readSysInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readMountInfo maps "major:minor" to the mount points of that device, the latest first.
func readMountInfo(path string) map[string][]string {
	out := map[string][]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mount-point options … - fstype source super-options
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		dev, mp := fields[2], unescapeMount(fields[4])
		if !slices.Contains(out[dev], mp) {
			out[dev] = append(out[dev], mp)
		}
	}
	// util-linux shows the most recent mount first.
	for _, mps := range out {
		slices.Reverse(mps)
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// naturalCompare orders names with numbers by value: xvda2 before xvda10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := endOfDigits(a), endOfDigits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func endOfDigits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// linkLsblk makes /usr/local/bin/lsblk a link to the helper when the image has no lsblk.
func (g *Guest) linkLsblk() {
	for _, dir := range filepath.SplitList(guestPath) {
		if _, err := os.Lstat(g.path(filepath.Join(dir, "lsblk"))); err == nil {
			return
		}
	}
	link := g.path("/usr/local/bin/lsblk")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		g.logf("lsblk: %v", err)
		return
	}
	if err := os.Symlink(g.cfg.HelperPath, link); err != nil {
		g.logf("lsblk: %v", err)
		return
	}
	g.logf("lsblk: /usr/local/bin/lsblk is strato-guest's (the image has none)")
}
