package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// VolumePath is the volume's sparse file (ciphertext when the volume is
// encrypted), for drivers.
func (s *Store) VolumePath(id string) string {
	return filepath.Join(s.dir, "volumes", id+".img")
}

func checkSize(size int64) error {
	if size <= 0 || size%SectorSize != 0 {
		return fmt.Errorf("blockstore: a volume size must be a positive multiple of %d bytes, not %d", SectorSize, size)
	}
	if (size+ChunkSize-1)/ChunkSize > 1<<32 {
		return fmt.Errorf("blockstore: volume size %d is too large", size)
	}
	return nil
}

// CreateVolume makes an empty sparse volume of size bytes. key is nil for a
// plaintext volume or its 64-byte data key; the store does not keep keys (the
// control plane does, wrapped), it only checks this one. Creating a volume that
// exists is not an error.
func (s *Store) CreateVolume(id string, size int64, key []byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if key != nil {
		if _, err := newCipher(key); err != nil {
			return err
		}
	}
	path := s.VolumePath(id)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("blockstore: creating volume %s: %w", id, err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blockstore: creating volume %s: %w", id, err)
	}
	return nil
}

// GrowVolume makes a volume larger; the new space is a hole. Growing to the size
// it has is not an error; shrinking is.
func (s *Store) GrowVolume(id string, size int64) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	f, err := os.OpenFile(s.VolumePath(id), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("blockstore: growing volume %s: %w", id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	switch {
	case size == fi.Size():
		return nil
	case size < fi.Size():
		return fmt.Errorf("blockstore: volume %s has %d bytes; it cannot shrink to %d", id, fi.Size(), size)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("blockstore: growing volume %s: %w", id, err)
	}
	return f.Sync()
}

// DeleteVolume removes a volume's file. Deleting a volume that is not there is
// not an error. A snapshot being taken of it still completes (it holds the file
// open).
func (s *Store) DeleteVolume(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := removeIfExists(s.VolumePath(id)); err != nil {
		return fmt.Errorf("blockstore: deleting volume %s: %w", id, err)
	}
	return syncDir(filepath.Join(s.dir, "volumes"))
}

// ImportVolume makes a plaintext volume of size bytes holding the raw disk image
// at path: only the image's data extents are read, and zero blocks in them are
// not written, so the volume is as sparse as the image.
func (s *Store) ImportVolume(ctx context.Context, id string, size int64, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("blockstore: importing into %s: %w", id, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > size {
		return fmt.Errorf("blockstore: importing %s: the image (%d bytes) is larger than the volume (%d)", path, fi.Size(), size)
	}
	if err := s.CreateVolume(id, size, nil); err != nil {
		return err
	}
	dst, err := os.OpenFile(s.VolumePath(id), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer dst.Close()
	const block = 4096
	buf := make([]byte, ChunkSize)
	zero := make([]byte, block)
	for off := int64(0); off < fi.Size(); {
		if err := ctx.Err(); err != nil {
			return err
		}
		start, end, err := dataExtent(src, off, fi.Size())
		if err != nil {
			return err
		}
		for pos := start; pos < end; {
			n, err := src.ReadAt(buf[:min(int64(len(buf)), end-pos)], pos)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if n == 0 {
				break
			}
			for i := 0; i < n; i += block {
				b := buf[i:min(i+block, n)]
				if !bytes.Equal(b, zero[:len(b)]) {
					if _, err := dst.WriteAt(b, pos+int64(i)); err != nil {
						return err
					}
				}
			}
			pos += int64(n)
		}
		off = end
	}
	return dst.Sync()
}

// dataExtent returns the first extent of data at or after off in f, as
// [start, end) (SEEK_DATA, SEEK_HOLE), clipped to size; start is size when only
// holes follow. File systems without SEEK_DATA report everything as data.
func dataExtent(f *os.File, off, size int64) (start, end int64, err error) {
	if off >= size {
		return size, size, nil
	}
	fd := int(f.Fd())
	d, err := unix.Seek(fd, off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return size, size, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EOPNOTSUPP):
		return off, size, nil
	case err != nil:
		return 0, 0, fmt.Errorf("blockstore: seeking data in %s: %w", f.Name(), err)
	}
	if d >= size {
		return size, size, nil
	}
	h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
	if err != nil {
		return 0, 0, fmt.Errorf("blockstore: seeking a hole in %s: %w", f.Name(), err)
	}
	return d, min(h, size), nil
}

// writeSparse writes buf at off in f, skipping runs of zero 4 KiB blocks, so
// what the source did not hold stays a hole in f (f is new, or the range a hole).
func writeSparse(f *os.File, buf []byte, off int64) error {
	const block = 4096
	for i := 0; i < len(buf); {
		for i < len(buf) && allZero(buf[i:min(i+block, len(buf))]) {
			i += block
		}
		j := i
		for j < len(buf) && !allZero(buf[j:min(j+block, len(buf))]) {
			j += block
		}
		j = min(j, len(buf))
		if j > i {
			if _, err := f.WriteAt(buf[i:j], off+int64(i)); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}
