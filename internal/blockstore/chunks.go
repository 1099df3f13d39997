package blockstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

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
	// dirs are the fan-out directories this job added entries to; they are
	// synced before its manifest is written.
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
	if err == nil {
		err = unix.Fdatasync(int(f.Fd()))
	}
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

// syncChunkDirs makes the renames of a job's new chunks durable; it runs before
// the job's manifest is written, so a manifest never names a chunk that a crash
// could lose.
func (s *Store) syncChunkDirs(live *liveSet) error {
	live.mu.Lock()
	defer live.mu.Unlock()
	for dir := range live.dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	clear(live.dirs)
	return nil
}

// errCorruptChunk reports a chunk whose bytes do not match its address.
var errCorruptChunk = errors.New("blockstore: corrupt chunk")

// readChunk returns the chunk h (its bytes as they were in the volume file),
// checked against its address.
func (s *Store) readChunk(h hash) ([]byte, error) {
	body, err := os.ReadFile(s.chunkPath(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blockstore: chunk %s is missing: %w", h, err)
		}
		return nil, err
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", errCorruptChunk, h)
	}
	var raw []byte
	switch body[0] {
	case chunkRaw:
		raw = body[1:]
	case chunkZstd:
		_, dec := codecs()
		raw, err = dec.DecodeAll(body[1:], make([]byte, 0, ChunkSize))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errCorruptChunk, h, err)
		}
	default:
		return nil, fmt.Errorf("%w: %s has format %d", errCorruptChunk, h, body[0])
	}
	if sha256.Sum256(raw) != h {
		return nil, fmt.Errorf("%w: %s does not match its content", errCorruptChunk, h)
	}
	return raw, nil
}
