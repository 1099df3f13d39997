package blockstore

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/xts"
)

// Volume is a volume opened through the store: plaintext reads and writes
// (encrypted on the way to the file when the volume has a key), seen by the
// copy-before-write of snapshots being taken. Writes that bypass the store (a
// loop device or a VM on the file) are not seen: their driver must route them
// through a Volume or freeze them while StartSnapshot runs (see doc.go).
type Volume struct {
	s      *Store
	id     string
	f      *os.File
	cipher *xts.Cipher
	state  *volumeState
}

// OpenVolume opens a volume for I/O; key is its data key (nil if plaintext).
func (s *Store) OpenVolume(id string, key []byte) (*Volume, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	v := &Volume{s: s, id: id}
	if key != nil {
		c, err := newCipher(key)
		if err != nil {
			return nil, err
		}
		v.cipher = c
	}
	f, err := os.OpenFile(s.VolumePath(id), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("blockstore: opening volume %s: %w", id, err)
	}
	v.f = f
	v.state = s.acquireVolume(id)
	return v, nil
}

// Close closes the handle.
func (v *Volume) Close() error {
	if v.f == nil {
		return nil
	}
	err := v.f.Close()
	v.f = nil
	v.s.releaseVolume(v.id)
	return err
}

// Size is the volume's size in bytes.
func (v *Volume) Size() (int64, error) {
	fi, err := v.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// ReadAt reads plaintext like io.ReaderAt. Never-written space reads as zeros,
// encrypted or not.
func (v *Volume) ReadAt(p []byte, off int64) (int, error) {
	size, err := v.Size()
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, errors.New("blockstore: negative offset")
	}
	if off >= size {
		return 0, io.EOF
	}
	want := len(p)
	p = p[:min(int64(len(p)), size-off)]
	if v.cipher == nil {
		n, err := v.f.ReadAt(p, off)
		if err == nil && n < want {
			err = io.EOF
		}
		return n, err
	}
	start := off &^ (SectorSize - 1)
	end := (off + int64(len(p)) + SectorSize - 1) &^ (SectorSize - 1)
	buf := make([]byte, end-start)
	if _, err := v.f.ReadAt(buf, start); err != nil && err != io.EOF {
		return 0, err
	}
	decryptSectors(v.cipher, buf, uint64(start/SectorSize))
	n := copy(p, buf[off-start:])
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes plaintext like io.WriterAt; writing past the end of the volume
// is refused, as a disk does.
func (v *Volume) WriteAt(p []byte, off int64) (int, error) {
	size, err := v.Size()
	if err != nil {
		return 0, err
	}
	if off < 0 || off+int64(len(p)) > size {
		return 0, fmt.Errorf("blockstore: write of %d bytes at %d is outside volume %s (%d bytes)", len(p), off, v.id, size)
	}
	if len(p) == 0 {
		return 0, nil
	}
	vs := v.state
	vs.mu.Lock()
	defer vs.mu.Unlock()
	vs.waitReads(off, int64(len(p)))
	for _, c := range vs.captures {
		if err := c.beforeWrite(v.f, off, int64(len(p))); err != nil {
			return 0, err
		}
	}
	if v.cipher == nil {
		return v.f.WriteAt(p, off)
	}
	start := off &^ (SectorSize - 1)
	end := (off + int64(len(p)) + SectorSize - 1) &^ (SectorSize - 1)
	buf := make([]byte, end-start)
	// Partial sectors at either end keep their other bytes: read, decrypt, merge.
	for _, s := range []int64{start, end - SectorSize} {
		if (s == start && off != start) || (s == end-SectorSize && off+int64(len(p)) != end) {
			sec := buf[s-start : s-start+SectorSize]
			if _, err := v.f.ReadAt(sec, s); err != nil && err != io.EOF {
				return 0, err
			}
			decryptSectors(v.cipher, sec, uint64(s/SectorSize))
		}
	}
	copy(buf[off-start:], p)
	encryptSectors(v.cipher, buf, uint64(start/SectorSize))
	if _, err := v.f.WriteAt(buf, start); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Sync flushes the volume's file to disk.
func (v *Volume) Sync() error { return v.f.Sync() }
