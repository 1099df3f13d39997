package blockstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"strato/internal/blockstore"
)

// benchVolume makes a fully written random volume of size bytes and its first
// snapshot.
func benchVolume(b *testing.B, size int64) *blockstore.Store {
	s := openStore(b)
	must(b, s.CreateVolume("vol-1", size, nil))
	f, err := os.OpenFile(s.VolumePath("vol-1"), os.O_WRONLY, 0)
	must(b, err)
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 4<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		rng.Read(buf)
		_, err := f.WriteAt(buf, off)
		must(b, err)
	}
	must(b, f.Close())
	snapshot(b, s, "vol-1", "snap-0", "")
	return s
}

// BenchmarkIncrementalSnapshot: a 256 MiB fully written volume, 1% of its
// chunks changed before each snapshot (the file is in the page cache).
func BenchmarkIncrementalSnapshot(b *testing.B) {
	const size = 256 * MiB
	s := benchVolume(b, size)
	r := rand.New(rand.NewPCG(1, 1))
	parent := "snap-0"
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		b.StopTimer()
		for _, c := range r.Perm(size / MiB)[:size/MiB/100+1] {
			write(b, s, "vol-1", nil, int64(c)*MiB+100, randomBytes(4096))
		}
		b.StartTimer()
		i++
		id := fmt.Sprint("snap-", i)
		snapshot(b, s, "vol-1", id, parent)
		parent = id
	}
}

// BenchmarkFullSnapshot stores every chunk of a 64 MiB random volume anew.
func BenchmarkFullSnapshot(b *testing.B) {
	const size = 64 * MiB
	s := benchVolume(b, size)
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		b.StopTimer()
		must(b, s.DeleteSnapshot("snap-0"))
		must(b, s.DeleteSnapshot(fmt.Sprint("snap-", i)))
		i++
		b.StartTimer()
		snapshot(b, s, "vol-1", fmt.Sprint("snap-", i), "")
	}
}

// BenchmarkRestore restores a 256 MiB random volume (synced).
func BenchmarkRestore(b *testing.B) {
	const size = 256 * MiB
	s := benchVolume(b, size)
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		id := fmt.Sprint("vol-r", i)
		must(b, s.RestoreVolume(context.Background(), id, size, "snap-0", nil, nil, nil))
		b.StopTimer()
		must(b, s.DeleteVolume(id))
		i++
		b.StartTimer()
	}
}

// BenchmarkEmptyTiB snapshots and restores an empty 1 TiB volume.
func BenchmarkEmptyTiB(b *testing.B) {
	s := openStore(b)
	must(b, s.CreateVolume("vol-1", 1<<40, nil))
	i := 0
	for b.Loop() {
		i++
		snap := fmt.Sprint("snap-", i)
		snapshot(b, s, "vol-1", snap, "")
		must(b, s.RestoreVolume(context.Background(), fmt.Sprint("vol-r", i), 1<<40, snap, nil, nil, nil))
	}
}
