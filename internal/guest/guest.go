// Package guest is strato's instance-side helper: the strato binary, copied into every
// container instance as /.strato/strato, runs as the instance's PID 1 (`strato
// guest-init`) and does on boot what cloud-init does on EC2 for images without it:
// reads the instance metadata service, sets the hostname, creates the image's default
// user with the launch key, runs user data once per instance, and serves SSH (the
// image's sshd when it has one, an in-process server otherwise). As PID 1 it also reaps
// orphans and turns busybox's shutdown signals into an exit the container driver
// understands (pid1.go).
//
// Every file the helper reads or writes is under Config.Root, and the metadata
// service's address is Config.MetadataURL, so tests run it in a temporary directory
// against an httptest server without being PID 1.
package guest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Default locations inside an instance.
const (
	DefaultMetadataURL = "http://169.254.169.254"
	// DefaultHelperPath is where the container driver puts the strato binary.
	DefaultHelperPath = "/.strato/strato"
	// ExitReasonPath (under the root) says why PID 1 exited: "poweroff" or "reboot".
	// It is the contract with the container driver, which reads it after the exit.
	ExitReasonPath = ".strato/run/exit-reason"
	// StateDir (under the root) keeps what must survive reboots: one directory per
	// instance ID with the semaphores of once-per-instance work.
	StateDir = "var/lib/strato-guest"
	// LogPath (under the root) has a copy of everything printed to the console.
	LogPath = "var/log/strato-guest.log"
	// ConsolePrefix starts every line the helper itself prints on the console.
	ConsolePrefix = "strato-guest: "
)

// Exit reasons written to ExitReasonPath.
const (
	ReasonPoweroff = "poweroff"
	ReasonReboot   = "reboot"
)

// Config says where the helper works. The zero value of a field means its default.
type Config struct {
	// Root is the instance's root directory ("/" inside an instance).
	Root string
	// MetadataURL is the metadata service's base URL.
	MetadataURL string
	// MetadataTimeout bounds how long boot waits for the metadata service (the
	// network may come up after PID 1 starts). Default 60 s.
	MetadataTimeout time.Duration
	// SSHListen is where the in-process SSH server listens (default ":22").
	SSHListen string
	// HelperPath is the helper binary's path inside the instance, the target of the
	// lsblk link.
	HelperPath string
	// PID1 is set when the helper really is the instance's init: only then does it set
	// the kernel's hostname and signal every process of the namespace on shutdown.
	PID1 bool
	// CloudInit says whether an image's own cloud-init (/usr/bin/cloud-init) configures
	// the instance instead of the helper: "auto" (default: when present) or "never".
	CloudInit string
	// Console receives the console output (default os.Stdout).
	Console io.Writer
	// ShutdownGrace is how long processes get between SIGTERM and SIGKILL (default 3 s).
	ShutdownGrace time.Duration
	// VM is set when the helper is a virtual machine's init (vm.go): it mounts the API
	// file systems, names the disks, configures the network by DHCP, and ends a
	// shutdown with reboot(2) instead of an exit. Set PID1 with it.
	VM bool
	// NetworkTimeout bounds how long a VM's boot waits for eth0's DHCP lease before
	// reading the metadata service (default 120 s: TCG guests are slow).
	NetworkTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Root == "" {
		c.Root = "/"
	}
	if c.MetadataURL == "" {
		c.MetadataURL = DefaultMetadataURL
	}
	c.MetadataURL = strings.TrimSuffix(c.MetadataURL, "/")
	if c.MetadataTimeout == 0 {
		c.MetadataTimeout = 60 * time.Second
	}
	if c.SSHListen == "" {
		c.SSHListen = ":22"
	}
	if c.HelperPath == "" {
		c.HelperPath = DefaultHelperPath
	}
	if c.CloudInit == "" {
		c.CloudInit = "auto"
	}
	if c.Console == nil {
		c.Console = os.Stdout
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 3 * time.Second
	}
	if c.NetworkTimeout == 0 {
		c.NetworkTimeout = 120 * time.Second
	}
}

// Guest is one boot of the helper.
type Guest struct {
	rootFS
	cfg     Config
	console *console
	started time.Time

	// vm is VM mode's state (nil in a container).
	vm *vmState
	// shutdownReq asks Run to shut down for a reason found by other means than a
	// signal (a VM's power button).
	shutdownReq chan string

	mu      sync.Mutex
	ssh     *SSHServer // the in-process server, when running
	sshd    *supervisor
	stopped bool
}

// New prepares a boot; nothing is changed until Boot.
func New(cfg Config) *Guest {
	cfg.setDefaults()
	g := &Guest{rootFS: rootFS(cfg.Root), cfg: cfg, console: newConsole(cfg.Console), started: time.Now(),
		shutdownReq: make(chan string, 1)}
	if cfg.VM {
		g.vm = &vmState{sys: kernelSystem{}, openUevents: openUevents}
		g.vm.network = newVMNetwork(g.path("/etc/resolv.conf"), g.logf)
	}
	return g
}

// requestShutdown asks Run to shut down; a request while one is pending is dropped.
func (g *Guest) requestShutdown(reason string) {
	select {
	case g.shutdownReq <- reason:
	default:
	}
}

// logf prints one line of the helper's own on the console.
func (g *Guest) logf(format string, args ...any) {
	g.console.linef(format, args...)
}

// Boot does the boot-time work, in cloud-init's order: metadata, hostname, the default
// user and its key, host keys, SSH, then user data. A failing step is logged and the
// boot goes on: an instance that cannot run its user data must still be reachable.
func (g *Guest) Boot(ctx context.Context) error {
	if f, err := openAppend(g.path(LogPath)); err == nil {
		g.console.tee(f)
	}
	g.logf("strato guest init running at %s (pid %d)", time.Now().UTC().Format(time.RFC1123), os.Getpid())
	if !g.cfg.VM {
		if err := os.MkdirAll(filepath.Dir(g.path(ExitReasonPath)), 0o755); err != nil {
			g.logf("cannot make %s: %v", filepath.Dir(ExitReasonPath), err)
		}
		os.Remove(g.path(ExitReasonPath))
	}

	md, err := g.fetchMetadata(ctx)
	if err != nil {
		g.logf("metadata service: %v; the instance is configured from what earlier boots left", err)
	}
	if md != nil && g.delegateToCloudInit(ctx, md) {
		g.linkLsblk()
		g.finished()
		return nil
	}
	var user *account
	if md != nil {
		g.setHostname(md)
		user = g.configureUser(md)
		g.prepareInstance(md)
	} else {
		user, _ = g.defaultUser()
	}
	g.startSSH(ctx, md)
	g.linkLsblk()
	if md != nil {
		g.runUserData(ctx, md, user)
	}
	g.finished()
	return nil
}

func (g *Guest) finished() {
	g.logf("finished at %s; up %.2f seconds", time.Now().UTC().Format(time.RFC1123), time.Since(g.started).Seconds())
}

// console writes the helper's lines and its children's output to the instance console
// and to the log file, one writer at a time so lines do not interleave mid-line.
type console struct {
	mu  sync.Mutex
	out []io.Writer
}

func newConsole(w io.Writer) *console { return &console{out: []io.Writer{w}} }

func (c *console) tee(w io.Writer) {
	c.mu.Lock()
	c.out = append(c.out, w)
	c.mu.Unlock()
}

// closeFiles closes and drops the files tee added, keeping the console itself: a VM's
// shutdown must close its log file before / can be remounted read-only.
func (c *console) closeFiles() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.out[1:] {
		if f, ok := w.(io.Closer); ok {
			_ = f.Close()
		}
	}
	c.out = c.out[:1]
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.out {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

func (c *console) linef(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		b.WriteString(ConsolePrefix + line + "\n")
	}
	_, _ = c.Write([]byte(b.String()))
}

func openAppend(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}
