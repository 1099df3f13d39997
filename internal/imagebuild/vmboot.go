package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The kernel strato boots its images with as virtual machines lives in the data
// directory: DATA/vm-boot/<kernel release>/ holds kernel (what QEMU boots) and initramfs.img, and
// DATA/vm-boot/current is a link to the one in use, replaced in one rename when
// another is installed (a machine that booted the old one keeps its files open).

// VMBootFiles are a kernel and its initramfs for virtual machines.
type VMBootFiles struct {
	Version   string // the kernel release (uname -r)
	Kernel    string // what QEMU boots (-kernel)
	Initramfs string // initramfs.img
}

// Names inside DATA/vm-boot.
const (
	vmBootCurrent   = "current"
	vmBootKernel    = "kernel"
	vmBootInitramfs = "initramfs.img"
)

// VMBootDir is where the data directory keeps its virtual machines' kernels.
func VMBootDir(dataDir string) string { return filepath.Join(dataDir, "vm-boot") }

// InstalledVMBoot is the kernel and initramfs installed in the data directory; ok is
// false when none is.
func InstalledVMBoot(dataDir string) (files VMBootFiles, ok bool, err error) {
	dir, err := filepath.EvalSymlinks(filepath.Join(VMBootDir(dataDir), vmBootCurrent))
	if errors.Is(err, fs.ErrNotExist) {
		return VMBootFiles{}, false, nil
	}
	if err != nil {
		return VMBootFiles{}, false, err
	}
	files = VMBootFiles{Version: filepath.Base(dir), Kernel: filepath.Join(dir, vmBootKernel), Initramfs: filepath.Join(dir, vmBootInitramfs)}
	for _, f := range []string{files.Kernel, files.Initramfs} {
		if _, err := os.Stat(f); err != nil {
			return VMBootFiles{}, false, fmt.Errorf("imagebuild: the installed VM kernel %s is incomplete: %w", files.Version, err)
		}
	}
	return files, true, nil
}

// InstallVMBoot fetches Debian's cloud kernel (FetchVMKernel, keeping the package in
// cacheDir; "" means DATA/vm-boot/cache), builds its initramfs and makes both the
// current ones of the data directory. The kernel QEMU is given is the uncompressed
// one with a PVH entry point where there is one (it boots faster: nothing to
// decompress), else the compressed one.
func InstallVMBoot(ctx context.Context, dataDir, cacheDir, arch string, log io.Writer) (VMBootFiles, error) {
	if cacheDir == "" {
		cacheDir = filepath.Join(VMBootDir(dataDir), "cache")
	}
	k, err := FetchVMKernel(ctx, cacheDir, arch, log)
	if err != nil {
		return VMBootFiles{}, err
	}
	dir := filepath.Join(VMBootDir(dataDir), k.Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return VMBootFiles{}, err
	}
	files := VMBootFiles{Version: k.Version, Kernel: filepath.Join(dir, vmBootKernel), Initramfs: filepath.Join(dir, vmBootInitramfs)}
	kernel := k.Vmlinux
	if kernel == "" {
		kernel = k.Vmlinuz
	}
	if err := linkOrCopy(kernel, files.Kernel); err != nil {
		return VMBootFiles{}, fmt.Errorf("imagebuild: installing the VM kernel: %w", err)
	}
	if err := BuildInitramfs(ctx, k, files.Initramfs); err != nil {
		return VMBootFiles{}, err
	}
	if err := installVMBoot(dataDir, dir); err != nil {
		return VMBootFiles{}, fmt.Errorf("imagebuild: installing the VM kernel: %w", err)
	}
	return files, nil
}

// linkOrCopy puts the file from at to: a hard link when both are on one file system
// (the kernel is 53 MB), a copy otherwise.
func linkOrCopy(from, to string) error {
	os.Remove(to)
	if err := os.Link(from, to); err == nil {
		return nil
	}
	return copyFile(from, to, 0o644)
}

// installVMBoot makes the kernel and initramfs in dir (DATA/vm-boot/<release>) the
// current ones.
func installVMBoot(dataDir, dir string) error {
	link := filepath.Join(VMBootDir(dataDir), vmBootCurrent)
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}
