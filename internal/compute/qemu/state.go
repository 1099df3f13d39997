package qemu

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

// stateVersion marks the layout of state.json.
const stateVersion = 1

// The states Status reports.
const (
	stateCreated = "created"
	stateRunning = "running"
	stateStopped = "stopped"
	stateGone    = "gone"
)

// Files in an instance's directory.
const (
	stateFileName   = "state.json"
	consoleFileName = "console.log"
	qmpSocketName   = "qmp.sock"
	pidFileName     = "qemu.pid"
	rootCopyName    = "root.img" // an instance-store root
)

// record is what the driver keeps about an instance in DIR/ID/state.json, the
// root user's alone (it would hold volume keys, as strato's database does).
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
	raw, err := json.Marshal(in.rec)
	if err != nil {
		return fmt.Errorf("compute qemu: encoding the state of %s: %w", in.id, err)
	}
	err = host.ReplaceFile(filepath.Join(in.dir, stateFileName), func(f *os.File) error {
		_, err := f.Write(raw)
		return err
	})
	if err != nil {
		return fmt.Errorf("compute qemu: writing the state of %s: %w", in.id, err)
	}
	d.mu.Lock()
	in.status = in.rec.runtime()
	d.mu.Unlock()
	return nil
}

// loadRecords reads the records an earlier process left, by instance ID. A directory
// without a record is an instance whose Create did not finish.
func loadRecords(dir string) (map[string]record, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("compute qemu: %w", err)
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
			return nil, fmt.Errorf("compute qemu: %w", err)
		}
		var rec record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("compute qemu: state of %s: %w", e.Name(), err)
		}
		if rec.Version != stateVersion {
			return nil, fmt.Errorf("compute qemu: state of %s has version %d, want %d", e.Name(), rec.Version, stateVersion)
		}
		records[e.Name()] = rec
	}
	return records, nil
}

// removeInstanceDir removes an instance's directory, the record last.
func removeInstanceDir(dir string) error {
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
