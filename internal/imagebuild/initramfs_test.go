package imagebuild

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// missingForVM skips the test saying why, or fails it when
// STRATO_TEST_REQUIRE_TOOLS is set (CI installs everything and sets it).
func missingForVM(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// testVMKernel returns Debian's cloud kernel for x86_64 from a cache kept across
// test runs, as Go keeps its build cache: STRATO_TEST_VMKERNEL_CACHE, else
// strato-test/vmkernel in the user's cache directory. The first run downloads
// the package (27 MB) from the Debian mirror; later runs need no network.
func testVMKernel(t testing.TB) VMKernel {
	t.Helper()
	cache := testVMKernelCache(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	k, err := FetchVMKernel(ctx, cache, "x86_64", &log)
	if log.Len() > 0 {
		t.Logf("%s", strings.TrimSpace(log.String()))
	}
	if err != nil {
		missingForVM(t, "no VM kernel (needs apt and the Debian mirror): %v", err)
	}
	return k
}

// testVMKernelCache is where the tests keep the kernel package across runs.
func testVMKernelCache(t testing.TB) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the VM tests boot an x86_64 kernel; this host is %s", runtime.GOARCH)
	}
	if cache := os.Getenv("STRATO_TEST_VMKERNEL_CACHE"); cache != "" {
		return cache
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		missingForVM(t, "no cache directory for the VM kernel (set STRATO_TEST_VMKERNEL_CACHE): %v", err)
	}
	return filepath.Join(dir, "strato-test", "vmkernel")
}

// testInitramfs builds the initramfs for k in a test directory.
func testInitramfs(t testing.TB, k VMKernel) string {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); err != nil {
		missingForVM(t, "busybox-static is not installed")
	}
	out := filepath.Join(t.TempDir(), "initrd.gz")
	if err := BuildInitramfs(context.Background(), k, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The /init script is valid sh for busybox.
func TestInitScriptSyntax(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		missingForVM(t, "busybox-static is not installed")
	}
	cmd := exec.Command(BusyboxPath, "sh", "-n")
	cmd.Stdin = strings.NewReader(initScript)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox sh -n: %v: %s", err, out)
	}
}

func TestSoftdepsPre(t *testing.T) {
	got := softdepsPre("pre: crc32c crc16 post: foo")
	if !slices.Equal(got, []string{"crc32c", "crc16"}) {
		t.Errorf("softdepsPre = %q", got)
	}
	if got := softdepsPre("post: foo"); len(got) != 0 {
		t.Errorf("post only: %q", got)
	}
}

// The initramfs holds /init, busybox and its links, /dev/console and the
// modules in an order where each follows what it depends on.
func TestInitramfsContents(t *testing.T) {
	k := testVMKernel(t)
	path := testInitramfs(t, k)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Under TCG the kernel inflates and unpacks it slowly: keep it small.
	if st.Size() > 10<<20 {
		t.Errorf("the initramfs is %d bytes; keep it under 10 MB", st.Size())
	}
	t.Logf("initramfs: %d bytes", st.Size())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]cpioEntry{}
	var names []string
	for _, e := range readCpio(t, raw) {
		entries[e.name] = e
		names = append(names, e.name)
	}
	// Directories come before what they hold.
	for i, n := range names {
		if dir := filepath.Dir(n); dir != "." && !slices.Contains(names[:i], dir) {
			t.Errorf("%s comes before its directory", n)
		}
	}
	if e := entries["init"]; e.mode != 0o100755 || string(e.data) != initScript {
		t.Errorf("/init: mode %o, %d bytes", e.mode, len(e.data))
	}
	if e := entries["dev/console"]; e.mode != 0o020600 || e.rdevmajor != 5 || e.rdevmin != 1 {
		t.Errorf("/dev/console: %+v", e)
	}
	if e := entries["bin/busybox"]; e.mode&0o111 == 0 || len(e.data) < 500<<10 {
		t.Errorf("/bin/busybox: mode %o, %d bytes", e.mode, len(e.data))
	}
	for _, a := range initramfsApplets {
		if e := entries["bin/"+a]; e.mode != 0o120777 || string(e.data) != "busybox" {
			t.Errorf("/bin/%s is not a link to busybox", a)
		}
	}
	km, err := readKernelModules(k.ModulesDir)
	if err != nil {
		t.Fatal(err)
	}
	order := strings.Fields(string(entries[initramfsLoadList].data))
	loaded := map[string]bool{}
	for _, file := range order {
		name := moduleName(file)
		e, ok := entries["lib/modules/"+file]
		if !ok || !bytes.HasPrefix(e.data, []byte("\x7fELF")) {
			t.Errorf("%s is listed but not in the archive", file)
			continue
		}
		info, err := km.modinfo(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, deps := range info["depends"] {
			for _, d := range strings.Split(deps, ",") {
				if d != "" && !loaded[moduleName(d)] && !km.builtin[moduleName(d)] {
					t.Errorf("%s is loaded before %s, which it depends on", name, d)
				}
			}
		}
		loaded[name] = true
	}
	for _, m := range InitramfsModules {
		if !loaded[m] && !km.builtin[m] {
			t.Errorf("module %s is neither loaded nor built in", m)
		}
	}
	t.Logf("modules, in load order: %s", strings.Join(order, " "))
}

// A root file system that needs nothing but busybox: its init prints the marker
// with its uptime (seconds since the kernel started) and powers off.
const vmMarker = "STRATO-VM-MARKER"

func markerRoot(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(BusyboxPath, filepath.Join(root, "bin/busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(root, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	init := "#!/bin/sh\nread up _ < /proc/uptime\necho \"" + vmMarker + " uptime=$up\"\n/bin/busybox poweroff -f\n"
	if err := os.WriteFile(filepath.Join(root, "sbin/init"), []byte(init), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func needQEMU(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missingForVM(t, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
	}
	if _, err := exec.LookPath("mke2fs"); err != nil {
		missingForVM(t, "mke2fs is not installed (apt-get install e2fsprogs)")
	}
}

// testDisk makes a disk as strato's images are from root.
func testDisk(t testing.TB, root string, size int64) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := Disk(context.Background(), root, disk, size, RootLabel); err != nil {
		t.Fatal(err)
	}
	return disk
}

// vmBoot is what one boot showed.
type vmBoot struct {
	console  string
	toMarker time.Duration // QEMU's start to the marker on the console
	uptime   string        // the guest's uptime the marker line gives
}

// bootVM boots kernel and initrd under TCG on q35 with disk as a virtio-blk
// device, a virtio RNG, the console on the first serial port, and waits (at most
// timeout) for QEMU to exit. As docs/images.md says VMs run: no default devices,
// no network.
func bootVM(t testing.TB, kernel, initrd, disk, cmdline string, timeout time.Duration, extra ...string) (vmBoot, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"-accel", "tcg", "-machine", "q35", "-m", "256",
		"-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
		"-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd, "-append", cmdline,
		"-drive", "if=none,id=root,file=" + disk + ",format=raw",
		"-device", "virtio-blk-pci,drive=root,serial=vol-root",
		"-device", "virtio-rng-pci"}, extra...)
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return vmBoot{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return vmBoot{}, err
	}
	var b vmBoot
	var console strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		console.WriteString(line + "\n")
		if i := strings.Index(line, vmMarker); i >= 0 && b.toMarker == 0 {
			b.toMarker = time.Since(start)
			_, b.uptime, _ = strings.Cut(line[i:], "uptime=")
		}
	}
	err = cmd.Wait()
	b.console = console.String()
	if ctx.Err() != nil {
		return b, fmt.Errorf("QEMU did not exit within %v (killed)", timeout)
	}
	if err != nil {
		return b, fmt.Errorf("qemu: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return b, nil
}

// VMKernelArgs and the root of strato's images.
var testCmdline = VMKernelArgs + " root=LABEL=" + RootLabel

// Boots that reach the root file system's init and power off: the marker disk
// with the PVH kernel and with the bzImage, the minimal image's root file
// system, and a missing root device, which must fail in bounded time.
func TestVMBoot(t *testing.T) {
	needQEMU(t)
	k := testVMKernel(t)
	initrd := testInitramfs(t, k)
	disk := testDisk(t, markerRoot(t), 64<<20)
	const limit = 120 * time.Second

	check := func(t *testing.T, b vmBoot, err error, want string) {
		t.Helper()
		if err != nil || !strings.Contains(b.console, want) {
			t.Fatalf("no %q on the console (%v):\n%s", want, err, b.console)
		}
	}
	t.Run("pvh", func(t *testing.T) {
		if k.Vmlinux == "" {
			t.Fatal("no uncompressed kernel was extracted")
		}
		b, err := bootVM(t, k.Vmlinux, initrd, disk, testCmdline, limit)
		check(t, b, err, vmMarker)
		t.Logf("TCG, PVH kernel: marker %v after QEMU's start, guest uptime %s s", b.toMarker.Round(time.Millisecond), b.uptime)
		if !strings.Contains(b.console, "strato-initramfs: root LABEL="+RootLabel+" is /dev/vda1") {
			t.Errorf("the initramfs did not say which device is the root:\n%s", b.console)
		}
	})
	t.Run("bzImage", func(t *testing.T) {
		// strato.init wins over init.
		b, err := bootVM(t, k.Vmlinuz, initrd, disk, testCmdline+" init=/nonexistent strato.init=/sbin/init", limit)
		check(t, b, err, vmMarker)
		t.Logf("TCG, bzImage: marker %v after QEMU's start, guest uptime %s s", b.toMarker.Round(time.Millisecond), b.uptime)
	})
	t.Run("minimal image", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "root")
		if err := MinimalRoot(context.Background(), root, staticHelper(t)); err != nil {
			t.Fatal(err)
		}
		disk := testDisk(t, root, minimalDiskSize)
		// Its own init starts the helper, which expects a container; a
		// shell proves the kernel reached its root. Arguments after --
		// are the init's.
		cmdline := testCmdline + ` init=/bin/sh -- -c "echo ` + vmMarker + ` uptime=minimal; poweroff -f"`
		b, err := bootVM(t, k.Vmlinux, initrd, disk, cmdline, limit)
		check(t, b, err, vmMarker+" uptime=minimal")
		t.Logf("TCG, minimal image: marker %v after QEMU's start", b.toMarker.Round(time.Millisecond))
	})
	t.Run("no root device", func(t *testing.T) {
		// panic=-1 and -no-reboot: the kernel's panic after /init gives up
		// ends QEMU.
		b, err := bootVM(t, k.Vmlinux, initrd, disk, VMKernelArgs+" root=LABEL=missing strato.rootwait=2 panic=-1", limit, "-no-reboot")
		check(t, b, err, "strato-initramfs: FATAL: root device LABEL=missing did not appear within 2 s")
		check(t, b, err, "strato-initramfs: block devices: vda vda1\n")
		if strings.Contains(b.console, vmMarker) {
			t.Error("booted without its root device")
		}
	})
}

// staticHelper builds strato (the instance helper of the minimal image) from
// this tree, statically, as strato's own build does.
func staticHelper(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "strato")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/strato")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v: %s", err, b)
	}
	return out
}

// BenchmarkVMBoot boots the marker disk under TCG (QEMU's start to QEMU's exit
// after the guest's init ran): go test -run '^$' -bench VMBoot -benchtime 5x.
// It reports the guest's own boot time (kernel start to init) as uptime-s.
func BenchmarkVMBoot(b *testing.B) {
	needQEMU(b)
	k := testVMKernel(b)
	initrd := testInitramfs(b, k)
	disk := testDisk(b, markerRoot(b), 64<<20)
	for _, kernel := range []struct{ name, path string }{{"pvh", k.Vmlinux}, {"bzImage", k.Vmlinuz}} {
		b.Run(kernel.name, func(b *testing.B) {
			var uptime float64
			for i := 0; i < b.N; i++ {
				vb, err := bootVM(b, kernel.path, initrd, disk, testCmdline, 120*time.Second)
				if err != nil || vb.uptime == "" {
					b.Fatalf("%v:\n%s", err, vb.console)
				}
				var u float64
				fmt.Sscan(vb.uptime, &u)
				uptime += u
			}
			b.ReportMetric(uptime/float64(b.N), "uptime-s")
		})
	}
}
