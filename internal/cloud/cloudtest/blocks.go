package cloudtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"

	"strato/internal/cloud"
)

// Blocks is an in-memory cloud.Blocks for control-plane tests: it keeps what
// exists and with which key (a restore or copy given the wrong source key fails,
// so tests prove the control plane hands over the right keys), and can hold its
// long operations until released, to leave work unfinished.
type Blocks struct {
	mu        sync.Mutex
	volumes   map[string]*FakeVolume
	snapshots map[string]*FakeSnapshot
	held      chan struct{} // closed when released; nil when not holding
	fail      map[string]error
	calls     []string
}

// FakeVolume is a volume as the fake block store keeps it.
type FakeVolume struct {
	Size int64
	Key  []byte
	// From is the snapshot it was restored from.
	From string
}

// FakeSnapshot is a snapshot as the fake block store keeps it.
type FakeSnapshot struct {
	VolumeID, ParentID string
	Size               int64
	Key                []byte
	Done               bool
}

// NewBlocks returns an empty fake block store.
func NewBlocks() *Blocks {
	return &Blocks{volumes: map[string]*FakeVolume{}, snapshots: map[string]*FakeSnapshot{}, fail: map[string]error{}}
}

var _ cloud.Blocks = (*Blocks)(nil)

// Hold makes RestoreVolume, snapshot jobs and CopySnapshot wait (until Release
// or their context ends) before doing anything.
func (b *Blocks) Hold() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		b.held = make(chan struct{})
	}
}

// Release lets held operations go on.
func (b *Blocks) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held != nil {
		close(b.held)
		b.held = nil
	}
}

// Fail makes the next call of the operation (method name) fail with err.
func (b *Blocks) Fail(op string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail[op] = err
}

// Calls lists the calls made, as "Method id".
func (b *Blocks) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

// Volume returns a volume's record, or nil.
func (b *Blocks) Volume(id string) *FakeVolume {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.volumes[id]; ok {
		c := *v
		return &c
	}
	return nil
}

// Snapshot returns a snapshot's record, or nil.
func (b *Blocks) Snapshot(id string) *FakeSnapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.snapshots[id]; ok {
		c := *s
		return &c
	}
	return nil
}

// enter records a call and returns the injected failure, if any.
func (b *Blocks) enter(op, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, op+" "+id)
	err := b.fail[op]
	delete(b.fail, op)
	return err
}

// wait blocks while the store is held.
func (b *Blocks) wait(ctx context.Context) error {
	b.mu.Lock()
	held := b.held
	b.mu.Unlock()
	if held == nil {
		return nil
	}
	select {
	case <-held:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Blocks) CreateVolume(id string, size int64, key []byte) error {
	if err := b.enter("CreateVolume", id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.volumes[id] = &FakeVolume{Size: size, Key: bytes.Clone(key)}
	return nil
}

func (b *Blocks) ImportVolume(ctx context.Context, id string, size int64, path string) error {
	if err := b.enter("ImportVolume", id); err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.volumes[id] = &FakeVolume{Size: size}
	return nil
}

func (b *Blocks) RestoreVolume(ctx context.Context, id string, size int64, snapshotID string, srcKey, key []byte, progress func(done, total int64)) error {
	if err := b.enter("RestoreVolume", id); err != nil {
		return err
	}
	if err := b.wait(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.snapshots[snapshotID]
	switch {
	case !ok || !s.Done:
		return fmt.Errorf("fake blocks: no completed snapshot %s", snapshotID)
	case !bytes.Equal(s.Key, srcKey):
		return fmt.Errorf("fake blocks: wrong key for snapshot %s", snapshotID)
	case size < s.Size:
		return fmt.Errorf("fake blocks: size %d is below the snapshot's %d", size, s.Size)
	}
	progress(s.Size, s.Size)
	b.volumes[id] = &FakeVolume{Size: size, Key: bytes.Clone(key), From: snapshotID}
	return nil
}

func (b *Blocks) GrowVolume(id string, size int64) error {
	if err := b.enter("GrowVolume", id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.volumes[id]
	if !ok {
		return fmt.Errorf("fake blocks: no volume %s", id)
	}
	if size < v.Size {
		return fmt.Errorf("fake blocks: cannot shrink %s", id)
	}
	v.Size = size
	return nil
}

func (b *Blocks) DeleteVolume(id string) error {
	if err := b.enter("DeleteVolume", id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.volumes, id)
	return nil
}

func (b *Blocks) VolumePath(id string) string { return "/fake/" + id }

func (b *Blocks) StartSnapshot(volumeID, snapshotID, parentID string) (cloud.SnapshotJob, error) {
	if err := b.enter("StartSnapshot", snapshotID); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.volumes[volumeID]
	if !ok {
		return nil, fmt.Errorf("fake blocks: no volume %s", volumeID)
	}
	if p, ok := b.snapshots[parentID]; parentID != "" && (!ok || !p.Done) {
		return nil, fmt.Errorf("fake blocks: no completed parent %s", parentID)
	}
	b.snapshots[snapshotID] = &FakeSnapshot{VolumeID: volumeID, ParentID: parentID, Size: v.Size, Key: v.Key}
	return &fakeSnapshotJob{b: b, id: snapshotID}, nil
}

type fakeSnapshotJob struct {
	b  *Blocks
	id string
}

func (j *fakeSnapshotJob) Run(ctx context.Context, progress func(done, total int64)) (cloud.SnapshotStats, error) {
	if err := j.b.enter("RunSnapshot", j.id); err != nil {
		return cloud.SnapshotStats{}, err
	}
	if err := j.b.wait(ctx); err != nil {
		return cloud.SnapshotStats{}, err
	}
	j.b.mu.Lock()
	defer j.b.mu.Unlock()
	s, ok := j.b.snapshots[j.id]
	if !ok {
		return cloud.SnapshotStats{}, fmt.Errorf("fake blocks: snapshot %s was abandoned", j.id)
	}
	progress(s.Size/2, s.Size)
	progress(s.Size, s.Size)
	s.Done = true
	return fakeStats(s), nil
}

// fakeStats pretends a full snapshot stores a sixteenth of the volume and an
// incremental one a tenth of that.
func fakeStats(s *FakeSnapshot) cloud.SnapshotStats {
	stored := s.Size / 16
	if s.ParentID != "" {
		stored /= 10
	}
	return cloud.SnapshotStats{Size: s.Size, StoredBytes: stored, Chunks: 1, NewChunks: 1}
}

func (b *Blocks) CopySnapshot(ctx context.Context, srcID, dstID string, srcKey, dstKey []byte, progress func(done, total int64)) (cloud.SnapshotStats, error) {
	if err := b.enter("CopySnapshot", dstID); err != nil {
		return cloud.SnapshotStats{}, err
	}
	if err := b.wait(ctx); err != nil {
		return cloud.SnapshotStats{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.snapshots[srcID]
	switch {
	case !ok || !s.Done:
		return cloud.SnapshotStats{}, fmt.Errorf("fake blocks: no completed snapshot %s", srcID)
	case !bytes.Equal(s.Key, srcKey):
		return cloud.SnapshotStats{}, fmt.Errorf("fake blocks: wrong key for snapshot %s", srcID)
	}
	progress(s.Size, s.Size)
	c := &FakeSnapshot{VolumeID: s.VolumeID, Size: s.Size, Key: bytes.Clone(dstKey), Done: true}
	b.snapshots[dstID] = c
	stats := fakeStats(c)
	if bytes.Equal(srcKey, dstKey) {
		stats.StoredBytes, stats.NewChunks = 0, 0 // same ciphertext: every chunk is shared
	}
	return stats, nil
}

func (b *Blocks) DeleteSnapshot(id string) error {
	if err := b.enter("DeleteSnapshot", id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.snapshots, id)
	return nil
}

func (b *Blocks) AbandonSnapshot(id string) error {
	if err := b.enter("AbandonSnapshot", id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.snapshots, id)
	return nil
}
