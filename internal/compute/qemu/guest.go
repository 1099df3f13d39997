package qemu

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// PowerOffFromGuest makes the guest power itself off: the ACPI power button pressed
// without the driver asking (as if by someone at the console), so the guest's own
// shutdown is what QEMU reports. The
// driver then reports the instance stopped with ShutdownFromGuest. (A test hook:
// conformance.GuestEvents.)
func (d *Driver) PowerOffFromGuest(id string) error {
	in, err := d.table.Lock(context.Background(), id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.run == nil {
		return d.invalidState("power off the guest of", id, "it is "+in.rec.State)
	}
	// Pressed until the guest is off (or a minute passed): a guest still booting has
	// nothing listening to the button yet.
	q := in.run.qmp
	go func() {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(powerButtonRepeat) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := q.QueryStatus(ctx)
			if err == nil && st.Running {
				err = q.SystemPowerdown(ctx)
			}
			cancel()
			if err != nil || !st.Running {
				return // off, or QEMU gone
			}
		}
	}()
	return nil
}

// Crash kills the instance's QEMU, as a crash would; the driver then reports the
// instance stopped and impaired. (A test hook.)
func (d *Driver) Crash(id string) error {
	in, err := d.table.Lock(context.Background(), id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.run == nil {
		return d.invalidState("crash", id, "it is "+in.rec.State)
	}
	var kerr error
	in.run.withPidfd(func(fd int) { kerr = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) })
	if kerr != nil {
		return fmt.Errorf("compute qemu: killing the QEMU of %s: %w", id, kerr)
	}
	return nil
}
