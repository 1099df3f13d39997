package cloud

import (
	"context"
	"errors"
)

// Errors every driver wraps, tested with errors.Is (internal/compute names them
// too; they live here so the control plane can test for them).
var (
	// ErrComputeNotFound: the driver has no such instance (Status also reports
	// State "gone"). Create and Destroy never answer it: they are repeat-safe.
	ErrComputeNotFound = errors.New("compute: no such instance")
	// ErrComputeInvalidState: the instance cannot do that now.
	ErrComputeInvalidState = errors.New("compute: invalid state for this operation")
)

// Compute is how the control plane runs instances: the driver the operator chose
// (internal/compute: mock, container, qemu). The control plane keeps the EC2 state
// machine; the driver makes it real. Every method is safe to repeat (creating
// what exists, destroying what is gone), so unfinished work can be redone after
// a crash.
type Compute interface {
	// Name is the driver's name, as `--driver` spells it.
	Name() string
	// Create prepares an instance (its root file system, devices, network
	// attachments) without starting it.
	Create(ctx context.Context, spec InstanceSpec) error
	// Start boots a created or stopped instance.
	Start(ctx context.Context, id string) error
	// Stop shuts an instance down (force: without waiting for the guest).
	Stop(ctx context.Context, id string, force bool) error
	// Reboot restarts the guest, keeping everything, instance storage included.
	Reboot(ctx context.Context, id string) error
	// Destroy removes the instance and what the driver made for it (not its EBS
	// volumes, which the control plane owns).
	Destroy(ctx context.Context, id string) error
	// AttachVolume and DetachVolume hot-plug a block device at a device name.
	AttachVolume(ctx context.Context, id string, dev BlockDevice) error
	DetachVolume(ctx context.Context, id, device string) error
	// ResizeVolume says the volume at a device name has grown to size bytes
	// (ModifyVolume grew its file): a running guest's kernel sees the new size
	// (growpart and resize2fs are the user's part). A stopped instance reads the
	// size at its next start, and a device without a volume is nothing to do.
	ResizeVolume(ctx context.Context, id, device string, size int64) error
	// AttachInterface and DetachInterface hot-plug a network interface
	// (AttachNetworkInterface on a running or stopped instance).
	AttachInterface(ctx context.Context, id string, nic InterfaceSpec) error
	DetachInterface(ctx context.Context, id, interfaceID string) error
	// Status reports what the instance is doing now, for status checks and for
	// adopting instances after strato restarts; an unknown instance is
	// {State: "gone"} with ErrComputeNotFound.
	Status(ctx context.Context, id string) (InstanceRuntime, error)
	// ConsoleOutput is the instance's console log so far.
	ConsoleOutput(ctx context.Context, id string) ([]byte, error)
}

// InstanceSpec is what a driver needs to make an instance.
type InstanceSpec struct {
	ID           string
	InstanceType string
	VCPUs        int
	MemoryMiB    int
	Architecture string
	Hostname     string
	// Root is the root device; RootType "ebs" or "instance-store".
	Root     BlockDevice
	RootType string
	// Devices are the other block devices (EBS and instance storage).
	Devices []BlockDevice
	// Interfaces are the network interfaces, by device index.
	Interfaces []InterfaceSpec
}

// BlockDevice is a volume as a driver sees it: a file (ciphertext when Key is set:
// AES-256-XTS, dm-crypt plain64) at a device name.
type BlockDevice struct {
	Device   string // as the mapping asked: /dev/xvda, /dev/sdf …
	Path     string
	Key      []byte
	ReadOnly bool
	// Ephemeral is set for instance storage, which goes with the instance: the
	// driver makes a sparse file of Size bytes at Path if there is none, empties
	// it when the instance stops and removes it with the instance.
	Ephemeral bool
	Size      int64
}

// InterfaceSpec is a network interface as a driver sees it.
type InterfaceSpec struct {
	ID          string
	DeviceIndex int
	MAC         string
	PrivateIPs  []string // the first is the primary
	SubnetCIDR  string
	Gateway     string // the subnet's router, base + 1
	VpcID       string
	SubnetID    string
}

// InstanceRuntime is what a driver reports about an instance.
type InstanceRuntime struct {
	// State: "created", "running", "stopped", "gone".
	State string
	// ShutdownFromGuest is set when the guest powered itself off (for
	// InstanceInitiatedShutdownBehavior).
	ShutdownFromGuest bool
	// Impaired is set when the instance's process died unexpectedly.
	Impaired bool
}
