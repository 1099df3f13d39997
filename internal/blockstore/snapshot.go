package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sys/unix"

	"strato/internal/cloud"
)

// cbwMemLimit is how many bytes of copy-before-write copies one snapshot keeps
// in memory before spilling to a file in the store.
const cbwMemLimit = 64 << 20

// workers is how many goroutines hash, compress and store chunks.
const workers = 2

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

	once sync.Once
	ran  bool
}

// chunkWork is one chunk read at the point in time, on its way to a worker.
type chunkWork struct {
	idx  uint32
	data []byte
}

// Run reads the volume as it was at StartSnapshot, in chunk order, skipping
// holes (SEEK_DATA) and all-zero chunks; chunks whose fingerprint equals the
// parent's are taken from the parent without hashing or storing; the others are
// stored. The manifest is written last, after the new chunks are durable.
func (j *snapshotJob) Run(ctx context.Context, progress func(done, total int64)) (stats cloud.SnapshotStats, err error) {
	if j.ran {
		return stats, errors.New("blockstore: snapshot job already ran")
	}
	j.ran = true
	defer j.finish()

	size := j.c.size
	report := newProgress(progress, size)
	bufs := make(chan []byte, 2*workers+2)
	for range cap(bufs) {
		bufs <- make([]byte, ChunkSize)
	}
	work := make(chan chunkWork, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu        sync.Mutex
		entries   []entry
		stored    int64
		newChunks int
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				e, added, isNew, err := j.storeChunk(w)
				bufs <- w.data[:cap(w.data)]
				if err != nil {
					fail(err)
					continue
				}
				if e == nil {
					continue
				}
				mu.Lock()
				entries = append(entries, *e)
				stored += added
				if isNew {
					newChunks++
				}
				mu.Unlock()
			}
		}()
	}

	readErr := j.readChunks(ctx, bufs, work, report)
	close(work)
	wg.Wait()
	if readErr != nil {
		fail(readErr)
	}
	if firstErr != nil {
		return stats, fmt.Errorf("blockstore: snapshot %s of %s: %w", j.snapshotID, j.volumeID, firstErr)
	}
	m := &manifest{Size: size, StoredBytes: stored, NewChunks: newChunks, Entries: entries}
	if err := j.s.syncChunks(j.live); err != nil {
		return stats, err
	}
	if err := j.s.writeManifest(j.snapshotID, m); err != nil {
		return stats, fmt.Errorf("blockstore: snapshot %s: %w", j.snapshotID, err)
	}
	report.done(size)
	return m.stats(), nil
}

// readChunks walks the chunks in order and hands the ones with data to the
// workers, each read under the volume's lock from the saved copy or the file.
func (j *snapshotJob) readChunks(ctx context.Context, bufs chan []byte, work chan<- chunkWork, report *progress) error {
	c, vs := j.c, j.vs
	n := c.chunks()
	fd := int(j.f.Fd())
	// The kernel reads ahead more for a file read sequentially; the hint for
	// the chunks after the current one keeps the disk busy while this one is
	// hashed.
	_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	const ahead = 4 * ChunkSize
	var dataEnd, hinted int64 // the data extent known to go on to dataEnd; read-ahead asked up to hinted
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var buf []byte
		select {
		case buf = <-bufs:
		case <-ctx.Done():
			return ctx.Err()
		}
		vs.mu.Lock()
		idx := c.cursor
		if idx >= n {
			vs.mu.Unlock()
			return nil
		}
		// Chunks in holes are skipped; a hole written since the point in time
		// has its saved copy (zeros), which nextSaved finds.
		next := c.nextSaved()
		if pos := int64(idx) * ChunkSize; pos < dataEnd {
			next = idx
		} else {
			d, end, err := dataExtent(j.f, pos, c.size)
			if err != nil {
				vs.mu.Unlock()
				return err
			}
			dataEnd = end
			next = min(next, uint32(d/ChunkSize))
		}
		if next >= n {
			c.cursor = n
			vs.mu.Unlock()
			return nil
		}
		data, ok, err := c.take(next, buf)
		if err == nil && !ok {
			data = buf[:c.chunkLen(next)]
			_, err = j.f.ReadAt(data, int64(next)*ChunkSize)
			if err == io.EOF {
				err = nil
			}
		}
		c.cursor = next + 1
		vs.mu.Unlock()
		if pos := int64(next+1) * ChunkSize; pos+ahead > hinted && pos < dataEnd {
			from := max(pos, hinted)
			hinted = min(pos+2*ahead, dataEnd)
			_ = unix.Fadvise(fd, from, hinted-from, unix.FADV_WILLNEED)
		}
		if err != nil {
			return fmt.Errorf("reading chunk %d: %w", next, err)
		}
		// The last report (size) comes when the manifest is written.
		report.done(min(int64(c.cursor)*ChunkSize, c.size-1))
		select {
		case work <- chunkWork{idx: next, data: data}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// storeChunk turns one chunk into a manifest entry: nil for zeros, the parent's
// entry when the fingerprint matches, else a stored chunk.
func (j *snapshotJob) storeChunk(w chunkWork) (e *entry, added int64, isNew bool, err error) {
	if allZero(w.data) {
		return nil, 0, false, nil
	}
	fp := xxhash.Sum64(w.data)
	if p, ok := j.parent[w.idx]; ok && p.Fingerprint == fp {
		return &entry{Index: w.idx, Hash: p.Hash, Fingerprint: fp}, 0, false, nil
	}
	h, added, err := j.s.putChunk(j.live, w.data)
	if err != nil {
		return nil, 0, false, err
	}
	return &entry{Index: w.idx, Hash: h, Fingerprint: fp}, added, added > 0, nil
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
