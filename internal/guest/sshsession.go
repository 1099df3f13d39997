package guest

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// session is one SSH session channel: at most one program (exec or shell), with pipes
// or a pseudo-terminal.
type session struct {
	srv  *SSHServer
	conn *ssh.ServerConn
	ch   ssh.Channel

	mu      sync.Mutex
	env     []string
	term    string
	master  *os.File // the pty master, after pty-req
	slave   *os.File
	ttyName string
	pid     int // the program, once started
	exited  bool

	// replied is closed once the shell or exec request that started the program
	// has had its reply: the program's exit status and the channel's close must come
	// after it, or a client still waiting for the reply sees the channel end instead
	// (a program as quick as `kill $$` wins that race).
	replied chan struct{}
}

func newSession(srv *SSHServer, conn *ssh.ServerConn, ch ssh.Channel) *session {
	return &session{srv: srv, conn: conn, ch: ch, replied: make(chan struct{})}
}

// Payloads of the session requests (RFC 4254 section 6).
type (
	ptyRequest struct {
		Term          string
		Columns, Rows uint32
		Width, Height uint32
		Modes         string
	}
	windowChange struct {
		Columns, Rows, Width, Height uint32
	}
	envRequest    struct{ Name, Value string }
	execRequest   struct{ Command string }
	signalRequest struct{ Signal string }
	exitStatus    struct{ Status uint32 }
	exitSignal    struct {
		Signal     string
		CoreDumped bool
		Error      string
		Lang       string
	}
)

// acceptedEnv is what a client may set, as Debian's sshd_config AcceptEnv allows.
func acceptedEnv(name string) bool {
	return name == "LANG" || strings.HasPrefix(name, "LC_") || name == "TZ" || name == "COLORTERM"
}

// serve answers the channel's requests until the client closes it.
func (s *session) serve(reqs <-chan *ssh.Request) {
	defer s.hangUp()
	started, replyDone := false, false
	for req := range reqs {
		ok := false
		switch req.Type {
		case "env":
			var e envRequest
			if ssh.Unmarshal(req.Payload, &e) == nil && acceptedEnv(e.Name) {
				s.mu.Lock()
				s.env = append(s.env, e.Name+"="+e.Value)
				s.mu.Unlock()
				ok = true
			}
		case "pty-req":
			ok = s.openPTY(req.Payload)
		case "window-change":
			var wc windowChange
			if ssh.Unmarshal(req.Payload, &wc) == nil && s.master != nil {
				ok = setWindowSize(s.master, wc.Columns, wc.Rows, wc.Width, wc.Height) == nil
			}
		case "shell":
			ok = s.start("", true)
			started = started || ok
		case "exec":
			var e execRequest
			ok = ssh.Unmarshal(req.Payload, &e) == nil && s.start(e.Command, false)
			started = started || ok
		case "signal":
			var sig signalRequest
			if ssh.Unmarshal(req.Payload, &sig) == nil {
				ok = s.signal(sig.Signal)
			}
		case "subsystem":
			// sftp and other subsystems are not served; scp (an exec of scp) works where
			// the image has scp.
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if started && !replyDone {
			close(s.replied)
			replyDone = true
		}
	}
}

func (s *session) openPTY(payload []byte) bool {
	var p ptyRequest
	if ssh.Unmarshal(payload, &p) != nil || s.conn.Permissions.Extensions["no-pty"] != "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.master != nil || s.pid != 0 {
		return false
	}
	master, slave, name, err := openPTY()
	if err != nil {
		s.srv.cfg.Logf("ssh: pty: %v", err)
		return false
	}
	_ = setWindowSize(master, p.Columns, p.Rows, p.Width, p.Height)
	s.master, s.slave, s.ttyName, s.term = master, slave, name, p.Term
	return true
}

// environment is the program's environment, as sshd sets it.
func (s *session) environment(acct *account) []string {
	shell := acct.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	env := []string{
		"HOME=" + acct.Home, "USER=" + acct.Name, "LOGNAME=" + acct.Name, "SHELL=" + shell,
		"PATH=" + guestPath, "MAIL=/var/mail/" + acct.Name,
	}
	local, remote := s.conn.LocalAddr().String(), s.conn.RemoteAddr().String()
	rhost, rport, _ := net.SplitHostPort(remote)
	lhost, lport, _ := net.SplitHostPort(local)
	env = append(env, "SSH_CLIENT="+rhost+" "+rport+" "+lport, "SSH_CONNECTION="+rhost+" "+rport+" "+lhost+" "+lport)
	if s.master != nil {
		term := s.term
		if term == "" {
			term = "vt100"
		}
		env = append(env, "TERM="+term, "SSH_TTY="+s.ttyName)
	}
	return append(env, s.env...)
}

// start runs the user's shell, interactive or with -c command, as the user.
func (s *session) start(command string, interactive bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid != 0 {
		return false
	}
	name := s.conn.Permissions.Extensions["user"]
	acct, err := s.srv.root.lookupUser(name)
	if err != nil || acct == nil {
		s.srv.cfg.Logf("ssh: %s: the user is gone", name)
		return false
	}
	shell := acct.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", command)
	if interactive {
		cmd = exec.Command(shell)
		cmd.Args[0] = "-" + filepath.Base(shell) // a login shell, as sshd starts it
	}
	cmd.Env = s.environment(acct)
	cmd.Dir = "/"
	if st, err := os.Stat(s.srv.root.path(acct.Home)); err == nil && st.IsDir() {
		cmd.Dir = s.srv.root.path(acct.Home)
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	if acct.UID != os.Getuid() {
		groups := s.srv.root.supplementaryGroups(acct.Name)
		attr.Credential = &syscall.Credential{Uid: uint32(acct.UID), Gid: uint32(acct.GID), Groups: groups}
	}
	cmd.SysProcAttr = attr

	if s.master != nil {
		s.chownTTY(acct)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.slave, s.slave, s.slave
		attr.Setctty, attr.Ctty = true, 0
		pid, done, err := children.start(cmd)
		s.slave.Close()
		if err != nil {
			s.srv.cfg.Logf("ssh: %s: %v", name, err)
			return false
		}
		s.pid = pid
		go func() { _, _ = io.Copy(s.master, s.ch) }()
		out := copyOut(s.ch, s.master)
		go s.finish(done, out)
		return true
	}
	var stdinR, stdinW, outR, outW, errR, errW *os.File
	for _, p := range []struct{ r, w **os.File }{{&stdinR, &stdinW}, {&outR, &outW}, {&errR, &errW}} {
		if *p.r, *p.w, err = os.Pipe(); err != nil {
			closeAll(stdinR, stdinW, outR, outW, errR, errW)
			return false
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, outW, errW
	pid, done, err := children.start(cmd)
	closeAll(stdinR, outW, errW)
	if err != nil {
		closeAll(stdinW, outR, errR)
		s.srv.cfg.Logf("ssh: %s: %v", name, err)
		return false
	}
	s.pid = pid
	go func() {
		_, _ = io.Copy(stdinW, s.ch)
		stdinW.Close()
	}()
	out := copyOut(s.ch, outR)
	errOut := copyOut(s.ch.Stderr(), errR)
	go s.finish(done, out, errOut)
	return true
}

// chownTTY gives the terminal to the user, group tty, mode 0620, as sshd does.
func (s *session) chownTTY(acct *account) {
	gid := acct.GID
	if tty, ok := s.srv.root.lookupGroup("tty"); ok {
		gid = tty
	}
	_ = s.slave.Chown(acct.UID, gid)
	_ = s.slave.Chmod(0o620)
}

// outputCopy copies a program's output into the channel.
type outputCopy struct {
	src  *os.File
	done chan struct{}
}

func copyOut(dst io.Writer, src *os.File) *outputCopy {
	c := &outputCopy{src: src, done: make(chan struct{})}
	go func() {
		// A pty master reports EIO once no one has the slave open: that is its end.
		_, _ = io.Copy(dst, src)
		close(c.done)
	}()
	return c
}

// finish waits for the program, lets its output drain (up to a second more when
// something it started keeps the output open), and reports how it ended.
func (s *session) finish(done <-chan unix.WaitStatus, outs ...*outputCopy) {
	ws := <-done
	deadline := time.Now().Add(time.Second)
	for _, o := range outs {
		if o.src.SetReadDeadline(deadline) != nil {
			// Not pollable: do not wait on it.
			o.src.Close()
		}
		<-o.done
		o.src.Close()
	}
	s.mu.Lock()
	s.exited = true
	s.mu.Unlock()
	<-s.replied
	_ = s.ch.CloseWrite()
	if ws.Signaled() {
		name := strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG")
		_, _ = s.ch.SendRequest("exit-signal", false, ssh.Marshal(exitSignal{Signal: name, CoreDumped: ws.CoreDump()}))
	} else {
		_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(ws.ExitStatus())}))
	}
	_ = s.ch.Close()
}

// signal delivers a client's "signal" request to the program's process group.
func (s *session) signal(name string) bool {
	s.mu.Lock()
	pid, exited := s.pid, s.exited
	s.mu.Unlock()
	sig := unix.SignalNum("SIG" + name)
	if pid == 0 || exited || sig == 0 {
		return false
	}
	return unix.Kill(-pid, sig) == nil
}

// hangUp runs when the channel is gone: a program still running gets SIGHUP, as when a
// terminal hangs up; the pty master is released.
func (s *session) hangUp() {
	s.mu.Lock()
	pid, exited, master := s.pid, s.exited, s.master
	s.mu.Unlock()
	if pid != 0 && !exited {
		_ = unix.Kill(-pid, unix.SIGHUP)
	}
	if pid == 0 && master != nil {
		master.Close()
		if s.slave != nil {
			s.slave.Close()
		}
	}
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// ownerOf is a file's owner.
func ownerOf(st os.FileInfo) (uid, gid int) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), int(sys.Gid)
	}
	return -1, -1
}
