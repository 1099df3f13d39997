package container

import (
	"os"

	"strato/internal/compute/host"
)

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
		err := conn.Read(func(fd uintptr) bool { return host.HasExited(int(fd)) })
		d.mu.Lock()
		delete(d.watching, f)
		d.mu.Unlock()
		f.Close()
		if err == nil {
			d.exited(id, boot)
		} // else the driver closed: the next one adopts the instance
	}()
}
