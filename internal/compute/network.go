package compute

import (
	"context"

	"strato/internal/cloud"
)

// Network is what a driver with real network namespaces needs from strato's
// dataplane: a namespace per instance that outlives the instance's processes
// (so its interfaces and addresses stay through stop and start), and the
// instance's interfaces plugged into their subnets inside it. Every method is
// safe to repeat: a driver calls them again after a crash or a host restart.
type Network interface {
	// InstanceNetns makes (or finds) the instance's network namespace and
	// returns the path of its bind mount, for the driver to join.
	InstanceNetns(ctx context.Context, instanceID string) (string, error)
	// RemoveInstanceNetns removes the namespace and whatever is left in it.
	RemoveInstanceNetns(ctx context.Context, instanceID string) error
	// PlugInterface puts the interface into the namespace at netns: named
	// eth<DeviceIndex>, with its MAC, its private IPs and, for device index 0,
	// the default route through the subnet's gateway.
	PlugInterface(ctx context.Context, netns string, nic cloud.InterfaceSpec) error
	// UnplugInterface takes the interface out of its instance and its subnet.
	UnplugInterface(ctx context.Context, vpcID, interfaceID string) error
}
