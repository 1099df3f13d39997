package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	stateGone    = "gone"
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
	stateFileName   = "state.json"
	consoleFileName = "console.log"
	rootfsDirName   = "rootfs"
	runDirName      = "run"
	sysDirName      = "sys"
	rootCopyName    = "root.img" // an instance-store root
)

// save writes the instance's record and publishes its status.
func (d *Driver) save(in *instance) error {
	raw, err := json.Marshal(in.rec)
	if err != nil {
		return fmt.Errorf("compute container: encoding the state of %s: %w", in.id, err)
	}
	err = host.ReplaceFile(filepath.Join(in.dir, stateFileName), func(f *os.File) error {
		_, err := f.Write(raw)
		return err
	})
	if err != nil {
		return fmt.Errorf("compute container: writing the state of %s: %w", in.id, err)
	}
	d.mu.Lock()
	in.status = in.rec.runtime()
	d.mu.Unlock()
	return nil
}

// loadRecords reads the records an earlier process left, by instance ID. A
// directory without a record is an instance whose Create did not finish:
// Create or Destroy will finish or undo it.
func loadRecords(dir string) (map[string]record, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compute container: %w", err)
	}
	records := map[string]record{}
	for _, e := range entries {
		if !e.IsDir() || !host.IsInstanceID(e.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), stateFileName))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("compute container: %w", err)
		}
		var rec record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("compute container: state of %s: %w", e.Name(), err)
		}
		if rec.Version != stateVersion {
			return nil, fmt.Errorf("compute container: state of %s has version %d, want %d", e.Name(), rec.Version, stateVersion)
		}
		records[e.Name()] = rec
	}
	return records, nil
}

// removeInstanceDir removes an instance's directory, the record last (so an
// interrupted removal is found and redone), and never while its root file
// system is mounted: that would delete the volume's files.
func removeInstanceDir(dir string) error {
	if isMountPoint(filepath.Join(dir, rootfsDirName)) {
		return fmt.Errorf("compute container: %s is still mounted", filepath.Join(dir, rootfsDirName))
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != stateFileName {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(dir)
}
