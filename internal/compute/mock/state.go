package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"strato/internal/cloud"
)

// stateVersion marks the file's layout, so a later layout can refuse or convert.
const stateVersion = 1

type stateFileData struct {
	Version   int                  `json:"version"`
	Instances map[string]*instance `json:"instances"`
}

func stateFile(dir string) string { return filepath.Join(dir, "instances.json") }

// load adopts the instances an earlier process recorded. A missing file is an
// empty driver.
func (d *Driver) load() error {
	raw, err := os.ReadFile(d.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compute mock: read state: %w", err)
	}
	var data stateFileData
	if err := json.Unmarshal(raw, &data); err != nil {
		return fmt.Errorf("compute mock: state file %s: %w", d.file, err)
	}
	if data.Version != stateVersion {
		return fmt.Errorf("compute mock: state file %s has version %d, want %d", d.file, data.Version, stateVersion)
	}
	if data.Instances != nil {
		d.instances = data.Instances
	}
	return nil
}

// save writes every instance (called with d.mu held). It writes a temporary file
// and renames it over the old one, so a crash leaves the old or the new state,
// never half of one.
func (d *Driver) save() error {
	if d.file == "" {
		return nil
	}
	raw, err := json.Marshal(stateFileData{Version: stateVersion, Instances: d.instances})
	if err != nil {
		return fmt.Errorf("compute mock: encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(d.file), 0o700); err != nil {
		return fmt.Errorf("compute mock: state dir: %w", err)
	}
	tmp := d.file + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("compute mock: write state: %w", err)
	}
	if err := os.Rename(tmp, d.file); err != nil {
		return fmt.Errorf("compute mock: write state: %w", err)
	}
	return nil
}

// withoutKeys drops the volumes' encryption keys: mock never reads the volumes,
// and keys are not written to disk in clear.
func withoutKeys(spec cloud.InstanceSpec) cloud.InstanceSpec {
	spec.Root = withoutKey(spec.Root)
	devices := make([]cloud.BlockDevice, len(spec.Devices))
	for i, b := range spec.Devices {
		devices[i] = withoutKey(b)
	}
	spec.Devices = devices
	spec.Interfaces = append([]cloud.InterfaceSpec(nil), spec.Interfaces...)
	return spec
}

func withoutKey(b cloud.BlockDevice) cloud.BlockDevice {
	b.Key = nil
	return b
}
