package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// PowerOffFromGuest makes the guest end as its init does on `poweroff` inside:
// it records the reason and exits. The driver then reports the instance
// stopped with ShutdownFromGuest. (A test hook: conformance.GuestEvents.)
func (d *Driver) PowerOffFromGuest(id string) error {
	return d.killGuest(id, reasonPoweroff)
}

// Crash kills the instance's init without a reason, as a crash would; the
// driver then reports the instance stopped and impaired. (A test hook.)
func (d *Driver) Crash(id string) error {
	return d.killGuest(id, "")
}

func (d *Driver) killGuest(id, reason string) error {
	in, err := d.table.Lock(context.Background(), id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	if in.rec.State != stateRunning {
		return d.invalidState("end the guest of", id, "it is "+in.rec.State)
	}
	path := filepath.Join(in.dir, runDirName, exitReasonFile)
	if reason == "" {
		err = os.Remove(path)
		if os.IsNotExist(err) {
			err = nil
		}
	} else {
		err = writeExitReason(in, reason)
	}
	if err != nil {
		return err
	}
	pidfd, alive, err := in.rec.Init.Open()
	if err != nil || !alive {
		return err
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil {
		return fmt.Errorf("compute container: killing the guest of %s: %w", id, err)
	}
	return nil
}
