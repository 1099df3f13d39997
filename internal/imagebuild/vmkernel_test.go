package imagebuild

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestKernelDependency(t *testing.T) {
	for _, tc := range []struct{ depends, pkg, version string }{
		{"linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)", "linux-image-6.1.0-56-cloud-amd64", "6.1.192-2"},
		{"linux-image-6.1.0-56-cloud-arm64(=6.1.192-2)", "linux-image-6.1.0-56-cloud-arm64", "6.1.192-2"},
		{"linux-image-6.12.9-cloud-amd64", "linux-image-6.12.9-cloud-amd64", ""},
		{"linux-base, linux-image-6.1.0-9-cloud-amd64-unsigned (= 6.1.27-1) | linux-image-6.1.0-9-cloud-amd64 (= 6.1.27-1)",
			"linux-image-6.1.0-9-cloud-amd64-unsigned", "6.1.27-1"},
	} {
		pkg, version, ok := kernelDependency(tc.depends)
		if !ok || pkg != tc.pkg || version != tc.version {
			t.Errorf("kernelDependency(%q) = %q, %q, %v; want %q, %q", tc.depends, pkg, version, ok, tc.pkg, tc.version)
		}
	}
	for _, depends := range []string{"", "linux-image-cloud-amd64", "kmod, linux-base (>= 4.3~)"} {
		if pkg, _, ok := kernelDependency(depends); ok {
			t.Errorf("kernelDependency(%q) found %q", depends, pkg)
		}
	}
}

// fakeApt puts apt-cache, apt-get and dpkg-deb scripts first in PATH: apt-cache
// answers with showOut (or fails when it is empty), apt-get and dpkg-deb fail
// and leave a mark, so a test sees whether FetchVMKernel downloaded.
func fakeApt(t *testing.T, showOut string) (marks string) {
	t.Helper()
	bin := t.TempDir()
	marks = filepath.Join(bin, "marks")
	show := "echo 'E: No packages found' >&2; exit 100"
	if showOut != "" {
		show = "cat <<'EOF'\n" + showOut + "\nEOF"
	}
	scripts := map[string]string{
		"apt-cache": show,
		"apt-get":   "echo apt-get >> " + marks + "; exit 1",
		"dpkg-deb":  "echo dpkg-deb >> " + marks + "; exit 1",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return marks
}

// fakeCachedKernel makes what FetchVMKernel leaves in the cache for a release.
func fakeCachedKernel(t *testing.T, cache, release, version string) string {
	t.Helper()
	dir := filepath.Join(cache, release+"_"+version)
	mods := filepath.Join(dir, "lib/modules", release)
	for _, d := range []string{filepath.Join(dir, "boot"), mods} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(dir, "boot", "vmlinuz-"+release): "kernel",
		filepath.Join(mods, "modules.builtin"):         "kernel/fs/ext4/ext4.ko\n",
		filepath.Join(dir, vmKernelMeta):               "Package: linux-image-" + release + "\nVersion: " + version + "\nRelease: " + release + "\n",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A kernel already in the cache is returned without downloading; without
// package lists, the cached kernel is used.
func TestFetchVMKernelCached(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	dir := fakeCachedKernel(t, cache, "6.1.0-56-cloud-amd64", "6.1.192-2")

	marks := fakeApt(t, "Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\n")
	var log bytes.Buffer
	k, err := FetchVMKernel(ctx, cache, "x86_64", &log)
	if err != nil {
		t.Fatal(err)
	}
	want := VMKernel{Version: "6.1.0-56-cloud-amd64", Package: "linux-image-6.1.0-56-cloud-amd64", PackageVersion: "6.1.192-2",
		Dir: dir, Vmlinuz: filepath.Join(dir, "boot/vmlinuz-6.1.0-56-cloud-amd64"), ModulesDir: filepath.Join(dir, "lib/modules/6.1.0-56-cloud-amd64")}
	if k != want {
		t.Errorf("cached kernel\n got %+v\nwant %+v", k, want)
	}
	if _, err := os.Stat(marks); err == nil || log.Len() != 0 {
		t.Errorf("a cached kernel was downloaded again (log %q)", log.String())
	}

	// A newer kernel than the cached one is fetched (and here fails, with
	// what failed in the error).
	fakeApt(t, "Package: linux-image-cloud-amd64\nVersion: 6.1.199-1\nDepends: linux-image-6.1.0-57-cloud-amd64 (= 6.1.199-1)\n")
	if _, err := FetchVMKernel(ctx, cache, "x86_64", nil); err == nil || !strings.Contains(err.Error(), "apt-get download linux-image-6.1.0-57-cloud-amd64=6.1.199-1") {
		t.Errorf("fetching a newer kernel with a failing apt-get: %v", err)
	}

	// No package lists: the cache answers, and the log says why.
	fakeApt(t, "")
	log.Reset()
	if k, err := FetchVMKernel(ctx, cache, "x86_64", &log); err != nil || k.Dir != dir {
		t.Errorf("offline: %+v, %v", k, err)
	}
	if !strings.Contains(log.String(), "using the cached linux-image-6.1.0-56-cloud-amd64 6.1.192-2") {
		t.Errorf("offline log: %q", log.String())
	}
	// Nothing cached and nothing known: the error says what to do.
	if _, err := FetchVMKernel(ctx, t.TempDir(), "x86_64", nil); err == nil || !strings.Contains(err.Error(), "apt-get update") {
		t.Errorf("nothing known: %v", err)
	}
	// A directory left without its meta file (an interrupted unpack) is not
	// a kernel.
	os.Remove(filepath.Join(dir, vmKernelMeta))
	if _, err := FetchVMKernel(ctx, cache, "x86_64", nil); err == nil {
		t.Error("an incomplete cache directory was used")
	}
}

func TestLZ4Block(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block []byte
		want  string
	}{
		{"literals only", []byte{0x50, 'h', 'e', 'l', 'l', 'o'}, "hello"},
		// "a", then offset 1 length 7 (overlapping: repeats the a), then "b".
		{"overlapping match", []byte{0x13, 'a', 1, 0, 0x10, 'b'}, "aaaaaaaab"},
		// "abcd", then offset 4 length 4+15+1 = 20, then nothing.
		{"extended match length", []byte{0x4f, 'a', 'b', 'c', 'd', 4, 0, 1, 0x00}, strings.Repeat("abcd", 6)},
		// 15+3 = 18 literals.
		{"extended literal length", append([]byte{0xf0, 3}, []byte("0123456789abcdefgh")...), "0123456789abcdefgh"},
	} {
		got, err := lz4Block(nil, tc.block, 1<<20)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name  string
		block []byte
	}{
		{"offset 0", []byte{0x10, 'a', 0, 0}},
		{"offset before the block", []byte{0x10, 'a', 2, 0}},
		{"literals past the end", []byte{0x50, 'a'}},
		{"truncated offset", []byte{0x10, 'a', 1}},
		{"truncated length", []byte{0xf0, 255}},
	} {
		if got, err := lz4Block(nil, tc.block, 1<<20); err == nil {
			t.Errorf("%s: decoded to %q", tc.name, got)
		}
	}
	if _, err := lz4Block(nil, []byte{0x13, 'a', 1, 0, 0x10, 'b'}, 4); err == nil {
		t.Error("the output limit was not kept")
	}
}

// The lz4 tool's legacy frames (what the kernel's build makes) decode to
// their input, over several blocks.
func TestLZ4LegacyWithTool(t *testing.T) {
	if _, err := exec.LookPath("lz4"); err != nil {
		t.Skip("lz4 is not installed (apt-get install lz4); the other LZ4 tests still run")
	}
	rnd := rand.New(rand.NewSource(1))
	var data []byte
	for len(data) < 20<<20 { // three 8 MiB blocks
		if rnd.Intn(2) == 0 {
			data = append(data, bytes.Repeat([]byte{byte(rnd.Intn(256))}, rnd.Intn(300))...)
		} else {
			chunk := make([]byte, rnd.Intn(300))
			rnd.Read(chunk)
			data = append(data, chunk...)
		}
	}
	cmd := exec.Command("lz4", "-l", "-9", "-c")
	cmd.Stdin = bytes.NewReader(data)
	frame, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := lz4Legacy(frame)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("lz4Legacy: %d bytes, %v; want the %d bytes compressed", len(got), err, len(data))
	}
	// With the size the kernel's build appends, right and wrong.
	size := []byte{byte(len(data)), byte(len(data) >> 8), byte(len(data) >> 16), byte(len(data) >> 24)}
	if _, err := lz4Legacy(append(frame[:len(frame):len(frame)], size...)); err != nil {
		t.Errorf("with the size appended: %v", err)
	}
	size[0]++
	if _, err := lz4Legacy(append(frame[:len(frame):len(frame)], size...)); err == nil {
		t.Error("a wrong appended size was accepted")
	}
}

func TestExtractVmlinuxRefuses(t *testing.T) {
	if _, err := extractVmlinux([]byte("not a kernel")); err == nil {
		t.Error("a non-kernel was accepted")
	}
	bz := make([]byte, 4096)
	copy(bz[bzHeaderMagic:], "HdrS")
	bz[bzVersion], bz[bzVersion+1] = 0x0f, 0x02
	bz[bzSetupSects] = 1
	// The payload: 8 bytes at 1024, of no known compression.
	bz[bzPayloadOffset+1] = 0
	bz[bzPayloadLength] = 8
	copy(bz[1024:], "\x00\x01\x02\x03rest")
	if _, err := extractVmlinux(bz); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("unknown compression: %v", err)
	}
}
