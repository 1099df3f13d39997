package imagebuild

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// VMKernel is a Linux kernel for booting strato's images as virtual machines:
// Debian 12's cloud kernel (linux-image-cloud-amd64 or -arm64), made for
// hypervisors — virtio, NVMe, ACPI, no sound or graphics drivers — unpacked from
// its package into a cache directory.
type VMKernel struct {
	// Version is the kernel release, as uname -r prints it and as the
	// modules' directory is named: 6.1.0-56-cloud-amd64.
	Version string
	// Package and PackageVersion are the Debian package it came from:
	// linux-image-6.1.0-56-cloud-amd64, 6.1.192-2.
	Package, PackageVersion string
	// Dir is the package's unpacked contents (boot/, lib/modules/, usr/).
	Dir string
	// Vmlinuz is the compressed kernel image (bzImage) QEMU's -kernel takes.
	Vmlinuz string
	// Vmlinux is the same kernel uncompressed, an ELF file with a PVH entry
	// point, extracted from Vmlinuz when the package is unpacked (x86 only;
	// "" when it could not be). Given to -kernel it boots faster under TCG,
	// as the guest has nothing to decompress.
	Vmlinux string
	// ModulesDir is lib/modules/<Version> in Dir, holding the modules,
	// modules.builtin and modules.order (not modules.dep: depmod makes that
	// when the package is installed; initramfs.go reads the modules instead).
	ModulesDir string
}

// VMKernelArgs are the kernel command line parameters strato's VMs boot with,
// before root= and the instance's own. Measured under TCG on q35 (medians of 9
// to 11 boots, see docs/images.md):
//   - console=ttyS0: the console on the first serial port, which QEMU writes
//     to the instance's console log (GetConsoleOutput);
//   - quiet: the kernel prints only warnings; its 300 lines of boot messages
//     cost about 0.2 s at the emulated UART;
//   - cryptomgr.notests: skips the crypto algorithms' self-tests, the slowest
//     of the kernel's initcalls under TCG (about 0.2 s of the boot).
//
// mitigations=off, init_on_alloc=0, rcupdate.rcu_expedited=1, tsc=reliable and
// switching off q35's legacy devices (sata, smbus, i8042, vmport) were
// measured too and made no difference, so they are left out.
const VMKernelArgs = "console=ttyS0 quiet cryptomgr.notests"

// vmKernelMeta is the package the unpacked directory came from, written last
// so that a directory without it is not taken for a complete one.
const vmKernelMeta = "strato-kernel-package"

// FetchVMKernel returns Debian 12's current cloud kernel for arch (EC2's name:
// x86_64 or arm64), unpacked in cacheDir/<release>_<package version>/. It
// resolves the meta-package linux-image-cloud-<debian arch> to the kernel package
// it depends on with apt-cache, fetches that with `apt-get download` and unpacks
// it with `dpkg-deb -x`. A kernel already unpacked there is returned at once,
// without the network; when apt-cache cannot resolve the package (no package
// lists), the newest kernel in the cache is used. Progress goes to log.
//
// It needs apt-get, apt-cache and dpkg-deb (a Debian or Debian-based host) and
// package lists that name the kernel (apt-get update).
func FetchVMKernel(ctx context.Context, cacheDir, arch string, log io.Writer) (VMKernel, error) {
	if log == nil {
		log = io.Discard
	}
	darch := debianArch(arch)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return VMKernel{}, err
	}
	pkg, version, err := resolveVMKernel(ctx, darch)
	if err != nil {
		if k, cerr := newestCachedVMKernel(cacheDir, darch); cerr == nil {
			fmt.Fprintf(log, "cannot ask apt for the current kernel (%v); using the cached %s %s\n", err, k.Package, k.PackageVersion)
			return k, nil
		}
		return VMKernel{}, err
	}
	release := strings.TrimPrefix(pkg, "linux-image-")
	dir := filepath.Join(cacheDir, release+"_"+strings.ReplaceAll(version, ":", "%3a"))
	if k, err := loadVMKernel(dir); err == nil {
		return k, nil
	}
	for _, tool := range []string{"apt-get", "dpkg-deb"} {
		if err := needAptTool(tool, darch); err != nil {
			return VMKernel{}, err
		}
	}
	fmt.Fprintf(log, "fetching the VM kernel %s %s with apt-get download\n", pkg, version)
	work, err := os.MkdirTemp(cacheDir, ".fetch-")
	if err != nil {
		return VMKernel{}, err
	}
	defer os.RemoveAll(work)
	args := []string{"-q", "download"}
	if os.Geteuid() == 0 {
		// As root, apt hands the download to its unprivileged _apt user,
		// which cannot write into our directory; apt then downloads as root
		// anyway, with a warning. Saying so up front removes the warning.
		// The package is still checked against the signed archive.
		args = append(args, "-o", "APT::Sandbox::User=root")
	}
	args = append(args, pkg+archSuffix(darch)+"="+version)
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		return VMKernel{}, fmt.Errorf("imagebuild: apt-get download %s=%s failed (is the Debian mirror reachable? run apt-get update if the package lists are old): %v: %s",
			pkg, version, err, bytes.TrimSpace(out))
	}
	debs, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	if len(debs) != 1 {
		return VMKernel{}, fmt.Errorf("imagebuild: apt-get download %s left %d packages, want 1", pkg, len(debs))
	}
	unpacked := filepath.Join(work, "unpacked")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], unpacked).CombinedOutput(); err != nil {
		return VMKernel{}, fmt.Errorf("imagebuild: dpkg-deb -x %s: %v: %s", filepath.Base(debs[0]), err, bytes.TrimSpace(out))
	}
	if darch == "amd64" {
		vmlinux := filepath.Join(unpacked, "boot", "vmlinux-"+release)
		if err := writeVmlinux(filepath.Join(unpacked, "boot", "vmlinuz-"+release), vmlinux); err != nil {
			fmt.Fprintf(log, "no uncompressed kernel for PVH boot (%v): VMs boot the bzImage\n", err)
		}
	}
	meta := fmt.Sprintf("Package: %s\nVersion: %s\nRelease: %s\n", pkg, version, release)
	if err := os.WriteFile(filepath.Join(unpacked, vmKernelMeta), []byte(meta), 0o644); err != nil {
		return VMKernel{}, err
	}
	if _, err := loadVMKernel(unpacked); err != nil {
		return VMKernel{}, fmt.Errorf("imagebuild: %s: %w", pkg, err)
	}
	// The rename makes the kernel appear whole or not at all; a concurrent
	// fetch of the same version may have won, which is as good.
	if err := os.Rename(unpacked, dir); err != nil {
		if k, lerr := loadVMKernel(dir); lerr == nil {
			return k, nil
		}
		return VMKernel{}, err
	}
	fmt.Fprintf(log, "VM kernel %s unpacked in %s\n", release, dir)
	return loadVMKernel(dir)
}

// needAptTool says what is missing when a tool FetchVMKernel runs is not
// installed.
func needAptTool(tool, darch string) error {
	if _, err := exec.LookPath(tool); err != nil {
		return fmt.Errorf("imagebuild: %s is not installed: the VM kernel is Debian's linux-image-cloud-%s, fetched with apt (a Debian host)", tool, darch)
	}
	return nil
}

// archSuffix names a foreign architecture's package (apt needs
// dpkg --add-architecture for it); the host's needs nothing.
func archSuffix(darch string) string {
	if darch == debianArch(HostArchitecture()) {
		return ""
	}
	return ":" + darch
}

// resolveVMKernel asks apt which kernel package linux-image-cloud-<darch>'s
// candidate version depends on, and that package's version.
func resolveVMKernel(ctx context.Context, darch string) (pkg, version string, err error) {
	meta := "linux-image-cloud-" + darch
	if err := needAptTool("apt-cache", darch); err != nil {
		return "", "", err
	}
	fields, err := aptCacheShow(ctx, meta+archSuffix(darch))
	if err != nil {
		hint := "run apt-get update"
		if archSuffix(darch) != "" {
			hint = "dpkg --add-architecture " + darch + " && apt-get update"
		}
		return "", "", fmt.Errorf("imagebuild: apt-cache does not know %s (%s): %w", meta, hint, err)
	}
	pkg, version, ok := kernelDependency(fields["Depends"])
	if !ok {
		return "", "", fmt.Errorf("imagebuild: %s depends on no linux-image package (Depends: %q)", meta, fields["Depends"])
	}
	if version == "" {
		kf, err := aptCacheShow(ctx, pkg+archSuffix(darch))
		if err != nil {
			return "", "", fmt.Errorf("imagebuild: apt-cache show %s: %w", pkg, err)
		}
		version = kf["Version"]
	}
	if version == "" {
		return "", "", fmt.Errorf("imagebuild: apt-cache gives no version of %s", pkg)
	}
	return pkg, version, nil
}

// kernelDepRE finds the versioned kernel package in a meta-package's Depends:
// linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2).
var kernelDepRE = regexp.MustCompile(`(?:^|[\s,|])(linux-image-[0-9][^\s,(|]*)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?`)

// kernelDependency returns the first kernel package a Depends field names and
// the exact version it asks for ("" when it names none).
func kernelDependency(depends string) (pkg, version string, ok bool) {
	m := kernelDepRE.FindStringSubmatch(depends)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// aptCacheShow returns the fields of the candidate version's record.
func aptCacheShow(ctx context.Context, pkg string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "apt-cache", "show", "--no-all-versions", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // one record: the candidate's
		}
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			fields[k] = strings.TrimSpace(v)
		}
	}
	if fields["Package"] == "" {
		return nil, errors.New("no package record")
	}
	return fields, nil
}

// loadVMKernel reads a complete unpacked kernel directory.
func loadVMKernel(dir string) (VMKernel, error) {
	meta, err := os.ReadFile(filepath.Join(dir, vmKernelMeta))
	if err != nil {
		return VMKernel{}, err
	}
	k := VMKernel{Dir: dir}
	for _, line := range strings.Split(string(meta), "\n") {
		key, v, _ := strings.Cut(line, ": ")
		switch key {
		case "Package":
			k.Package = v
		case "Version":
			k.PackageVersion = v
		case "Release":
			k.Version = v
		}
	}
	if k.Version == "" {
		return VMKernel{}, fmt.Errorf("%s names no kernel release", filepath.Join(dir, vmKernelMeta))
	}
	k.Vmlinuz = filepath.Join(dir, "boot", "vmlinuz-"+k.Version)
	k.ModulesDir = filepath.Join(dir, "lib", "modules", k.Version)
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return VMKernel{}, fmt.Errorf("the package holds no kernel image: %w", err)
	}
	if vmlinux := filepath.Join(dir, "boot", "vmlinux-"+k.Version); fileExists(vmlinux) {
		k.Vmlinux = vmlinux
	}
	if _, err := os.Stat(filepath.Join(k.ModulesDir, "modules.builtin")); err != nil {
		return VMKernel{}, fmt.Errorf("the package holds no modules: %w", err)
	}
	return k, nil
}

// newestCachedVMKernel is the most recently unpacked kernel for darch in
// cacheDir, for hosts that cannot ask apt.
func newestCachedVMKernel(cacheDir, darch string) (VMKernel, error) {
	dirs, _ := filepath.Glob(filepath.Join(cacheDir, "*-cloud-"+darch+"_*"))
	var best VMKernel
	var bestTime int64
	for _, d := range dirs {
		k, err := loadVMKernel(d)
		if err != nil {
			continue
		}
		st, err := os.Stat(filepath.Join(d, vmKernelMeta))
		if err != nil {
			continue
		}
		if t := st.ModTime().UnixNano(); best.Version == "" || t > bestTime {
			best, bestTime = k, t
		}
	}
	if best.Version == "" {
		return VMKernel{}, fmt.Errorf("no %s kernel in %s", darch, cacheDir)
	}
	return best, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
