package guest

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// SSHDPath is where an image's OpenSSH server is; the helper runs it when present.
const SSHDPath = "/usr/sbin/sshd"

// startSSH starts the image's sshd when it has one, else the in-process server.
func (g *Guest) startSSH(ctx context.Context, md *metadata) {
	host, _ := os.Hostname()
	if md != nil {
		if short, _ := hostnames(md); short != "" {
			host = short
		}
	}
	if _, err := os.Stat(g.path(SSHDPath)); err == nil {
		g.startSSHD(host, true)
		return
	}
	signer, err := g.ensureHostKey(host)
	if err != nil {
		g.logf("ssh: host key: %v; no SSH server", err)
		return
	}
	g.printHostKeys(host)
	ln, err := net.Listen("tcp", g.cfg.SSHListen)
	if err != nil {
		g.logf("ssh: %v; no SSH server", err)
		return
	}
	server := NewSSHServer(SSHConfig{Root: g.cfg.Root, HostKey: signer, Logf: g.logf})
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		ln.Close()
		return
	}
	g.ssh = server
	g.mu.Unlock()
	g.logf("ssh: listening on %s (strato-guest's server: public key authentication only)", ln.Addr())
	go func() { _ = server.Serve(ln) }()
}

// startSSHD makes the host keys sshd lacks (ssh-keygen -A) and runs sshd in the
// foreground, restarting it if it dies. printKeys is false when cloud-init prints them.
func (g *Guest) startSSHD(host string, printKeys bool) {
	keygen := []string{"-A"}
	if g.cfg.Root != "/" {
		keygen = append(keygen, "-f", g.cfg.Root)
	}
	if ws, err := g.runToConsole(g.rootCommand(g.path("/usr/bin/ssh-keygen"), keygen...)); err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		g.logf("ssh: ssh-keygen -A: %v %s", err, describeStatus(ws))
	}
	if printKeys {
		g.printHostKeys(host)
	}
	// Debian's sshd refuses to start without its privilege separation directory, which
	// systemd would make.
	_ = os.MkdirAll(g.path("/run/sshd"), 0o755)
	sup := &supervisor{g: g, name: "sshd", path: g.path(SSHDPath), args: []string{"-D", "-e"}, stopCh: make(chan struct{})}
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	g.sshd = sup
	g.mu.Unlock()
	g.logf("ssh: running the image's %s", SSHDPath)
	go sup.run()
}

// supervisor keeps one long-running program going, its output on the console.
type supervisor struct {
	g      *Guest
	name   string
	path   string
	args   []string
	stopCh chan struct{}
	once   sync.Once
}

func (s *supervisor) run() {
	backoff := time.Second
	for {
		started := time.Now()
		r, w, err := os.Pipe()
		if err != nil {
			s.g.logf("%s: %v", s.name, err)
			return
		}
		cmd := s.g.rootCommand(s.path, s.args...)
		cmd.Stdout, cmd.Stderr = w, w
		pid, done, err := children.start(cmd)
		w.Close()
		if err != nil {
			r.Close()
			s.g.logf("%s: cannot start: %v", s.name, err)
			return
		}
		go func() { _, _ = io.Copy(s.g.console, r); r.Close() }()
		var ws unix.WaitStatus
		select {
		case ws = <-done:
		case <-s.stopCh:
			_ = unix.Kill(pid, unix.SIGTERM)
			return
		}
		select {
		case <-s.stopCh:
			return
		default:
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		s.g.logf("%s ended (%s); restarting in %s", s.name, describeStatus(ws), backoff)
		select {
		case <-time.After(backoff):
		case <-s.stopCh:
			return
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (s *supervisor) stop() { s.once.Do(func() { close(s.stopCh) }) }
