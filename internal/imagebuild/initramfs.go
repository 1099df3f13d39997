package imagebuild

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// InitramfsModules are the kernel modules the initramfs loads, with everything
// they depend on: what it takes to find and mount the root disk (virtio-blk on
// PCI, ext4, both possibly built in) and what the instance needs later, when the
// initramfs is gone — a module loaded here stays loaded after switch_root, and
// the images carry no modules of their own:
//   - virtio_net, for the instance's interfaces;
//   - button and evdev, so that QEMU's ACPI power button (system_powerdown,
//     how strato stops an instance) reaches the guest as an input event that
//     systemd-logind or busybox acpid turns into a shutdown;
//   - virtio_rng: with QEMU's virtio-rng-pci device the kernel's random
//     number generator is ready before the root's init runs. TCG's default
//     CPU has no RDRAND, and without a source getrandom() (sshd's first host
//     keys, cloud-init) may wait.
var InitramfsModules = []string{"virtio_pci", "virtio_blk", "ext4", "virtio_net", "button", "evdev", "virtio_rng"}

// initramfsApplets are the busybox applets /init calls, linked in /bin.
var initramfsApplets = []string{"sh", "mount", "umount", "insmod", "switch_root", "findfs", "sleep", "cat", "ls"}

// initramfsLoadList names, one per line, the modules /init loads in order.
const initramfsLoadList = "lib/modules/load-order"

// BuildInitramfs writes to out a gzip-compressed newc cpio archive for booting k
// (see docs/images.md, "Booting as a virtual machine"): a static busybox
// (BusyboxPath, from busybox-static), the modules of InitramfsModules with their
// dependencies, and /init, which mounts the root file system the kernel command
// line names (root=LABEL=cloudimg-rootfs for strato's images) and switches to
// its init. It stays small (about 1.2 MB) because under TCG the kernel unpacks
// it slowly.
func BuildInitramfs(ctx context.Context, k VMKernel, out string) error {
	km, err := readKernelModules(k.ModulesDir)
	if err != nil {
		return fmt.Errorf("imagebuild: initramfs for %s: %w", k.Version, err)
	}
	mods, err := km.loadOrder(InitramfsModules)
	if err != nil {
		return fmt.Errorf("imagebuild: initramfs for %s: %w", k.Version, err)
	}
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("imagebuild: initramfs: busybox (apt-get install busybox-static): %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".initramfs-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	// gzip, as every kernel can unpack it and the standard library writes
	// it: at this size, an uncompressed or LZ4 archive booted no faster.
	zw, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
	if err != nil {
		tmp.Close()
		return err
	}
	if err := writeInitramfs(zw, km, mods, busybox); err != nil {
		tmp.Close()
		return fmt.Errorf("imagebuild: initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// writeInitramfs writes the archive's entries, directories before their
// contents, with a fixed time so that the same inputs give the same archive.
func writeInitramfs(w io.Writer, km *kernelModules, mods []string, busybox []byte) error {
	c := newCpioWriter(w, 0)
	for _, d := range []string{"bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"} {
		if err := c.Dir(d, 0o755); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for /init's standard input and output
	// before /init runs, so before devtmpfs is mounted: without this node
	// /init would run with no console at all.
	if err := c.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := c.File("bin/busybox", 0o755, busybox); err != nil {
		return err
	}
	for _, a := range initramfsApplets {
		if err := c.Symlink("bin/"+a, "busybox"); err != nil {
			return err
		}
	}
	var list bytes.Buffer
	for _, rel := range mods {
		data, err := os.ReadFile(filepath.Join(km.dir, rel))
		if err != nil {
			return err
		}
		// Flat: /init loads by the names in the list, so the tree of
		// directories the package has is not needed.
		name := filepath.Base(rel)
		if err := c.File("lib/modules/"+name, 0o644, data); err != nil {
			return err
		}
		list.WriteString(name + "\n")
	}
	if err := c.File(initramfsLoadList, 0o644, list.Bytes()); err != nil {
		return err
	}
	if err := c.File("init", 0o755, []byte(initScript)); err != nil {
		return err
	}
	return c.Close()
}

// initScript is the initramfs's /init, run by busybox sh as PID 1. Its command
// line parameters (read from /proc/cmdline, values without spaces; the kernel
// does not hand them to init because it knows them or because they have a dot):
//
//	root=LABEL=x | UUID=x | /dev/x   the root file system (required)
//	rootfstype=T, rootflags=O        its type (default: probed) and mount options
//	ro | rw                          mount it read-only or read-write (default rw)
//	init=PATH, strato.init=PATH      the init to run in it (default /sbin/init;
//	                                 strato.init wins over init)
//	strato.rootwait=SECONDS          how long to wait for the root device (10)
//
// Arguments after "--" on the command line are the kernel's arguments for init:
// /init receives them and passes them on, so `init=/bin/sh -- -c "echo hi"`
// runs sh -c "echo hi" in the root file system.
//
// When the root device does not appear or cannot be mounted, /init says so on
// the console and exits, and the kernel panics (Attempted to kill init), as it
// does without an initramfs: panic= on the command line and QEMU's -no-reboot
// decide what happens next.
const initScript = `#!/bin/sh
# strato's initramfs: find the root file system, mount it, switch to its init.
export PATH=/bin
say() { echo "strato-initramfs: $*"; }
fail() {
	say "FATAL: $*"
	say "block devices:" $(ls /sys/class/block 2>/dev/null)
	say "kernel command line: $(cat /proc/cmdline)"
	exit 1
}

mount -t proc proc /proc
read -r t_init _ < /proc/uptime
mount -t sysfs sysfs /sys
# devtmpfs: the kernel makes the device nodes itself, so no mdev or udev.
mount -t devtmpfs devtmpfs /dev

# Modules in dependency order (the list is made from their .modinfo).
while read -r m; do
	insmod "/lib/modules/$m" || say "cannot load $m"
done < /lib/modules/load-order
read -r t_mods _ < /proc/uptime

root= init= sinit= fstype= flags= mode=rw wait=10
set -f # the command line is split into words, never globbed
for arg in $(cat /proc/cmdline); do
	val=${arg#*=}
	val=${val#\"}
	val=${val%\"}
	case "$arg" in
	--) break ;;
	root=*) root=$val ;;
	init=*) init=$val ;;
	strato.init=*) sinit=$val ;;
	rootfstype=*) fstype=$val ;;
	rootflags=*) flags=$val ;;
	strato.rootwait=*) wait=$val ;;
	ro | rw) mode=$arg ;;
	esac
done
set +f
init=${sinit:-${init:-/sbin/init}}
[ -n "$root" ] || fail "no root= on the kernel command line"

# The device shows up once its driver has probed it, which under TCG can take
# a moment after insmod returns: poll, bounded, rather than fail at once.
dev=
tries=$((wait * 10))
while :; do
	case "$root" in
	LABEL=* | UUID=*) dev=$(findfs "$root" 2>/dev/null) ;;
	/dev/*) [ -b "$root" ] && dev=$root ;;
	*) fail "root=$root: say LABEL=, UUID= or /dev/..." ;;
	esac
	[ -n "$dev" ] && break
	tries=$((tries - 1))
	[ "$tries" -gt 0 ] || fail "root device $root did not appear within $wait s"
	sleep 0.1
done
read -r t_dev _ < /proc/uptime
# One line of timing (seconds since the kernel started) for the console log.
say "root $root is $dev (init at $t_init s, modules loaded at $t_mods s, device found at $t_dev s)"

mount ${fstype:+-t "$fstype"} -o "$mode${flags:+,$flags}" "$dev" /newroot ||
	fail "cannot mount $dev on / ($mode${flags:+,$flags})"
# The root's init finds /dev, /proc and /sys mounted, as with Debian's
# initramfs; where the root has no such directory they are left behind.
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" 2>/dev/null || umount -l "/$d"
done
# switch_root frees the initramfs's memory and execs init as PID 1.
exec switch_root /newroot "$init" "$@"
`
