package vpcnet

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Network namespaces are kept alive by bind mounts of their nsfs inode onto files under the
// run directory, as `ip netns add` does under /run/netns: the namespace outlives strato, so
// instances keep their network across a restart of strato, and Open finds it again by name.

// ensureRunDir makes dir a mount point with shared propagation, as iproute2 does for
// /run/netns, so that unmounting a namespace file also unmounts the copies other mount
// namespaces (made later, e.g. by a container runtime) inherited: otherwise such a copy
// would keep a deleted namespace, and its links, alive.
func ensureRunDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if !mounted {
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mounting %s onto itself: %w", dir, err)
		}
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making %s a shared mount: %w", dir, err)
	}
	return nil
}

// releaseRunDir undoes ensureRunDir when nothing is left in dir (another prefix may share it).
func releaseRunDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || len(entries) > 0 {
		return err
	}
	if mounted, err := isMountPoint(dir); err != nil {
		return err
	} else if mounted {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// isMountPoint reports whether path is the mount point of an entry of this process's mount
// table (a bind mount of a directory onto itself has the same device as its parent, so the
// table is the only reliable witness).
func isMountPoint(path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == abs {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountPath undoes the octal escapes (\040 for a space …) of /proc/self/mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isNamespaceFile reports whether path is a bind mount of a network namespace.
func isNamespaceFile(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	return st.Type == unix.NSFS_MAGIC, nil
}

// ensureNamespace makes the network namespace bind-mounted at path unless it already is,
// and brings its loopback up. A file left from before a reboot (not a mount any more) is
// reused.
func ensureNamespace(path string) error {
	ok, err := isNamespaceFile(path)
	if err != nil {
		return err
	}
	if !ok {
		if err := createNamespace(path); err != nil {
			return err
		}
	}
	return withHandle(path, func(h *netlink.Handle) error {
		lo, err := h.LinkByName("lo")
		if err != nil {
			return err
		}
		return h.LinkSetUp(lo)
	})
}

func createNamespace(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	done := make(chan error, 1)
	go func() {
		// The thread is locked and never unlocked: unshare moves it into the new namespace
		// and the runtime ends a thread whose goroutine exits locked, so no other goroutine
		// ever runs in it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			done <- fmt.Errorf("bind-mounting the namespace on %s: %w", path, err)
			return
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// removeNamespace unmounts and deletes a namespace file; the namespace itself goes when the
// last process and socket in it are gone. A missing file is fine.
func removeNamespace(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// inNamespace runs fn on an OS thread that has entered the namespace at path: sockets fn
// opens belong to that namespace, and /proc/sys/net shows that namespace's settings. fn must
// not rely on goroutines it starts being in the namespace.
func inNamespace(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		origin, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer origin.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("entering %s: %w", path, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(origin.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime discards it when this goroutine ends.
			done <- errors.Join(fnErr, fmt.Errorf("leaving %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// withHandle runs fn with a netlink handle whose sockets live in the namespace at path.
func withHandle(path string, fn func(*netlink.Handle) error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	return fn(h)
}

// setSysctls writes /proc/sys/net/… values from inside the namespace at path (the
// namespace of the writing thread decides which namespace's setting changes).
func setSysctls(path string, values map[string]string) error {
	return inNamespace(path, func() error {
		for key, value := range values {
			file := "/proc/sys/net/" + strings.ReplaceAll(key, ".", "/")
			if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
			}
		}
		return nil
	})
}

// linkList lists a namespace's links. A dump that links changed under (a veth going
// away as its peer's namespace ends) is marked interrupted by the kernel; it is asked
// again, a few times, rather than failing the caller.
func linkList(h *netlink.Handle) ([]netlink.Link, error) {
	for attempt := 0; ; attempt++ {
		links, err := h.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || attempt == 4 {
			return links, err
		}
	}
}
