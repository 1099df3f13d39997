package guest

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal pair: the master through /dev/ptmx, unlocked and
// named with the ioctls glibc's unlockpt and ptsname use (the helper is static, without
// libc). The slave is opened without becoming anyone's controlling terminal; the child
// that gets it takes it with setsid and TIOCSCTTY.
func openPTY() (master, slave *os.File, name string, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, "", err
	}
	var n uint32
	var ioctlErr error
	// Control, not Fd: Fd would switch the file to blocking mode and lose deadlines.
	err = withFd(master, func(fd int) {
		if ioctlErr = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); ioctlErr != nil {
			return
		}
		n, ioctlErr = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	})
	if err == nil {
		err = ioctlErr
	}
	if err != nil {
		master.Close()
		return nil, nil, "", err
	}
	name = fmt.Sprintf("/dev/pts/%d", n)
	slave, err = os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, "", err
	}
	return master, slave, name, nil
}

// setWindowSize tells the terminal (and so the program in it, by SIGWINCH) its size.
func setWindowSize(master *os.File, cols, rows, width, height uint32) error {
	ws := &unix.Winsize{Col: clamp16(cols), Row: clamp16(rows), Xpixel: clamp16(width), Ypixel: clamp16(height)}
	var ioctlErr error
	if err := withFd(master, func(fd int) { ioctlErr = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	return ioctlErr
}

func withFd(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

func clamp16(v uint32) uint16 {
	if v > 0xffff {
		return 0xffff
	}
	return uint16(v)
}
