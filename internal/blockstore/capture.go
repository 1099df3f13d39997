package blockstore

import (
	"container/heap"
	"fmt"
	"io"
	"os"
	"sync"
)

// volumeState is what the store shares between the open handles of one volume
// and the snapshots being taken of it. mu orders writes through the store
// against the snapshots' reads, chunk by chunk: a write holds it throughout;
// a snapshot holds it to claim a chunk, then reads the chunk without it while
// writes to that chunk wait on readDone.
type volumeState struct {
	mu       sync.Mutex
	readDone *sync.Cond // on mu: a snapshot finished reading a chunk
	refs     int
	captures []*capture
}

// waitReads waits, mu held, until no snapshot is reading a chunk that the
// write of [off, off+n) touches.
func (vs *volumeState) waitReads(off, n int64) {
	for {
		busy := false
		for _, c := range vs.captures {
			busy = busy || c.isReading(off, n)
		}
		if !busy {
			return
		}
		vs.readDone.Wait()
	}
}

// acquireVolume returns the shared state of a volume, creating it; every
// acquire is paired with a releaseVolume.
func (s *Store) acquireVolume(id string) *volumeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.volumes[id]
	if vs == nil {
		vs = &volumeState{}
		vs.readDone = sync.NewCond(&vs.mu)
		s.volumes[id] = vs
	}
	vs.refs++
	return vs
}

func (s *Store) releaseVolume(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if vs := s.volumes[id]; vs != nil {
		vs.refs--
		if vs.refs == 0 {
			delete(s.volumes, id)
		}
	}
}

// capture is the copy-before-write of one snapshot being taken: the snapshot
// claims chunks in rising order (cursor is the next one); a write through the
// store to a chunk at or past the cursor first saves the chunk's old bytes here,
// and the snapshot takes the saved copy instead of the file's bytes. A write to
// a claimed chunk the snapshot is still reading from the file waits until it
// is read (volumeState.waitReads); below the cursor, the rest has been read.
type capture struct {
	size    int64  // the volume's size at the point in time
	cursor  uint32 // chunks below it have been claimed by the snapshot
	reading map[uint32]struct{}
	saved   map[uint32]savedChunk
	order   indexHeap // indices in saved, smallest first

	memLimit  int64 // saved bytes kept in memory; the rest spill to a file
	memBytes  int64
	spillPath string
	spill     *os.File
	spillEnd  int64
}

// savedChunk is one chunk's bytes at the point in time: in memory, in the spill
// file, or all zeros.
type savedChunk struct {
	data   []byte
	offset int64 // in the spill file, when data is nil and !zero
	length int
	zero   bool
}

func (c *capture) chunkLen(idx uint32) int {
	return int(min(ChunkSize, c.size-int64(idx)*ChunkSize))
}

func (c *capture) chunks() uint32 {
	return uint32((c.size + ChunkSize - 1) / ChunkSize)
}

// isReading reports whether the snapshot is reading, from the file, a chunk
// that [off, off+n) touches.
func (c *capture) isReading(off, n int64) bool {
	if n <= 0 || off >= c.size {
		return false
	}
	first := uint32(off / ChunkSize)
	last := uint32((min(off+n, c.size) - 1) / ChunkSize)
	for idx := range c.reading {
		if idx >= first && idx <= last {
			return true
		}
	}
	return false
}

// beforeWrite saves, for a write of [off, off+n) about to happen, the chunks
// the snapshot has not read yet and has not saved. f is the volume's file and
// vs.mu is held.
func (c *capture) beforeWrite(f *os.File, off, n int64) error {
	if n <= 0 || off >= c.size {
		return nil
	}
	first := uint32(off / ChunkSize)
	last := uint32((min(off+n, c.size) - 1) / ChunkSize)
	for idx := max(first, c.cursor); idx <= last; idx++ {
		if _, ok := c.saved[idx]; ok {
			continue
		}
		buf := make([]byte, c.chunkLen(idx))
		if _, err := f.ReadAt(buf, int64(idx)*ChunkSize); err != nil && err != io.EOF {
			return fmt.Errorf("blockstore: saving chunk %d for a snapshot: %w", idx, err)
		}
		sc := savedChunk{length: len(buf)}
		switch {
		case allZero(buf):
			sc.zero = true
		case c.memBytes+int64(len(buf)) <= c.memLimit:
			sc.data = buf
			c.memBytes += int64(len(buf))
		default:
			if c.spill == nil {
				sp, err := os.OpenFile(c.spillPath, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
				if err != nil {
					return fmt.Errorf("blockstore: copy-before-write spill: %w", err)
				}
				c.spill = sp
			}
			if _, err := c.spill.WriteAt(buf, c.spillEnd); err != nil {
				return fmt.Errorf("blockstore: copy-before-write spill: %w", err)
			}
			sc.offset = c.spillEnd
			c.spillEnd += int64(len(buf))
		}
		c.saved[idx] = sc
		heap.Push(&c.order, idx)
	}
	return nil
}

// take returns the saved copy of chunk idx in buf, if there is one, and forgets it.
func (c *capture) take(idx uint32, buf []byte) ([]byte, bool, error) {
	sc, ok := c.saved[idx]
	if !ok {
		return nil, false, nil
	}
	delete(c.saved, idx)
	for c.order.Len() > 0 && c.order[0] <= idx {
		heap.Pop(&c.order)
	}
	switch {
	case sc.zero:
		clear(buf[:sc.length])
		return buf[:sc.length], true, nil
	case sc.data != nil:
		c.memBytes -= int64(sc.length)
		return buf[:copy(buf, sc.data)], true, nil
	}
	if _, err := c.spill.ReadAt(buf[:sc.length], sc.offset); err != nil {
		return nil, false, fmt.Errorf("blockstore: reading copy-before-write spill: %w", err)
	}
	return buf[:sc.length], true, nil
}

// nextSaved is the smallest saved chunk index, or the chunk count if none.
func (c *capture) nextSaved() uint32 {
	if c.order.Len() == 0 {
		return c.chunks()
	}
	return c.order[0]
}

// close drops what is saved and removes the spill file.
func (c *capture) close() {
	c.saved = nil
	c.order = nil
	if c.spill != nil {
		c.spill.Close()
		os.Remove(c.spillPath)
		c.spill = nil
	}
}

type indexHeap []uint32

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(uint32)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
