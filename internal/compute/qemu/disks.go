package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"strato/internal/cloud"
	"strato/internal/compute/host"
	vmm "strato/internal/qemu"
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

// ResizeVolume shows the guest the new size of the volume at device, whose file has
// grown (ModifyVolume): an encrypted volume's plaintext device grows first
// (host.GrowDisk), then QMP block_resize tells QEMU, and QEMU the guest, whose
// kernel logs the capacity change (lsblk shows it). A disk never shrinks: it takes
// its file's size when size is less. A stopped machine finds the size at its
// next start, and a device without a volume is nothing to do.
func (d *Driver) ResizeVolume(ctx context.Context, id, device string, size int64) error {
	in, err := d.table.Lock(ctx, id)
	if err != nil {
		return err
	}
	defer in.Unlock()
	v, ok := host.VolumeAt(in.rec.Spec, device)
	if !ok || in.rec.State != stateRunning || in.run == nil {
		return nil
	}
	name := strings.TrimPrefix(v.Guest, "/dev/")
	if len(v.Key) > 0 {
		// QEMU cannot grow a block device: it takes the size the device has.
		sectors, err := host.GrowDisk(ctx, in.id, name, v.BlockDevice)
		if err != nil {
			return fmt.Errorf("compute qemu: resize %s of %s: %w", name, id, err)
		}
		size = int64(sectors) * host.SectorSize
	} else if st, err := os.Stat(v.Path); err == nil {
		size = max(size, st.Size())
	}
	if err := in.run.qmp.BlockResize(ctx, vmm.NodeName(diskID(name)), size); err != nil {
		return fmt.Errorf("compute qemu: resize %s of %s: %w", name, id, err)
	}
	return nil
}
