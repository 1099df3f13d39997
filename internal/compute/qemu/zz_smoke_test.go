package qemu

import (
	"os"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
)

func TestZZSmoke(t *testing.T) {
	k := os.Getenv("ZZ_KERNEL")
	if k == "" {
		t.Skip("no kernel")
	}
	dirs := map[*testing.T]string{}
	conformance.RunConfig(t, conformance.Config{Timeout: 60 * time.Second, Open: func(t *testing.T) cloud.Compute {
		dir, ok := dirs[t]
		if !ok {
			dir = t.TempDir()
			dirs[t] = dir
		}
		d, err := Open(compute.Options{DataDir: dir, StopTimeout: 2 * time.Second, VMBoot: compute.VMBoot{Kernel: k, Cmdline: "quiet"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}})
}
