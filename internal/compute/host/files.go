package host

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// EnsureSparse makes a sparse file of size bytes at path unless one is there.
func EnsureSparse(path string, size int64) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return MakeSparse(path, size)
}

// MakeSparse (re)makes the sparse file at path: an empty instance-store volume
// of size bytes (0: the size of the file there now).
func MakeSparse(path string, size int64) error {
	if st, err := os.Stat(path); size <= 0 && err == nil {
		size = st.Size()
	}
	if size <= 0 {
		return fmt.Errorf("instance-store volume %s: no size given", path)
	}
	if err := ReplaceFile(path, func(f *os.File) error { return f.Truncate(size) }); err != nil {
		return fmt.Errorf("instance-store volume %s: %w", path, err)
	}
	return nil
}

// CopySparse copies the file src to dst, data extents only, so that the copy
// of a mostly empty disk stays mostly holes (an instance-store root).
func CopySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := ReplaceFile(dst, func(out *os.File) error { return copyExtents(in, out, st.Size()) }); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}

// ReplaceFile makes the file at path anew with fill, in a temporary file
// renamed over the old one: a crash leaves one or the other, never half.
func ReplaceFile(path string, fill func(*os.File) error) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func copyExtents(in, out *os.File, size int64) error {
	if err := out.Truncate(size); err != nil {
		return err
	}
	for off := int64(0); off < size; {
		start, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole follows
		}
		if err != nil {
			return err
		}
		end, err := unix.Seek(int(in.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, start), io.NewSectionReader(in, start, end-start)); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// ReadTail reads the last n bytes of a file at most; a missing file is empty.
func ReadTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-n, 0)
	out := make([]byte, st.Size()-off)
	k, err := f.ReadAt(out, off)
	if err == io.EOF {
		err = nil
	}
	return out[:k], err
}
