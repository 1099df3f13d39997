package blockstore_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strato/internal/blockstore"
)

// TestSnapshotIsThePointInTime writes to the volume from several goroutines
// while the snapshot runs: the snapshot must hold the volume as it was at
// StartSnapshot, the volume every write. A small copy-before-write memory limit
// makes saved chunks spill to a file too.
func TestSnapshotIsThePointInTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plaintext", nil}, {"encrypted", randomBytes(64)}} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			blockstore.SetCBWMemLimit(s, 4*MiB)
			const size = 96 * MiB
			must(t, s.CreateVolume("vol-1", size, tc.key))
			// Data in the first two thirds, holes in the rest.
			model := make([]byte, size)
			copy(model, randomBytes(64*MiB))
			for i := 8; i < 64; i += 9 {
				clear(model[i*MiB : (i+2)*MiB]) // zero runs inside the data
			}
			write(t, s, "vol-1", tc.key, 0, model[:64*MiB])
			before := bytes.Clone(model)

			job, err := s.StartSnapshot("vol-1", "snap-1", "")
			must(t, err)
			v, err := s.OpenVolume("vol-1", tc.key)
			must(t, err)
			defer v.Close()

			var (
				mu       sync.Mutex // keeps the model in the order of the writes
				runDone  atomic.Bool
				writes   atomic.Int64 // while the snapshot ran
				wg       sync.WaitGroup
				runErr   error
				runStats = make(chan struct{})
			)
			go func() {
				defer close(runStats)
				// Slow reading down so that writes land on both sides of the cursor.
				_, runErr = job.Run(context.Background(), func(done, total int64) { time.Sleep(3 * time.Millisecond) })
				runDone.Store(true)
			}()
			for w := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 7))
					for i := 0; i < 2000 && (!runDone.Load() || i < 50); i++ {
						n := 1 + r.IntN(3*MiB/2)
						off := r.Int64N(size - int64(n))
						data := randomBytes(n)
						if r.IntN(5) == 0 {
							clear(data)
						}
						mu.Lock()
						if _, err := v.WriteAt(data, off); err != nil {
							mu.Unlock()
							t.Error(err)
							return
						}
						copy(model[off:], data)
						mu.Unlock()
						if !runDone.Load() {
							writes.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			<-runStats
			must(t, runErr)
			if writes.Load() < 20 {
				t.Fatalf("only %d writes raced the snapshot", writes.Load())
			}
			t.Logf("%d writes raced the snapshot", writes.Load())

			if !bytes.Equal(contents(t, s, "vol-1", tc.key), model) {
				t.Fatal("the volume does not hold every write")
			}
			must(t, s.RestoreVolume(context.Background(), "vol-2", size, "snap-1", tc.key, tc.key, nil))
			if !bytes.Equal(contents(t, s, "vol-2", tc.key), before) {
				t.Fatal("the snapshot is not the volume as it was at StartSnapshot")
			}
		})
	}
}
