package guest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel announces every device that comes and goes (a hot-plugged volume, its
// partitions after a partition table is re-read, a NIC, the power button's input
// device) on a netlink socket of the NETLINK_KOBJECT_UEVENT family, which is what udev
// listens to. A VM has no udev, so the helper listens itself.

// uevent is one kernel device event.
type uevent struct {
	Action    string // add, remove, change, move, bind, unbind …
	DevPath   string // /devices/pci0000:00/…/block/vdb
	Subsystem string // block, net, input …
	Env       map[string]string
}

// parseUevent reads a kernel uevent message: "ACTION@DEVPATH" and then KEY=VALUE
// strings, each ended by a NUL. Messages from udev (which start "libudev") are not
// the kernel's and are refused.
func parseUevent(b []byte) (uevent, error) {
	parts := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	if len(parts) == 0 || !bytes.Contains(parts[0], []byte("@")) {
		return uevent{}, fmt.Errorf("%w: %q", errNotUevent, firstBytes(b, 32))
	}
	ev := uevent{Env: map[string]string{}}
	ev.Action, ev.DevPath, _ = strings.Cut(string(parts[0]), "@")
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(string(p), "="); ok {
			ev.Env[k] = v
		}
	}
	if a := ev.Env["ACTION"]; a != "" {
		ev.Action = a
	}
	if d := ev.Env["DEVPATH"]; d != "" {
		ev.DevPath = d
	}
	ev.Subsystem = ev.Env["SUBSYSTEM"]
	return ev, nil
}

// errNotUevent is a message that is not a kernel uevent; reading goes on.
var errNotUevent = errors.New("not a kernel uevent")

func firstBytes(b []byte, n int) []byte { return b[:min(len(b), n)] }

// errUeventOverrun says events were lost (the socket's buffer overflowed): whoever
// reads must look at the whole state again.
var errUeventOverrun = errors.New("uevents were lost (receive buffer overrun)")

// ueventSocket receives the kernel's uevents. It is non-blocking under Go's poller, so
// Close ends a Read that waits.
type ueventSocket struct {
	f *os.File
}

// openUevents subscribes to the kernel's uevents (multicast group 1; group 2 is
// udev's re-broadcast) in the network namespace of the calling thread.
func openUevents() (*ueventSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	// A burst (a disk with many partitions, every device at once after a resync)
	// must not overflow the default buffer; as root the limit does not apply.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent socket: bind: %w", err)
	}
	return &ueventSocket{f: os.NewFile(uintptr(fd), "uevent")}, nil
}

// Read waits for the next event. errUeventOverrun means some were lost; an error
// from a message that cannot be parsed is returned too, and reading may go on.
func (s *ueventSocket) Read() (uevent, error) {
	buf := make([]byte, 64<<10)
	n, err := s.f.Read(buf)
	if err != nil {
		if errors.Is(err, unix.ENOBUFS) {
			return uevent{}, errUeventOverrun
		}
		return uevent{}, err
	}
	return parseUevent(buf[:n])
}

func (s *ueventSocket) Close() error { return s.f.Close() }
