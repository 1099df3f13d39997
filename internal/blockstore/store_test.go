package blockstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"strato/internal/blockstore"
	"strato/internal/cloud"
)

var _ cloud.Blocks = (*blockstore.Store)(nil)

const MiB = 1 << 20

func openStore(t testing.TB) *blockstore.Store {
	t.Helper()
	s, err := blockstore.Open(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// write writes data at off through the store.
func write(t testing.TB, s *blockstore.Store, id string, key []byte, off int64, data []byte) {
	t.Helper()
	v, err := s.OpenVolume(id, key)
	must(t, err)
	defer v.Close()
	if _, err := v.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// contents reads a whole volume through the store (plaintext).
func contents(t testing.TB, s *blockstore.Store, id string, key []byte) []byte {
	t.Helper()
	v, err := s.OpenVolume(id, key)
	must(t, err)
	defer v.Close()
	size, err := v.Size()
	must(t, err)
	buf := make([]byte, size)
	if _, err := v.ReadAt(buf, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return buf
}

func snapshot(t testing.TB, s *blockstore.Store, vol, snap, parent string) cloud.SnapshotStats {
	t.Helper()
	job, err := s.StartSnapshot(vol, snap, parent)
	must(t, err)
	st, err := job.Run(context.Background(), nil)
	must(t, err)
	return st
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestLifecycleAndIncrementalSize(t *testing.T) {
	s := openStore(t)
	const size = 64 * MiB
	must(t, s.CreateVolume("vol-1", size, nil))
	must(t, s.CreateVolume("vol-1", size, nil)) // idempotent
	write(t, s, "vol-1", nil, 0, randomBytes(16*MiB))
	// Compressible data is stored compressed.
	write(t, s, "vol-1", nil, 32*MiB, bytes.Repeat([]byte("strato "), 4*MiB/7))

	st1 := snapshot(t, s, "vol-1", "snap-1", "")
	if st1.Size != size || st1.Chunks != 20 || st1.NewChunks != 20 {
		t.Fatalf("first snapshot: %+v, want 20 chunks of a %d-byte volume", st1, size)
	}
	if st1.StoredBytes < 16*MiB || st1.StoredBytes > 17*MiB {
		t.Fatalf("first snapshot stored %d bytes, want about 16 MiB (random data raw, text compressed)", st1.StoredBytes)
	}

	// Change two chunks: only they are stored.
	write(t, s, "vol-1", nil, 5*MiB+100, randomBytes(1000))
	write(t, s, "vol-1", nil, 40*MiB, randomBytes(10))
	st2 := snapshot(t, s, "vol-1", "snap-2", "snap-1")
	if st2.Chunks != 21 || st2.NewChunks != 2 {
		t.Fatalf("second snapshot: %+v, want 21 chunks, 2 new", st2)
	}
	if st2.StoredBytes > 2*MiB+100 {
		t.Fatalf("second snapshot stored %d bytes, want at most two chunks", st2.StoredBytes)
	}
	// Starting a stored snapshot again reports it.
	if again := snapshot(t, s, "vol-1", "snap-2", "snap-1"); again != st2 {
		t.Fatalf("repeated snapshot: %+v, want %+v", again, st2)
	}

	want := sha256.Sum256(contents(t, s, "vol-1", nil))
	must(t, s.DeleteSnapshot("snap-1"))
	must(t, s.DeleteSnapshot("snap-1")) // idempotent
	must(t, s.RestoreVolume(context.Background(), "vol-2", size, "snap-2", nil, nil, nil))
	must(t, s.RestoreVolume(context.Background(), "vol-2", size, "snap-2", nil, nil, nil)) // idempotent
	if got := sha256.Sum256(contents(t, s, "vol-2", nil)); got != want {
		t.Fatal("restore after deleting the parent differs from the volume")
	}
	must(t, s.DeleteSnapshot("snap-2"))
	if n := countChunks(t, s); n != 0 {
		t.Fatalf("%d chunks left after deleting every snapshot", n)
	}
	must(t, s.DeleteVolume("vol-1"))
	must(t, s.DeleteVolume("vol-1"))
	if _, err := os.Stat(s.VolumePath("vol-1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("volume file still there: %v", err)
	}
}

func TestDeleteFreesOnlyUnsharedChunks(t *testing.T) {
	s := openStore(t)
	must(t, s.CreateVolume("vol-a", 8*MiB, nil))
	must(t, s.CreateVolume("vol-b", 8*MiB, nil))
	shared := randomBytes(2 * MiB)
	write(t, s, "vol-a", nil, 0, shared)
	write(t, s, "vol-b", nil, 0, shared) // same chunks, other volume
	write(t, s, "vol-a", nil, 4*MiB, randomBytes(MiB))
	snapshot(t, s, "vol-a", "snap-a", "")
	stB := snapshot(t, s, "vol-b", "snap-b", "")
	if stB.NewChunks != 0 || stB.StoredBytes != 0 {
		t.Fatalf("snapshot of identical data stored %+v, want nothing new", stB)
	}
	if n := countChunks(t, s); n != 3 {
		t.Fatalf("%d chunks stored, want 3", n)
	}
	must(t, s.DeleteSnapshot("snap-a"))
	if n := countChunks(t, s); n != 2 {
		t.Fatalf("%d chunks after deleting snap-a, want the 2 snap-b uses", n)
	}
	must(t, s.RestoreVolume(context.Background(), "vol-c", 8*MiB, "snap-b", nil, nil, nil))
	if !bytes.Equal(contents(t, s, "vol-c", nil), contents(t, s, "vol-b", nil)) {
		t.Fatal("restore of snap-b differs")
	}
}

func TestGrowAndRestoreLarger(t *testing.T) {
	s := openStore(t)
	must(t, s.CreateVolume("vol-1", 4*MiB, nil))
	data := randomBytes(4 * MiB)
	write(t, s, "vol-1", nil, 0, data)
	must(t, s.GrowVolume("vol-1", 4*MiB))
	if err := s.GrowVolume("vol-1", 2*MiB); err == nil {
		t.Fatal("shrinking a volume succeeded")
	}
	snapshot(t, s, "vol-1", "snap-1", "")
	must(t, s.GrowVolume("vol-1", 16*MiB))
	got := contents(t, s, "vol-1", nil)
	if len(got) != 16*MiB || !bytes.Equal(got[:4*MiB], data) || !bytes.Equal(got[4*MiB:], make([]byte, 12*MiB)) {
		t.Fatal("grown volume does not hold its data followed by zeros")
	}
	if err := s.RestoreVolume(context.Background(), "vol-2", 2*MiB, "snap-1", nil, nil, nil); err == nil {
		t.Fatal("restoring into a smaller volume succeeded")
	}
	must(t, s.RestoreVolume(context.Background(), "vol-2", 16*MiB, "snap-1", nil, nil, nil))
	if !bytes.Equal(contents(t, s, "vol-2", nil), got) {
		t.Fatal("larger restore differs")
	}
}

func TestProgressRises(t *testing.T) {
	s := openStore(t)
	must(t, s.CreateVolume("vol-1", 300*MiB, nil))
	for i := range 30 {
		write(t, s, "vol-1", nil, int64(i)*10*MiB, randomBytes(4096))
	}
	check := func(name string) (func(done, total int64), func()) {
		var last, calls int64 = -1, 0
		var total0 int64 = -1
		return func(done, total int64) {
				calls++
				if done <= last || done > total || (total0 >= 0 && total != total0) {
					t.Errorf("%s: progress (%d, %d) after %d", name, done, total, last)
				}
				last, total0 = done, total
			}, func() {
				if calls < 2 || last != total0 {
					t.Errorf("%s: %d progress calls, last (%d, %d): want several, ending at the total", name, calls, last, total0)
				}
			}
	}
	fn, end := check("snapshot")
	job, err := s.StartSnapshot("vol-1", "snap-1", "")
	must(t, err)
	_, err = job.Run(context.Background(), fn)
	must(t, err)
	end()
	fn, end = check("restore")
	must(t, s.RestoreVolume(context.Background(), "vol-2", 300*MiB, "snap-1", nil, nil, fn))
	end()
	key := randomBytes(64)
	fn, end = check("copy")
	_, err = s.CopySnapshot(context.Background(), "snap-1", "snap-2", nil, key, fn)
	must(t, err)
	end()
}

func TestInvalidInput(t *testing.T) {
	s := openStore(t)
	for _, id := range []string{"", "../x", "a/b", ".hidden"} {
		if err := s.CreateVolume(id, MiB, nil); err == nil {
			t.Errorf("CreateVolume(%q) succeeded", id)
		}
	}
	if err := s.CreateVolume("vol-1", 1000, nil); err == nil {
		t.Error("a size that is not a multiple of 512 was accepted")
	}
	if err := s.CreateVolume("vol-1", MiB, make([]byte, 32)); err == nil {
		t.Error("a 32-byte key was accepted")
	}
	if _, err := s.StartSnapshot("vol-none", "snap-1", ""); err == nil {
		t.Error("snapshot of a missing volume started")
	}
	if err := s.RestoreVolume(context.Background(), "vol-2", MiB, "snap-none", nil, nil, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("restore of a missing snapshot: %v, want not-exist", err)
	}
	if _, err := blockstore.Open(s.Dir()); err == nil {
		t.Error("a second Open of the same directory succeeded")
	}
}

func TestDamagedManifestStopsTheSweep(t *testing.T) {
	s := openStore(t)
	must(t, s.CreateVolume("vol-1", 4*MiB, nil))
	write(t, s, "vol-1", nil, 0, randomBytes(MiB))
	snapshot(t, s, "vol-1", "snap-1", "")
	path := filepath.Join(s.Dir(), "manifests", "snap-1.manifest")
	b, err := os.ReadFile(path)
	must(t, err)
	b[len(b)/2] ^= 1
	must(t, os.WriteFile(path, b, 0o600))
	if err := s.AbandonSnapshot("snap-other"); err == nil || !strings.Contains(err.Error(), "damaged manifest") {
		t.Fatalf("sweep with a damaged manifest: %v, want refusal", err)
	}
	if n := countChunks(t, s); n != 1 {
		t.Fatalf("%d chunks after a refused sweep, want 1", n)
	}
}

// countChunks counts the chunk files in the store.
func countChunks(t testing.TB, s *blockstore.Store) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(s.Dir(), "chunks"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	must(t, err)
	return n
}

// TestParentDeletedDuringSnapshot: the chunks a running snapshot takes from its
// parent survive the parent's deletion (and the sweep) meanwhile.
func TestParentDeletedDuringSnapshot(t *testing.T) {
	s := openStore(t)
	must(t, s.CreateVolume("vol-1", 16*MiB, nil))
	write(t, s, "vol-1", nil, 0, randomBytes(12*MiB))
	snapshot(t, s, "vol-1", "snap-1", "")
	write(t, s, "vol-1", nil, 3*MiB, randomBytes(100))
	want := contents(t, s, "vol-1", nil)
	job, err := s.StartSnapshot("vol-1", "snap-2", "snap-1")
	must(t, err)
	if err := s.AbandonSnapshot("snap-2"); err == nil {
		t.Fatal("abandoning a running snapshot succeeded")
	}
	must(t, s.DeleteSnapshot("snap-1"))
	st, err := job.Run(context.Background(), nil)
	must(t, err)
	if st.NewChunks != 1 || st.Chunks != 12 {
		t.Fatalf("snapshot %+v, want 12 chunks, 1 new", st)
	}
	must(t, s.RestoreVolume(context.Background(), "vol-2", 16*MiB, "snap-2", nil, nil, nil))
	if !bytes.Equal(contents(t, s, "vol-2", nil), want) {
		t.Fatal("restore differs after the parent was deleted mid-snapshot")
	}
}

// TestCopySameKeySharesChunks: a copy with the same key writes no chunk and
// outlives its source.
func TestCopySameKeySharesChunks(t *testing.T) {
	s := openStore(t)
	key := randomBytes(64)
	must(t, s.CreateVolume("vol-1", 8*MiB, key))
	write(t, s, "vol-1", key, MiB, randomBytes(3*MiB))
	want := contents(t, s, "vol-1", key)
	st := snapshot(t, s, "vol-1", "snap-1", "")
	chunks := countChunks(t, s)
	cp, err := s.CopySnapshot(context.Background(), "snap-1", "snap-2", key, key, nil)
	must(t, err)
	if cp.StoredBytes != 0 || cp.Chunks != st.Chunks || countChunks(t, s) != chunks {
		t.Fatalf("same-key copy %+v stored chunks (store has %d, had %d)", cp, countChunks(t, s), chunks)
	}
	again, err := s.CopySnapshot(context.Background(), "snap-1", "snap-2", key, key, nil)
	if err != nil || again != cp {
		t.Fatalf("repeated copy: %+v %v", again, err)
	}
	must(t, s.DeleteSnapshot("snap-1"))
	must(t, s.RestoreVolume(context.Background(), "vol-2", 8*MiB, "snap-2", key, key, nil))
	if !bytes.Equal(contents(t, s, "vol-2", key), want) {
		t.Fatal("copy does not restore the source's data")
	}
}

// Deleting many snapshots at once: each delete sweeps while others remove their
// manifests, which must not stop any sweep.
func TestConcurrentDeletes(t *testing.T) {
	s := openStore(t)
	must(t, s.CreateVolume("vol-1", 64<<20, nil))
	const n = 40
	for i := 0; i < n; i++ {
		write(t, s, "vol-1", nil, int64(i)<<20, randomBytes(1<<20))
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("snap-%d", i-1)
		}
		snapshot(t, s, "vol-1", fmt.Sprintf("snap-%d", i), parent)
	}
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { errs <- s.DeleteSnapshot(fmt.Sprintf("snap-%d", i)) }()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := countChunks(t, s); got != 0 {
		t.Errorf("%d chunks left after deleting every snapshot", got)
	}
}

// ImportVolume copies a raw disk image byte for byte, and sparsely.
func TestImportVolume(t *testing.T) {
	s := openStore(t)
	img := filepath.Join(t.TempDir(), "disk.img")
	data := randomBytes(3 << 20)
	f, err := os.Create(img)
	must(t, err)
	must(t, f.Truncate(32<<20))
	_, err = f.WriteAt(data, 8<<20)
	must(t, err)
	must(t, f.Close())
	must(t, s.ImportVolume(context.Background(), "vol-1", 64<<20, img))
	got := contents(t, s, "vol-1", nil)
	want := make([]byte, 64<<20)
	copy(want[8<<20:], data)
	if !bytes.Equal(got, want) {
		t.Fatal("the imported volume differs from the image")
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(s.VolumePath("vol-1"), &st))
	if used := st.Blocks * 512; used > 8<<20 {
		t.Errorf("the imported volume uses %d bytes on disk: not sparse", used)
	}
	if err := s.ImportVolume(context.Background(), "vol-2", 16<<20, img); err == nil {
		t.Error("an image larger than the volume was imported")
	}
}
