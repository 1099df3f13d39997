package guest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshFixture is an SSH server on loopback over a root with one user.
type sshFixture struct {
	addr  string
	user  string
	uid   int
	key   ssh.Signer
	root  string
	hostK ssh.PublicKey
}

// startSSH runs the server for a user whose authorized_keys holds one fresh key, plus
// extra lines. The user is the test's own uid, or uid 1000 when the test runs as root
// (root itself may not log in), so the server's setuid path is exercised there.
func startSSH(t *testing.T, extraKeys ...string) *sshFixture {
	t.Helper()
	root := newRoot(t)
	uid := os.Getuid()
	if uid == 0 {
		uid = 1000
	}
	const user = "ec2-user"
	writeFiles(t, root, map[string]string{
		"etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\n%s:x:%d:%d::/home/%s:/bin/sh\n", user, uid, uid, user),
	})
	signer, pub := newKey(t)
	home := filepath.Join(root, "home", user)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.WriteFile(keys, []byte(strings.Join(append(extraKeys, pub), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	os.Chmod(filepath.Dir(home), 0o755)
	for _, p := range []string{home, filepath.Dir(keys), keys} {
		if err := os.Lchown(p, uid, uid); err != nil && os.Getuid() == 0 {
			t.Fatal(err)
		}
	}
	g := New(Config{Root: root, Console: &syncBuffer{}})
	hostKey, err := g.ensureHostKey("test")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewSSHServer(SSHConfig{Root: root, HostKey: hostKey, Logf: t.Logf})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &sshFixture{addr: ln.Addr().String(), user: user, uid: uid, key: signer, root: root, hostK: hostKey.PublicKey()}
}

func (f *sshFixture) dial(t *testing.T, user string, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	return ssh.Dial("tcp", f.addr, &ssh.ClientConfig{
		User: user, Auth: auth, HostKeyCallback: ssh.FixedHostKey(f.hostK), Timeout: 5 * time.Second,
	})
}

func (f *sshFixture) client(t *testing.T) *ssh.Client {
	t.Helper()
	c, err := f.dial(t, f.user, ssh.PublicKeys(f.key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSSHExecOutputAndExitStatus(t *testing.T) {
	f := startSSH(t)
	s, err := f.client(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput("echo hello; exit 3")
	if string(out) != "hello\n" {
		t.Errorf("output %q", out)
	}
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 3 {
		t.Errorf("err %v, want exit status 3", err)
	}
}

func TestSSHRunsAsTheUserWithItsEnvironment(t *testing.T) {
	f := startSSH(t)
	s, err := f.client(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Errorf("LANG refused: %v", err)
	}
	if err := s.Setenv("LD_PRELOAD", "/evil.so"); err == nil {
		t.Error("LD_PRELOAD accepted")
	}
	out, err := s.Output(`id -u; echo "$HOME $USER $LOGNAME $SHELL $LANG"; pwd; echo "$PATH"; echo "${SSH_CONNECTION:+conn}"; echo err >&2`)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d\n/home/ec2-user ec2-user ec2-user /bin/sh C.UTF-8\n%s\n%s\nconn\n", f.uid, filepath.Join(f.root, "home/ec2-user"), guestPath)
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestSSHStreamsStdinAndStderr(t *testing.T) {
	f := startSSH(t)
	s, err := f.client(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	s.Stdin = strings.NewReader("line one\nline two\n")
	s.Stdout, s.Stderr = &stdout, &stderr
	if err := s.Run("cat; echo to-stderr >&2"); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "line one\nline two\n" || stderr.String() != "to-stderr\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestSSHRefusesAWrongKey(t *testing.T) {
	f := startSSH(t)
	other, _ := newKey(t)
	if c, err := f.dial(t, f.user, ssh.PublicKeys(other)); err == nil {
		c.Close()
		t.Fatal("a key not in authorized_keys was accepted")
	}
}

func TestSSHRefusesPasswords(t *testing.T) {
	f := startSSH(t)
	c, err := f.dial(t, f.user, ssh.Password("anything"),
		ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"x"}, nil }))
	if err == nil {
		c.Close()
		t.Fatal("password authentication succeeded")
	}
	if !strings.Contains(err.Error(), "no supported methods remain") {
		t.Errorf("err %v", err)
	}
}

func TestSSHRefusesRootAndUnknownUsers(t *testing.T) {
	f := startSSH(t)
	// root's authorized_keys has the key, yet root may not log in.
	rootSSH := filepath.Join(f.root, "root/.ssh")
	os.MkdirAll(rootSSH, 0o700)
	data, _ := os.ReadFile(filepath.Join(f.root, "home/ec2-user/.ssh/authorized_keys"))
	os.WriteFile(filepath.Join(rootSSH, "authorized_keys"), data, 0o600)
	for _, user := range []string{"root", "nobody"} {
		if c, err := f.dial(t, user, ssh.PublicKeys(f.key)); err == nil {
			c.Close()
			t.Errorf("%s logged in", user)
		}
	}
}

func TestSSHIgnoresKeysWithRestrictionsItCannotEnforce(t *testing.T) {
	restricted, restrictedPub := newKey(t)
	allowed, allowedPub := newKey(t)
	f := startSSH(t, `command="echo no" `+restrictedPub, "no-port-forwarding,no-agent-forwarding "+allowedPub)
	if c, err := f.dial(t, f.user, ssh.PublicKeys(restricted)); err == nil {
		c.Close()
		t.Error("a key with command= gave a login")
	}
	c, err := f.dial(t, f.user, ssh.PublicKeys(allowed))
	if err != nil {
		t.Fatalf("a key with no-port-forwarding was refused: %v", err)
	}
	c.Close()
}

func TestSSHRefusesAWorldWritableKeyFile(t *testing.T) {
	f := startSSH(t)
	os.Chmod(filepath.Join(f.root, "home/ec2-user/.ssh/authorized_keys"), 0o666)
	if c, err := f.dial(t, f.user, ssh.PublicKeys(f.key)); err == nil {
		c.Close()
		t.Error("a world-writable authorized_keys was trusted")
	}
}

func TestSSHRefusesSubsystems(t *testing.T) {
	f := startSSH(t)
	c := f.client(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("sftp"); err == nil {
		t.Error("sftp subsystem accepted")
	}
	if _, err := c.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Error("forwarding to a closed port succeeded")
	}
	// The connection still works, and answers a client's keepalive.
	if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Errorf("keepalive: %v", err)
	}
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s2.Output("echo still"); err != nil || string(out) != "still\n" {
		t.Errorf("%q %v", out, err)
	}
}

func TestSSHConcurrentSessions(t *testing.T) {
	f := startSSH(t)
	c := f.client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.NewSession()
			if err != nil {
				errs <- err
				return
			}
			out, err := s.Output(fmt.Sprintf("sleep 0.2; echo %d", i))
			if err != nil || string(out) != fmt.Sprintf("%d\n", i) {
				errs <- fmt.Errorf("session %d: %q %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSSHPTYShell(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no /dev/ptmx")
	}
	f := startSSH(t)
	s, err := f.client(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := s.StdinPipe()
	var out syncBuffer
	s.Stdout = &out
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(stdin, "tty; echo TERM=$TERM; stty size; exit 5\n")
	err = s.Wait()
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 5 {
		t.Errorf("err %v, want exit status 5", err)
	}
	got := out.String()
	assertContains(t, "pty output", got, "/dev/pts/", "TERM=xterm", "50 132")
}

func TestSSHExitSignal(t *testing.T) {
	f := startSSH(t)
	s, err := f.client(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run("kill -TERM $$")
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.Signal() != "TERM" {
		t.Errorf("err %v, want exit signal TERM", err)
	}
}

func TestSSHHangUpEndsTheProgram(t *testing.T) {
	if signal.Ignored(syscall.SIGHUP) {
		// Started under nohup: the ignored disposition passes to every program the server
		// starts, and SIGHUP cannot end them. (strato-guest, as PID 1, starts with none.)
		t.Skip("SIGHUP is ignored in this process (nohup?), and so in its children")
	}
	f := startSSH(t)
	c := f.client(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(f.root, "pid")
	os.Chmod(f.root, 0o777)
	if err := s.Start("echo $$ > " + pidFile + "; exec sleep 60"); err != nil {
		t.Fatal(err)
	}
	var pid int
	for i := 0; i < 100 && pid == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		fmt.Sscan(string(b), &pid)
	}
	if pid == 0 {
		t.Fatal("the program did not start")
	}
	c.Close()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d outlived its connection", pid)
}
