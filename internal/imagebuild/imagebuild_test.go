package imagebuild

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// needTools skips the test without mke2fs, debugfs and busybox-static, unless
// STRATO_TEST_REQUIRE_TOOLS is set (scripts/test.sh installs them and sets it),
// when their absence fails it.
func needTools(t *testing.T) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not installed", what)
		}
		t.Skipf("%s is not installed", what)
	}
	for _, tool := range []string{"mke2fs", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(tool + " (e2fsprogs)")
		}
	}
	if _, err := os.Stat(BusyboxPath); err != nil {
		missing("busybox-static")
	}
}

func TestMinimalDisk(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	helper, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := MinimalRoot(ctx, root, helper); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.img")
	const size = 64 << 20
	if err := Disk(ctx, root, disk, size, "cloudimg-rootfs"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != size || data[510] != 0x55 || data[511] != 0xaa {
		t.Fatalf("no MBR on a %d-byte disk", len(data))
	}
	entry := data[446:462]
	if entry[4] != 0x83 || binary.LittleEndian.Uint32(entry[8:]) != PartitionStart/512 ||
		int64(binary.LittleEndian.Uint32(entry[12:]))*512 != size-PartitionStart {
		t.Fatalf("partition entry %x", entry)
	}
	// The ext4 superblock of the partition, with its label.
	sb := data[PartitionStart+1024:]
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 || !bytes.HasPrefix(sb[0x78:], []byte("cloudimg-rootfs")) {
		t.Fatal("no ext4 file system labelled cloudimg-rootfs at 1 MiB")
	}
	// Its contents, read back with debugfs from the partition.
	part := filepath.Join(dir, "part.img")
	if err := os.WriteFile(part, data[PartitionStart:], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("debugfs", "-R", "ls -l /usr/local/sbin", part).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "strato") {
		t.Fatalf("the helper is not in the image: %v %s", err, out)
	}
	out, _ = exec.Command("debugfs", "-R", "cat /etc/passwd", part).CombinedOutput()
	if !strings.Contains(string(out), MinimalUser+":x:1000") {
		t.Errorf("no %s in /etc/passwd: %s", MinimalUser, out)
	}
	out, _ = exec.Command("debugfs", "-R", "stat /bin/sh", part).CombinedOutput()
	if !strings.Contains(string(out), "Type: symlink") {
		t.Errorf("/bin/sh is not a busybox link: %s", out)
	}
	// Sparse: far fewer blocks than the disk's size.
	var st syscall.Stat_t
	if err := syscall.Stat(disk, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > size/2 {
		t.Errorf("the disk uses %d bytes of %d: not sparse", used, size)
	}
}

func TestDiskFromTarball(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "etc", "hostname"), []byte("from-tarball\n"), 0o644)
	tarball := filepath.Join(dir, "root.tar.gz")
	if out, err := exec.Command("tar", "-czf", tarball, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if ok, err := IsTarball(tarball); !ok || err != nil {
		t.Fatalf("IsTarball(.tar.gz) = %v, %v", ok, err)
	}
	plain := filepath.Join(dir, "root.tar")
	exec.Command("tar", "-cf", plain, "-C", src, ".").Run()
	if ok, _ := IsTarball(plain); !ok {
		t.Error("a plain tar is not recognised")
	}
	if ok, _ := IsTarball(filepath.Join(src, "etc", "hostname")); ok {
		t.Error("a text file is taken for a tarball")
	}
	root := filepath.Join(dir, "root")
	if err := RootFromTarball(ctx, tarball, root); err != nil {
		t.Fatal(err)
	}
	size, err := DiskSizeFor(root)
	if err != nil || size != 1<<30 {
		t.Fatalf("DiskSizeFor a tiny tree = %d, %v; want 1 GiB", size, err)
	}
	disk := filepath.Join(dir, "disk.img")
	if err := Disk(ctx, root, disk, size, RootLabel); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 512)
	f, _ := os.Open(disk)
	defer f.Close()
	f.ReadAt(data, 0)
	if data[510] != 0x55 || data[511] != 0xaa {
		t.Error("no MBR")
	}
}
