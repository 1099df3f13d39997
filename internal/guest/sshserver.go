package guest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHConfig configures the in-process SSH server.
type SSHConfig struct {
	// Root is where the image's /etc/passwd, /etc/group and the users' homes are.
	Root string
	// HostKey is the server's host key.
	HostKey ssh.Signer
	// Logf receives one line per connection and refusal (nil: discarded).
	Logf func(format string, args ...any)
	// KeepAlive is how often an idle client is asked whether it is still there; three
	// unanswered intervals end the connection (default 30 s).
	KeepAlive time.Duration
	// LoginGrace bounds the handshake and authentication (default 60 s).
	LoginGrace time.Duration
}

// SSHServer is the SSH server of images without sshd: public key authentication
// against each user's ~/.ssh/authorized_keys, no passwords, no root; session channels
// only (exec, shell, pty), no subsystems (sftp) and no forwarding.
type SSHServer struct {
	cfg    SSHConfig
	root   rootFS
	config *ssh.ServerConfig

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// NewSSHServer makes a server; Serve runs it on a listener.
func NewSSHServer(cfg SSHConfig) *SSHServer {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.LoginGrace == 0 {
		cfg.LoginGrace = 60 * time.Second
	}
	s := &SSHServer{cfg: cfg, root: rootFS(cfg.Root), conns: map[net.Conn]struct{}{}}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: s.authorize,
		ServerVersion:     "SSH-2.0-strato-guest",
		MaxAuthTries:      6,
	}
	s.config.AddHostKey(cfg.HostKey)
	return s
}

// Serve accepts connections until the listener fails or Close.
func (s *SSHServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return net.ErrClosed
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

// Close stops listening, drops every connection (their processes get SIGHUP) and waits
// for the connections' goroutines.
func (s *SSHServer) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *SSHServer) handle(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(s.cfg.LoginGrace))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		s.cfg.Logf("ssh: %s: %s", nc.RemoteAddr(), authFailure(err))
		nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer sc.Close()
	s.cfg.Logf("ssh: accepted publickey for %s from %s (%s)", sc.User(), nc.RemoteAddr(), sc.Permissions.Extensions["fingerprint"])
	done := make(chan struct{})
	defer close(done)
	go s.keepAlive(sc, done)
	// Global requests (keepalive@openssh.com from clients, forwarding requests) are
	// answered "no", which is also what OpenSSH answers a keepalive with.
	go ssh.DiscardRequests(reqs)
	var sessions sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() == "direct-tcpip" {
			sessions.Add(1)
			go func() {
				defer sessions.Done()
				s.forward(sc, nch)
			}()
			continue
		}
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.Prohibited, nch.ChannelType()+" channels are not supported by strato-guest's SSH server")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			newSession(s, sc, ch).serve(creqs)
		}()
	}
	sessions.Wait()
}

// keepAlive asks the client every interval whether it is there, as sshd's
// ClientAliveInterval does, and drops a connection that stops answering.
func (s *SSHServer) keepAlive(sc *ssh.ServerConn, done <-chan struct{}) {
	t := time.NewTicker(s.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := sc.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				sc.Close()
				return
			}
		case <-time.After(3 * s.cfg.KeepAlive):
			s.cfg.Logf("ssh: %s stopped answering; connection closed", sc.RemoteAddr())
			sc.Close()
			return
		case <-done:
			return
		}
	}
}

func authFailure(err error) string {
	var ae *ssh.ServerAuthError
	if errors.As(err, &ae) {
		return "authentication failed"
	}
	return err.Error()
}

// harmlessKeyOptions are authorized_keys options the server can honour because it
// does not offer what they forbid (no-pty is enforced in sessions, no-port-forwarding
// on direct-tcpip channels). A key with any other
// option (command=, from=, restrict …) is not used: ignoring a restriction would grant
// more than the key's owner allowed.
var harmlessKeyOptions = []string{"no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding", "no-user-rc", "no-pty"}

// authorize accepts key for the connection's user when it is in the user's
// authorized_keys. root is refused whatever its keys.
func (s *SSHServer) authorize(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	name := meta.User()
	if name == "root" {
		return nil, fmt.Errorf("root login is not permitted")
	}
	acct, err := s.root.lookupUser(name)
	if err != nil || acct == nil {
		return nil, fmt.Errorf("no such user")
	}
	if acct.UID == 0 {
		return nil, fmt.Errorf("root login is not permitted")
	}
	path := s.root.path(filepath.Join(acct.Home, ".ssh", "authorized_keys"))
	if err := checkOwnership(acct, path); err != nil {
		s.cfg.Logf("ssh: %s: %v", name, err)
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no authorized keys")
	}
	want := key.Marshal()
	for rest := data; len(bytes.TrimSpace(rest)) > 0; {
		k, _, options, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			break
		}
		rest = next
		if !bytes.Equal(k.Marshal(), want) {
			continue
		}
		perms := &ssh.Permissions{Extensions: map[string]string{"user": name, "fingerprint": ssh.FingerprintSHA256(key)}}
		usable := true
		for _, o := range options {
			switch opt := strings.ToLower(o); {
			case opt == "no-pty":
				perms.Extensions["no-pty"] = "yes"
			case opt == "no-port-forwarding":
				perms.Extensions["no-port-forwarding"] = "yes"
			case slices.Contains(harmlessKeyOptions, opt):
			default:
				usable = false
			}
		}
		if !usable {
			s.cfg.Logf("ssh: %s: key %s has authorized_keys options strato-guest cannot enforce (%s); not used",
				name, ssh.FingerprintSHA256(key), strings.Join(options, ","))
			continue
		}
		return perms, nil
	}
	return nil, fmt.Errorf("key not authorized")
}

// checkOwnership does what sshd's StrictModes does: the key file, ~/.ssh and the home
// must belong to the user (or root) and not be writable by others, or anyone who could
// write them could log in as the user.
func checkOwnership(acct *account, keys string) error {
	for _, p := range []string{keys, filepath.Dir(keys), filepath.Dir(filepath.Dir(keys))} {
		st, err := os.Stat(p)
		if err != nil {
			if p == keys {
				return fmt.Errorf("no authorized keys")
			}
			return err
		}
		uid, _ := ownerOf(st)
		if uid != acct.UID && uid != 0 {
			return fmt.Errorf("bad ownership of %s", p)
		}
		if st.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("bad modes of %s (writable by others)", p)
		}
	}
	return nil
}
