package imagebuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A data directory gets the kernel and initramfs its VMs boot with: none before, the
// installed pair after, the same again after a second install (no download: the
// package is in the cache).
func TestInstallVMBoot(t *testing.T) {
	cache := testVMKernelCache(t)
	data := t.TempDir()
	if _, ok, err := InstalledVMBoot(data); ok || err != nil {
		t.Fatalf("a new data directory has a VM kernel (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	files, err := InstallVMBoot(ctx, data, cache, "x86_64", &log)
	if err != nil {
		missingForVM(t, "installing the VM kernel: %v\n%s", err, log.String())
	}
	got, ok, err := InstalledVMBoot(data)
	if !ok || err != nil || got != files {
		t.Fatalf("installed %+v, found %+v (%v, %v)", files, got, ok, err)
	}
	for _, f := range []string{got.Kernel, got.Initramfs} {
		if st, err := os.Stat(f); err != nil || st.Size() < 1<<20 {
			t.Errorf("%s: %v", f, err)
		}
		if filepath.Dir(f) != filepath.Join(VMBootDir(data), got.Version) {
			t.Errorf("%s is not in the version's directory", f)
		}
	}
	again, err := InstallVMBoot(ctx, data, cache, "x86_64", &log)
	if err != nil || again != files {
		t.Errorf("installing again: %+v (%v)", again, err)
	}
	// A current link to a directory that lost its files is refused, not booted.
	os.Remove(files.Initramfs)
	if _, ok, err := InstalledVMBoot(data); ok || err == nil {
		t.Error("an incomplete installation was accepted")
	}
}
