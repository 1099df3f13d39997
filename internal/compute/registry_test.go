package compute_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"strato/internal/cloud"
	"strato/internal/compute"
)

type fakeDriver struct {
	cloud.Compute
	opts compute.Options
}

func TestRegistryOpensByName(t *testing.T) {
	compute.Register("registry-test", func(o compute.Options) (cloud.Compute, error) {
		return fakeDriver{opts: o}, nil
	})
	if !slices.Contains(compute.Names(), "registry-test") {
		t.Fatalf("Names() = %v, want it to list registry-test", compute.Names())
	}
	d, err := compute.Open("registry-test", compute.Options{DataDir: "/data"})
	if err != nil {
		t.Fatal(err)
	}
	opts := d.(fakeDriver).opts
	if opts.Log == nil || opts.Clock == nil {
		t.Errorf("Open passed options without defaults: %+v", opts)
	}
	if got := opts.Dir("registry-test"); got != "/data/compute/registry-test" {
		t.Errorf("Dir = %q", got)
	}
}

func TestRegistryUnknownDriver(t *testing.T) {
	_, err := compute.Open("no-such-driver", compute.Options{})
	if err == nil || !strings.Contains(err.Error(), "no-such-driver") {
		t.Fatalf("Open(unknown) = %v, want an error naming the driver", err)
	}
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	open := func(compute.Options) (cloud.Compute, error) { return nil, errors.New("unused") }
	compute.Register("registry-dup", open)
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	compute.Register("registry-dup", open)
}

func TestOptionsDirEmptyWithoutDataDir(t *testing.T) {
	if got := (compute.Options{}).Dir("mock"); got != "" {
		t.Fatalf("Dir without DataDir = %q, want empty", got)
	}
}
