package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The probe's child is this test binary started again: the package's init
// function turns it into the child before any test runs. The test modes make
// it print a script instead of running a guest, so that the parent's reading
// of every outcome is tested without KVM.

// fakeDevice is a file standing in for /dev/kvm, which the parent only stats.
func fakeDevice(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "kvm")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProbeReadsTheChild(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		accel      string
		reason     string // the answer's reason starts with it
	}{
		{"hardware", probeChildExitPrefix + `ready\nstage 1 20000\nstage 2 30000\nstage 3 40000\nstage 4 140000\nok\n`,
			AccelKVM, "guest reached long mode in 40µs and ran 131072 loop iterations in 100µs"},
		{"emulated", probeChildExitPrefix + `ready\nstage 1 20000\nstage 2 30000\nstage 3 40000\nstage 4 400040000\nok\n`,
			AccelTCG, "KVM guest reached long mode in 40µs, then took 400ms for 131072 loop iterations"},
		{"setup fails", probeChildExitPrefix + `error KVM_CREATE_VCPU: invalid argument\n`,
			AccelTCG, "KVM probe failed: KVM_CREATE_VCPU: invalid argument"},
		{"dies", probeChildExitPrefix + `ready\nstage 1 20000\n`,
			AccelTCG, "the KVM probe died before an answer (exit status 3, after the guest reached real mode)"},
		{"hangs in setup", probeChildHangPrefix, AccelTCG, "KVM did not set up a VM within 300ms"},
		{"never runs", probeChildHangPrefix + `ready\n`, AccelTCG, "KVM guest did not run its first instruction within 300ms"},
		{"hangs after real mode", probeChildHangPrefix + `ready\nstage 1 20000\n`,
			AccelTCG, "KVM guest did not get past real mode within 300ms"},
		{"hangs in protected mode", probeChildHangPrefix + `ready\nstage 1 20000\nstage 2 30000\n`,
			AccelTCG, "KVM guest did not get past protected mode within 300ms"},
		{"crawls in long mode", probeChildHangPrefix + `ready\nstage 1 20000\nstage 2 30000\nstage 3 1500000\n`,
			AccelTCG, "KVM guest reached long mode in 1.5ms, then did not finish 131072 loop iterations within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := AccelProbe{Device: fakeDevice(t), Timeout: 300 * time.Millisecond, childMode: tc.mode}.Run(context.Background())
			t.Logf("%s (%v)", r, r.Took)
			if r.Accel != tc.accel || !strings.HasPrefix(r.Reason, tc.reason) {
				t.Errorf("got %q, want %s: %s…", r, tc.accel, tc.reason)
			}
			if took := time.Since(start); took > 3*time.Second || r.Took > took {
				t.Errorf("the probe took %v (says %v)", took, r.Took)
			}
			checkNoProbeChildren(t)
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := AccelProbe{Device: fakeDevice(t), childMode: probeChildHangPrefix + `ready\n`}.Run(ctx)
	if r.Accel != AccelTCG || !strings.HasPrefix(r.Reason, "KVM probe cancelled (context deadline exceeded)") {
		t.Errorf("got %q", r)
	}
	checkNoProbeChildren(t)
}

func TestProbeWithoutDevice(t *testing.T) {
	r := AccelProbe{Device: filepath.Join(t.TempDir(), "kvm")}.Run(context.Background())
	if r.Accel != AccelTCG || !strings.HasSuffix(r.Reason, "/kvm missing") {
		t.Errorf("got %q, want tcg: …/kvm missing", r)
	}
}

// checkNoProbeChildren fails when a probe child of this process is still
// alive (or a zombie): Run must kill and reap it before it returns.
func checkNoProbeChildren(t *testing.T) {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	deadline := time.Now().Add(2 * time.Second)
	for {
		var left []string
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...: the comm may hold spaces, so cut at the last ')'.
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if len(f) < 2 || f[1] != self {
				continue
			}
			env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if f[0] == "Z" || bytes.Contains(env, []byte(probeChildEnv+"=")) {
				left = append(left, fmt.Sprintf("%s (state %s)", e.Name(), f[0]))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("probe children left: %v", left)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProbeThisHost runs the real probe on /dev/kvm and reports its answer. It
// cannot say which answer is right for an unknown host; it checks that the
// answer is consistent and comes in time.
func TestProbeThisHost(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("no /dev/kvm here: %v", err)
	}
	r := AccelProbe{}.Run(context.Background())
	t.Logf("%s (probe took %v)", r, r.Took)
	if r.Accel != AccelKVM && r.Accel != AccelTCG || r.Reason == "" {
		t.Errorf("answer %+v", r)
	}
	if r.Took > 4*time.Second {
		t.Errorf("the probe took %v; its limit is 2 s and 1 s to reap", r.Took)
	}
	checkNoProbeChildren(t)
}

func TestDetectAccelCaches(t *testing.T) {
	first, err := DetectAccel(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	again, err := DetectAccel(context.Background())
	if err != nil || again != first {
		t.Errorf("second answer %+v, %v; first %+v", again, err, first)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("the cached answer took %v", took)
	}
	t.Logf("%s", first)
}
