package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"strato/internal/cloud"
)

// cbwMemLimit is how many bytes of copy-before-write copies one snapshot keeps
// in memory before spilling to a file in the store.
const cbwMemLimit = 64 << 20

// StartSnapshot fixes the point in time of a snapshot of a volume and returns
// the job that stores it. From its return on, writes through the store's Volume
// handles save the chunks they overwrite until the job has read them. parentID
// is the volume's previous completed snapshot ("" for none; a parent that is
// gone only makes the snapshot full). Starting a snapshot that is stored
// returns a job that reports it.
func (s *Store) StartSnapshot(volumeID, snapshotID, parentID string) (cloud.SnapshotJob, error) {
	if err := checkID(volumeID); err != nil {
		return nil, err
	}
	if m, err := s.readManifest(snapshotID); err == nil {
		return doneJob{m.stats()}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if parentID != "" {
		if err := checkID(parentID); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(s.VolumePath(volumeID))
	if err != nil {
		return nil, fmt.Errorf("blockstore: snapshot of volume %s: %w", volumeID, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}

	// The parent's chunks are held for the job before anything can sweep them.
	live := newLiveSet()
	var parent map[uint32]entry
	s.gc.RLock()
	if parentID != "" {
		pm, err := s.readManifest(parentID)
		switch {
		case err == nil:
			parent = pm.byIndex()
			for _, e := range pm.Entries {
				live.chunks[e.Hash] = struct{}{}
			}
		case !errors.Is(err, fs.ErrNotExist):
			s.gc.RUnlock()
			f.Close()
			return nil, err
		}
	}
	s.mu.Lock()
	_, busy := s.jobs[snapshotID]
	if !busy {
		s.jobs[snapshotID] = live
	}
	s.mu.Unlock()
	s.gc.RUnlock()
	if busy {
		f.Close()
		return nil, fmt.Errorf("blockstore: snapshot %s is already being taken", snapshotID)
	}

	c := &capture{
		size:      fi.Size(),
		saved:     map[uint32]savedChunk{},
		reading:   map[uint32]struct{}{},
		memLimit:  s.cbwLimit(),
		spillPath: s.tmpPath(snapshotID + ".cbw"),
	}
	vs := s.acquireVolume(volumeID)
	vs.mu.Lock()
	vs.captures = append(vs.captures, c)
	vs.mu.Unlock()
	return &snapshotJob{s: s, volumeID: volumeID, snapshotID: snapshotID, f: f, vs: vs, c: c, parent: parent, live: live}, nil
}

func (s *Store) cbwLimit() int64 {
	if s.cbwMemLimit > 0 {
		return s.cbwMemLimit
	}
	return cbwMemLimit
}

// doneJob is a snapshot that is already stored.
type doneJob struct{ stats cloud.SnapshotStats }

func (j doneJob) Run(_ context.Context, progress func(done, total int64)) (cloud.SnapshotStats, error) {
	if progress != nil {
		progress(j.stats.Size, j.stats.Size)
	}
	return j.stats, nil
}

type snapshotJob struct {
	s                    *Store
	volumeID, snapshotID string
	f                    *os.File
	vs                   *volumeState
	c                    *capture
	parent               map[uint32]entry
	live                 *liveSet
	pos                  scanState // guarded by vs.mu

	once sync.Once
	ran  bool
}

// Run reads the volume as it was at StartSnapshot, in chunk order on
// scanners goroutines, skipping holes (SEEK_DATA) and all-zero chunks; chunks
// whose fingerprint equals the parent's are taken from the parent without
// hashing or storing; the others are stored. The manifest is written last,
// after the new chunks are durable.
func (j *snapshotJob) Run(ctx context.Context, progress func(done, total int64)) (stats cloud.SnapshotStats, err error) {
	if j.ran {
		return stats, errors.New("blockstore: snapshot job already ran")
	}
	j.ran = true
	defer j.finish()

	size := j.c.size
	report := newProgress(progress, size)
	// The kernel reads ahead more for a file read sequentially.
	_ = unix.Fadvise(int(j.f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]scanResult, scanners)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.scan(ctx, &results[i], report); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return stats, fmt.Errorf("blockstore: snapshot %s of %s: %w", j.snapshotID, j.volumeID, err)
	}
	m := &manifest{Size: size}
	for _, r := range results {
		m.Entries = append(m.Entries, r.entries...)
		m.StoredBytes += r.stored
		m.NewChunks += r.newChunks
	}
	if err := j.s.syncChunks(j.live); err != nil {
		return stats, err
	}
	if err := j.s.writeManifest(j.snapshotID, m); err != nil {
		return stats, fmt.Errorf("blockstore: snapshot %s: %w", j.snapshotID, err)
	}
	report.done(size)
	return m.stats(), nil
}

// storeChunk turns one chunk (data, fingerprint fp) into a manifest entry: nil
// for zeros, the parent's entry when the fingerprint matches, else a stored
// chunk.
func (j *snapshotJob) storeChunk(idx uint32, data []byte, fp uint64) (e *entry, added int64, err error) {
	if allZero(data) {
		return nil, 0, nil
	}
	if p, ok := j.parent[idx]; ok && p.Fingerprint == fp {
		return &entry{Index: idx, Hash: p.Hash, Fingerprint: fp}, 0, nil
	}
	h, added, err := j.s.putChunk(j.live, data)
	if err != nil {
		return nil, 0, err
	}
	return &entry{Index: idx, Hash: h, Fingerprint: fp}, added, nil
}

// finish ends the copy-before-write and releases what the job held; its chunks
// are then protected by its manifest, or garbage if it failed.
func (j *snapshotJob) finish() {
	j.once.Do(func() {
		j.vs.mu.Lock()
		for i, c := range j.vs.captures {
			if c == j.c {
				j.vs.captures = append(j.vs.captures[:i], j.vs.captures[i+1:]...)
				break
			}
		}
		j.c.close()
		j.vs.mu.Unlock()
		j.s.releaseVolume(j.volumeID)
		j.f.Close()
		j.s.mu.Lock()
		delete(j.s.jobs, j.snapshotID)
		j.s.mu.Unlock()
	})
}

// progress reports (done, total) to a callback, rising, about once per
// percent, and always at the end.
type progress struct {
	fn    func(done, total int64)
	total int64
	step  int64
	last  int64
	mu    sync.Mutex
}

func newProgress(fn func(done, total int64), total int64) *progress {
	return &progress{fn: fn, total: total, step: max(total/100, 1), last: -1}
}

func (p *progress) done(n int64) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= p.last || (n < p.total && p.last >= 0 && n-p.last < p.step) {
		return
	}
	p.last = n
	p.fn(n, p.total)
}
