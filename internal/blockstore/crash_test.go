package blockstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"strato/internal/blockstore"
)

// The crash test re-runs the test binary as a child that snapshots or deletes
// and is killed (SIGKILL) at a random moment; the parent then reopens the
// store and checks that no completed snapshot and no volume was harmed and,
// once the unfinished snapshot is abandoned, that no chunk is orphaned.
const crashEnv = "BLOCKSTORE_CRASH_CHILD"

func TestCrashSafety(t *testing.T) {
	if op := os.Getenv(crashEnv); op != "" {
		crashChild(op)
		return
	}
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	dir := filepath.Join(t.TempDir(), "blocks")
	s, err := blockstore.Open(dir)
	must(t, err)
	const size = 48 * MiB
	must(t, s.CreateVolume("vol-1", size, nil))
	r := rand.New(rand.NewPCG(1, 2))
	scribble := func(n int) {
		for range n {
			write(t, s, "vol-1", nil, r.Int64N(size-MiB), randomBytes(1+r.IntN(MiB)))
		}
	}
	scribble(20)
	snapshot(t, s, "vol-1", "snap-0", "")
	completed := map[string][]byte{"snap-0": contents(t, s, "vol-1", nil)}
	latest := "snap-0"
	must(t, s.Close())

	killed, finished := 0, 0
	opTime := map[string]time.Duration{"snapshot": 50 * time.Millisecond, "delete": 5 * time.Millisecond}
	for i := 1; i <= 20; i++ {
		s, err := blockstore.Open(dir)
		must(t, err)
		scribble(6)
		volume := contents(t, s, "vol-1", nil)
		must(t, s.Close())

		var args []string
		var victim string
		if i%3 == 0 && len(completed) > 1 {
			// Delete a completed snapshot other than the latest.
			for id := range completed {
				if id != latest {
					victim = id
					break
				}
			}
			args = []string{"delete", victim}
		} else {
			victim = fmt.Sprint("snap-", i)
			args = []string{"snapshot", victim, latest}
		}
		// Odd iterations run to the end (timing the operation); the others
		// are killed somewhere within its shortest time seen.
		delay := time.Minute
		if i%2 == 0 {
			delay = time.Duration(float64(opTime[args[0]]) * (0.05 + 0.95*r.Float64()))
		}
		done, took := runAndKill(t, dir, args, delay)
		if done {
			opTime[args[0]] = min(opTime[args[0]], took)
			finished++
		} else {
			killed++
		}

		s, err = blockstore.Open(dir)
		must(t, err)
		switch {
		case args[0] == "snapshot" && s.HasSnapshot(victim):
			completed[victim] = volume
			latest = victim
		case args[0] == "snapshot":
			must(t, s.AbandonSnapshot(victim))
		case !s.HasSnapshot(victim):
			delete(completed, victim)
		}
		if !bytes.Equal(contents(t, s, "vol-1", nil), volume) {
			t.Fatalf("iteration %d: the volume changed", i)
		}
		if n, err := blockstore.Sweep(s); err != nil || n != 0 {
			t.Fatalf("iteration %d: %d orphaned chunks after recovery (%v)", i, n, err)
		}
		if leftovers := tmpFiles(t, dir); len(leftovers) > 0 {
			t.Fatalf("iteration %d: leftovers %v", i, leftovers)
		}
		for id, want := range completed {
			if id != latest && id != victim && i != 20 {
				continue // every snapshot is checked at the end
			}
			vol := fmt.Sprint("vol-check-", i, "-", id)
			must(t, s.RestoreVolume(context.Background(), vol, size, id, nil, nil, nil))
			if !bytes.Equal(contents(t, s, vol, nil), want) {
				t.Fatalf("iteration %d: completed snapshot %s does not restore its data", i, id)
			}
			must(t, s.DeleteVolume(vol))
		}
		must(t, s.Close())
	}
	t.Logf("%d children killed, %d finished; %d snapshots survive", killed, finished, len(completed))
	if killed < 5 || finished < 5 {
		t.Errorf("%d children killed and %d finished, want several of each", killed, finished)
	}
}

// runAndKill runs the child operation and kills it delay after the child has
// opened the store; it reports whether the child finished first, and how long
// its operation took.
func runAndKill(t *testing.T, dir string, args []string, delay time.Duration) (bool, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
	cmd.Env = append(os.Environ(), crashEnv+"="+strings.Join(append([]string{dir}, args...), "|"))
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	lines := bufio.NewReader(stdout)
	if line, err := lines.ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child %v: %q %v %s", args, line, err, stderr.String())
	}
	start := time.Now()
	exited := make(chan error, 1)
	go func() {
		rest, _ := io.ReadAll(lines)
		err := cmd.Wait()
		if err != nil && len(rest) > 0 {
			err = fmt.Errorf("%w: %s", err, rest)
		}
		exited <- err
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("child %v failed: %v", args, err)
		}
		return true, time.Since(start)
	case <-time.After(delay):
		cmd.Process.Signal(syscall.SIGKILL)
		err := <-exited
		return err == nil, time.Since(start) // it may have exited just before
	}
}

// crashChild is the child's side: DIR|snapshot|ID|PARENT or DIR|delete|ID.
func crashChild(spec string) {
	parts := strings.Split(spec, "|")
	s, err := blockstore.Open(parts[0])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	fmt.Println("ready")
	switch parts[1] {
	case "snapshot":
		job, err := s.StartSnapshot("vol-1", parts[2], parts[3])
		if err == nil {
			_, err = job.Run(context.Background(), nil)
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
	case "delete":
		if err := s.DeleteSnapshot(parts[2]); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// tmpFiles lists temporaries left in the store.
func tmpFiles(t *testing.T, dir string) []string {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasSuffix(rel, ".tmp") || strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
			out = append(out, rel)
		}
		return nil
	})
	must(t, err)
	return out
}
