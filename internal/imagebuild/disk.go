// Package imagebuild makes the disks of strato's base images on the host: a root
// file system in a directory (busybox for `minimal`, debootstrap for `debian-12`),
// then a disk laid out as EC2's Linux images are — an MBR partition table with one
// Linux partition from 1 MiB to the end holding an ext4 file system — so that the
// seeds' `growpart /dev/xvda 1` and `resize2fs` work on a grown root volume.
//
// It needs mke2fs (e2fsprogs) with -d, and debootstrap for Debian; it knows nothing
// of volumes, snapshots or the API: the caller stores the disk as an image.
package imagebuild

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// PartitionStart is where the root partition begins (1 MiB, aligned as
// partitioning tools align it).
const PartitionStart = 1 << 20

// Disk writes to path a sparse disk of size bytes: an MBR with one Linux partition
// (type 0x83, bootable) from PartitionStart to the end, holding an ext4 file system
// labelled label with the contents of rootDir (owners and modes kept).
func Disk(ctx context.Context, rootDir, path string, size int64, label string) error {
	if size < 2*PartitionStart || size%512 != 0 {
		return fmt.Errorf("imagebuild: disk size %d must be a multiple of 512 and at least 2 MiB", size)
	}
	fsPath := path + ".fs"
	defer os.Remove(fsPath)
	fsSize := size - PartitionStart
	fs, err := os.Create(fsPath)
	if err != nil {
		return err
	}
	if err := fs.Truncate(fsSize); err != nil {
		fs.Close()
		return err
	}
	fs.Close()
	// Reproducible enough: no lazy init, so the whole fs is ready when written.
	cmd := exec.CommandContext(ctx, "mke2fs", "-q", "-F", "-t", "ext4", "-L", label,
		"-E", "lazy_itable_init=0,lazy_journal_init=0", "-d", rootDir, fsPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("imagebuild: mke2fs: %v: %s", err, bytes.TrimSpace(out))
	}
	disk, err := os.Create(path)
	if err != nil {
		return err
	}
	defer disk.Close()
	if err := disk.Truncate(size); err != nil {
		return err
	}
	if _, err := disk.WriteAt(mbr(size), 0); err != nil {
		return err
	}
	src, err := os.Open(fsPath)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := copySparse(disk, PartitionStart, src); err != nil {
		return err
	}
	return disk.Sync()
}

// mbr is a classic MBR with one bootable Linux partition covering the disk from
// PartitionStart on.
func mbr(size int64) []byte {
	b := make([]byte, 512)
	// A fixed disk signature, so that builds of the same tree are identical.
	binary.LittleEndian.PutUint32(b[440:], 0x5354524f) // "STRO"
	e := b[446:462]
	e[0] = 0x80 // bootable
	// CHS fields are unused by Linux; LBA addressing marks them as maximal.
	copy(e[1:4], []byte{0xfe, 0xff, 0xff})
	e[4] = 0x83 // Linux
	copy(e[5:8], []byte{0xfe, 0xff, 0xff})
	first := uint32(PartitionStart / 512)
	binary.LittleEndian.PutUint32(e[8:], first)
	binary.LittleEndian.PutUint32(e[12:], uint32(size/512)-first)
	b[510], b[511] = 0x55, 0xaa
	return b
}

// copySparse copies src into dst at offset, leaving holes where src has zeros.
func copySparse(dst *os.File, offset int64, src io.Reader) error {
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for off := offset; ; {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			for i := 0; i < n; i += 4096 {
				end := min(i+4096, n)
				if !bytes.Equal(buf[i:end], zero[:end-i]) {
					if _, werr := dst.WriteAt(buf[i:end], off+int64(i)); werr != nil {
						return werr
					}
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
