package blockstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ChunkSize is the unit of snapshots: deduplication, change detection and
// storage all work on aligned chunks of this many bytes (see doc.go for why).
const ChunkSize = 1 << 20

// Store is a block store rooted at one directory. One process at a time owns it
// (Open takes an exclusive lock), so whatever is unfinished when Open runs was left
// by a crash and is cleaned up there.
type Store struct {
	dir  string
	lock *os.File

	// gc orders chunk writers against the sweeper: jobs hold it shared while they
	// check for or write a chunk and record it as theirs; the sweeper holds it
	// exclusively while it decides what is garbage and removes it.
	gc sync.RWMutex

	mu      sync.Mutex
	volumes map[string]*volumeState // volumes with open handles or running snapshots
	jobs    map[string]*liveSet     // snapshot/copy jobs running: the chunks they need
	closed  bool

	// cbwMemLimit overrides cbwMemLimit (tests make snapshots spill).
	cbwMemLimit int64
}

// Open opens (creating if needed) the block store in dir, which holds volumes/,
// chunks/, manifests/ and tmp/. It cleans up what a crash left behind: temporary
// files, and chunks no manifest references.
func Open(dir string) (*Store, error) {
	for _, sub := range []string{"volumes", "chunks", "manifests", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("blockstore: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("blockstore: %s is in use by another process: %w", dir, err)
	}
	s := &Store{dir: dir, lock: lock, volumes: map[string]*volumeState{}, jobs: map[string]*liveSet{}}
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store. Running jobs must have ended.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.lock.Close()
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// recover removes temporary files (half-written chunks, manifests, volumes being
// restored, copy-before-write spills) and sweeps chunks no manifest references.
func (s *Store) recover() error {
	tmp := filepath.Join(s.dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("blockstore: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
			return fmt.Errorf("blockstore: removing leftover %s: %w", e.Name(), err)
		}
	}
	for _, sub := range []string{"volumes", "manifests"} {
		if err := removeTempFiles(filepath.Join(s.dir, sub)); err != nil {
			return err
		}
	}
	_, err = s.sweep()
	return err
}

// removeTempFiles removes *.tmp files (atomic writes that did not reach their
// rename) directly in dir.
func removeTempFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blockstore: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("blockstore: %w", err)
			}
		}
	}
	return nil
}

// checkID refuses IDs that could escape the store's directories.
func checkID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\\\x00") || id == "." || id == ".." || strings.HasPrefix(id, ".") {
		return fmt.Errorf("blockstore: invalid ID %q", id)
	}
	return nil
}

func (s *Store) manifestPath(snapshotID string) string {
	return filepath.Join(s.dir, "manifests", snapshotID+".manifest")
}

func (s *Store) tmpPath(name string) string { return filepath.Join(s.dir, "tmp", name) }

// writeFileAtomic writes data to path through a temporary file that is synced
// and renamed, then syncs the directory: after a crash the file is either
// absent or complete.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes the entries of dir (a rename or removal) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
