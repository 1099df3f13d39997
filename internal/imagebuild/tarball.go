package imagebuild

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// IsTarball reports whether the file is a tar archive, plain or compressed
// (gzip, xz, zstd, bzip2), by its first bytes.
func IsTarball(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.Read(head)
	head = head[:n]
	for _, magic := range [][]byte{{0x1f, 0x8b}, {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}, []byte("BZh")} {
		if bytes.HasPrefix(head, magic) {
			return true, nil
		}
	}
	return n >= 262 && bytes.Equal(head[257:262], []byte("ustar")), nil
}

// RootFromTarball unpacks a root file system tarball into dir with GNU tar,
// which knows every tar dialect and compression, keeps numeric owners and
// modes (as root), and refuses members that would land outside dir.
func RootFromTarball(ctx context.Context, tarball, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "tar", "--extract", "--file", tarball, "--directory", dir,
		"--numeric-owner", "--preserve-permissions", "--same-owner", "--xattrs")
	if os.Geteuid() != 0 {
		// Only root can give files their owners; others get theirs.
		cmd = exec.CommandContext(ctx, "tar", "--extract", "--file", tarball, "--directory", dir, "--no-same-owner")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("imagebuild: unpacking %s: %v: %s", tarball, err, bytes.TrimSpace(out))
	}
	return nil
}

// DiskSizeFor is a disk size that holds the tree at dir with room to spare: its
// allocated size plus a quarter and 256 MiB (ext4's metadata and journal, and
// some free space), in whole GiB, at least 1 GiB.
func DiskSizeFor(dir string) (int64, error) {
	var used int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			used += st.Blocks * 512
		} else {
			used += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	want := used + used/4 + 256<<20
	return (want + 1<<30 - 1) >> 30 << 30, nil
}
