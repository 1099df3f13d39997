package container

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"strato/internal/compute/host"
)

// partition is one entry of a disk's partition table, in 512-byte sectors.
type partition struct {
	Number        int
	Start, Length uint64
}

const sectorSize = host.SectorSize

// readPartitions reads a disk's partition table: the primary entries of an MBR,
// or the entries of a GPT behind a protective MBR. A disk without either (a
// bare file system) has none. The kernel numbers partitions the same way, so a
// partition here has the number its loopNpK device would have.
func readPartitions(r io.ReaderAt) ([]partition, error) {
	mbr := make([]byte, sectorSize)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("reading the partition table: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa || fileSystemAt(r, 0) != "" {
		return nil, nil
	}
	var parts []partition
	for i := range 4 {
		e := mbr[446+16*i : 446+16*(i+1)]
		kind := e[4]
		start, length := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		switch {
		case kind == 0xee:
			return readGPT(r)
		case kind == 0 || length == 0 || kind == 0x05 || kind == 0x0f || kind == 0x85:
			continue // empty, or an extended partition (its logical ones are not read)
		}
		parts = append(parts, partition{Number: i + 1, Start: uint64(start), Length: uint64(length)})
	}
	return parts, nil
}

// readGPT reads the entries of the GUID partition table whose header is at LBA 1.
func readGPT(r io.ReaderAt) ([]partition, error) {
	hdr := make([]byte, 92)
	if _, err := r.ReadAt(hdr, sectorSize); err != nil {
		return nil, fmt.Errorf("reading the GPT header: %w", err)
	}
	if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
		return nil, fmt.Errorf("protective MBR without a GPT header")
	}
	first := binary.LittleEndian.Uint64(hdr[72:])
	count := binary.LittleEndian.Uint32(hdr[80:])
	size := binary.LittleEndian.Uint32(hdr[84:])
	if size < 128 || count > 1024 {
		return nil, fmt.Errorf("GPT header with %d entries of %d bytes", count, size)
	}
	table := make([]byte, int(count)*int(size))
	if _, err := r.ReadAt(table, int64(first)*sectorSize); err != nil {
		return nil, fmt.Errorf("reading the GPT entries: %w", err)
	}
	var parts []partition
	for i := range int(count) {
		e := table[i*int(size):]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue // unused entry
		}
		start, end := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
		if end >= start {
			parts = append(parts, partition{Number: i + 1, Start: start, Length: end - start + 1})
		}
	}
	return parts, nil
}

// fileSystemAt names the file system that starts at off ("ext4", "xfs",
// "btrfs"), or "" for none the driver mounts as a root.
func fileSystemAt(r io.ReaderAt, off int64) string {
	probe := func(at int64, n int) []byte {
		b := make([]byte, n)
		if _, err := r.ReadAt(b, off+at); err != nil {
			return nil
		}
		return b
	}
	// ext2/3/4 keep 0xEF53 at byte 56 of the superblock, 1 KiB in.
	if b := probe(1024+56, 2); b != nil && binary.LittleEndian.Uint16(b) == 0xef53 {
		return "ext4" // the ext4 driver mounts ext2 and ext3 too
	}
	if b := probe(0, 4); bytes.Equal(b, []byte("XFSB")) {
		return "xfs"
	}
	if b := probe(64<<10+64, 8); bytes.Equal(b, []byte("_BHRfS_M")) {
		return "btrfs"
	}
	return ""
}

// rootFileSystem picks the device to mount as the root: the first partition
// that holds a file system the driver knows, or the whole disk when it is a
// bare file system.
func rootFileSystem(disk hostDisk) (dev, fsType string, err error) {
	candidates := []string{disk.Dev}
	if len(disk.Parts) > 0 {
		candidates = candidates[:0]
		for _, p := range disk.Parts {
			candidates = append(candidates, p.Dev)
		}
	}
	for _, c := range candidates {
		f, err := os.Open(c)
		if err != nil {
			return "", "", err
		}
		fs := fileSystemAt(f, 0)
		f.Close()
		if fs != "" {
			return c, fs, nil
		}
	}
	return "", "", fmt.Errorf("no ext4, xfs or btrfs root file system on the root volume (%d partitions)", len(disk.Parts))
}
