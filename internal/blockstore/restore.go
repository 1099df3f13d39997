package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"strato/internal/cloud"
)

// holdSnapshot reads a snapshot's manifest and registers a running job under
// jobID that holds its chunks, so no sweep frees them while the job reads them
// (even if the snapshot is deleted meanwhile). release must follow.
func (s *Store) holdSnapshot(jobID, snapshotID string) (*manifest, *liveSet, error) {
	s.gc.RLock()
	defer s.gc.RUnlock()
	m, err := s.readManifest(snapshotID)
	if err != nil {
		return nil, nil, err
	}
	live := newLiveSet()
	for _, e := range m.Entries {
		live.chunks[e.Hash] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.jobs[jobID]; busy {
		return nil, nil, fmt.Errorf("blockstore: %s is already being made", jobID)
	}
	s.jobs[jobID] = live
	return m, live, nil
}

func (s *Store) release(jobID string) {
	s.mu.Lock()
	delete(s.jobs, jobID)
	s.mu.Unlock()
}

// RestoreVolume makes volume id, of size bytes (at least the snapshot's), from a
// snapshot: its chunks are written where they were, and all-zero 4 KiB blocks
// and chunks the snapshot lacks stay holes. When key differs from srcKey the
// data is decrypted with srcKey and encrypted with key (nil: plaintext). The
// volume is built under a temporary name and renamed: it exists complete or not
// at all, and restoring a volume that exists is not an error.
func (s *Store) RestoreVolume(ctx context.Context, id string, size int64, snapshotID string, srcKey, key []byte, progress func(done, total int64)) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	path := s.VolumePath(id)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var rk *rekeyer
	if !sameKey(srcKey, key) {
		var err error
		if rk, err = newRekeyer(srcKey, key); err != nil {
			return err
		}
	}
	jobID := "restore:" + id
	m, _, err := s.holdSnapshot(jobID, snapshotID)
	if err != nil {
		return fmt.Errorf("blockstore: restoring %s: %w", id, err)
	}
	defer s.release(jobID)
	if size < m.Size {
		return fmt.Errorf("blockstore: volume %s (%d bytes) is smaller than snapshot %s (%d bytes)", id, size, snapshotID, m.Size)
	}

	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("blockstore: restoring %s: %w", id, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("blockstore: restoring %s: %w", id, err)
	}
	report := newProgress(progress, int64(len(m.Entries))*ChunkSize)
	var done atomic.Int64
	err = forEach(ctx, len(m.Entries), func(i int) error {
		e := m.Entries[i]
		bp, raw, err := s.readChunk(e)
		if err != nil {
			return err
		}
		defer chunkBufs.Put(bp)
		if rk != nil {
			rk.convert(raw, e.Index)
		}
		if err := writeSparse(f, raw, int64(e.Index)*ChunkSize); err != nil {
			return err
		}
		report.done(min(done.Add(ChunkSize), report.total-1))
		return nil
	})
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("blockstore: restoring %s from %s: %w", id, snapshotID, err)
	}
	ok = true
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blockstore: restoring %s: %w", id, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	report.done(report.total)
	return nil
}

// CopySnapshot makes snapshot dstID a copy of srcID. With the same key (or both
// plaintext) the copy shares every chunk, so nothing is written but the
// manifest; re-keyed, each chunk is converted and stored if the store lacks it.
// Copying onto a snapshot that exists returns its figures.
func (s *Store) CopySnapshot(ctx context.Context, srcID, dstID string, srcKey, dstKey []byte, progress func(done, total int64)) (cloud.SnapshotStats, error) {
	if err := checkID(dstID); err != nil {
		return cloud.SnapshotStats{}, err
	}
	if m, err := s.readManifest(dstID); err == nil {
		return m.stats(), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return cloud.SnapshotStats{}, err
	}
	var rk *rekeyer
	if !sameKey(srcKey, dstKey) {
		var err error
		if rk, err = newRekeyer(srcKey, dstKey); err != nil {
			return cloud.SnapshotStats{}, err
		}
	}
	src, live, err := s.holdSnapshot(dstID, srcID)
	if err != nil {
		return cloud.SnapshotStats{}, fmt.Errorf("blockstore: copying %s: %w", srcID, err)
	}
	defer s.release(dstID)

	dst := &manifest{Size: src.Size, Entries: make([]entry, len(src.Entries))}
	report := newProgress(progress, int64(len(src.Entries))*ChunkSize)
	if rk == nil {
		copy(dst.Entries, src.Entries)
	} else {
		var mu sync.Mutex
		var done atomic.Int64
		err := forEach(ctx, len(src.Entries), func(i int) error {
			e := src.Entries[i]
			bp, raw, err := s.readChunk(e)
			if err != nil {
				return err
			}
			defer chunkBufs.Put(bp)
			rk.convert(raw, e.Index)
			h, added, err := s.putChunk(live, raw)
			if err != nil {
				return err
			}
			dst.Entries[i] = entry{Index: e.Index, Hash: h, Fingerprint: xxhash.Sum64(raw)}
			mu.Lock()
			dst.StoredBytes += added
			if added > 0 {
				dst.NewChunks++
			}
			mu.Unlock()
			report.done(min(done.Add(ChunkSize), report.total-1))
			return nil
		})
		if err != nil {
			return cloud.SnapshotStats{}, fmt.Errorf("blockstore: copying %s to %s: %w", srcID, dstID, err)
		}
		if err := s.syncChunks(live); err != nil {
			return cloud.SnapshotStats{}, err
		}
	}
	if err := s.writeManifest(dstID, dst); err != nil {
		return cloud.SnapshotStats{}, fmt.Errorf("blockstore: copying %s to %s: %w", srcID, dstID, err)
	}
	report.done(report.total)
	return dst.stats(), nil
}

// ioWorkers is how many chunks a restore or copy reads at once: chunk files are
// separate files, so the disk sees a queue only if several are read together.
const ioWorkers = 8

// chunkSlots bounds the chunks being copied at once in the whole store, however
// many restores and copies run together: each holds up to two chunk buffers, so
// a hundred instances restoring their root volumes at once need 2×ioWorkers
// slots' worth of buffers, not a hundred times that (which the Go runtime then
// kept as its own long after).
var chunkSlots = make(chan struct{}, 2*ioWorkers)

func withChunkSlot(ctx context.Context, fn func() error) error {
	select {
	case chunkSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-chunkSlots }()
	return fn()
}

// forEach calls fn for 0..n-1 on ioWorkers goroutines, stopping at the first
// error or when ctx ends.
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range ioWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := withChunkSlot(ctx, func() error { return fn(i) }); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
