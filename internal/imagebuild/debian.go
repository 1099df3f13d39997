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
// python3-cryptography's python3-cffi-backend-api-min/max).
var debianPackages = []string{
	"systemd-sysv", "openssh-server", "cloud-init", "sudo", "ca-certificates", "curl",
	"iproute2", "ifupdown", "isc-dhcp-client", "netbase", "less", "procps", "cloud-guest-utils", "e2fsprogs",
	"python3-cffi-backend",
}

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
		"etc/network/interfaces": "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n",
		"etc/fstab":              "LABEL=cloudimg-rootfs / ext4 defaults,discard 0 1\n",
		"etc/hostname":           "localhost\n",
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
