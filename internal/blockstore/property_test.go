package blockstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"strato/internal/blockstore"
)

// TestRandomWritesSnapshotRestore is the property test: random writes (across
// chunk boundaries, some of zeros), snapshot, more writes, incremental
// snapshot; both restore (also into larger volumes) to exactly the volume as it
// was, sparse wherever the snapshot had no data.
func TestRandomWritesSnapshotRestore(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			s := openStore(t)
			size := int64(16+r.IntN(32)) * MiB
			if seed%2 == 1 {
				size += 512 * int64(1+r.IntN(100)) // a partial last chunk
			}
			must(t, s.CreateVolume("vol-1", size, nil))
			model := make([]byte, size)
			scribble := func(n int) {
				for range n {
					l := 1 + r.IntN(3*MiB)
					if r.IntN(3) == 0 {
						l = 1 + r.IntN(8192)
					}
					off := r.Int64N(size - int64(l) + 1)
					data := randomBytes(l)
					if r.IntN(4) == 0 {
						clear(data)
					}
					write(t, s, "vol-1", nil, off, data)
					copy(model[off:], data)
				}
			}
			scribble(6)
			first := bytes.Clone(model)
			snapshot(t, s, "vol-1", "snap-1", "")
			scribble(6)
			second := bytes.Clone(model)
			st2 := snapshot(t, s, "vol-1", "snap-2", "snap-1")
			if st2.Chunks != dataChunks(second) {
				t.Fatalf("snap-2 has %d chunks, the volume %d with data", st2.Chunks, dataChunks(second))
			}

			for i, tc := range []struct {
				snap string
				want []byte
				size int64
			}{
				{"snap-1", first, size},
				{"snap-2", second, size},
				{"snap-1", first, size + 8*MiB},
				{"snap-2", second, size + 3*MiB + 512},
			} {
				id := fmt.Sprint("vol-r", i)
				must(t, s.RestoreVolume(context.Background(), id, tc.size, tc.snap, nil, nil, nil))
				got := contents(t, s, id, nil)
				want := append(bytes.Clone(tc.want), make([]byte, tc.size-size)...)
				if sha256.Sum256(got) != sha256.Sum256(want) {
					t.Fatalf("restore %d of %s differs from the volume", i, tc.snap)
				}
				checkSparse(t, s.VolumePath(id), want)
			}
		})
	}
}

// dataChunks counts the chunks of b that are not all zeros.
func dataChunks(b []byte) int {
	n := 0
	for off := 0; off < len(b); off += blockstore.ChunkSize {
		if !bytes.Equal(b[off:min(off+blockstore.ChunkSize, len(b))], make([]byte, min(blockstore.ChunkSize, len(b)-off))) {
			n++
		}
	}
	return n
}

// checkSparse asserts the file allocates no more than the non-zero 4 KiB blocks
// of want (st_blocks), and that zero chunks are holes (SEEK_DATA skips them).
func checkSparse(t *testing.T, path string, want []byte) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	must(t, err)
	nonzero := int64(0)
	for off := 0; off < len(want); off += 4096 {
		end := min(off+4096, len(want))
		if !bytes.Equal(want[off:end], make([]byte, end-off)) {
			nonzero++
		}
	}
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if allocated > nonzero*4096+256<<10 {
		t.Errorf("%s allocates %d bytes for %d non-zero 4 KiB blocks", path, allocated, nonzero)
	}
	for off := 0; off < len(want); off += blockstore.ChunkSize {
		end := min(off+blockstore.ChunkSize, len(want))
		if !bytes.Equal(want[off:end], make([]byte, end-off)) {
			continue
		}
		d, err := unix.Seek(int(f.Fd()), int64(off), unix.SEEK_DATA)
		if err == nil && d < int64(end) {
			t.Errorf("%s: zero chunk at %d holds data at %d", path, off, d)
			return
		}
	}
}
