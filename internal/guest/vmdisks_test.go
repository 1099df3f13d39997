package guest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDiskNameFromSerial(t *testing.T) {
	for serial, want := range map[string]string{
		"xvda":        "xvda",
		"xvdf\n":      "xvdf",
		"sdf":         "xvdf",
		"/dev/sdh":    "xvdh",
		"sda1":        "xvda", // a root mapped by its partition
		"xvdba":       "xvdba",
		"vol0123abcd": "",
		"":            "",
		"xvd":         "",
		"xvdF":        "",
		"nvme1n1":     "",
		"xvdabc":      "",
	} {
		got, ok := diskName(serial)
		if got != want || ok != (want != "") {
			t.Errorf("diskName(%q) = %q, %v; want %q", serial, got, ok, want)
		}
	}
}

// fakeVirtioDisk adds a disk to a fake /sys/block as the kernel shows virtio-blk:
// a serial, and a subdirectory with a partition file per partition.
func fakeVirtioDisk(t *testing.T, sys, kname, serial string, parts ...string) {
	t.Helper()
	files := map[string]string{"block/" + kname + "/serial": serial}
	for _, p := range parts {
		files["block/"+kname+"/"+p+"/partition"] = strings.TrimPrefix(p, kname) + "\n"
	}
	writeFiles(t, sys, files)
}

// devLinks lists /dev's symbolic links as "name -> target".
func devLinks(t *testing.T, dev string) []string {
	t.Helper()
	entries, err := os.ReadDir(dev)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(filepath.Join(dev, e.Name()))
			out = append(out, e.Name()+" -> "+target)
		}
	}
	return out
}

func TestDiskLinksFollowTheDisks(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	fakeVirtioDisk(t, sys, "vda", "xvda\n", "vda1", "vda14", "vda15")
	fakeVirtioDisk(t, sys, "vdb", "sdf\n", "vdb1")
	fakeVirtioDisk(t, sys, "vdc", "vol0123456789abcdef0\n") // no EC2 name: no link
	fakeVirtioDisk(t, sys, "vdd", "xvdf\n")                 // the same name as vdb: vdb keeps it
	writeFiles(t, sys, map[string]string{"block/loop0/serial": "xvdz\n"})
	writeFiles(t, dev, map[string]string{"xvdq": "a real node under Xen, left alone\n"})
	os.Symlink("vdz", filepath.Join(dev, "xvdg")) // a disk that is gone
	os.Symlink("vdc", filepath.Join(dev, "xvdf")) // pointing at the wrong disk
	os.Symlink("xvdf", filepath.Join(dev, "sdf")) // not the helper's business
	os.Symlink("vda", filepath.Join(dev, "xvda")) // right already
	var log bytes.Buffer
	d := &diskLinks{sys: sys, dev: dev, logf: func(f string, a ...any) { log.WriteString(strings.TrimSpace(fmt.Sprintf(f, a...)) + "\n") }}
	if err := d.reconcile(); err != nil {
		t.Fatal(err)
	}
	want := []string{"sdf -> xvdf", "xvda -> vda", "xvda1 -> vda1", "xvda14 -> vda14", "xvda15 -> vda15",
		"xvdf -> vdb", "xvdf1 -> vdb1"}
	if got := devLinks(t, dev); !slices.Equal(got, want) {
		t.Errorf("links:\n%v\nwant\n%v", got, want)
	}
	if readFile(t, filepath.Join(dev, "xvdq")) != "a real node under Xen, left alone\n" {
		t.Error("xvdq was touched")
	}
	assertContains(t, "log", log.String(), "vdc: serial \"vol0123456789abcdef0\" is no EC2 device name",
		"vdb and vdd both say they are xvdf", "/dev/xvdg removed")

	// Again: nothing to do, nothing logged (the warnings were given once).
	log.Reset()
	if err := d.reconcile(); err != nil || log.Len() != 0 {
		t.Errorf("second pass: %v; logged:\n%s", err, log.String())
	}

	// vdb is unplugged, a new disk comes as vde for xvdh, and vda's partition table
	// is re-read with one partition fewer.
	os.RemoveAll(filepath.Join(sys, "block/vdb"))
	os.RemoveAll(filepath.Join(sys, "block/vda/vda14"))
	fakeVirtioDisk(t, sys, "vde", "xvdh")
	if err := d.reconcile(); err != nil {
		t.Fatal(err)
	}
	// vdd said xvdf too: with vdb gone it is xvdf now.
	want = []string{"sdf -> xvdf", "xvda -> vda", "xvda1 -> vda1", "xvda15 -> vda15", "xvdf -> vdd", "xvdh -> vde"}
	if got := devLinks(t, dev); !slices.Equal(got, want) {
		t.Errorf("after the changes, links:\n%v\nwant\n%v", got, want)
	}
}

// TestLsblkShowsXvdNamesInAVM: in a VM, /dev has the kernel's vd nodes and the
// helper's xvd links; lsblk lists the disks under their xvd names, and finds them by
// either name.
func TestLsblkShowsXvdNamesInAVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making device nodes needs root")
	}
	root := t.TempDir()
	dev, sys := filepath.Join(root, "dev"), filepath.Join(root, "sys")
	os.MkdirAll(dev, 0o755)
	// Majors no driver of a test machine uses, so the sizes come from the fake sysfs.
	for _, n := range []struct {
		name         string
		major, minor uint32
		sectors      int64
		part         bool
	}{
		{"vda", 245, 0, 16777216, false}, {"vda1", 245, 1, 16775168, true}, {"vdb", 245, 16, 20971520, false},
		{"vdc", 245, 32, 2097152, false},
	} {
		if err := unix.Mknod(filepath.Join(dev, n.name), unix.S_IFBLK|0o600, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Skipf("mknod: %v", err)
		}
		files := map[string]string{"dev/block/" + itoa32(n.major) + ":" + itoa32(n.minor) + "/size": itoa64(n.sectors) + "\n"}
		if n.part {
			files["dev/block/"+itoa32(n.major)+":"+itoa32(n.minor)+"/partition"] = "1\n"
		}
		writeFiles(t, sys, files)
	}
	fakeVirtioDisk(t, sys, "vda", "xvda", "vda1")
	fakeVirtioDisk(t, sys, "vdb", "sdf")
	fakeVirtioDisk(t, sys, "vdc", "") // no serial: shown under the kernel's name
	d := &diskLinks{sys: sys, dev: dev, logf: func(string, ...any) {}}
	if err := d.reconcile(); err != nil {
		t.Fatal(err)
	}
	mountinfo := filepath.Join(root, "mountinfo")
	os.WriteFile(mountinfo, []byte("22 1 245:1 / / rw,relatime - ext4 /dev/vda1 rw\n"), 0o644)
	src := BlockSources{Dev: dev, Sys: sys, MountInfo: mountinfo}

	var out, errOut bytes.Buffer
	if code := Lsblk(nil, &out, &errOut, src); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := "NAME    MAJ:MIN RM  SIZE RO TYPE MOUNTPOINTS\n" +
		"vdc     245:32   0    1G  0 disk \n" +
		"xvda    245:0    0    8G  0 disk \n" +
		"└─xvda1 245:1    0    8G  0 part /\n" +
		"xvdf    245:16   0   10G  0 disk \n"
	if out.String() != want {
		t.Errorf("lsblk:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, name := range []string{"/dev/xvdf", "/dev/vdb"} {
		out.Reset()
		if code := Lsblk([]string{"-n", name}, &out, &errOut, src); code != 0 || !strings.HasPrefix(out.String(), "xvdf ") {
			t.Errorf("lsblk -n %s: exit %d, %q", name, code, out.String())
		}
	}
}

// The disks' nodes get group disk and mode 0660, as udev gives them (devtmpfs makes
// them root's alone), so that ec2-user of the minimal image (group disk) can read and
// write a volume, as in a container instance.
func TestDiskNodesBelongToGroupDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's group to another needs root")
	}
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	fakeVirtioDisk(t, sys, "vdb", "sdf\n")
	writeFiles(t, dev, map[string]string{"vdb": ""})
	os.Chmod(filepath.Join(dev, "vdb"), 0o600)
	d := &diskLinks{sys: sys, dev: dev, logf: func(string, ...any) {}, diskGroup: 6}
	if err := d.reconcile(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dev, "vdb"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Gid != 6 || st.Mode().Perm() != 0o660 {
		t.Errorf("vdb: group %d, mode %v; want 6 (disk), 0660", sys.Gid, st.Mode().Perm())
	}
}
