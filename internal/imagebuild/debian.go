package imagebuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DebianUser is the default user of the Debian image, as in Debian's own EC2 images.
const DebianUser = "admin"

// DebianMirror is where debootstrap fetches Debian from, unless the caller says.
const DebianMirror = "http://deb.debian.org/debian"

// debianPackages are installed beyond debootstrap's minimal base: SSH and
// cloud-init, which configures the instance from strato's metadata service
// (user, SSH key, hostname, user data), and what an EC2 user expects to find.
// debootstrap does not resolve virtual packages, so the providers of those
// cloud-init's dependencies need are named here (python3-cffi-backend provides
// python3-cryptography's python3-cffi-backend-api-min/max). udev and dbus are
// for booting as a virtual machine: udev names hot-plugged disks (see
// ebsNamesRule) and systemd-logind, which needs dbus, turns the ACPI power
// button the qemu driver presses at StopInstances into a clean shutdown.
var debianPackages = []string{
	"systemd-sysv", "udev", "dbus", "openssh-server", "cloud-init", "sudo", "ca-certificates", "curl",
	"iproute2", "ifupdown", "isc-dhcp-client", "netbase", "less", "procps", "cloud-guest-utils", "e2fsprogs",
	"python3-cffi-backend",
}

// ebsNamesRule gives a virtual machine's disks the names EC2 users know from
// Xen instances: the qemu driver sets each virtio disk's serial to its device
// name (xvda for the root volume, xvdf …), so /dev/xvdf and /dev/xvdf1 appear
// beside /dev/vdb and /dev/vdb1, and go when the volume is detached.
const ebsNamesRule = `# strato: EBS volumes under their EC2 device names (the virtio serial).
SUBSYSTEM=="block", KERNEL=="vd*", ENV{DEVTYPE}=="disk", ATTR{serial}=="xvd*", SYMLINK+="$attr{serial}"
SUBSYSTEM=="block", KERNEL=="vd*", ENV{DEVTYPE}=="partition", ATTRS{serial}=="xvd*", SYMLINK+="$attr{serial}%n"
`

// DebianRoot fills dir with Debian 12 (bookworm) by debootstrap, configured as
// Debian's cloud images are: cloud-init with the EC2 datasource and the default
// user admin. It needs root and the Debian mirror; it takes minutes. Progress
// lines from debootstrap go to log.
func DebianRoot(ctx context.Context, dir, mirror string, log io.Writer) error {
	if mirror == "" {
		mirror = DebianMirror
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return fmt.Errorf("imagebuild: debootstrap is not installed (apt-get install debootstrap)")
	}
	args := []string{"--variant=minbase", "--include=" + strings.Join(debianPackages, ","), "bookworm", dir, mirror}
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		// debootstrap's own log says why; the directory it is in goes away
		// with the build, so show its end.
		if b, rerr := os.ReadFile(filepath.Join(dir, "debootstrap", "debootstrap.log")); rerr == nil {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			fmt.Fprintf(log, "--- the end of debootstrap.log:\n%s\n---\n", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
		return fmt.Errorf("imagebuild: debootstrap: %w", err)
	}
	files := map[string]string{
		// cloud-init: EC2's metadata service only, Debian's default user.
		"etc/cloud/cloud.cfg.d/01_strato.cfg": "datasource_list: [ Ec2, None ]\n" +
			"datasource:\n  Ec2:\n    strict_id: false\n    metadata_urls: [ 'http://169.254.169.254' ]\n" +
			"system_info:\n  default_user:\n    name: " + DebianUser + "\n    sudo: ['ALL=(ALL) NOPASSWD:ALL']\n" +
			"    shell: /bin/bash\n    lock_passwd: true\n    groups: [adm, sudo]\n" +
			// minbase has no generated locales: C.UTF-8 is glibc's own, so
			// cloud-init's locale module succeeds. The instance's own name goes
			// into /etc/hosts until the VPC's resolver answers for it.
			"locale: C.UTF-8\nmanage_etc_hosts: localhost\n",
		"etc/udev/rules.d/70-strato-ebs-names.rules": ebsNamesRule,
		"etc/network/interfaces":                     "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n",
		"etc/fstab":                                  "LABEL=cloudimg-rootfs / ext4 defaults,discard 0 1\n",
		"etc/hostname":                               "localhost\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	// Host keys are made by each instance on first boot, not baked into the image.
	keys, _ := filepath.Glob(filepath.Join(dir, "etc/ssh/ssh_host_*"))
	for _, k := range keys {
		os.Remove(k)
	}
	os.Remove(filepath.Join(dir, "etc/machine-id"))
	return os.WriteFile(filepath.Join(dir, "etc/machine-id"), nil, 0o444)
}
