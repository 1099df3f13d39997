package blockstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// A chunk file is one format byte followed by the chunk's bytes, raw or
// zstd-compressed. Its name is the SHA-256 of the chunk's bytes as they are in
// the volume file (ciphertext for an encrypted volume), so equal chunks are
// stored once however they were compressed.
const (
	chunkRaw  byte = 0
	chunkZstd byte = 1
)

type hash [sha256.Size]byte

func (h hash) String() string { return hex.EncodeToString(h[:]) }

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

// codecs returns the shared zstd encoder and decoder (EncodeAll and DecodeAll are
// safe for concurrent use).
func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zstdEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2))
		if err != nil {
			panic(err)
		}
		zstdDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(2*ChunkSize))
		if err != nil {
			panic(err)
		}
	})
	return zstdEnc, zstdDec
}

func (s *Store) chunkDir(h hash) string {
	return filepath.Join(s.dir, "chunks", hex.EncodeToString(h[:1]))
}

func (s *Store) chunkPath(h hash) string {
	return filepath.Join(s.chunkDir(h), h.String())
}

// liveSet is the chunks a running job has referenced: the sweeper keeps them
// even before a manifest names them.
type liveSet struct {
	mu     sync.Mutex
	chunks map[hash]struct{}
	// dirs are the fan-out directories this job added chunks to (not yet
	// synced).
	dirs map[string]struct{}
}

func newLiveSet() *liveSet {
	return &liveSet{chunks: map[hash]struct{}{}, dirs: map[string]struct{}{}}
}

func (l *liveSet) add(h hash) {
	l.mu.Lock()
	l.chunks[h] = struct{}{}
	l.mu.Unlock()
}

// putChunk stores raw (one chunk of a volume file) unless the store has it, and
// records it in live. It returns the chunk's address and the bytes it added to
// the store (0 when the chunk was there already).
func (s *Store) putChunk(live *liveSet, raw []byte) (hash, int64, error) {
	h := hash(sha256.Sum256(raw))
	s.gc.RLock()
	defer s.gc.RUnlock()
	live.add(h)
	path := s.chunkPath(h)
	if _, err := os.Stat(path); err == nil {
		return h, 0, nil
	}
	enc, _ := codecs()
	body := make([]byte, 1, len(raw)+1)
	body[0] = chunkZstd
	body = enc.EncodeAll(raw, body)
	if len(body) >= len(raw)+1 {
		// Incompressible (ciphertext, random data): stored raw.
		body = append(body[:0], chunkRaw)
		body = append(body, raw...)
	}
	dir := s.chunkDir(h)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return h, 0, err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "chunk-*")
	if err != nil {
		return h, 0, err
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return h, 0, fmt.Errorf("storing chunk %s: %w", h, err)
	}
	live.mu.Lock()
	live.dirs[dir] = struct{}{}
	live.mu.Unlock()
	return h, int64(len(body)), nil
}

// hasChunk reports whether the chunk store holds h, recording it in live so it
// stays (callers that reuse an existing chunk).
func (s *Store) hasChunk(live *liveSet, h hash) bool {
	s.gc.RLock()
	defer s.gc.RUnlock()
	if _, err := os.Stat(s.chunkPath(h)); err != nil {
		return false
	}
	live.add(h)
	return true
}

// syncChunks makes a job's new chunks durable (their data and their renames)
// before its manifest is written, so a manifest never names a chunk a crash
// could lose. One syncfs(2) flushes them all: the kernel writes them back in
// large batches, where a sync per chunk would make every chunk wait for the
// disk. Until then a crash can leave a chunk file with a name but without its
// data; no manifest names it, and the sweep at Open removes it (and a chunk read
// is always checked against its address).
func (s *Store) syncChunks(live *liveSet) error {
	live.mu.Lock()
	wrote := len(live.dirs) > 0
	clear(live.dirs)
	live.mu.Unlock()
	if !wrote {
		return nil
	}
	d, err := os.Open(filepath.Join(s.dir, "chunks"))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("blockstore: syncing chunks: %w", err)
	}
	return nil
}

// errCorruptChunk reports a chunk whose bytes do not match its address.
var errCorruptChunk = errors.New("blockstore: corrupt chunk")

// chunkBufs recycles the buffers chunks are read into. At most chunkBufsKept
// wait for reuse; the others go to the garbage collector. (A sync.Pool kept
// every buffer of the busiest moment: recycling made so little garbage that no
// collection came to empty it, and 100 instances restoring their root volumes
// at once left about 2 GB in strato serve.)
var chunkBufs = bufferList{free: make(chan *[]byte, chunkBufsKept)}

const chunkBufsKept = 32

type bufferList struct{ free chan *[]byte }

// Get is a kept buffer, or a new one.
func (l bufferList) Get() *[]byte {
	select {
	case b := <-l.free:
		return b
	default:
		b := make([]byte, 0, ChunkSize+1)
		return &b
	}
}

// Put keeps b for reuse, unless enough are kept already.
func (l bufferList) Put(b *[]byte) {
	select {
	case l.free <- b:
	default:
	}
}

// readChunk returns the chunk e (its bytes as they were in the volume file) in
// a pooled buffer to hand back with putBuf. It is checked against the entry's
// fingerprint: that catches damage on disk for a tenth of the cost of SHA-256
// (the address); a chunk file deliberately replaced is out of scope, as anyone
// who can write the store can write the manifests too.
func (s *Store) readChunk(e entry) (*[]byte, []byte, error) {
	h := e.Hash
	f, err := os.Open(s.chunkPath(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("blockstore: chunk %s is missing: %w", h, err)
		}
		return nil, nil, err
	}
	defer f.Close()
	bp := chunkBufs.Get()
	body := (*bp)[:cap(*bp)]
	n, err := io.ReadFull(f, body)
	if err != io.ErrUnexpectedEOF && err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%w: %s is empty", errCorruptChunk, h)
		}
		chunkBufs.Put(bp)
		return nil, nil, err
	}
	body = body[:n]
	var raw []byte
	switch body[0] {
	case chunkRaw:
		raw = body[1:]
	case chunkZstd:
		_, dec := codecs()
		out := chunkBufs.Get()
		raw, err = dec.DecodeAll(body[1:], (*out)[:0])
		chunkBufs.Put(bp)
		bp = out
		if err == nil && cap(raw) > cap(*out) {
			*out = raw[:0]
		}
	default:
		err = fmt.Errorf("format %d", body[0])
	}
	if err == nil && xxhash.Sum64(raw) != e.Fingerprint {
		err = errors.New("content does not match the manifest")
	}
	if err != nil {
		chunkBufs.Put(bp)
		return nil, nil, fmt.Errorf("%w: %s: %v", errCorruptChunk, h, err)
	}
	return bp, raw, nil
}
