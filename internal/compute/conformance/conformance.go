// Package conformance is the test suite every compute driver passes: the
// contract cloud.Compute as the control plane relies on it. A driver's tests call
// Run (or RunConfig when its instances need a real root file system); a sub-test
// the driver cannot do on this machine is skipped with the reason, never passed.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"strato/internal/cloud"
)

// GuestEvents is what a driver implements when a test can make the guest act on
// its own; the suite checks how Status reports it, and skips that part otherwise.
type GuestEvents interface {
	// PowerOffFromGuest makes the guest shut itself down.
	PowerOffFromGuest(id string) error
	// Crash makes the instance's process die.
	Crash(id string) error
}

// Config is the suite's input.
type Config struct {
	// Open opens the driver under test. Each sub-test calls it with its own t;
	// called again with the same t, it must open on the same data directory,
	// as strato does after a restart. A driver that is an io.Closer is closed
	// before it is reopened and when the sub-test ends.
	Open func(t *testing.T) cloud.Compute
	// Spec makes the spec of a new instance; nil means DefaultSpec.
	Spec func(t *testing.T, id string) cloud.InstanceSpec
	// Timeout bounds how long the suite waits for a state; zero means 30 s.
	Timeout time.Duration
}

// Run runs the suite with DefaultSpec.
func Run(t *testing.T, open func(t *testing.T) cloud.Compute) {
	RunConfig(t, Config{Open: open})
}

// RunConfig runs the suite.
func RunConfig(t *testing.T, cfg Config) {
	if cfg.Spec == nil {
		cfg.Spec = DefaultSpec
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	tests := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"Lifecycle", testLifecycle},
		{"RepeatSafe", testRepeatSafe},
		{"NotFound", testNotFound},
		{"InvalidState", testInvalidState},
		{"Volumes", testVolumes},
		{"ResizeVolume", testResizeVolume},
		{"Interfaces", testInterfaces},
		{"Console", testConsole},
		{"GuestEvents", testGuestEvents},
		{"AdoptOnRestart", testAdoptOnRestart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &suite{cfg: cfg, t: t}
			s.open()
			tc.run(t, s)
		})
	}
}

// DefaultSpec is an instance with a sparse root file, one instance-store
// volume and one interface: enough for a driver that does not boot a real guest.
func DefaultSpec(t *testing.T, id string) cloud.InstanceSpec {
	dir := t.TempDir()
	return cloud.InstanceSpec{
		ID:           id,
		InstanceType: "t3.micro",
		VCPUs:        2,
		MemoryMiB:    1024,
		Architecture: "x86_64",
		Hostname:     "ip-10-0-0-10",
		Root:         cloud.BlockDevice{Device: "/dev/xvda", Path: SparseFile(t, dir, "root.img", 64<<20)},
		RootType:     "ebs",
		Devices: []cloud.BlockDevice{
			{Device: "/dev/sdb", Path: SparseFile(t, dir, "ephemeral0.img", 16<<20), Ephemeral: true},
		},
		Interfaces: []cloud.InterfaceSpec{{
			ID: "eni-0123456789abcdef0", DeviceIndex: 0, MAC: "02:00:0a:00:00:0a",
			PrivateIPs: []string{"10.0.0.10"}, SubnetCIDR: "10.0.0.0/24", Gateway: "10.0.0.1",
			VpcID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0",
		}},
	}
}

// SparseFile makes a sparse file of size bytes in dir and returns its path.
func SparseFile(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return path
}

var nextID atomic.Uint64

// NewID is an instance ID unlike any other in this process.
func NewID() string {
	return fmt.Sprintf("i-%017x", uint64(time.Now().UnixNano())&0xffffffffff<<24|nextID.Add(1)&0xffffff)
}

// suite is one sub-test's driver and helpers.
type suite struct {
	cfg Config
	t   *testing.T
	d   cloud.Compute
}

func (s *suite) open() {
	s.close()
	d := s.cfg.Open(s.t)
	if d == nil {
		s.t.Fatal("Open returned a nil driver")
	}
	s.d = d
	s.t.Cleanup(func() {
		if s.d == d {
			s.close()
		}
	})
}

// reopen closes the driver and opens a new one on the same data directory.
func (s *suite) reopen() { s.open() }

func (s *suite) close() {
	if c, ok := s.d.(io.Closer); ok {
		if err := c.Close(); err != nil {
			s.t.Errorf("Close: %v", err)
		}
	}
	s.d = nil
}

func ctx(t *testing.T) context.Context { return t.Context() }

// create makes an instance and destroys it when the test ends.
func (s *suite) create() (string, cloud.InstanceSpec) {
	s.t.Helper()
	id := NewID()
	spec := s.cfg.Spec(s.t, id)
	s.must("Create", s.d.Create(ctx(s.t), spec))
	s.t.Cleanup(func() {
		if s.d != nil {
			_ = s.d.Destroy(context.Background(), id)
		}
	})
	return id, spec
}

// running makes an instance and starts it.
func (s *suite) running() (string, cloud.InstanceSpec) {
	s.t.Helper()
	id, spec := s.create()
	s.must("Start", s.d.Start(ctx(s.t), id))
	s.waitState(id, "running")
	return id, spec
}

func (s *suite) must(op string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("%s: %v", op, err)
	}
}

// waitState waits until Status reports state; drivers with real guests may get
// there a little after the call returns.
func (s *suite) waitState(id, state string) cloud.InstanceRuntime {
	s.t.Helper()
	deadline := time.Now().Add(s.cfg.Timeout)
	for {
		rt, err := s.d.Status(ctx(s.t), id)
		if err != nil {
			s.t.Fatalf("Status(%s) while waiting for %s: %v", id, state, err)
		}
		if rt.State == state {
			return rt
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("Status(%s) = %+v after %v, want state %s", id, rt, s.cfg.Timeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want an error wrapping %v", op, err, want)
	}
}
