package qemu

import (
	"context"
	"errors"
	"fmt"

	"strato/internal/cloud"
	"strato/internal/compute/host"
)

// QEMU reads a volume's file itself, except an encrypted volume's: that file holds
// ciphertext, and QEMU gets the dm-crypt plaintext on the file's loop device
// (host.OpenDisk), a block device. Those devices are named after the instance and
// the disk, so that they are found again after a restart of strato, and go when
// QEMU no longer holds them: at detach, stop, the machine's end, destroy.

// openVolume is what QEMU opens for a volume: its file, or an encrypted volume's
// plaintext block device (hostDevice).
func openVolume(ctx context.Context, id, name string, b cloud.BlockDevice) (path string, hostDevice bool, err error) {
	if len(b.Key) == 0 {
		return b.Path, false, nil
	}
	dev, err := host.OpenDisk(ctx, id, name, b)
	return dev, true, err
}

// closeVolume releases what openVolume made for a volume; what is gone already is
// skipped.
func closeVolume(ctx context.Context, id, name string, b cloud.BlockDevice) error {
	if len(b.Key) == 0 || b.Path == "" {
		return nil
	}
	return host.CloseDisk(ctx, id, name, b)
}

// closeVolumes releases what openVolume made for every volume of an instance whose
// QEMU has ended (or never started).
func (d *Driver) closeVolumes(ctx context.Context, in *instance) error {
	var errs []error
	for i, b := range devicesOf(in.rec.Spec) {
		errs = append(errs, closeVolume(ctx, in.id, diskName(b, i == 0), b))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing the volumes of %s: %w", in.id, err)
	}
	return nil
}
