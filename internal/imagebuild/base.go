package imagebuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// The kinds of base image strato builds.
const (
	KindMinimal  = "minimal"
	KindDebian12 = "debian-12"
)

// Kinds lists them, for usage messages.
var Kinds = []string{KindMinimal, KindDebian12}

// RootLabel is the label of the root file system, as in Debian's and Ubuntu's
// cloud images (their fstab mounts it by label).
const RootLabel = "cloudimg-rootfs"

// Base is a base image as it is published: its AMI name and description, its
// architecture and the size of its disk (the root volume's size).
type Base struct {
	Kind, Name, Description string
	// Architecture is EC2's name for the host's: x86_64 or arm64.
	Architecture string
	// DiskSize is the disk's size in bytes, a whole number of GiB.
	DiskSize int64
}

// Disk sizes. The minimal image holds a few MiB; 1 GiB is EC2's smallest
// volume. Debian (debootstrap minbase with SSH, cloud-init and Python) takes
// about 700 MiB: 4 GiB leaves room to install packages without growing the
// volume, and sparse storage makes the free space cost nothing.
const (
	minimalDiskSize = 1 << 30
	debianDiskSize  = 4 << 30
)

// HostArchitecture is the EC2 architecture of the host strato runs on.
func HostArchitecture() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// debianArch is Debian's name for an EC2 architecture.
func debianArch(arch string) string {
	if arch == "arm64" {
		return "arm64"
	}
	return "amd64"
}

// BaseFor describes the base image of a kind built on day, named as AWS's
// images are: strato-minimal-x86_64-20250102 (as al2023-ami-…-x86_64), and
// debian-12-amd64-20250102-strato (as Debian's debian-12-amd64-20250102-1234).
func BaseFor(kind string, day time.Time) (Base, error) {
	arch := HostArchitecture()
	date := day.UTC().Format("20060102")
	switch kind {
	case KindMinimal:
		return Base{Kind: kind, Architecture: arch, DiskSize: minimalDiskSize,
			Name:        "strato-minimal-" + arch + "-" + date,
			Description: "strato minimal image (busybox) with the instance helper"}, nil
	case KindDebian12:
		return Base{Kind: kind, Architecture: arch, DiskSize: debianDiskSize,
			Name:        "debian-12-" + debianArch(arch) + "-" + date + "-strato",
			Description: "Debian 12 (" + date + "-strato)"}, nil
	}
	return Base{}, fmt.Errorf("imagebuild: unknown base image %q (choose %s or %s)", kind, KindMinimal, KindDebian12)
}

// Build makes the base image's disk in workDir (which it fills with the root
// file system first) and returns the disk's path. helper is the instance helper
// copied into the minimal image; mirror is Debian's ("" for deb.debian.org).
// Progress lines (debootstrap's) go to log.
func (b Base) Build(ctx context.Context, workDir, helper, mirror string, log io.Writer) (string, error) {
	root := filepath.Join(workDir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	switch b.Kind {
	case KindMinimal:
		fmt.Fprintf(log, "making the minimal root file system (busybox, instance helper)\n")
		if err := MinimalRoot(ctx, root, helper); err != nil {
			return "", err
		}
	case KindDebian12:
		fmt.Fprintf(log, "running debootstrap for Debian 12 (bookworm); this takes minutes\n")
		if err := DebianRoot(ctx, root, mirror, log); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("imagebuild: unknown base image %q", b.Kind)
	}
	disk := filepath.Join(workDir, "disk.img")
	fmt.Fprintf(log, "making a %d GiB disk (MBR, ext4 labelled %s)\n", b.DiskSize>>30, RootLabel)
	if err := Disk(ctx, root, disk, b.DiskSize, RootLabel); err != nil {
		return "", err
	}
	return disk, nil
}
