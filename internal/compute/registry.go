package compute

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"strato/internal/cloud"
)

// The errors drivers wrap (test with errors.Is), the same for every driver so the
// control plane can tell a lost instance from a request made at the wrong time.
var (
	// ErrNotFound: the driver has no instance with that ID.
	ErrNotFound = cloud.ErrComputeNotFound
	// ErrInvalidState: the instance cannot do that now (rebooting a stopped
	// instance, a device name already holding another volume).
	ErrInvalidState = cloud.ErrComputeInvalidState
)

// Options is what a driver is opened with.
type Options struct {
	// DataDir is strato's data directory; a driver keeps its files under
	// DataDir/compute/NAME (see Dir). Empty means nothing is kept on disk, where
	// a driver allows it (mock does, for the control plane's unit tests).
	DataDir string
	// Log receives the driver's messages; nil discards them.
	Log *slog.Logger
	// Clock stamps console lines and events; nil means the wall clock.
	Clock cloud.Clock
	// Network plugs instances into their VPCs (drivers with real network
	// namespaces use it); nil leaves an instance with loopback only.
	Network Network
	// GuestInit is the strato executable a driver runs inside an instance as
	// its init helper (`strato guest-init`); empty means this process's own
	// executable.
	GuestInit string
	// StopTimeout is how long a graceful stop or reboot waits for the guest
	// before forcing it; zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// VMBoot is how drivers of virtual machines boot strato's images.
	VMBoot VMBoot
}

// VMBoot is a kernel to boot virtual machines with: the kernel, its initramfs (which
// finds and mounts the root disk) and what the kernel command line adds to the
// driver's own (console, root disk). An empty Kernel means none is known.
type VMBoot struct {
	Kernel, Initrd, Cmdline string
	// MemoryScale multiplies the memory a machine gets from its instance type, for
	// hosts too small for the types asked for; zero means 1.
	MemoryScale float64
}

// DefaultStopTimeout is how long a guest gets to shut down when asked.
const DefaultStopTimeout = 10 * time.Second

// Dir is where the named driver keeps its state, or "" when DataDir is empty.
func (o Options) Dir(driver string) string {
	if o.DataDir == "" {
		return ""
	}
	return filepath.Join(o.DataDir, "compute", driver)
}

// WithDefaults fills a nil Log and Clock and a zero StopTimeout (GuestInit is
// left to the drivers that run one).
func (o Options) WithDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = cloud.SystemClock{}
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	return o
}

// Opener makes a driver from its options.
type Opener func(Options) (cloud.Compute, error)

var registry = struct {
	sync.Mutex
	byName map[string]Opener
}{byName: map[string]Opener{}}

// Register makes a driver available to Open under name. It panics on an empty
// name, a nil opener or a name registered twice: those are programming errors
// found at start-up.
func Register(name string, open Opener) {
	if name == "" || open == nil {
		panic("compute: Register needs a name and an opener")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.byName[name]; dup {
		panic("compute: driver " + name + " registered twice")
	}
	registry.byName[name] = open
}

// Open opens the driver registered under name.
func Open(name string, opts Options) (cloud.Compute, error) {
	registry.Lock()
	open, ok := registry.byName[name]
	registry.Unlock()
	if !ok {
		return nil, fmt.Errorf("compute: unknown driver %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return open(opts.WithDefaults())
}

// Names lists the registered drivers, sorted.
func Names() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.byName))
	for name := range registry.byName {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
