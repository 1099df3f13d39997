package blockstore

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// TestWriteWaitsForTheChunkBeingRead: a snapshot reads a claimed chunk from
// the file without the volume's lock, so a write to that chunk must wait until
// the read is done (else the snapshot could hold half of it), while a write to
// a chunk not claimed yet goes on at once (its old bytes saved).
func TestWriteWaitsForTheChunkBeingRead(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size = 4 * ChunkSize
	if err := s.CreateVolume("vol-1", size, nil); err != nil {
		t.Fatal(err)
	}
	v, err := s.OpenVolume("vol-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	before := make([]byte, size)
	_, _ = rand.Read(before)
	if _, err := v.WriteAt(before, 0); err != nil {
		t.Fatal(err)
	}

	sj, err := s.StartSnapshot("vol-1", "snap-1", "")
	if err != nil {
		t.Fatal(err)
	}
	j := sj.(*snapshotJob)
	defer j.finish()
	buf := make([]byte, ChunkSize)
	cl, ok, err := j.claimNext(buf)
	if err != nil || !ok || cl.idx != 0 || !cl.fromFile {
		t.Fatalf("claimNext = %+v, %v, %v; want chunk 0 to read from the file", cl, ok, err)
	}

	if _, err := v.WriteAt(bytes.Repeat([]byte{7}, 4096), 2*ChunkSize+100); err != nil {
		t.Fatal(err) // chunk 2 is not claimed: no wait
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := v.WriteAt(bytes.Repeat([]byte{9}, 4096), 100)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		t.Fatalf("a write to the chunk being read went through (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}

	data, fp, err := j.readClaimed(cl, buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, before[:ChunkSize]) {
		t.Fatal("the chunk read is not the one at the point in time")
	}
	if fp != xxhash.Sum64(before[:ChunkSize]) {
		t.Fatal("the fingerprint is not the chunk's xxhash64")
	}
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write still waits after the chunk was read")
	}
}
