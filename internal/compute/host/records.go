package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"strato/internal/cloud"
)

// A driver keeps what it knows of each instance in DIR/ID/state.json (RecordFile): one
// JSON record, replaced whole, the root user's alone (it may hold volume keys, as
// strato's database does). A directory without a record is an instance whose Create
// did not finish: Create or Destroy finishes or undoes it.

// Record is what every real driver records of an instance; a driver's record embeds
// it (JSON flattens it: the file keeps one level) and adds its own fields.
type Record struct {
	Version int `json:"version"`
	// Spec is the instance as it is now: the volumes and interfaces attached since
	// Create included (Root.Path is "" while its root volume is detached), the
	// instance-store root replaced by the driver's copy.
	Spec              cloud.InstanceSpec `json:"spec"`
	State             string             `json:"state"`
	ShutdownFromGuest bool               `json:"shutdownFromGuest,omitempty"`
	Impaired          bool               `json:"impaired,omitempty"`
	// Stopping is set while the driver ends the instance itself, so that the exit it
	// causes (seen after a restart of strato, too) is not taken for a crash.
	Stopping bool `json:"stopping,omitempty"`
}

// Runtime is the status the record says.
func (r Record) Runtime() cloud.InstanceRuntime {
	return cloud.InstanceRuntime{State: r.State, ShutdownFromGuest: r.ShutdownFromGuest, Impaired: r.Impaired}
}

// The states a record holds and Status reports.
const (
	StateCreated = "created"
	StateRunning = "running"
	StateStopped = "stopped"
)

// RecordFile is the name of an instance's record in its directory.
const RecordFile = "state.json"

// SaveRecord writes rec as the record of the instance whose directory is dir.
func SaveRecord(dir string, rec any) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding the state of %s: %w", filepath.Base(dir), err)
	}
	err = ReplaceFile(filepath.Join(dir, RecordFile), func(f *os.File) error {
		_, err := f.Write(raw)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the state of %s: %w", filepath.Base(dir), err)
	}
	return nil
}

// LoadRecords reads the records an earlier process left under dir, by instance ID;
// version says which layout a record has, and a record of another layout than want is
// refused.
func LoadRecords[R any](dir string, version func(R) int, want int) (map[string]R, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	records := map[string]R{}
	for _, e := range entries {
		if !e.IsDir() || !IsInstanceID(e.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), RecordFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var rec R
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("state of %s: %w", e.Name(), err)
		}
		if v := version(rec); v != want {
			return nil, fmt.Errorf("state of %s has version %d, want %d", e.Name(), v, want)
		}
		records[e.Name()] = rec
	}
	return records, nil
}

// RemoveInstanceDir removes an instance's directory, its record last, so that an
// interrupted removal is found and redone.
func RemoveInstanceDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != RecordFile {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(dir)
}
