package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// runc runs containers with the runc binary, its state kept under root (in the
// driver's directory, so that it is found again after strato restarts).
type runc struct {
	root string
}

// runcAvailable tells whether runc can be run.
func runcAvailable() error {
	if _, err := exec.LookPath("runc"); err != nil {
		return fmt.Errorf("the container driver needs runc (Debian package runc): %w", err)
	}
	return nil
}

// run starts the container id from the bundle in dir, detached: runc hands the
// container's stdout and stderr the console file and exits, and nothing of
// strato stays its parent. It returns the container's init PID.
func (r runc) run(ctx context.Context, id, dir string, console *os.File) (int, error) {
	pidFile := filepath.Join(dir, "init.pid")
	os.Remove(pidFile)
	logFile := filepath.Join(dir, "runc.log")
	os.Remove(logFile) // only this run's messages
	cmd := exec.CommandContext(ctx, "runc", "--root", r.root, "--log", logFile,
		"run", "--detach", "--bundle", dir, "--pid-file", pidFile, id)
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("runc run %s: %v: %s", id, err, lastLine(logFile))
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("runc run %s: %w", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("runc run %s: pid file holds %q", id, raw)
	}
	return pid, nil
}

// delete removes the container id, killing what is left of it; a container
// runc does not know is already deleted.
func (r runc) delete(ctx context.Context, id string) error {
	out, err := exec.CommandContext(ctx, "runc", "--root", r.root, "delete", "--force", id).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("does not exist")) {
		return fmt.Errorf("runc delete %s: %v: %s", id, err, bytes.TrimSpace(out))
	}
	return nil
}

// lastLine is the last line of runc's log, where it says why it failed.
func lastLine(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "(no runc log)"
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return lines[len(lines)-1]
}
