package guest

import (
	"context"
	"errors"
	"os"
	"time"
)

// vmWatcher keeps a VM instance in step with its devices for the life of the boot:
// the disks' xvd links, a DHCP client per NIC, and the power button readers. It looks
// at everything once at start, then again for each kernel uevent of the subsystem
// concerned. Should the uevent socket fail, it falls back to looking at everything
// every pollInterval (the cost is a directory read of /sys/block and a link list).
type vmWatcher struct {
	logf    func(format string, args ...any)
	disks   *diskLinks
	network *vmNetwork
	power   *powerButtons
	// openUevents is the event source; tests give one in their own network namespace.
	openUevents  func() (*ueventSocket, error)
	pollInterval time.Duration
}

func newVMWatcher(g *Guest) *vmWatcher {
	diskGroup, ok := g.lookupGroup("disk")
	if !ok {
		diskGroup = -1
	}
	return &vmWatcher{
		logf:    g.logf,
		disks:   &diskLinks{sys: g.path("/sys"), dev: g.path("/dev"), logf: g.logf, diskGroup: diskGroup},
		network: g.vm.network,
		power: &powerButtons{sys: g.path("/sys"), dev: g.path("/dev"), logf: g.logf,
			pressed: func() {
				g.logf("power button pressed: poweroff")
				g.requestShutdown(ReasonPoweroff)
			}},
		openUevents:  g.vm.openUevents,
		pollInterval: time.Second,
	}
}

// run watches until ctx ends, then stops the DHCP clients and the power button
// readers.
func (w *vmWatcher) run(ctx context.Context) {
	defer w.power.close()
	defer w.network.stop()
	// Subscribe before the first look, so that nothing that happens in between is missed.
	sock, err := w.openUevents()
	w.resync(ctx, "block", "net", "input")
	if err != nil {
		w.logf("devices: %v; looking for changes every %s instead", err, w.pollInterval)
		w.poll(ctx)
		return
	}
	events := make(chan uevent, 64)
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			ev, err := sock.Read()
			switch {
			case err == nil:
			case errors.Is(err, errUeventOverrun):
				ev = uevent{Subsystem: "*"}
			case errors.Is(err, errNotUevent):
				continue
			case errors.Is(err, os.ErrClosed) || ctx.Err() != nil:
				return
			default:
				readErr <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		sock.Close()
		<-readerDone
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-readErr:
			w.logf("devices: reading uevents: %v; looking for changes every %s instead", err, w.pollInterval)
			w.poll(ctx)
			return
		case ev := <-events:
			if ev.Subsystem == "*" {
				w.resync(ctx, "block", "net", "input")
				continue
			}
			w.resync(ctx, ev.Subsystem)
		}
	}
}

// poll looks at everything every pollInterval until ctx ends.
func (w *vmWatcher) poll(ctx context.Context) {
	t := time.NewTicker(w.pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.resync(ctx, "block", "net", "input")
		}
	}
}

// resync brings the named subsystems' state up to date; the others' events are not
// the watcher's business.
func (w *vmWatcher) resync(ctx context.Context, subsystems ...string) {
	for _, s := range subsystems {
		switch s {
		case "block":
			if err := w.disks.reconcile(); err != nil {
				w.logf("%v", err)
			}
		case "net":
			w.network.sync(ctx)
		case "input":
			w.power.sync()
		}
	}
}
