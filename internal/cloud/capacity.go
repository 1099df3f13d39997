package cloud

import (
	"strato/internal/catalog"
	"strato/internal/store"
)

// HostCapacity is what the host gives instances that run (pending, running,
// stopping, shutting-down), summed over their instance types. A zero field is
// unlimited (the mock driver runs nothing).
type HostCapacity struct {
	VCPUs     int
	MemoryMiB int64
}

// UseCapacity sets the host's capacity; call it before serving. RunInstances
// answers InsufficientInstanceCapacity for the instances that do not fit, as
// AWS does when a zone has no room for the type.
func (c *Cloud) UseCapacity(h HostCapacity) { c.capacity = h }

// hostLoad is what the instances that hold host resources take now.
type hostLoad struct {
	vcpus     int
	memoryMiB int64
}

func loadOnHost(tx store.Tx) (hostLoad, error) {
	var l hostLoad
	err := eachScope(tx, func(s Scope) error {
		list, err := instances.load(tx, s, nil, nil)
		for _, in := range list {
			switch in.State {
			case InstancePending, InstanceRunning, InstanceStopping, InstanceShuttingDown:
				if it, ok := catalog.LookupInstanceType(in.InstanceType); ok {
					l.add(it)
				}
			}
		}
		return err
	})
	return l, err
}

func (l *hostLoad) add(it catalog.InstanceType) {
	l.vcpus += int(it.VCpuInfo.DefaultVCpus)
	l.memoryMiB += it.MemoryInfo.SizeInMiB
}

// fits reports whether one more instance of type it fits beside load l.
func (h HostCapacity) fits(l hostLoad, it catalog.InstanceType) bool {
	return (h.VCPUs == 0 || l.vcpus+int(it.VCpuInfo.DefaultVCpus) <= h.VCPUs) &&
		(h.MemoryMiB == 0 || l.memoryMiB+it.MemoryInfo.SizeInMiB <= h.MemoryMiB)
}

func (h HostCapacity) unlimited() bool { return h.VCPUs == 0 && h.MemoryMiB == 0 }

func insufficientCapacity(instanceType, zone string) error {
	return errorf("InsufficientInstanceCapacity", "We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity.", instanceType, zone)
}
