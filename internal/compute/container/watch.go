package container

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

// process identifies a container's init on this host: its PID, when it started
// (clock ticks after boot, /proc/PID/stat's 22nd field) and the host's boot ID,
// so that a later process given the same PID is never taken for it.
type process struct {
	PID    int    `json:"pid"`
	Start  uint64 `json:"start"`
	BootID string `json:"bootId"`
}

// identify reads who pid is now; a process that is gone or a zombie is not.
func identify(pid int) (process, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return process{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: fields are
	// counted after its closing parenthesis.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return process{}, false
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return process{}, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return process{}, false
	}
	return process{PID: pid, Start: start, BootID: hostBootID()}, true
}

func hostBootID() string {
	raw, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(raw))
}

// open returns a pidfd for the process, or ok false when it has exited. Its
// identity is checked after the pidfd is open: from then on the pidfd cannot
// come to mean another process.
func (p process) open() (fd int, ok bool, err error) {
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
	if now, alive := identify(p.PID); !alive || now != p {
		unix.Close(fd)
		return -1, false, nil
	}
	return fd, true, nil
}

// waitExit waits up to timeout for the process behind pidfd to exit; a pidfd
// becomes readable when it does.
func waitExit(pidfd int, timeout time.Duration) bool {
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

// watch reports, through exited, when the init of one boot of an instance
// exits: a goroutine waits on the pidfd (which it owns) in Go's poller, until
// then or until the driver closes.
func (d *Driver) watch(id string, boot uint64, pidfd int) {
	f := os.NewFile(uintptr(pidfd), "pidfd")
	conn, err := f.SyscallConn()
	d.mu.Lock()
	if d.closed || err != nil {
		d.mu.Unlock()
		f.Close()
		if err != nil {
			d.opts.Log.Error("compute container: watching an instance", "instance", id, "err", err)
		}
		return
	}
	d.watching[f] = struct{}{}
	d.watchers.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.watchers.Done()
		// The callback says whether the wait is over; the poller calls it
		// again each time the pidfd becomes readable.
		err := conn.Read(func(fd uintptr) bool { return hasExited(int(fd)) })
		d.mu.Lock()
		delete(d.watching, f)
		d.mu.Unlock()
		f.Close()
		if err == nil {
			d.exited(id, boot)
		} // else the driver closed: the next one adopts the instance
	}()
}

// hasExited tells, without waiting, whether the process behind pidfd exited.
func hasExited(pidfd int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}
