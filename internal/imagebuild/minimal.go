package imagebuild

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BusyboxPath is where Debian's busybox-static package puts its binary.
const BusyboxPath = "/bin/busybox"

// MinimalUser is the default user of the minimal image (EC2's convention for
// images that are not Debian's or Ubuntu's).
const MinimalUser = "ec2-user"

// MinimalRoot fills dir with the minimal image's root file system: a statically
// linked busybox with a link per applet, the files a Linux userland expects, and,
// when helper is not empty, that binary (strato's instance helper) as
// /usr/local/sbin/strato. It takes a second or so.
func MinimalRoot(ctx context.Context, dir, helper string) error {
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/sbin", "etc", "dev", "proc", "sys",
		"tmp", "run", "root", "var/log", "home/" + MinimalUser, "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp"} {
		if err := os.Chmod(filepath.Join(dir, d), 0o1777); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "root"), 0o700); err != nil {
		return err
	}
	if err := copyFile(BusyboxPath, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return fmt.Errorf("imagebuild: busybox (apt-get install busybox-static): %w", err)
	}
	out, err := exec.CommandContext(ctx, BusyboxPath, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("imagebuild: busybox --list-full: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		applet := strings.TrimSpace(sc.Text())
		if applet == "" || applet == "bin/busybox" {
			continue
		}
		link := filepath.Join(dir, applet)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", link); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\n" + MinimalUser + ":x:1000:1000:EC2 Default User:/home/" + MinimalUser + ":/bin/sh\n",
		"etc/group":    "root:x:0:\ndisk:x:6:" + MinimalUser + "\nwheel:x:10:" + MinimalUser + "\n" + MinimalUser + ":x:1000:\n",
		"etc/shadow":   "root:*:19000:0:99999:7:::\n" + MinimalUser + ":*:19000:0:99999:7:::\n",
		"etc/hostname": "localhost\n",
		"etc/hosts":    "127.0.0.1 localhost\n::1 localhost\n",
		"etc/os-release": "NAME=\"strato minimal\"\nID=strato-minimal\nPRETTY_NAME=\"strato minimal (busybox)\"\n" +
			"HOME_URL=\"https://github.com/strato\"\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		switch name {
		case "etc/shadow":
			mode = 0o640
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return err
		}
	}
	if err := os.Chown(filepath.Join(dir, "home", MinimalUser), 1000, 1000); err != nil && !os.IsPermission(err) {
		return err
	}
	if helper != "" {
		if err := copyFile(helper, filepath.Join(dir, MinimalHelperPath), 0o755); err != nil {
			return fmt.Errorf("imagebuild: instance helper: %w", err)
		}
		// Booted as a virtual machine, the kernel (through the initramfs) starts
		// /sbin/init: the helper, which runs as `strato guest-init --vm` under that
		// name. The container driver starts its own copy of the helper instead.
		initLink := filepath.Join(dir, "sbin/init")
		if err := os.Remove(initLink); err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := os.Symlink("/"+MinimalHelperPath, initLink); err != nil {
			return err
		}
	}
	return nil
}

// MinimalHelperPath is where the minimal image holds the instance helper.
const MinimalHelperPath = "usr/local/sbin/strato"

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
