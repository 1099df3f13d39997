package container

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"strato/internal/cloud"
)

// These tests need neither root nor runc.

// disk is an in-memory disk for the partition table tests.
type disk []byte

func (d disk) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(d)) {
		return 0, bytes.ErrTooLarge
	}
	return copy(p, d[off:]), nil
}

func mbrEntry(d disk, i int, kind byte, start, length uint32) {
	e := d[446+16*i:]
	e[4] = kind
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], length)
	d[510], d[511] = 0x55, 0xaa
}

func TestReadPartitions(t *testing.T) {
	t.Run("MBR", func(t *testing.T) {
		d := make(disk, 1<<20)
		mbrEntry(d, 0, 0x83, 2048, 1000)
		mbrEntry(d, 1, 0x05, 4000, 100) // extended: its logical partitions are not read
		mbrEntry(d, 2, 0x83, 5000, 200)
		got, err := readPartitions(d)
		want := []partition{{1, 2048, 1000}, {3, 5000, 200}}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("readPartitions = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("GPT", func(t *testing.T) {
		d := make(disk, 1<<20)
		mbrEntry(d, 0, 0xee, 1, 2047)
		hdr := d[512:]
		copy(hdr, "EFI PART")
		binary.LittleEndian.PutUint64(hdr[72:], 2) // entries at LBA 2
		binary.LittleEndian.PutUint32(hdr[80:], 128)
		binary.LittleEndian.PutUint32(hdr[84:], 128)
		entry := func(i int, first, last uint64) {
			e := d[1024+128*i:]
			e[0] = 1 // a type GUID that is not zero
			binary.LittleEndian.PutUint64(e[32:], first)
			binary.LittleEndian.PutUint64(e[40:], last)
		}
		entry(0, 2048, 4095)
		entry(13, 100, 199) // as Debian's and Ubuntu's images number their BIOS boot partition
		got, err := readPartitions(d)
		want := []partition{{1, 2048, 2048}, {14, 100, 100}}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("readPartitions = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("bare file system", func(t *testing.T) {
		d := make(disk, 1<<20)
		binary.LittleEndian.PutUint16(d[1024+56:], 0xef53)
		if got, err := readPartitions(d); err != nil || len(got) != 0 {
			t.Errorf("readPartitions(bare ext4) = %v, %v; want none", got, err)
		}
		if fs := fileSystemAt(d, 0); fs != "ext4" {
			t.Errorf("fileSystemAt(bare ext4) = %q", fs)
		}
	})
	t.Run("empty disk", func(t *testing.T) {
		if got, err := readPartitions(make(disk, 4096)); err != nil || len(got) != 0 {
			t.Errorf("readPartitions(zeros) = %v, %v; want none", got, err)
		}
	})
}

func TestBundleConfig(t *testing.T) {
	b := bundle{
		spec:      cloud.InstanceSpec{ID: "i-0123", VCPUs: 4, MemoryMiB: 2048, Hostname: "ip-10-0-0-5"},
		nodes:     []deviceNode{{Guest: "/dev/xvda", Major: 7, Minor: 3}, {Guest: "/dev/xvdf", Major: 7, Minor: 9, ReadOnly: true}},
		netns:     "/run/strato/netns/i-0123",
		guestInit: "/usr/bin/strato", caps: []string{"CAP_CHOWN"}, runDir: "/data/i-0123/run", sysDir: "/data/i-0123/sys",
	}
	c := b.config()
	if c.Hostname != "ip-10-0-0-5" || !slices.Equal(c.Process.Args, []string{"/.strato/strato", "guest-init"}) {
		t.Errorf("hostname %q, args %q", c.Hostname, c.Process.Args)
	}
	res := c.Linux.Resources
	if res.CPU == nil || res.CPU.Quota != 400_000 || res.CPU.Period != 100_000 {
		t.Errorf("CPU = %+v, want 4 periods of 100 ms", res.CPU)
	}
	if res.Memory == nil || res.Memory.Limit != 2048<<20 {
		t.Errorf("memory = %+v, want 2 GiB", res.Memory)
	}
	if res.Pids == nil || res.Pids.Limit != pidsLimit {
		t.Errorf("pids = %+v", res.Pids)
	}
	var kinds []string
	for _, ns := range c.Linux.Namespaces {
		kinds = append(kinds, ns.Type)
		if ns.Type == "network" && ns.Path != b.netns {
			t.Errorf("network namespace path %q, want %q", ns.Path, b.netns)
		}
	}
	if !slices.Equal(kinds, []string{"pid", "mount", "uts", "ipc", "network"}) {
		t.Errorf("namespaces %v", kinds)
	}
	mounts := map[string]ociMount{}
	for _, m := range c.Mounts {
		mounts[m.Destination] = m
	}
	if m := mounts[guestHelper]; m.Source != b.guestInit || !slices.Contains(m.Options, "ro") {
		t.Errorf("the guest init helper's mount = %+v, want %s read-only", m, b.guestInit)
	}
	if m := mounts[guestRunDir]; m.Source != b.runDir || !slices.Contains(m.Options, "rw") {
		t.Errorf("the run directory's mount = %+v", m)
	}
	if m := mounts["/sys/block"]; m.Source != "/data/i-0123/sys/block" {
		t.Errorf("/sys/block's mount = %+v, want the instance's view", m)
	}
	var access []string
	for _, r := range res.Devices {
		if r.Type == "b" {
			access = append(access, r.Access)
		}
	}
	if !slices.Equal(access, []string{"rwm", "rm"}) {
		t.Errorf("block device rules %v, want read-write for xvda and read-only for xvdf", access)
	}
	if c.Linux.Devices[len(c.Linux.Devices)-1].Path != "/dev/xvdf" {
		t.Errorf("devices %+v, want the volumes' nodes", c.Linux.Devices)
	}
}

func TestBundleWithoutNetwork(t *testing.T) {
	c := bundle{spec: cloud.InstanceSpec{ID: "i-1"}}.config()
	for _, ns := range c.Linux.Namespaces {
		if ns.Type == "network" && ns.Path != "" {
			t.Errorf("without a Network the container joins %q, want a new namespace", ns.Path)
		}
	}
	if c.Hostname != "i-1" {
		t.Errorf("hostname %q, want the instance ID when the spec has none", c.Hostname)
	}
	if c.Linux.Resources.CPU != nil || c.Linux.Resources.Memory != nil {
		t.Errorf("limits %+v without a size in the spec", c.Linux.Resources)
	}
}

// The sysfs view is readable by every guest user whatever strato's umask
// (strato serve runs with 077; lsblk runs as ec2-user).
func TestSysViewIsWorldReadable(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "sys")
	if err := resetSysView(dir); err != nil {
		t.Fatal(err)
	}
	nodes := []deviceNode{{Guest: "/dev/xvda", Major: 7, Minor: 0, Sectors: 2048}, {Guest: "/dev/xvda1", Major: 7, Minor: 1, Sectors: 1024, Partition: 1, Start: 1024}}
	if err := addToSysView(dir, nodes); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if want := fs.FileMode(0o444); d.IsDir() && info.Mode().Perm() != 0o755 || !d.IsDir() && info.Mode().Perm() != want {
			t.Errorf("%s has mode %v", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiskGroupIn(t *testing.T) {
	for _, tc := range []struct {
		group string
		want  uint32
	}{
		{"root:x:0:\ndisk:x:6:ec2-user\nwheel:x:10:\n", 6},
		{"root:x:0:\nwheel:x:10:\n", 0},
		{"disk:x:notanumber:\n", 0},
		{"diskette:x:9:\ndisk:x:42:\n", 42},
	} {
		if got := diskGroupIn([]byte(tc.group)); got != tc.want {
			t.Errorf("diskGroupIn(%q) = %d, want %d", tc.group, got, tc.want)
		}
	}
}
