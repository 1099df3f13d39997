package guest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeBlockSources builds a /dev with block device nodes of majors no real driver on a
// test machine uses (so opening them fails and sizes come from the fake sysfs), a
// sysfs, and a mountinfo.
func fakeBlockSources(t *testing.T) BlockSources {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making device nodes needs root")
	}
	dir := t.TempDir()
	dev := filepath.Join(dir, "dev")
	sys := filepath.Join(dir, "sys")
	os.MkdirAll(dev, 0o755)
	type node struct {
		name         string
		major, minor uint32
		sectors      int64
		partition    bool
		ro           bool
	}
	nodes := []node{
		{"xvda", 202, 0, 16777216, false, false},  // 8 GiB
		{"xvda1", 202, 1, 16775168, true, false},  // 8 GiB less 1 MiB: shows as 8G
		{"xvdf", 202, 80, 20971520, false, false}, // 10 GiB
		{"xvdg", 241, 3, 3145728, false, true},    // 1.5 GiB, read-only
		{"nvme1n1", 242, 0, 2097152, false, false},
		{"nvme1n1p2", 242, 2, 1024000, false, false},
		{"nvme1n1p10", 242, 10, 1000, false, false},
		{"xvdh", 241, 5, 204800, false, false},
		{"rootpart", 243, 7, 102400, true, false}, // a partition of xvdh by sysfs only
		{"loop9", 241, 9, 0, false, false},        // an unbound loop device: hidden
	}
	for _, n := range nodes {
		if err := unix.Mknod(filepath.Join(dev, n.name), unix.S_IFBLK|0o600, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Skipf("mknod: %v", err)
		}
		d := filepath.Join(sys, "dev/block", itoa32(n.major)+":"+itoa32(n.minor))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "size"), []byte(itoa64(n.sectors)+"\n"), 0o644)
		ro := "0\n"
		if n.ro {
			ro = "1\n"
		}
		os.WriteFile(filepath.Join(d, "ro"), []byte(ro), 0o644)
		if n.partition {
			os.WriteFile(filepath.Join(d, "partition"), []byte("1\n"), 0o644)
		}
	}
	// sysfs names rootpart's disk: the kernel's loop5, which /dev calls xvdh.
	os.RemoveAll(filepath.Join(sys, "dev/block/243:7"))
	kernelDisk := filepath.Join(sys, "devices/virtual/block/loop5")
	os.MkdirAll(filepath.Join(kernelDisk, "loop5p1"), 0o755)
	os.WriteFile(filepath.Join(kernelDisk, "dev"), []byte("241:5\n"), 0o644)
	os.WriteFile(filepath.Join(kernelDisk, "loop5p1/size"), []byte("102400\n"), 0o644)
	os.WriteFile(filepath.Join(kernelDisk, "loop5p1/partition"), []byte("1\n"), 0o644)
	os.Symlink("../../devices/virtual/block/loop5/loop5p1", filepath.Join(sys, "dev/block/243:7"))

	os.Symlink("xvdf", filepath.Join(dev, "sdf"))
	unix.Mknod(filepath.Join(dev, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	mountinfo := filepath.Join(dir, "mountinfo")
	os.WriteFile(mountinfo, []byte(
		"22 1 202:1 / / rw,relatime - ext4 /dev/xvda1 rw\n"+
			"23 22 0:5 / /dev rw - tmpfs tmpfs rw\n"+
			"30 22 202:80 / /data rw - ext4 /dev/xvdf rw\n"+
			"31 22 202:80 / /mnt/my\\040disk rw - ext4 /dev/xvdf rw\n"), 0o644)
	return BlockSources{Dev: dev, Sys: sys, MountInfo: mountinfo}
}

func itoa32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
func itoa64(v int64) string  { return strconv.FormatInt(v, 10) }

func TestLsblkListsDevicesAsUtilLinuxDoes(t *testing.T) {
	src := fakeBlockSources(t)
	var out, errOut bytes.Buffer
	if rc := Lsblk(nil, &out, &errOut, src); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errOut.String())
	}
	want := "" +
		"NAME         MAJ:MIN RM  SIZE RO TYPE MOUNTPOINTS\n" +
		"nvme1n1      242:0    0    1G  0 disk \n" +
		"├─nvme1n1p2  242:2    0  500M  0 part \n" +
		"└─nvme1n1p10 242:10   0  500K  0 part \n" +
		"xvda         202:0    0    8G  0 disk \n" +
		"└─xvda1      202:1    0    8G  0 part /\n" +
		"xvdf         202:80   0   10G  0 disk /mnt/my disk\n" +
		"                                      /data\n" +
		"xvdg         241:3    0  1.5G  1 disk \n" +
		"xvdh         241:5    0  100M  0 disk \n" +
		"└─rootpart   243:7    0   50M  0 part \n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestLsblkOptions(t *testing.T) {
	src := fakeBlockSources(t)
	var out bytes.Buffer
	if rc := Lsblk([]string{"-nb", "/dev/xvda"}, &out, &out, src); rc != 0 {
		t.Fatalf("exit %d: %s", rc, out.String())
	}
	want := "" +
		"xvda    202:0    0 8589934592  0 disk \n" +
		"└─xvda1 202:1    0 8588886016  0 part /\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	Lsblk([]string{"-d", "-n", "xvda", "xvdg"}, &out, &out, src)
	if want := "xvda 202:0    0    8G  0 disk \nxvdg 241:3    0  1.5G  1 disk \n"; out.String() != want {
		t.Errorf("-d: got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if rc := Lsblk([]string{"--output", "NAME"}, &out, &out, src); rc == 0 {
		t.Error("an unsupported option was accepted")
	}
	out.Reset()
	if rc := Lsblk([]string{"/dev/nope"}, &out, &out, src); rc != 32 || !strings.Contains(out.String(), "not a block device") {
		t.Errorf("missing device: %d %q", rc, out.String())
	}
	out.Reset()
	Lsblk([]string{"-a", "-n", "-d"}, &out, &out, src)
	if !strings.Contains(out.String(), "loop9") {
		t.Errorf("-a does not show the empty loop device:\n%s", out.String())
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 512: "512B", 1023: "1023B", 1024: "1K", 1536: "1.5K", 4096: "4K",
		512 << 20: "512M", 8 << 30: "8G", 8<<30 - 1<<20: "8G", 256 << 30: "256G",
		238*(1<<30) + 512*(1<<20): "238.5G", 1 << 40: "1T", 1<<20 - 1: "1024K", 1<<60 + 1<<59: "1.5E",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, c := range [][2]string{{"xvda2", "xvda10"}, {"sda", "sdb"}, {"nvme0n1", "nvme1n1"}, {"xvd", "xvda"}} {
		if naturalCompare(c[0], c[1]) >= 0 || naturalCompare(c[1], c[0]) <= 0 {
			t.Errorf("%s should come before %s", c[0], c[1])
		}
	}
}
