package qemu

import (
	"fmt"

	"strato/internal/compute/host"
)

// stateVersion marks the layout of state.json.
const stateVersion = 1

// The states Status reports.
const (
	stateCreated = host.StateCreated
	stateRunning = host.StateRunning
	stateStopped = host.StateStopped
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
	host.Record
	// QEMU is the running machine's process.
	QEMU host.Process `json:"qemu"`
	// Ports are the root ports the running machine's devices sit on, by device
	// (disk: its guest name, xvdf; interface: its ID).
	Ports map[string]int `json:"ports,omitempty"`
	// PortCount is how many root ports the running machine has.
	PortCount int `json:"portCount,omitempty"`
}

// save writes the instance's record and publishes its status.
func (d *Driver) save(in *instance) error {
	return d.table.Save(in, in.dir, in.rec, in.rec.Runtime())
}

// loadRecords reads the records an earlier process left, by instance ID.
func loadRecords(dir string) (map[string]record, error) {
	records, err := host.LoadRecords(dir, func(r record) int { return r.Version }, stateVersion)
	if err != nil {
		return nil, fmt.Errorf("compute qemu: %w", err)
	}
	return records, nil
}
