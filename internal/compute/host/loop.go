package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LoopSpan is the part of a file a loop device shows: from Offset, Size bytes
// (0: to the end). A partition is a span of its disk: the container driver makes
// its devices itself, as loops, because kernels built without partition-table
// support (as these hosts' are) make none, and because a device-mapper device
// has no partition scan.
type LoopSpan struct {
	Offset, Size uint64
}

// attachLoop binds a span of file (a regular file or a block device) to a free
// loop device and returns the device's path.
func attachLoop(file string, readOnly bool, span LoopSpan) (string, error) {
	mode := os.O_RDWR
	if readOnly {
		mode = os.O_RDONLY
	}
	backing, err := os.OpenFile(file, mode, 0)
	if err != nil {
		return "", fmt.Errorf("loop device for %s: %w", file, err)
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("loop device for %s: %w", file, err)
	}
	defer ctl.Close()
	var flags uint32
	if readOnly {
		flags |= unix.LO_FLAGS_READ_ONLY
	}
	// Another process may take the free device between asking and binding
	// (EBUSY): ask again.
	for range 16 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("loop device for %s: LOOP_CTL_GET_FREE: %w", file, err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		err = configureLoop(path, backing, file, span, flags|unix.LO_FLAGS_DIRECT_IO)
		if errors.Is(err, unix.EINVAL) {
			// Direct I/O (no second copy of the volume in the page cache)
			// needs a backing file system that supports it.
			err = configureLoop(path, backing, file, span, flags)
		}
		if errors.Is(err, unix.EBUSY) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("loop device for %s: %w", file, err)
		}
		return path, nil
	}
	return "", fmt.Errorf("loop device for %s: every free loop device was taken meanwhile", file)
}

func configureLoop(path string, backing *os.File, name string, span LoopSpan, flags uint32) error {
	dev, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer dev.Close()
	cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
	cfg.Info.Flags = flags
	cfg.Info.Offset, cfg.Info.Sizelimit = span.Offset, span.Size
	copy(cfg.Info.File_name[:unix.LO_NAME_SIZE-1], name)
	if err := unix.IoctlLoopConfigure(int(dev.Fd()), &cfg); err != nil {
		return fmt.Errorf("%s: LOOP_CONFIGURE: %w", path, err)
	}
	return nil
}

// detachLoop unbinds a loop device. The kernel defers it while the device is
// open (a guest still holding it), and detaches it at the last close.
func detachLoop(path string) error {
	dev, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dev.Close()
	if err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detaching %s: %w", path, err)
	}
	return nil
}

// BoundLoop is a loop device and the span of its file.
type BoundLoop struct {
	Dev  string
	Span LoopSpan
}

// LoopsOf lists the loop devices bound to file, found from sysfs rather than
// remembered, so that whatever an interrupted start left is found too.
func LoopsOf(file string) ([]BoundLoop, error) {
	want, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	backings, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var loops []BoundLoop
	for _, b := range backings {
		dir := filepath.Dir(b)
		if loopBackingFile(filepath.Dir(dir)) != want {
			continue // detached meanwhile, or another file's
		}
		loops = append(loops, BoundLoop{Dev: "/dev/" + filepath.Base(filepath.Dir(dir)),
			Span: LoopSpan{Offset: sysfsNumber(filepath.Join(dir, "offset")), Size: sysfsNumber(filepath.Join(dir, "sizelimit"))}})
	}
	return loops, nil
}

// loopBackingFile is the file a loop device (its sysfs directory,
// /sys/block/loopN) is bound to; "" when none.
func loopBackingFile(sysDir string) string {
	raw, _ := os.ReadFile(filepath.Join(sysDir, "loop", "backing_file"))
	return strings.TrimSuffix(string(raw), "\n")
}

func sysfsNumber(path string) uint64 {
	raw, _ := os.ReadFile(path)
	n, _ := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	return n
}

// LoopFor returns a loop device showing the span of file, binding one unless
// it exists.
func LoopFor(file string, readOnly bool, span LoopSpan) (string, error) {
	loops, err := LoopsOf(file)
	if err != nil {
		return "", err
	}
	for _, l := range loops {
		if l.Span == span {
			return l.Dev, nil
		}
	}
	return attachLoop(file, readOnly, span)
}

// DetachLoopsOf detaches every loop device bound to file.
func DetachLoopsOf(file string) error {
	loops, err := LoopsOf(file)
	errs := []error{err}
	for _, l := range loops {
		errs = append(errs, detachLoop(l.Dev))
	}
	return errors.Join(errs...)
}

// growLoop makes a loop device as long as its file is now (LOOP_SET_CAPACITY),
// after the file grew; whoever has it open sees the new size.
func growLoop(dev string) error {
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("%s: LOOP_SET_CAPACITY: %w", dev, err)
	}
	return nil
}
