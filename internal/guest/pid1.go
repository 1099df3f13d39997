package guest

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reasonFor maps a signal to PID 1 to the exit reason, as busybox init understands its
// signals: poweroff sends SIGUSR2, halt SIGUSR1, reboot SIGTERM. The kernel ends the init
// of a PID namespace with SIGINT when a process in it calls reboot(2) to halt or power
// off, and with SIGHUP when it calls it to restart; they are mapped the same way in case
// one is delivered. Other signals are not shutdown requests ("").
func reasonFor(sig os.Signal) string {
	switch sig {
	case syscall.SIGUSR2, syscall.SIGUSR1, syscall.SIGINT:
		return ReasonPoweroff
	case syscall.SIGTERM, syscall.SIGHUP:
		return ReasonReboot
	}
	return ""
}

// shutdownSignals are the signals Run listens for.
var shutdownSignals = []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// Run boots the instance and then serves as its init until a shutdown signal; it
// returns the exit reason after Shutdown. Boot runs alongside the signal handling, so a
// poweroff during a long user-data script is honoured at once. In VM mode the API file
// systems are mounted first, the device watcher runs beside the boot, the boot waits
// for eth0's lease, and a shutdown ends in reboot(2) (Run returns only if that fails).
func (g *Guest) Run(ctx context.Context) string {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, shutdownSignals...)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if g.vm != nil {
		g.vmEarly()
		g.startVM(ctx)
	}
	go func() {
		if g.vm != nil {
			g.waitForNetwork(ctx)
		}
		_ = g.Boot(ctx)
	}()
	for {
		select {
		case sig := <-sigs:
			reason := g.reasonFor(sig)
			if reason == "" {
				continue
			}
			g.logf("received %s: %s", unix.SignalName(sig.(syscall.Signal)), reason)
			cancel()
			g.Shutdown(reason)
			return reason
		case reason := <-g.shutdownReq:
			cancel()
			g.Shutdown(reason)
			return reason
		case <-ctx.Done():
			cancel()
			g.Shutdown(ReasonPoweroff)
			return ReasonPoweroff
		}
	}
}

// reasonFor is the shutdown a signal asks for, as a container's or a VM's init.
func (g *Guest) reasonFor(sig os.Signal) string {
	if g.cfg.VM {
		return vmReasonFor(sig)
	}
	return reasonFor(sig)
}

// Shutdown writes the exit reason for the container driver, stops SSH, ends every
// process (SIGTERM, a grace period, SIGKILL), and syncs the file systems. As PID 1 it
// signals every process of the namespace; otherwise only the children it started. In
// VM mode there is no driver to read a file: it unmounts, and powers off or restarts
// the machine (vmPowerOff).
func (g *Guest) Shutdown(reason string) {
	g.mu.Lock()
	g.stopped = true
	server, sshd := g.ssh, g.sshd
	g.mu.Unlock()
	if g.vm == nil {
		if err := writeFileSync(g.path(ExitReasonPath), []byte(reason+"\n")); err != nil {
			g.logf("cannot record the exit reason: %v", err)
		}
	}
	if server != nil {
		server.Close()
	}
	if sshd != nil {
		sshd.stop()
	}
	g.logf("stopping all processes (SIGTERM, then SIGKILL after %s)", g.cfg.ShutdownGrace)
	g.signalAll(unix.SIGTERM)
	deadline := time.Now().Add(g.cfg.ShutdownGrace)
	for !g.allGone() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !g.allGone() {
		g.signalAll(unix.SIGKILL)
		for i := 0; i < 20 && !g.allGone(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
	unix.Sync()
	if g.vm != nil {
		g.vmPowerOff(reason)
		return
	}
	g.logf("%s: file systems synced; exiting", reason)
}

func (g *Guest) signalAll(sig unix.Signal) {
	if g.cfg.PID1 {
		// kill(-1) from PID 1 reaches every other process of the namespace.
		_ = unix.Kill(-1, sig)
		return
	}
	for _, pid := range children.pids() {
		// Children run in their own session; their group goes with them.
		_ = unix.Kill(-pid, sig)
		_ = unix.Kill(pid, sig)
	}
}

func (g *Guest) allGone() bool {
	none := children.reap()
	if g.cfg.PID1 {
		return none
	}
	return len(children.pids()) == 0
}

// writeFileSync writes a small file and flushes it to disk before returning: it is read
// by the host after the instance's processes are gone.
func writeFileSync(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
