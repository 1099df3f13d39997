package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The typed helpers below are thin wrappers over Execute for what the qemu
// driver does to a running machine. Anything else is one Execute away.

// Status is the answer of query-status.
type Status struct {
	// Status is QEMU's run state: "prelaunch" (started with -S, never run),
	// "running", "paused", "shutdown" (guest powered off under -no-shutdown),
	// "guest-panicked", "internal-error", ...
	Status  string `json:"status"`
	Running bool   `json:"running"`
}

// QueryStatus says whether the machine runs.
func (q *QMP) QueryStatus(ctx context.Context) (Status, error) {
	var s Status
	err := q.Execute(ctx, "query-status", nil, &s)
	return s, err
}

// Cont starts a machine created with -S (or resumes a paused one).
func (q *QMP) Cont(ctx context.Context) error {
	return q.Execute(ctx, "cont", nil, nil)
}

// SystemPowerdown presses the ACPI power button: a guest that listens (Linux
// with acpid or systemd-logind) shuts down cleanly; QEMU sends POWERDOWN now
// and SHUTDOWN when the guest has powered off. A guest that ignores it keeps
// running, so callers need a timeout and then Quit.
func (q *QMP) SystemPowerdown(ctx context.Context) error {
	return q.Execute(ctx, "system_powerdown", nil, nil)
}

// SystemReset resets the machine at once, like the reset button (no clean
// shutdown of the guest); QEMU sends RESET.
func (q *QMP) SystemReset(ctx context.Context) error {
	return q.Execute(ctx, "system_reset", nil, nil)
}

// Quit makes QEMU exit at once (the guest gets no say). QEMU may close the
// connection before its reply arrives, so the connection ending counts as
// success too.
func (q *QMP) Quit(ctx context.Context) error {
	err := q.Execute(ctx, "quit", nil, nil)
	var qe *Error
	if err == nil || errors.As(err, &qe) {
		return err
	}
	select {
	case <-q.done:
		if !errors.Is(q.err, ErrClosed) {
			return nil // QEMU went away, which is what quit asks for
		}
	default:
	}
	return err
}

// RawFile is a block node reading and writing a raw image file (an EBS
// volume's sparse file) or block device.
type RawFile struct {
	NodeName string // the node's name, which DeviceAdd's Drive and BlockResize refer to
	Filename string
	// HostDevice says Filename is a block device (QEMU's host_device driver).
	HostDevice bool
	ReadOnly   bool
	// Discard passes the guest's TRIM/discard on to the file, which punches
	// holes in it: a sparse volume shrinks again when the guest frees blocks.
	Discard bool
}

// BlockdevAdd opens a raw image file as a block node (blockdev-add). The node
// has no device yet: DeviceAdd gives it one.
func (q *QMP) BlockdevAdd(ctx context.Context, f RawFile) error {
	type fileNode struct {
		Driver   string `json:"driver"`
		Filename string `json:"filename"`
	}
	args := struct {
		NodeName string   `json:"node-name"`
		Driver   string   `json:"driver"`
		ReadOnly bool     `json:"read-only"`
		Discard  string   `json:"discard"`
		File     fileNode `json:"file"`
	}{
		NodeName: f.NodeName,
		Driver:   "raw",
		ReadOnly: f.ReadOnly,
		Discard:  "ignore",
		File:     fileNode{Driver: fileDriver(f.HostDevice), Filename: f.Filename},
	}
	if f.Discard {
		args.Discard = "unmap"
	}
	return q.Execute(ctx, "blockdev-add", args, nil)
}

// BlockdevDel closes a block node BlockdevAdd opened (and the file node QEMU
// made under it). It fails with GenericError "Node ... is in use" while a
// device still uses it: after DeviceDel returns, it no longer does.
func (q *QMP) BlockdevDel(ctx context.Context, nodeName string) error {
	return q.Execute(ctx, "blockdev-del", map[string]string{"node-name": nodeName}, nil)
}

// VirtioBlk is a virtio-blk-pci disk.
type VirtioBlk struct {
	ID    string // the device's id, which DeviceDel names
	Drive string // the block node's name (RawFile.NodeName)
	// Serial is what the guest reads as the disk's serial number
	// (/sys/block/vdX/serial, /dev/disk/by-id/virtio-SERIAL). virtio-blk
	// carries at most 20 bytes and QEMU cuts longer ones silently, so DeviceAdd
	// refuses them: an EBS volume ID fits without its dash
	// ("vol0123456789abcdef0", which is also what EC2's NVMe disks report).
	Serial string
	// Bus is the PCI bus to plug into: on q35 the id of a free pcie-root-port
	// (q35's root bus pcie.0 refuses hot-plug). Empty lets QEMU choose, which
	// works only where the default bus takes hot-plugged devices.
	Bus       string
	BootIndex *int // for disks present at start that firmware should boot from
}

// maxVirtioSerial is VIRTIO_BLK_ID_BYTES, the size of the serial the guest reads.
const maxVirtioSerial = 20

// DeviceAdd plugs a virtio-blk-pci disk into the machine (device_add). When the
// guest runs, it sees the disk appear.
func (q *QMP) DeviceAdd(ctx context.Context, d VirtioBlk) error {
	if len(d.Serial) > maxVirtioSerial {
		return fmt.Errorf("qmp device_add %s: serial %q is longer than virtio-blk's %d bytes", d.ID, d.Serial, maxVirtioSerial)
	}
	args := struct {
		Driver    string `json:"driver"`
		ID        string `json:"id"`
		Drive     string `json:"drive"`
		Serial    string `json:"serial,omitempty"`
		Bus       string `json:"bus,omitempty"`
		BootIndex *int   `json:"bootindex,omitempty"`
	}{"virtio-blk-pci", d.ID, d.Drive, d.Serial, d.Bus, d.BootIndex}
	return q.Execute(ctx, "device_add", args, nil)
}

// DeviceDel asks for device id to be unplugged and waits for QEMU's
// DEVICE_DELETED about it, or for ctx to end. On a PCI machine the unplug needs
// the guest's cooperation (ACPI eject, or the PCIe slot's attention button,
// which Linux honours after 5 s): a guest that does not cooperate keeps the
// device, and DeviceDel waits until ctx ends. QEMU remembers the request: the
// device may still go after ctx has ended, and a second device_del for it
// fails while the first is pending. A device that does not exist fails with
// class DeviceNotFound.
func (q *QMP) DeviceDel(ctx context.Context, id string) error {
	// Subscribe before asking, so the event cannot slip past.
	events, stop := q.Events("DEVICE_DELETED")
	defer stop()
	if err := q.Execute(ctx, "device_del", map[string]string{"id": id}, nil); err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("qmp device_del %s: waiting for DEVICE_DELETED: %w", id, q.Err())
			}
			var data struct {
				Device string `json:"device"` // absent for a device's unnamed parts
			}
			if json.Unmarshal(ev.Data, &data) == nil && data.Device == id {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("qmp device_del %s: waiting for DEVICE_DELETED: %w", id, ctx.Err())
		}
	}
}

// BlockInfo is one block device QEMU has, as query-block reports it.
type BlockInfo struct {
	Device   string `json:"device"` // the legacy drive name; empty for -blockdev nodes
	QDev     string `json:"qdev"`   // the device's QOM path, e.g. /machine/peripheral/ID/virtio-backend
	Inserted *struct {
		NodeName string `json:"node-name"`
		File     string `json:"file"`
		ReadOnly bool   `json:"ro"`
		Driver   string `json:"drv"`
		Image    struct {
			Filename    string `json:"filename"`
			Format      string `json:"format"`
			VirtualSize int64  `json:"virtual-size"`
		} `json:"image"`
	} `json:"inserted"` // nil when no medium (not the case for our disks)
}

// QueryBlock lists the block devices attached to devices (nodes BlockdevAdd
// opened but no device uses are not listed).
func (q *QMP) QueryBlock(ctx context.Context) ([]BlockInfo, error) {
	var bs []BlockInfo
	err := q.Execute(ctx, "query-block", nil, &bs)
	return bs, err
}

// BlockResize sets the size of the block node to size bytes: the raw file is
// truncated to it, and a running guest is told the disk's capacity changed (it
// logs "capacity change" and lsblk shows the new size). Growing is what
// ModifyVolume needs; shrinking works too and destroys data past the end. A
// block device (HostDevice) cannot be grown by QEMU: grow it first, then
// BlockResize to its new size makes QEMU and the guest take it.
func (q *QMP) BlockResize(ctx context.Context, nodeName string, size int64) error {
	return q.Execute(ctx, "block_resize", struct {
		NodeName string `json:"node-name"`
		Size     int64  `json:"size"`
	}{nodeName, size}, nil)
}

// SendFD hands QEMU a file descriptor under name (getfd): the descriptor travels with
// the command as SCM_RIGHTS, and later commands (netdev_add's fd) refer to it by name.
// QEMU keeps its own copy; the caller may close f afterwards.
func (q *QMP) SendFD(ctx context.Context, name string, f *os.File) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("qmp getfd: %w", err)
	}
	var oob []byte
	if err := raw.Control(func(fd uintptr) { oob = unix.UnixRights(int(fd)) }); err != nil {
		return fmt.Errorf("qmp getfd: %w", err)
	}
	return q.execute(ctx, "getfd", map[string]string{"fdname": name}, nil, oob)
}

// TapNIC is a virtio-net device over a tap queue handed over with SendFD.
type TapNIC struct {
	ID     string // the device's QOM ID; its netdev is "net-" + ID
	FDName string
	MAC    string
	Bus    string // a free pcie-root-port
}

// NICAdd hot-plugs a virtio-net device (netdev_add, then device_add).
func (q *QMP) NICAdd(ctx context.Context, n TapNIC) error {
	netdev := "net-" + n.ID
	if err := q.Execute(ctx, "netdev_add", map[string]any{"type": "tap", "id": netdev, "fd": n.FDName}, nil); err != nil {
		return err
	}
	if err := q.Execute(ctx, "device_add", map[string]any{"driver": "virtio-net-pci", "id": n.ID, "netdev": netdev, "mac": n.MAC, "bus": n.Bus}, nil); err != nil {
		_ = q.Execute(ctx, "netdev_del", map[string]any{"id": netdev}, nil)
		return err
	}
	return nil
}

// NICDel unplugs a virtio-net device (waiting for DEVICE_DELETED, as DeviceDel does)
// and removes its netdev.
func (q *QMP) NICDel(ctx context.Context, id string) error {
	if err := q.DeviceDel(ctx, id); err != nil && !IsErrorClass(err, ClassDeviceNotFound) {
		return err
	}
	err := q.Execute(ctx, "netdev_del", map[string]any{"id": "net-" + id}, nil)
	if err != nil && !IsErrorClass(err, ClassDeviceNotFound) && !isNotFoundDesc(err) {
		return err
	}
	return nil
}

// isNotFoundDesc tells QEMU's GenericError for an ID it does not know (netdev_del
// of a netdev that is gone says "Device 'x' not found" with class GenericError).
func isNotFoundDesc(err error) bool {
	var qe *Error
	return errors.As(err, &qe) && qe.Class == "GenericError" && strings.Contains(strings.ToLower(qe.Desc), "not found")
}
