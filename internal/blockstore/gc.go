package blockstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DeleteSnapshot removes a snapshot's manifest, then frees the chunks no other
// snapshot (stored or being taken) uses. Deleting a snapshot that is not there
// is not an error. A crash between the two steps leaves only unreferenced
// chunks, which the next sweep (at the latest, Open) frees.
func (s *Store) DeleteSnapshot(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if s.jobRunning(id) {
		return fmt.Errorf("blockstore: snapshot %s is being taken", id)
	}
	if err := removeIfExists(s.manifestPath(id)); err != nil {
		return fmt.Errorf("blockstore: deleting snapshot %s: %w", id, err)
	}
	if err := syncDir(filepath.Join(s.dir, "manifests")); err != nil {
		return err
	}
	_, err := s.sweep()
	return err
}

// AbandonSnapshot removes whatever an unfinished snapshot (or copy) left: its
// copy-before-write spill, a half-written manifest, a manifest it may have
// completed before the caller could record it, and the chunks only it used.
// Afterwards the snapshot does not exist.
func (s *Store) AbandonSnapshot(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if s.jobRunning(id) {
		return fmt.Errorf("blockstore: snapshot %s is being taken; cancel it first", id)
	}
	for _, p := range []string{s.tmpPath(id + ".cbw"), s.manifestPath(id) + ".tmp", s.manifestPath(id)} {
		if err := removeIfExists(p); err != nil {
			return fmt.Errorf("blockstore: abandoning snapshot %s: %w", id, err)
		}
	}
	if err := syncDir(filepath.Join(s.dir, "manifests")); err != nil {
		return err
	}
	_, err := s.sweep()
	return err
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Store) jobRunning(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.jobs[id]
	return ok
}

// sweep is the mark-and-sweep collector: it marks every chunk named by a
// manifest or held by a running job, and removes the others, with the chunk
// writers held off meanwhile. It refuses to run if a manifest cannot be read,
// since its chunks would be taken for garbage. It returns how many chunks it
// removed.
func (s *Store) sweep() (int, error) {
	s.gc.Lock()
	defer s.gc.Unlock()

	live := map[hash]struct{}{}
	s.mu.Lock()
	for _, l := range s.jobs {
		l.mu.Lock()
		for h := range l.chunks {
			live[h] = struct{}{}
		}
		l.mu.Unlock()
	}
	s.mu.Unlock()

	manifests, err := os.ReadDir(filepath.Join(s.dir, "manifests"))
	if err != nil {
		return 0, fmt.Errorf("blockstore: sweep: %w", err)
	}
	for _, e := range manifests {
		id, ok := strings.CutSuffix(e.Name(), ".manifest")
		if !ok {
			continue
		}
		m, err := s.readManifest(id)
		if errors.Is(err, fs.ErrNotExist) {
			// Deleted since the listing: its chunks go unless another manifest names them.
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("blockstore: sweep stopped: %w", err)
		}
		for _, en := range m.Entries {
			live[en.Hash] = struct{}{}
		}
	}

	// Chunk temporaries: no writer is in flight while gc is held.
	tmps, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return 0, fmt.Errorf("blockstore: sweep: %w", err)
	}
	for _, e := range tmps {
		if strings.HasPrefix(e.Name(), "chunk-") {
			if err := removeIfExists(s.tmpPath(e.Name())); err != nil {
				return 0, err
			}
		}
	}

	removed := 0
	root := filepath.Join(s.dir, "chunks")
	fanout, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("blockstore: sweep: %w", err)
	}
	for _, d := range fanout {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		names, err := os.ReadDir(dir)
		if err != nil {
			return removed, fmt.Errorf("blockstore: sweep: %w", err)
		}
		changed := false
		for _, n := range names {
			var h hash
			if b, err := parseHex(n.Name()); err == nil {
				h = b
				if _, ok := live[h]; ok {
					continue
				}
			}
			if err := removeIfExists(filepath.Join(dir, n.Name())); err != nil {
				return removed, fmt.Errorf("blockstore: sweep: %w", err)
			}
			removed++
			changed = true
		}
		if changed {
			if err := syncDir(dir); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

func parseHex(name string) (hash, error) {
	var h hash
	if len(name) != 2*len(h) {
		return h, errors.New("not a chunk name")
	}
	for i := range h {
		hi, ok1 := unhex(name[2*i])
		lo, ok2 := unhex(name[2*i+1])
		if !ok1 || !ok2 {
			return h, errors.New("not a chunk name")
		}
		h[i] = hi<<4 | lo
	}
	return h, nil
}

// unhex accepts only lower-case hex digits, the form chunk names are written in.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
