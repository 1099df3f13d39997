package imagebuild

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one entry as readCpio parses it back.
type cpioEntry struct {
	name               string
	ino, mode, nlink   uint32
	mtime              uint32
	rdevmajor, rdevmin uint32
	data               []byte
	headerOff, dataOff int
}

// readCpio parses a newc archive strictly: magic, hex fields, 4-byte alignment
// of every header and data part, NUL padding, and a trailer that ends it.
func readCpio(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var entries []cpioEntry
	off := 0
	for {
		if off%4 != 0 {
			t.Fatalf("header at %d is not 4-byte aligned", off)
		}
		if len(b)-off < 110 || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("header at %d, field %d: %v", off, i, err)
			}
			return uint32(v)
		}
		e := cpioEntry{ino: field(0), mode: field(1), nlink: field(4), mtime: field(5),
			rdevmajor: field(9), rdevmin: field(10), headerOff: off}
		size, namesize := int(field(6)), int(field(11))
		if field(2) != 0 || field(3) != 0 || field(12) != 0 {
			t.Errorf("header at %d: uid, gid or check not 0", off)
		}
		nameEnd := off + 110 + namesize
		if nameEnd > len(b) || b[nameEnd-1] != 0 {
			t.Fatalf("header at %d: name not NUL-terminated", off)
		}
		e.name = string(b[off+110 : nameEnd-1])
		dataOff := (nameEnd + 3) &^ 3
		if !allZero(b[nameEnd:dataOff]) {
			t.Errorf("%s: name padding not NUL", e.name)
		}
		if dataOff+size > len(b) {
			t.Fatalf("%s: data runs past the end", e.name)
		}
		e.dataOff = dataOff
		e.data = b[dataOff : dataOff+size]
		next := (dataOff + size + 3) &^ 3
		if next > len(b) || !allZero(b[dataOff+size:next]) {
			t.Errorf("%s: data padding missing or not NUL", e.name)
		}
		off = next
		if e.name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return entries
		}
		entries = append(entries, e)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// A file's entry, byte for byte: the header's fields, the name padded so the
// data starts at 112, the data padded to 4.
func TestCpioHeaderBytes(t *testing.T) {
	var buf bytes.Buffer
	c := newCpioWriter(&buf, 0x5f5e100)
	if err := c.File("/a", 0o644, []byte("xy")); err != nil {
		t.Fatal(err)
	}
	want := "070701" + "00000001" + "000081a4" + "00000000" + "00000000" + "00000001" + "05f5e100" +
		"00000002" + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000" +
		"a\x00" + "xy\x00\x00"
	if got := buf.String(); got != want {
		t.Fatalf("entry\n got %q\nwant %q", got, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The trailer: inode 0, one link, name TRAILER!!! (11 bytes with the NUL,
	// 110+11 padded to 124).
	trailer := buf.String()[len(want):]
	if len(trailer) != 124 || !strings.HasPrefix(trailer, "07070100000000") ||
		!strings.HasPrefix(trailer[110:], "TRAILER!!!\x00\x00\x00\x00") {
		t.Fatalf("trailer %q", trailer)
	}
	if err := c.File("b", 0o644, nil); err == nil {
		t.Error("an entry after Close was accepted")
	}
}

// Every kind of entry and every padding length, read back.
func TestCpioRoundTrip(t *testing.T) {
	archive := sampleCpio(t)
	entries := readCpio(t, archive)
	want := []struct {
		name  string
		mode  uint32
		nlink uint32
		data  string
	}{
		{"d", 0o040755, 2, ""},
		{"d/sub", 0o040700, 2, ""},
		{"d/console", 0o020600, 1, ""},
		{"d/link", 0o120777, 1, "../target"},
	}
	for n := 0; n <= 8; n++ {
		want = append(want, struct {
			name  string
			mode  uint32
			nlink uint32
			data  string
		}{fmt.Sprintf("d/f%d%s", n, strings.Repeat("n", n)), 0o100644, 1, strings.Repeat("x", n)})
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(entries), len(want))
	}
	inodes := map[uint32]bool{}
	for i, w := range want {
		e := entries[i]
		if e.name != w.name || e.mode != w.mode || e.nlink != w.nlink || string(e.data) != w.data || e.mtime != 1700000000 {
			t.Errorf("entry %d = %q mode %o nlink %d data %q mtime %d; want %q %o %d %q", i, e.name, e.mode, e.nlink, e.data, e.mtime, w.name, w.mode, w.nlink, w.data)
		}
		if inodes[e.ino] || e.ino == 0 {
			t.Errorf("%s: inode %d not unique", e.name, e.ino)
		}
		inodes[e.ino] = true
	}
	if c := entries[2]; c.rdevmajor != 5 || c.rdevmin != 1 {
		t.Errorf("console is %d:%d, want 5:1", c.rdevmajor, c.rdevmin)
	}
}

func TestCpioRefusesBadNames(t *testing.T) {
	c := newCpioWriter(&bytes.Buffer{}, 0)
	for _, name := range []string{"", "/", "TRAILER!!!", "a\x00b"} {
		if err := c.File(name, 0o644, nil); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func sampleCpio(t *testing.T) []byte {
	var buf bytes.Buffer
	c := newCpioWriter(&buf, 1700000000)
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(c.Dir("d", 0o755))
	check(c.Dir("d/sub", 0o700))
	check(c.CharDev("d/console", 0o600, 5, 1))
	check(c.Symlink("d/link", "../target"))
	for n := 0; n <= 8; n++ {
		check(c.File(fmt.Sprintf("d/f%d%s", n, strings.Repeat("n", n)), 0o644, []byte(strings.Repeat("x", n))))
	}
	check(c.Close())
	return buf.Bytes()
}

// GNU cpio, a reader we did not write, lists and unpacks the archive.
func TestCpioWithGNUCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
			t.Fatal("cpio is not installed (apt-get install cpio)")
		}
		t.Skip("cpio is not installed (apt-get install cpio)")
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "a.cpio")
	if err := os.WriteFile(archive, sampleCpio(t), 0o644); err != nil {
		t.Fatal(err)
	}
	list := exec.Command("cpio", "-t", "-v", "--quiet", "-F", archive)
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v: %s", err, out)
	}
	for _, want := range []string{"drwxr-xr-x", " d\n", "crw-------", "5,   1", "d/console", "d/link -> ../target", "d/f8nnnnnnnn"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("cpio -t -v has no %q:\n%s", want, out)
		}
	}
	// Unpack all but the device node, which needs root to create.
	root := filepath.Join(dir, "root")
	os.Mkdir(root, 0o755)
	extract := exec.Command("cpio", "-i", "-d", "--quiet", "--no-absolute-filenames", "-F", archive, "-f", "d/console")
	extract.Dir = root
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	for n := 0; n <= 8; n++ {
		b, err := os.ReadFile(filepath.Join(root, fmt.Sprintf("d/f%d%s", n, strings.Repeat("n", n))))
		if err != nil || string(b) != strings.Repeat("x", n) {
			t.Errorf("f%d: %q, %v", n, b, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "d/link")); err != nil || target != "../target" {
		t.Errorf("link: %q, %v", target, err)
	}
	if st, err := os.Stat(filepath.Join(root, "d/sub")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Errorf("d/sub: %v, %v", st, err)
	}
}
