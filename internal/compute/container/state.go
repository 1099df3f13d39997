package container

import (
	"fmt"
	"path/filepath"

	"strato/internal/compute/host"
)

// stateVersion marks the layout of state.json, so a later layout can refuse or
// convert it.
const stateVersion = 1

// The states Status reports.
const (
	stateCreated = host.StateCreated
	stateRunning = host.StateRunning
	stateStopped = host.StateStopped
)

// record is what the driver keeps about an instance in DIR/ID/state.json. It
// holds the volumes' keys: a stopped instance must start again after strato
// restarts, and Start is given only the ID. The file is the root user's alone,
// as strato's database, which holds the same keys, is.
type record struct {
	host.Record
	// Init is the running container's init process.
	Init host.Process `json:"init"`
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
	return d.table.Save(in, in.dir, in.rec, in.rec.Runtime())
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
