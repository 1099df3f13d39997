package compute

import (
	"context"
	"net/netip"
	"os"

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

// DNSConfig is what an instance's DHCP client learns about DNS from its VPC's
// DHCP options.
type DNSConfig struct {
	// NameServers are the resolvers (domain-name-servers; AmazonProvidedDNS is
	// the VPC's base + 2).
	NameServers []netip.Addr
	// Search are the search domains (domain-name: ec2.internal,
	// REGION.compute.internal, or the options' own).
	Search []string
}

// DNSProvider is a Network that also knows each VPC's DHCP options. Drivers
// whose guests have no DHCP client (containers) ask it at every boot and write
// the guest's resolver configuration, as a DHCP client would at every lease; a
// Network without it leaves the image's configuration alone.
type DNSProvider interface {
	// InstanceDNS is what instances of the VPC are told about DNS.
	InstanceDNS(ctx context.Context, vpcID string) (DNSConfig, error)
}

// TapNetwork is a Network that also wires virtual machines' interfaces: the
// router's end of each is a tap device, and the driver hands a queue of it to
// the hypervisor (QEMU's -netdev tap,fd=N). The guest takes its
// address by DHCP from its subnet's router. Plugging again reconciles and gives
// another queue of the same tap; UnplugInterface removes it.
type TapNetwork interface {
	Network
	PlugTap(ctx context.Context, nic cloud.InterfaceSpec) (*os.File, error)
}
