package blockstore

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sys/unix"
)

// scanners is how many goroutines a snapshot reads, fingerprints and stores
// chunks on. Reading a chunk from the page cache is a memory copy about as
// costly as xxhash64 of it, so one goroutine doing both runs at about half the
// speed of `cat`; two overlap them (see doc.go for the figures).
const scanners = 2

// hashPiece is how much of a chunk is read at once and fingerprinted right
// away, while it is still in the CPU's cache (L2 is 512 KiB to 2 MiB a core):
// hashing a whole 1 MiB chunk after reading it would fetch it again from
// farther away.
const hashPiece = 256 << 10

// prefetchAhead is how far past the chunk being read the snapshot asks the
// kernel to read (FADV_WILLNEED) when the file is not in the page cache, so the
// disk stays busy while chunks are fingerprinted.
const prefetchAhead = 4 * ChunkSize

// scanState is where the scanners of one snapshot are in the volume file;
// guarded by the volume's lock, with the capture it belongs to.
type scanState struct {
	dataEnd int64 // the data extent known to go on up to here (SEEK_HOLE)
	hinted  int64 // read-ahead asked for up to here
}

// claim is one chunk a scanner has taken: its bytes at the point in time are
// either in data already (a copy-before-write copy) or to be read from the
// file, during which writes to the chunk wait (see release).
type claim struct {
	idx      uint32
	data     []byte // the saved copy, or nil to read the file
	length   int
	fromFile bool
	// prefetch is a read-ahead range [from, to) to ask for once the volume's
	// lock is released (to == 0 for none).
	prefetchFrom, prefetchTo int64
}

// claimNext takes the next chunk with data at the point in time, in rising
// order, skipping holes (found with SEEK_DATA once per extent) unless a write
// since the point in time saved the chunk. A saved copy is taken into buf; a
// chunk to read from the file is marked as being read. ok is false when every
// chunk has been claimed.
func (j *snapshotJob) claimNext(buf []byte) (cl claim, ok bool, err error) {
	c, vs, st := j.c, j.vs, &j.pos
	vs.mu.Lock()
	defer vs.mu.Unlock()
	n := c.chunks()
	idx := c.cursor
	if idx >= n {
		return cl, false, nil
	}
	next := c.nextSaved()
	if pos := int64(idx) * ChunkSize; pos < st.dataEnd {
		next = idx
	} else {
		d, end, err := dataExtent(j.f, pos, c.size)
		if err != nil {
			return cl, false, err
		}
		st.dataEnd = end
		next = min(next, uint32(d/ChunkSize))
	}
	if next >= n {
		c.cursor = n
		return cl, false, nil
	}
	c.cursor = next + 1
	cl = claim{idx: next, length: c.chunkLen(next)}
	data, saved, err := c.take(next, buf)
	if err != nil {
		return cl, false, err
	}
	if saved {
		cl.data = data
	} else {
		cl.fromFile = true
		c.reading[next] = struct{}{}
		if pos := int64(next+1) * ChunkSize; pos+prefetchAhead > st.hinted && pos < st.dataEnd {
			cl.prefetchFrom = max(pos, st.hinted)
			st.hinted = min(pos+2*prefetchAhead, st.dataEnd)
			cl.prefetchTo = st.hinted
		}
	}
	return cl, true, nil
}

// release ends the reading of a claimed chunk from the file and wakes the
// writes waiting for it.
func (j *snapshotJob) release(cl claim) {
	if !cl.fromFile {
		return
	}
	vs := j.vs
	vs.mu.Lock()
	delete(j.c.reading, cl.idx)
	vs.readDone.Broadcast()
	vs.mu.Unlock()
}

// readClaimed returns the claimed chunk's bytes (in buf) and their
// fingerprint. The file is read outside the volume's lock: writes to this
// chunk wait for release, writes elsewhere go on.
func (j *snapshotJob) readClaimed(cl claim, buf []byte) ([]byte, uint64, error) {
	if !cl.fromFile {
		return cl.data, xxhash.Sum64(cl.data), nil
	}
	defer j.release(cl)
	if cl.prefetchTo > 0 {
		prefetch(int(j.f.Fd()), cl.prefetchFrom, cl.prefetchTo)
	}
	data := buf[:cl.length]
	fp, err := readFingerprinted(j.f, data, int64(cl.idx)*ChunkSize)
	if err != nil {
		return nil, 0, fmt.Errorf("reading chunk %d: %w", cl.idx, err)
	}
	return data, fp, nil
}

// scan is one scanner: it claims, reads and fingerprints chunks until none
// are left, and turns each into a manifest entry in out.
func (j *snapshotJob) scan(ctx context.Context, out *scanResult, report *progress) error {
	buf := make([]byte, ChunkSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cl, ok, err := j.claimNext(buf)
		if err != nil || !ok {
			return err
		}
		data, fp, err := j.readClaimed(cl, buf)
		if err != nil {
			return err
		}
		// The last report (size) comes when the manifest is written.
		report.done(min(int64(cl.idx+1)*ChunkSize, j.c.size-1))
		e, added, err := j.storeChunk(cl.idx, data, fp)
		if err != nil {
			return err
		}
		if e != nil {
			out.entries = append(out.entries, *e)
			out.stored += added
			if added > 0 {
				out.newChunks++
			}
		}
	}
}

// scanResult is what one scanner stored.
type scanResult struct {
	entries   []entry
	stored    int64
	newChunks int
}

// readFingerprinted fills buf from f at off and returns the xxhash64 of its
// bytes, hashing each piece right after reading it (still in the CPU's cache;
// the digest reads the buffer in place). Past the end of the file reads as
// zeros.
func readFingerprinted(f *os.File, buf []byte, off int64) (uint64, error) {
	var d xxhash.Digest
	d.Reset()
	for p := 0; p < len(buf); p += hashPiece {
		piece := buf[p:min(p+hashPiece, len(buf))]
		n, err := f.ReadAt(piece, off+int64(p))
		if err == io.EOF {
			clear(piece[n:])
			err = nil
		}
		if err != nil {
			return 0, err
		}
		_, _ = d.Write(piece)
	}
	return d.Sum64(), nil
}

// prefetch asks the kernel to read [from, to) of the file ahead, unless its
// last byte is in the page cache already: a one-byte read that must not wait
// for the disk (RWF_NOWAIT) tells, for far less than FADV_WILLNEED costs on a
// range that is cached (it walks every page).
func prefetch(fd int, from, to int64) {
	var b [1]byte
	if n, err := unix.Preadv2(fd, [][]byte{b[:]}, to-1, unix.RWF_NOWAIT); err == nil && n == 1 {
		return
	}
	_ = unix.Fadvise(fd, from, to-from, unix.FADV_WILLNEED)
}
