package qemu

import (
	"fmt"

	"strato/internal/cloud"
	"strato/internal/compute/host"
)

// stateVersion marks the layout of state.json.
const stateVersion = 1

// The states Status reports.
const (
	stateCreated = "created"
	stateRunning = "running"
	stateStopped = "stopped"
)

// Files in an instance's directory.
const (
	consoleFileName = "console.log"
	qmpSocketName   = "qmp.sock"
	pidFileName     = "qemu.pid"
	rootCopyName    = "root.img" // an instance-store root
)

// record is what the driver keeps about an instance (host.SaveRecord).
type record struct {
	Version int `json:"version"`
	// Spec is the instance as it is now: the volumes and interfaces attached since
	// Create included, the instance-store root replaced by the driver's copy.
	Spec              cloud.InstanceSpec `json:"spec"`
	State             string             `json:"state"`
	ShutdownFromGuest bool               `json:"shutdownFromGuest,omitempty"`
	Impaired          bool               `json:"impaired,omitempty"`
	// Stopping is set while the driver ends the machine, so that its exit (seen
	// after a restart of strato, too) is not taken for a crash.
	Stopping bool `json:"stopping,omitempty"`
	// QEMU is the running machine's process.
	QEMU host.Process `json:"qemu"`
	// Ports are the root ports the running machine's devices sit on, by device
	// (disk: its guest name, xvdf; interface: its ID).
	Ports map[string]int `json:"ports,omitempty"`
	// PortCount is how many root ports the running machine has.
	PortCount int `json:"portCount,omitempty"`
}

func (r record) runtime() cloud.InstanceRuntime {
	return cloud.InstanceRuntime{State: r.State, ShutdownFromGuest: r.ShutdownFromGuest, Impaired: r.Impaired}
}

// save writes the instance's record and publishes its status.
func (d *Driver) save(in *instance) error {
	return d.table.Save(in, in.dir, in.rec, in.rec.runtime())
}

// loadRecords reads the records an earlier process left, by instance ID.
func loadRecords(dir string) (map[string]record, error) {
	records, err := host.LoadRecords(dir, func(r record) int { return r.Version }, stateVersion)
	if err != nil {
		return nil, fmt.Errorf("compute qemu: %w", err)
	}
	return records, nil
}
