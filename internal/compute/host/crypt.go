package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Encrypted volumes are ciphertext files (AES-256-XTS, dm-crypt's plain64 IVs
// counted from 0 in 512-byte sectors): the drivers read them through a
// device-mapper crypt target on their loop device.

// XTSKeySize is AES-256-XTS's key: two AES-256 keys.
const XTSKeySize = 64

// SectorSize is the sector that dm-crypt's IVs count, and the unit of block
// devices' sizes in sysfs and device-mapper tables.
const SectorSize = 512

// errNoDeviceMapper says why an encrypted volume cannot be used on this host.
var errNoDeviceMapper = errors.New("encrypted volumes need the kernel's device-mapper (dm-crypt) and dmsetup (Debian package dmsetup), and this host lacks them")

// DeviceMapperReady tells whether encrypted volumes can be opened here.
func DeviceMapperReady() error {
	if _, err := exec.LookPath("dmsetup"); err != nil {
		return errNoDeviceMapper
	}
	misc, err := os.ReadFile("/proc/misc")
	if err != nil || !bytes.Contains(misc, []byte(" device-mapper\n")) {
		return errNoDeviceMapper
	}
	return nil
}

// openCrypt maps the ciphertext on backing (a loop device) as the plaintext
// device /dev/mapper/name, unless it is mapped already, and returns that.
func openCrypt(ctx context.Context, name, backing string, key []byte, readOnly bool) (string, error) {
	if len(key) != XTSKeySize {
		return "", fmt.Errorf("encrypted volume key of %d bytes, want %d (AES-256-XTS)", len(key), XTSKeySize)
	}
	if err := DeviceMapperReady(); err != nil {
		return "", err
	}
	dev := "/dev/mapper/" + name
	if _, err := os.Stat(dev); err == nil {
		return dev, nil
	}
	sectors, err := deviceSectors(backing)
	if err != nil {
		return "", err
	}
	args := []string{"create", name, "--noudevsync"}
	if readOnly {
		args = append(args, "--readonly")
	}
	// The table goes on stdin, keeping the key out of the process list.
	if _, err := dmsetup(ctx, cryptTable(sectors, key, backing), args...); err != nil {
		return "", err
	}
	// Without udev, dmsetup makes the /dev/mapper node itself when asked.
	if _, err := dmsetup(ctx, "", "mknodes", name); err != nil {
		return "", err
	}
	return dev, nil
}

// cryptTable is the device-mapper table of an encrypted volume's plaintext: all
// of backing's sectors, AES-256-XTS with plain64 IVs from sector 0.
func cryptTable(sectors uint64, key []byte, backing string) string {
	return fmt.Sprintf("0 %d crypt aes-xts-plain64 %x 0 %s 0\n", sectors, key, backing)
}

// growCrypt makes the plaintext device name as long as backing is now (its
// loop device grew): the table is loaded again with the new length and
// resumed, while the device stays open.
func growCrypt(ctx context.Context, name, backing string, key []byte, readOnly bool) error {
	sectors, err := deviceSectors(backing)
	if err != nil {
		return err
	}
	args := []string{"reload", name}
	if readOnly {
		args = append(args, "--readonly")
	}
	if _, err := dmsetup(ctx, cryptTable(sectors, key, backing), args...); err != nil {
		return err
	}
	_, err = dmsetup(ctx, "", "resume", "--noudevsync", name)
	return err
}

// closeCrypt removes the plaintext device of an encrypted volume, if there is
// one. A device still open (a guest holding it) goes when it is closed.
func closeCrypt(ctx context.Context, name string) error {
	if DeviceMapperReady() != nil {
		return nil // nothing can have been made
	}
	if _, err := dmsetup(ctx, "", "info", name); err != nil {
		return nil // no such device
	}
	if _, err := dmsetup(ctx, "", "remove", "--noudevsync", name); err != nil {
		if _, err := dmsetup(ctx, "", "remove", "--noudevsync", "--deferred", name); err != nil {
			return err
		}
	}
	os.Remove("/dev/mapper/" + name)
	return nil
}

func dmsetup(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "dmsetup", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("dmsetup %s: %v: %s", args[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// deviceSectors is a block device's size in 512-byte sectors.
func deviceSectors(dev string) (uint64, error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd) // a block device's end is its size
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dev, err)
	}
	return uint64(size) / SectorSize, nil
}
