package blockstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"strato/internal/cloud"
)

// manifest is a stored snapshot: which chunks hold data, and their addresses. A
// snapshot exists exactly when its manifest file does.
type manifest struct {
	Size        int64 // the volume's size in bytes
	StoredBytes int64 // what the snapshot added to the chunk store
	NewChunks   int
	Entries     []entry // chunks with data, by rising Index
}

// entry is one chunk with data.
type entry struct {
	Index uint32 // chunk number: bytes [Index*ChunkSize, (Index+1)*ChunkSize)
	Hash  hash   // SHA-256 of the chunk's bytes (its address in the chunk store)
	// Fingerprint is the xxhash64 of the same bytes: the next snapshot of the
	// volume compares it to skip hashing and storing unchanged chunks.
	Fingerprint uint64
}

func (m *manifest) stats() cloud.SnapshotStats {
	return cloud.SnapshotStats{Size: m.Size, StoredBytes: m.StoredBytes, Chunks: len(m.Entries), NewChunks: m.NewChunks}
}

// byIndex maps chunk numbers to entries (for the next snapshot's comparison).
func (m *manifest) byIndex() map[uint32]entry {
	out := make(map[uint32]entry, len(m.Entries))
	for _, e := range m.Entries {
		out[e.Index] = e
	}
	return out
}

// The file: magic, version, chunk size, volume size, stored bytes, new chunks,
// entry count, entries (index, hash, fingerprint), then the SHA-256 of all
// that, so a damaged manifest is refused rather than restored wrongly.
const (
	manifestMagic   = "STRATOSN"
	manifestVersion = 1
	headerLen       = 8 + 4 + 4 + 8 + 8 + 4 + 4
	entryLen        = 4 + sha256.Size + 8
)

func (m *manifest) encode() []byte {
	b := make([]byte, 0, headerLen+len(m.Entries)*entryLen+sha256.Size)
	b = append(b, manifestMagic...)
	b = binary.LittleEndian.AppendUint32(b, manifestVersion)
	b = binary.LittleEndian.AppendUint32(b, ChunkSize)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Size))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.StoredBytes))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.NewChunks))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.LittleEndian.AppendUint32(b, e.Index)
		b = append(b, e.Hash[:]...)
		b = binary.LittleEndian.AppendUint64(b, e.Fingerprint)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

var errBadManifest = errors.New("blockstore: damaged manifest")

func decodeManifest(b []byte) (*manifest, error) {
	if len(b) < headerLen+sha256.Size || string(b[:8]) != manifestMagic {
		return nil, errBadManifest
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if sha256.Sum256(body) != [sha256.Size]byte(sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadManifest)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != manifestVersion {
		return nil, fmt.Errorf("%w: version %d", errBadManifest, v)
	}
	if cs := le.Uint32(b[12:]); cs != ChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d", errBadManifest, cs)
	}
	m := &manifest{
		Size:        int64(le.Uint64(b[16:])),
		StoredBytes: int64(le.Uint64(b[24:])),
		NewChunks:   int(le.Uint32(b[32:])),
	}
	n := int(le.Uint32(b[36:]))
	if len(body) != headerLen+n*entryLen {
		return nil, fmt.Errorf("%w: length", errBadManifest)
	}
	m.Entries = make([]entry, n)
	p := body[headerLen:]
	for i := range m.Entries {
		e := &m.Entries[i]
		e.Index = le.Uint32(p)
		copy(e.Hash[:], p[4:])
		e.Fingerprint = le.Uint64(p[4+sha256.Size:])
		p = p[entryLen:]
	}
	return m, nil
}

// readManifest returns the snapshot's manifest, or an error wrapping
// fs.ErrNotExist when there is no such snapshot.
func (s *Store) readManifest(snapshotID string) (*manifest, error) {
	if err := checkID(snapshotID); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.manifestPath(snapshotID))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blockstore: snapshot %s: %w", snapshotID, fs.ErrNotExist)
		}
		return nil, err
	}
	m, err := decodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snapshotID, err)
	}
	return m, nil
}

func (s *Store) writeManifest(snapshotID string, m *manifest) error {
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Index < m.Entries[j].Index })
	return writeFileAtomic(s.manifestPath(snapshotID), m.encode())
}

// HasSnapshot reports whether the snapshot is stored (its manifest exists).
func (s *Store) HasSnapshot(snapshotID string) bool {
	if checkID(snapshotID) != nil {
		return false
	}
	_, err := os.Stat(s.manifestPath(snapshotID))
	return err == nil
}

// SnapshotStats returns a stored snapshot's figures.
func (s *Store) SnapshotStats(snapshotID string) (cloud.SnapshotStats, error) {
	m, err := s.readManifest(snapshotID)
	if err != nil {
		return cloud.SnapshotStats{}, err
	}
	return m.stats(), nil
}
