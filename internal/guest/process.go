package guest

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PID 1 must reap every zombie (orphans are re-parented to it), and wait4(-1) also takes
// the exit statuses exec.Cmd.Wait would need. So the helper never calls Cmd.Wait: every
// child is started through the process table, which reaps all children in one place and
// hands each started child its status. Children are given *os.File stdio only, so
// exec.Cmd starts no copying goroutines that only Wait would end.
type procTable struct {
	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
	once    sync.Once
}

// children is the process's one table: wait4(-1) is process-wide.
var children = &procTable{waiting: map[int]chan unix.WaitStatus{}}

// start starts cmd and returns its pid and a channel that receives its wait status.
// cmd's Stdin, Stdout and Stderr must be nil or *os.File.
func (t *procTable) start(cmd *exec.Cmd) (int, <-chan unix.WaitStatus, error) {
	t.once.Do(t.reapForever)
	// Holding the lock across Start keeps the reaper from taking the child's status
	// before the child is in the table.
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	pid := cmd.Process.Pid
	done := make(chan unix.WaitStatus, 1)
	t.waiting[pid] = done
	_ = cmd.Process.Release()
	return pid, done, nil
}

// reapForever reaps on every SIGCHLD, and every few seconds in case a signal was
// coalesced with one already being handled.
func (t *procTable) reapForever() {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	go func() {
		tick := time.NewTicker(2 * time.Second)
		for {
			select {
			case <-sigchld:
			case <-tick.C:
			}
			t.reap()
		}
	}()
}

// reap collects every exited child; it reports whether the process has no children
// left at all.
func (t *procTable) reap() (none bool) {
	for {
		t.mu.Lock()
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			t.mu.Unlock()
			continue
		}
		if pid <= 0 {
			t.mu.Unlock()
			return errors.Is(err, unix.ECHILD)
		}
		if done, ok := t.waiting[pid]; ok {
			delete(t.waiting, pid)
			done <- ws
		}
		t.mu.Unlock()
	}
}

// pids lists the children started through the table that are still running.
func (t *procTable) pids() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int, 0, len(t.waiting))
	for pid := range t.waiting {
		out = append(out, pid)
	}
	return out
}

// run starts cmd and waits for it.
func (t *procTable) run(cmd *exec.Cmd) (unix.WaitStatus, error) {
	_, done, err := t.start(cmd)
	if err != nil {
		return 0, err
	}
	return <-done, nil
}

// runToConsole runs cmd with its output on the console and waits for it. Output of
// processes it leaves behind (a daemon started with &) keeps going to the console; the
// wait does not hang on them, as it would if it waited for the end of the output.
func (g *Guest) runToConsole(cmd *exec.Cmd) (unix.WaitStatus, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	_, done, err := children.start(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return 0, err
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(g.console, r)
		r.Close()
		close(copied)
	}()
	ws := <-done
	select {
	case <-copied:
	case <-time.After(200 * time.Millisecond):
	}
	return ws, nil
}

// describeStatus says how a child ended, as a shell would.
func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return "ended"
}

// exitCode is the status a shell would show in $?.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// guestPath is the PATH of everything the helper runs.
const guestPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// rootCommand prepares a command run as root with a clean environment.
func (g *Guest) rootCommand(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"PATH=" + guestPath, "HOME=/root", "USER=root", "LOGNAME=root", "LANG=C.UTF-8"}
	cmd.Dir = g.cfg.Root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}
