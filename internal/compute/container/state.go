package container

import (
	"fmt"
	"path/filepath"

	"strato/internal/cloud"

	"strato/internal/compute/host"
)

// stateVersion marks the layout of state.json, so a later layout can refuse or
// convert it.
const stateVersion = 1

// The states Status reports.
const (
	stateCreated = "created"
	stateRunning = "running"
	stateStopped = "stopped"
)

// record is what the driver keeps about an instance in DIR/ID/state.json. It
// holds the volumes' keys: a stopped instance must start again after strato
// restarts, and Start is given only the ID. The file is the root user's alone,
// as strato's database, which holds the same keys, is.
type record struct {
	Version int `json:"version"`
	// Spec is the instance as it is now: the volumes and interfaces attached
	// since Create included (Root.Path is "" while its root volume is
	// detached), and the instance-store root replaced by the driver's copy.
	Spec              cloud.InstanceSpec `json:"spec"`
	State             string             `json:"state"`
	ShutdownFromGuest bool               `json:"shutdownFromGuest,omitempty"`
	Impaired          bool               `json:"impaired,omitempty"`
	// Stopping is set while the driver shuts the container down, so that the
	// exit it causes (seen after a restart of strato, too) is not a crash.
	Stopping bool `json:"stopping,omitempty"`
	// Init is the running container's init process.
	Init host.Process `json:"init"`
}

func (r record) runtime() cloud.InstanceRuntime {
	return cloud.InstanceRuntime{State: r.State, ShutdownFromGuest: r.ShutdownFromGuest, Impaired: r.Impaired}
}

// Files in an instance's directory.
const (
	consoleFileName = "console.log"
	rootfsDirName   = "rootfs"
	runDirName      = "run"
	sysDirName      = "sys"
	rootCopyName    = "root.img" // an instance-store root
)

// save writes the instance's record and publishes its status.
func (d *Driver) save(in *instance) error {
	return d.table.Save(in, in.dir, in.rec, in.rec.runtime())
}

// loadRecords reads the records an earlier process left, by instance ID.
func loadRecords(dir string) (map[string]record, error) {
	records, err := host.LoadRecords(dir, func(r record) int { return r.Version }, stateVersion)
	if err != nil {
		return nil, fmt.Errorf("compute container: %w", err)
	}
	return records, nil
}

// removeInstanceDir removes an instance's directory (host.RemoveInstanceDir), never
// while its root file system is mounted: that would delete the volume's files.
func removeInstanceDir(dir string) error {
	if isMountPoint(filepath.Join(dir, rootfsDirName)) {
		return fmt.Errorf("compute container: %s is still mounted", filepath.Join(dir, rootfsDirName))
	}
	return host.RemoveInstanceDir(dir)
}
