package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Accelerators, as QEMU's -accel spells them.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
)

// AccelResult is the probe's answer: which accelerator QEMU should use, and why.
type AccelResult struct {
	Accel  string        // AccelKVM or AccelTCG
	Reason string        // e.g. "/dev/kvm missing"; see Run for the others
	Took   time.Duration // how long the probe ran
}

// String is the answer as the start-up log and `strato status` show it, e.g.
// "kvm: guest reached long mode in 150µs and ran 131072 loop iterations in
// 110µs" or "tcg: KVM guest did not get past real mode within 2s".
func (r AccelResult) String() string { return r.Accel + ": " + r.Reason }

// AccelProbe decides between KVM and TCG by running a guest under KVM.
//
// It runs in a child process, the current executable started again with an
// environment variable that this package's init function recognises, because
// a guest that hangs hangs the thread running it inside the KVM_RUN system
// call: only killing the process ends that for sure. The child creates a VM
// with 2 MiB of memory holding probeProgram, runs it, and prints a line per
// stage the guest reports; the parent kills it when Timeout passes first.
//
// KVM is chosen only when the guest reaches long mode and then runs a loop
// of probeLoop iterations within probeLoopLimit: a /dev/kvm that emulates
// each instruction (as on these hosts) gets through the mode switches, but a
// real guest on it runs far slower than on TCG.
type AccelProbe struct {
	Device  string        // the KVM device; empty means /dev/kvm
	Timeout time.Duration // for the whole child; zero means 2 s

	// childMode is what the child does (probeChildGuest unless a test says
	// otherwise).
	childMode string
}

const (
	// probeChildEnv names the variable that turns a process into the probe's
	// child; its value is the mode.
	probeChildEnv = "STRATO_INTERNAL_KVM_PROBE"
	// probeDeviceEnv passes AccelProbe.Device to the child.
	probeDeviceEnv = "STRATO_INTERNAL_KVM_PROBE_DEVICE"

	probeChildGuest = "guest" // run the probe's guest
	// Test modes: print the text after the prefix (with \n for new lines),
	// then hang, or exit with status 3.
	probeChildHangPrefix = "test-hang:"
	probeChildExitPrefix = "test-exit:"
)

// The child's stdout protocol, one report per line:
//
//	ready                 the VM and its vCPU are set up
//	stage N NANOSECONDS   the guest reported stage N, so long after it started
//	error TEXT            the probe failed (the child then exits 1)
//	ok                    the guest finished its loop (the child then exits 0)

func init() {
	// The child does its work before main runs, whatever program imported
	// this package, and exits.
	if mode, ok := os.LookupEnv(probeChildEnv); ok {
		os.Exit(probeChild(mode))
	}
}

func probeChild(mode string) int {
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	switch {
	case mode == probeChildGuest:
		device := os.Getenv(probeDeviceEnv)
		err := runProbeGuest(device,
			func() { say("ready") },
			func(stage int, since time.Duration) { say("stage %d %d", stage, since.Nanoseconds()) })
		if err != nil {
			say("error %s", strings.ReplaceAll(err.Error(), "\n", " "))
			return 1
		}
		say("ok")
		return 0
	case strings.HasPrefix(mode, probeChildHangPrefix):
		out.WriteString(strings.ReplaceAll(strings.TrimPrefix(mode, probeChildHangPrefix), `\n`, "\n"))
		out.Flush()
		select {} // as a hung KVM_RUN would
	case strings.HasPrefix(mode, probeChildExitPrefix):
		out.WriteString(strings.ReplaceAll(strings.TrimPrefix(mode, probeChildExitPrefix), `\n`, "\n"))
		out.Flush()
		return 3
	default:
		fmt.Fprintf(os.Stderr, "unknown %s mode %q\n", probeChildEnv, mode)
		return 2
	}
}

var stageNames = map[int]string{
	stageReal:      "real mode",
	stageProtected: "protected mode",
	stageLong:      "long mode",
	stageLoop:      "the end of its loop",
}

// probeLoopLimit is the longest the guest's loop may take for KVM to be
// chosen. Hardware virtualization runs it in about 0.1 ms, the emulating KVM
// of these hosts in about 400 ms: 20 ms leaves room for a loaded host on one
// side and is still far slower than TCG on the other.
const probeLoopLimit = 20 * time.Millisecond

func round(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

// Run probes once (no caching; DetectAccel caches). Its answers:
//
//	kvm: guest reached long mode in T1 and ran N loop iterations in T2
//	tcg: /dev/kvm missing
//	tcg: KVM probe failed: KVM_CREATE_VCPU: … (or any other set-up step)
//	tcg: KVM did not set up a VM within 2s
//	tcg: KVM guest did not run its first instruction within 2s
//	tcg: KVM guest did not get past real mode|protected mode within 2s
//	tcg: KVM guest reached long mode in T1, then took T2 for N loop iterations (…; limit 20ms)
//	tcg: KVM guest reached long mode in T1, then did not finish N loop iterations within 2s (…)
//	tcg: the KVM probe died before an answer (…)
//	tcg: KVM probe cancelled (…)
//
// It never takes much longer than Timeout: when the child does not exit after being killed (a
// process stuck in the kernel cannot die until the kernel lets it), Run
// answers anyway and a goroutine reaps the child later.
func (p AccelProbe) Run(ctx context.Context) AccelResult {
	start := time.Now()
	answer := func(accel, format string, args ...any) AccelResult {
		return AccelResult{Accel: accel, Reason: fmt.Sprintf(format, args...), Took: time.Since(start)}
	}
	device := p.Device
	if device == "" {
		device = "/dev/kvm"
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	mode := p.childMode
	if mode == "" {
		mode = probeChildGuest
	}

	if _, err := os.Stat(device); errors.Is(err, fs.ErrNotExist) {
		return answer(AccelTCG, "%s missing", device)
	} else if err != nil {
		return answer(AccelTCG, "%v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return answer(AccelTCG, "cannot start the KVM probe: %v", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		return answer(AccelTCG, "cannot start the KVM probe: %v", err)
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), probeChildEnv+"="+mode, probeDeviceEnv+"="+device)
	cmd.Stdout = w
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 4096}
	// The child dies with us, should we die first. (Strictly, with the
	// thread that started it; Go ends threads only behind LockOSThread, and
	// a child killed that way makes the answer tcg, never a hang.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return answer(AccelTCG, "cannot start the KVM probe: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string)
	quit := make(chan struct{})
	defer close(quit) // before r.Close, which ends a Scan still waiting
	go func() {
		// Ends at EOF (the child exited or was killed), or when Run returns.
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	var result AccelResult
	ready, stage, reaped := false, 0, false
	at := map[int]time.Duration{} // when the guest reported each stage
	for result.Accel == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				// The child closed its stdout without an answer: it died.
				why := "no exit status"
				select {
				case err := <-exited:
					reaped = true
					why = fmt.Sprint(err)
				case <-time.After(time.Second):
				}
				if msg := strings.TrimSpace(stderr.String()); msg != "" {
					why += ": " + msg
				}
				result = answer(AccelTCG, "the KVM probe died before an answer (%s, after %s)", why, reached(ready, stage))
				continue
			}
			word, rest, _ := strings.Cut(line, " ")
			switch word {
			case "ready":
				ready = true
			case "stage":
				var ns int64
				if _, err := fmt.Sscanf(rest, "%d %d", &stage, &ns); err == nil {
					at[stage] = time.Duration(ns)
				}
			case "ok":
				long, loop := at[stageLong], at[stageLoop]-at[stageLong]
				if loop > probeLoopLimit {
					result = answer(AccelTCG, "KVM guest reached long mode in %v, then took %v for %d loop iterations (hardware: about 0.1ms; limit %v)",
						round(long), round(loop), probeLoop, probeLoopLimit)
				} else {
					result = answer(AccelKVM, "guest reached long mode in %v and ran %d loop iterations in %v", round(long), probeLoop, round(loop))
				}
			case "error":
				result = answer(AccelTCG, "KVM probe failed: %s", rest)
			}
		case <-timer.C:
			if stage == stageLong {
				result = answer(AccelTCG, "KVM guest reached long mode in %v, then did not finish %d loop iterations within %v (hardware: about 0.1ms; limit %v)",
					round(at[stageLong]), probeLoop, timeout, probeLoopLimit)
				continue
			}
			result = answer(AccelTCG, "%s within %v", stalled(ready, stage), timeout)
		case <-ctx.Done():
			result = answer(AccelTCG, "KVM probe cancelled (%v) after %s", ctx.Err(), reached(ready, stage))
		}
	}

	if !reaped {
		cmd.Process.Kill() // our child, by its PID; harmless when it has exited
		select {
		case <-exited:
		case <-time.After(time.Second):
			// Stuck in the kernel: the goroutine above reaps it when it dies.
		}
	}
	return result
}

// stalled says where a guest that timed out got stuck.
func stalled(ready bool, stage int) string {
	switch {
	case !ready:
		return "KVM did not set up a VM"
	case stage == 0:
		return "KVM guest did not run its first instruction"
	case stage >= stageLong:
		return "KVM guest did not finish its loop"
	default:
		return "KVM guest did not get past " + stageNames[stage]
	}
}

// reached says how far the probe got.
func reached(ready bool, stage int) string {
	switch {
	case !ready:
		return "setting up the VM"
	case stage == 0:
		return "setting up the VM, before the guest ran"
	default:
		return "the guest reached " + stageNames[stage]
	}
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var accel struct {
	once   sync.Once
	done   chan struct{}
	result AccelResult
}

// DetectAccel is the answer of AccelProbe{} for this process: the first call
// starts the probe (at most about 3 s), later ones return its answer. A
// caller whose ctx ends first gets ctx's error; the probe goes on for the
// next caller.
func DetectAccel(ctx context.Context) (AccelResult, error) {
	accel.once.Do(func() {
		accel.done = make(chan struct{})
		go func() {
			// Bounded by the probe's own timeout, not by any caller's ctx.
			accel.result = AccelProbe{}.Run(context.Background())
			close(accel.done)
		}()
	})
	select {
	case <-accel.done:
		return accel.result, nil
	case <-ctx.Done():
		return AccelResult{}, ctx.Err()
	}
}
