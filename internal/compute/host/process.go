package host

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Process identifies a process on this host (an instance's init, a QEMU): its PID, when it started
// (clock ticks after boot, /proc/PID/stat's 22nd field) and the host's boot ID,
// so that a later process given the same PID is never taken for it.
type Process struct {
	PID    int    `json:"pid"`
	Start  uint64 `json:"start"`
	BootID string `json:"bootId"`
}

// Identify reads who pid is now; a process that is gone or a zombie is not.
func Identify(pid int) (Process, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Process{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: fields are
	// counted after its closing parenthesis.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return Process{}, false
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return Process{}, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return Process{}, false
	}
	return Process{PID: pid, Start: start, BootID: BootID()}, true
}

// BootID is the host kernel's boot ID: it changes at every boot.
func BootID() string {
	raw, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(raw))
}

// Open returns a pidfd for the process, or ok false when it has exited. Its
// identity is checked after the pidfd is open: from then on the pidfd cannot
// come to mean another process.
func (p Process) Open() (fd int, ok bool, err error) {
	if p.PID <= 0 {
		return -1, false, nil
	}
	// Non-blocking, so that a watcher waits on Go's poller, not on a thread.
	fd, err = unix.PidfdOpen(p.PID, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return -1, false, nil
	}
	if err != nil {
		return -1, false, fmt.Errorf("pidfd_open %d: %w", p.PID, err)
	}
	if now, alive := Identify(p.PID); !alive || now != p {
		unix.Close(fd)
		return -1, false, nil
	}
	return fd, true, nil
}

// WaitExit waits up to timeout for the process behind pidfd to exit; a pidfd
// becomes readable when it does.
func WaitExit(pidfd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds()))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false
		case n > 0:
			return true
		case left == 0:
			return false
		}
	}
}

// HasExited tells, without waiting, whether the process behind pidfd exited.
func HasExited(pidfd int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}
