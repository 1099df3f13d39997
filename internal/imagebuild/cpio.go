package imagebuild

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// cpioWriter writes a cpio archive in the "newc" format (SVR4 without CRC), the
// only format the kernel unpacks as an initramfs. Writing it here rather than
// running cpio(1) means building an initramfs needs no tool on the host, no root
// (device nodes such as /dev/console are only headers) and no staging directory.
//
// Each entry is a 110-byte ASCII header (the magic 070701 and thirteen 8-digit
// hex fields), the NUL-terminated name padded so that the data starts on a
// 4-byte boundary, then the data padded to 4 bytes. The archive ends with an
// entry named TRAILER!!!. Entries are stored in the order written: a directory
// must be written before what it holds, as the kernel creates them in order.
type cpioWriter struct {
	w      io.Writer
	ino    uint32
	mtime  int64
	closed bool
	err    error
}

// Mode bits of the kinds of entry (as in stat(2); newc stores them in c_mode).
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
	cpioCharDev = 0o020000
)

const cpioTrailer = "TRAILER!!!"

// newCpioWriter writes to w; every entry gets mtime (seconds since the epoch),
// so that the same contents give the same archive.
func newCpioWriter(w io.Writer, mtime int64) *cpioWriter {
	return &cpioWriter{w: w, mtime: mtime}
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm fs.FileMode) error {
	return c.entry(name, cpioDir|uint32(perm.Perm()), 2, 0, 0, nil)
}

// File adds a regular file holding data.
func (c *cpioWriter) File(name string, perm fs.FileMode, data []byte) error {
	return c.entry(name, cpioRegular|uint32(perm.Perm()), 1, 0, 0, data)
}

// Symlink adds a symbolic link name pointing at target.
func (c *cpioWriter) Symlink(name, target string) error {
	return c.entry(name, cpioSymlink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	return c.entry(name, cpioCharDev|uint32(perm.Perm()), 1, major, minor, nil)
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if c.closed {
		return c.err
	}
	err := c.write(cpioTrailer, 0, 1, 0, 0, nil, 0)
	c.closed = true
	return err
}

func (c *cpioWriter) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if c.closed {
		return errors.New("cpio: write after Close")
	}
	// The kernel takes names as given; archives name entries relative to the
	// root, without a leading slash, as cpio(1) and the kernel's gen_init_cpio do.
	name = strings.TrimPrefix(name, "/")
	if name == "" || name == cpioTrailer || strings.ContainsRune(name, 0) {
		return fmt.Errorf("cpio: bad entry name %q", name)
	}
	if int64(len(data)) > 0xffffffff {
		return fmt.Errorf("cpio: %s is too large for newc (%d bytes)", name, len(data))
	}
	c.ino++
	return c.write(name, mode, nlink, rmajor, rminor, data, c.ino)
}

func (c *cpioWriter) write(name string, mode, nlink, rmajor, rminor uint32, data []byte, ino uint32) error {
	if c.err != nil {
		return c.err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, uint32(c.mtime), len(data),
		0, 0, rmajor, rminor, // the entry's own device (unused), the node's
		len(name)+1, 0) // name size counts the NUL; check is 0 in newc
	b.WriteString(name)
	b.WriteByte(0)
	pad(&b, b.Len())
	hdr := b.String()
	if _, err := io.WriteString(c.w, hdr); err != nil {
		c.err = err
		return err
	}
	if len(data) > 0 {
		if _, err := c.w.Write(data); err != nil {
			c.err = err
			return err
		}
		var p strings.Builder
		pad(&p, len(data))
		if _, err := io.WriteString(c.w, p.String()); err != nil {
			c.err = err
			return err
		}
	}
	return nil
}

// pad writes the NULs that bring n bytes to a multiple of 4. Every header and
// every data part starts 4-byte aligned, so padding each to 4 keeps the
// archive's offsets aligned as newc requires.
func pad(b *strings.Builder, n int) {
	for ; n%4 != 0; n++ {
		b.WriteByte(0)
	}
}
