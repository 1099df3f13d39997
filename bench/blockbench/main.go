// Command blockbench measures the block store against the targets, on
// a scratch directory (bench/blockstore.sh runs it):
//
//   - an incremental snapshot of a fully written volume with 1% of its chunks
//     changed: bytes stored (target < 2% of the volume) and wall time as a ratio
//     to `cat VOLUME > /dev/null` on the same file (target <= 1.5x);
//   - a restore of that snapshot as a ratio to `cp` of the volume file (target
//     <= 2x);
//   - an empty 1 TiB volume created, snapshotted and restored (< 1 s each).
//
// Ratios are taken in the same run, each round timing the reference and the
// block store back to back; the medians of -rounds rounds are reported. The
// snapshot is measured with the volume in the page cache (where reading is a
// memory copy and the block store's hashing shows) and evicted from it (where
// reading is the disk's work, the "one sequential read"); restores
// start from evicted sources. Eviction is per file (POSIX_FADV_DONTNEED), so
// nothing else on the machine is disturbed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"strato/internal/blockstore"
)

func main() {
	dir := flag.String("dir", "", "scratch directory (required; removed content is under DIR/blocks)")
	sizeGiB := flag.Int64("size", 8, "volume size in GiB")
	changed := flag.Float64("changed", 0.01, "fraction of chunks changed between snapshots")
	rounds := flag.Int("rounds", 3, "rounds per ratio (the median is reported)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the warm rounds (snapshots, in-process) to this file")
	flag.Parse()
	if *dir == "" {
		fatal(fmt.Errorf("-dir is required"))
	}
	b := &bench{size: *sizeGiB << 30, cpuProfile: *cpuProfile}
	var err error
	if b.s, err = blockstore.Open(filepath.Join(*dir, "blocks")); err != nil {
		fatal(err)
	}
	defer b.s.Close()
	b.run(*changed, *rounds)
}

type bench struct {
	s          *blockstore.Store
	size       int64
	cpuProfile string
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "blockbench:", err)
	os.Exit(1)
}

func check(err error) {
	if err != nil {
		fatal(err)
	}
}

func timed(f func() error) time.Duration {
	start := time.Now()
	check(f())
	return time.Since(start)
}

func shell(cmd string) func() error {
	return func() error { return exec.Command("sh", "-c", cmd).Run() }
}

// evict drops the pages of the files under paths from the page cache
// (POSIX_FADV_DONTNEED after a sync: this file only, nothing else on the
// machine), so the next read of them comes from the disk.
func evict(paths ...string) {
	for _, root := range paths {
		check(filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := f.Sync(); err != nil {
				return err
			}
			return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}))
	}
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

func medianF(f []float64) float64 {
	f = slices.Clone(f)
	slices.Sort(f)
	return f[len(f)/2]
}

func (b *bench) run(changed float64, rounds int) {
	ctx := context.Background()
	s := b.s
	const vol = "vol-bench"
	check(s.CreateVolume(vol, b.size, nil))
	path := s.VolumePath(vol)
	fmt.Printf("volume: %d GiB, chunk %d KiB\n", b.size>>30, blockstore.ChunkSize>>10)

	d := timed(func() error { return fill(path, b.size) })
	fmt.Printf("fill with random data: %v\n", d.Round(time.Millisecond))
	var st0 any
	d = timed(func() error {
		job, err := s.StartSnapshot(vol, "snap-0", "")
		if err != nil {
			return err
		}
		st, err := job.Run(ctx, nil)
		st0 = st
		return err
	})
	fmt.Printf("full snapshot: %v %+v\n", d.Round(time.Millisecond), st0)

	chunks := b.size / blockstore.ChunkSize
	nChanged := int(float64(chunks) * changed)
	r := rand.New(rand.NewPCG(7, 7))
	parent := "snap-0"
	round := 0
	for _, cold := range []bool{false, true} {
		cache := map[bool]string{false: "warm (file in the page cache)", true: "cold (file evicted before each read)"}[cold]
		var ratios []float64
		var catTimes, snapTimes []time.Duration
		var stored []int64
		if !cold && b.cpuProfile != "" {
			f, err := os.Create(b.cpuProfile)
			check(err)
			check(pprof.StartCPUProfile(f))
		}
		for range rounds {
			round++
			check(changeChunks(path, r, chunks, nChanged))
			if cold {
				evict(path)
			} else {
				check(shell("cat '" + path + "' > /dev/null")()) // warm it
			}
			cat := timed(shell("cat '" + path + "' > /dev/null"))
			if cold {
				evict(path)
			}
			id := fmt.Sprint("snap-", round)
			var storedBytes int64
			snap := timed(func() error {
				job, err := s.StartSnapshot(vol, id, parent)
				if err != nil {
					return err
				}
				st, err := job.Run(ctx, nil)
				storedBytes = st.StoredBytes
				return err
			})
			parent = id
			catTimes, snapTimes, stored = append(catTimes, cat), append(snapTimes, snap), append(stored, storedBytes)
			ratios = append(ratios, float64(snap)/float64(cat))
			fmt.Printf("%s round: %d chunks changed; cat %v, snapshot %v (%.2fx), stored %d bytes (%.2f%% of the volume)\n",
				cache, nChanged, cat.Round(time.Millisecond), snap.Round(time.Millisecond), ratios[len(ratios)-1], storedBytes, 100*float64(storedBytes)/float64(b.size))
		}
		if !cold && b.cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		slices.Sort(stored)
		fmt.Printf("RESULT incremental snapshot, %s: stored %.2f%% of the volume (target < 2%%); time %.2fx cat (median of %d; cat %v, snapshot %v; target <= 1.5x)\n",
			cache, 100*float64(stored[len(stored)/2])/float64(b.size), medianF(ratios), rounds, median(catTimes).Round(time.Millisecond), median(snapTimes).Round(time.Millisecond))
	}

	var cpTimes, cpSyncTimes, restoreTimes []time.Duration
	var restoreRatios, restoreSyncRatios []float64
	copyPath := filepath.Join(filepath.Dir(path), "cp-copy.img")
	chunkDir := filepath.Join(s.Dir(), "chunks")
	for round := range rounds {
		evict(path)
		cp := timed(shell("cp '" + path + "' '" + copyPath + "'"))
		sync := timed(shell("sync '" + copyPath + "'"))
		check(os.Remove(copyPath))
		evict(chunkDir)
		id := fmt.Sprint("vol-restored-", round)
		restore := timed(func() error { return s.RestoreVolume(ctx, id, b.size, parent, nil, nil, nil) })
		check(s.DeleteVolume(id))
		cpTimes, cpSyncTimes, restoreTimes = append(cpTimes, cp), append(cpSyncTimes, cp+sync), append(restoreTimes, restore)
		restoreRatios = append(restoreRatios, float64(restore)/float64(cp))
		restoreSyncRatios = append(restoreSyncRatios, float64(restore)/float64(cp+sync))
		fmt.Printf("restore round %d (sources evicted): cp %v (+ sync %v), restore (synced) %v: %.2fx cp, %.2fx cp+sync\n",
			round+1, cp.Round(time.Millisecond), sync.Round(time.Millisecond), restore.Round(time.Millisecond), restoreRatios[round], restoreSyncRatios[round])
	}
	fmt.Printf("RESULT restore: %.2fx cp (median of %d; cp %v, restore %v; target <= 2x); %.2fx cp followed by sync of the copy (%v)\n",
		medianF(restoreRatios), rounds, median(cpTimes).Round(time.Millisecond), median(restoreTimes).Round(time.Millisecond), medianF(restoreSyncRatios), median(cpSyncTimes).Round(time.Millisecond))

	check(s.DeleteVolume(vol))
	for i := range 2*rounds + 1 {
		check(s.DeleteSnapshot(fmt.Sprint("snap-", i)))
	}

	const tib = 1 << 40
	create := timed(func() error { return s.CreateVolume("vol-empty", tib, nil) })
	snap := timed(func() error {
		job, err := s.StartSnapshot("vol-empty", "snap-empty", "")
		if err != nil {
			return err
		}
		_, err = job.Run(ctx, nil)
		return err
	})
	restore := timed(func() error { return s.RestoreVolume(ctx, "vol-empty-2", tib, "snap-empty", nil, nil, nil) })
	fmt.Printf("RESULT empty 1 TiB volume: create %v, snapshot %v, restore %v (target < 1 s each)\n",
		create.Round(time.Microsecond), snap.Round(time.Microsecond), restore.Round(time.Microsecond))
	check(s.DeleteVolume("vol-empty"))
	check(s.DeleteVolume("vol-empty-2"))
	check(s.DeleteSnapshot("snap-empty"))
}

// fill writes random bytes over the whole file (two writers, 4 MiB blocks) and
// syncs it, as a guest filling its disk would.
func fill(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	const block = 4 << 20
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range int64(2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.NewChaCha8([32]byte{byte(w)})
			buf := make([]byte, block)
			for off := w * block; off < size; off += 2 * block {
				rng.Read(buf)
				if _, err := f.WriteAt(buf[:min(block, size-off)], off); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return f.Sync()
}

// changeChunks overwrites 4 KiB at a random place in n distinct random chunks.
func changeChunks(path string, r *rand.Rand, chunks int64, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for _, c := range r.Perm(int(chunks))[:n] {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		off := int64(c)*blockstore.ChunkSize + r.Int64N(blockstore.ChunkSize-4096)
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
	}
	return f.Sync()
}
