package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// loopSpan is the part of a file a loop device shows: from Offset, Size bytes
// (0: to the end). A partition is a span of its disk: the driver makes its
// devices itself, as loops, because kernels built without partition-table
// support (as these hosts' are) make none, and because a device-mapper device
// has no partition scan.
type loopSpan struct {
	Offset, Size uint64
}

// attachLoop binds a span of file (a regular file or a block device) to a free
// loop device and returns the device's path.
func attachLoop(file string, readOnly bool, span loopSpan) (string, error) {
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

func configureLoop(path string, backing *os.File, name string, span loopSpan, flags uint32) error {
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

// boundLoop is a loop device and the span of its file.
type boundLoop struct {
	Dev  string
	Span loopSpan
}

// loopsOf lists the loop devices bound to file, found from sysfs rather than
// remembered, so that whatever an interrupted start left is found too.
func loopsOf(file string) ([]boundLoop, error) {
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
	var loops []boundLoop
	for _, b := range backings {
		raw, err := os.ReadFile(b)
		if err != nil || strings.TrimSuffix(string(raw), "\n") != want {
			continue // detached meanwhile, or another file's
		}
		dir := filepath.Dir(b)
		loops = append(loops, boundLoop{Dev: "/dev/" + filepath.Base(filepath.Dir(dir)),
			Span: loopSpan{Offset: sysfsNumber(filepath.Join(dir, "offset")), Size: sysfsNumber(filepath.Join(dir, "sizelimit"))}})
	}
	return loops, nil
}

func sysfsNumber(path string) uint64 {
	raw, _ := os.ReadFile(path)
	n, _ := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	return n
}

// loopFor returns a loop device showing the span of file, binding one unless
// it exists.
func loopFor(file string, readOnly bool, span loopSpan) (string, error) {
	loops, err := loopsOf(file)
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

// detachLoopsOf detaches every loop device bound to file.
func detachLoopsOf(file string) error {
	loops, err := loopsOf(file)
	errs := []error{err}
	for _, l := range loops {
		errs = append(errs, detachLoop(l.Dev))
	}
	return errors.Join(errs...)
}
