package cloud_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/store/sqlite"
)

var ebsScope = cloud.Scope{Account: "111111111111", Region: "us-east-1"}

func mustFail(t *testing.T, err error, code string) {
	t.Helper()
	if codeOf(err) != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func fakeBlocks(c *cloud.Cloud) *cloudtest.Blocks { return c.BlockStore().(*cloudtest.Blocks) }

// availableVolume makes a volume and waits until it is available.
func availableVolume(t testing.TB, c *cloud.Cloud, s cloud.Scope, req cloud.VolumeRequest) cloud.Volume {
	t.Helper()
	if req.AvailabilityZone == "" {
		req.AvailabilityZone = s.Region + "a"
	}
	v, err := c.CreateVolume(context.Background(), s, "", req)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != cloud.VolumeCreating {
		t.Fatalf("a new volume is %s, want creating", v.State)
	}
	c.WaitBlockJobs()
	v, err = c.GetVolume(context.Background(), s, v.ID)
	if err != nil || v.State != cloud.VolumeAvailable {
		t.Fatalf("volume after its job: %+v %v", v, err)
	}
	return v
}

func completedSnapshot(t testing.TB, c *cloud.Cloud, s cloud.Scope, volumeID string) cloud.Snapshot {
	t.Helper()
	snap, err := c.CreateSnapshot(context.Background(), s, volumeID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.State != cloud.SnapshotPending {
		t.Fatalf("a new snapshot is %s", snap.State)
	}
	c.WaitBlockJobs()
	return getSnapshot(t, c, s, snap.ID)
}

func getSnapshot(t testing.TB, c *cloud.Cloud, s cloud.Scope, id string) cloud.Snapshot {
	t.Helper()
	list, _, err := c.DescribeSnapshots(context.Background(), s, cloud.SnapshotQuery{IDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	return list[0]
}

func TestVolumeLifecycleUsesTheBlockStore(t *testing.T) {
	c := cloudtest.New(t)
	b := fakeBlocks(c)
	v := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 8, VolumeType: "gp3"})
	if fv := b.Volume(v.ID); fv == nil || fv.Size != 8<<30 || fv.Key != nil {
		t.Fatalf("block store volume: %+v", fv)
	}
	if v.IOPS != 3000 || v.Throughput != 125 {
		t.Errorf("gp3 defaults: %d IOPS %d MiB/s", v.IOPS, v.Throughput)
	}
	first := completedSnapshot(t, c, ebsScope, v.ID)
	if first.State != cloud.SnapshotCompleted || first.Progress != 100 || first.ParentID != "" || first.StoredBytes != (8<<30)/16 {
		t.Fatalf("first snapshot: %+v", first)
	}
	second := completedSnapshot(t, c, ebsScope, v.ID)
	if second.ParentID != first.ID || second.StoredBytes >= first.StoredBytes {
		t.Fatalf("second snapshot is not incremental to the first: %+v", second)
	}
	restored := availableVolume(t, c, ebsScope, cloud.VolumeRequest{SnapshotID: second.ID, Size: 10})
	if fv := b.Volume(restored.ID); fv == nil || fv.From != second.ID || fv.Size != 10<<30 {
		t.Fatalf("restored volume: %+v", fv)
	}
	if err := c.DeleteVolume(context.Background(), ebsScope, v.ID); err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	if _, err := c.GetVolume(context.Background(), ebsScope, v.ID); err == nil || b.Volume(v.ID) != nil {
		t.Fatal("a deleted volume is still there")
	}
	if err := c.DeleteSnapshot(context.Background(), ebsScope, first.ID); err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	if b.Snapshot(first.ID) != nil {
		t.Fatal("the block store still has a deleted snapshot")
	}
}

func TestNoBlockStoreFailsClearly(t *testing.T) {
	c := cloudtest.New(t)
	c.UseBlocks(nil)
	_, err := c.CreateVolume(context.Background(), ebsScope, "", cloud.VolumeRequest{AvailabilityZone: "us-east-1a", Size: 1})
	if err == nil || codeOf(err) != "" {
		t.Fatalf("want an internal error, got %v", err)
	}
}

func TestSnapshotFailureIsErrorState(t *testing.T) {
	c := cloudtest.New(t)
	v := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 1})
	fakeBlocks(c).Fail("RunSnapshot", errors.New("disk on fire"))
	snap := completedSnapshot(t, c, ebsScope, v.ID)
	if snap.State != cloud.SnapshotError || snap.StateMessage == "" {
		t.Fatalf("failed snapshot: %+v", snap)
	}
	if !slices.Contains(fakeBlocks(c).Calls(), "AbandonSnapshot "+snap.ID) {
		t.Error("the block store was not told to drop the failed snapshot")
	}
}

func TestConcurrentSnapshotLimit(t *testing.T) {
	c := cloudtest.New(t)
	b := fakeBlocks(c)
	hdd := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 125, VolumeType: "st1"})
	ssd := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 1})
	b.Hold()
	defer c.WaitBlockJobs()
	defer b.Release()
	if _, err := c.CreateSnapshot(context.Background(), ebsScope, hdd.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateSnapshot(context.Background(), ebsScope, hdd.ID, "", nil)
	mustFail(t, err, "ConcurrentSnapshotLimitExceeded")
	for range 5 {
		if _, err := c.CreateSnapshot(context.Background(), ebsScope, ssd.ID, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateSnapshot(context.Background(), ebsScope, ssd.ID, "", nil)
	mustFail(t, err, "ConcurrentSnapshotLimitExceeded")
}

func TestModifyVolumeGrowsAndLimitsRate(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	c := cloudtest.NewWithClock(t, clock)
	v := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 10})
	_, err := c.ModifyVolume(context.Background(), ebsScope, v.ID, cloud.ModifyVolumeRequest{Size: 5})
	mustFail(t, err, "InvalidParameterValue")
	m, err := c.ModifyVolume(context.Background(), ebsScope, v.ID, cloud.ModifyVolumeRequest{Size: 20, VolumeType: "gp3"})
	if err != nil || m.State != cloud.ModModifying {
		t.Fatalf("%+v %v", m, err)
	}
	c.WaitBlockJobs()
	if fv := fakeBlocks(c).Volume(v.ID); fv.Size != 20<<30 {
		t.Fatalf("the file did not grow: %d", fv.Size)
	}
	v, _ = c.GetVolume(context.Background(), ebsScope, v.ID)
	if v.Size != 20 || v.VolumeType != "gp3" || v.IOPS != 3000 || v.Modification.State != cloud.ModOptimizing {
		t.Fatalf("after growing: %+v %+v", v, v.Modification)
	}
	clock.Advance(cloud.VolumeOptimizingTime)
	v, _ = c.GetVolume(context.Background(), ebsScope, v.ID)
	if v.Modification.State != cloud.ModCompleted || v.Modification.Progress != 100 {
		t.Fatalf("after optimizing: %+v", v.Modification)
	}
	_, err = c.ModifyVolume(context.Background(), ebsScope, v.ID, cloud.ModifyVolumeRequest{Size: 30})
	mustFail(t, err, "VolumeModificationRateExceeded")
	clock.Advance(cloud.VolumeModificationInterval)
	if _, err := c.ModifyVolume(context.Background(), ebsScope, v.ID, cloud.ModifyVolumeRequest{Size: 30}); err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
}

// TestResumeBlockJobs leaves a restore, a snapshot and a deletion unfinished in
// one control plane and takes them up in a second on the same store.
func TestResumeBlockJobs(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strato.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open := func(b *cloudtest.Blocks) *cloud.Cloud {
		c, err := cloud.New(ctx, db, cloud.SystemClock{}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		c.UseBlocks(b)
		return c
	}
	b := cloudtest.NewBlocks()
	first := open(b)
	v := availableVolume(t, first, ebsScope, cloud.VolumeRequest{Size: 2})
	snap := completedSnapshot(t, first, ebsScope, v.ID)
	doomed := availableVolume(t, first, ebsScope, cloud.VolumeRequest{Size: 1})

	b.Hold()
	restoring, err := first.CreateVolume(ctx, ebsScope, "", cloud.VolumeRequest{AvailabilityZone: "us-east-1a", SnapshotID: snap.ID})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := first.CreateSnapshot(ctx, ebsScope, v.ID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Fail("DeleteVolume", errors.New("host crashed"))
	if err := first.DeleteVolume(ctx, ebsScope, doomed.ID); err != nil {
		t.Fatal(err)
	}
	// The snapshot that a restore reads cannot go while the restore is unfinished.
	mustFail(t, first.DeleteSnapshot(ctx, ebsScope, snap.ID), "InvalidSnapshot.InUse")
	first.Close() // the process dies: its jobs stop where they are

	if got, _ := first.GetVolume(ctx, ebsScope, restoring.ID); got.State != cloud.VolumeCreating {
		t.Fatalf("restoring volume after the crash: %s", got.State)
	}
	b.Release()
	second := open(b)
	if err := second.ResumeBlockJobs(ctx); err != nil {
		t.Fatal(err)
	}
	second.WaitBlockJobs()
	if got, err := second.GetVolume(ctx, ebsScope, restoring.ID); err != nil || got.State != cloud.VolumeAvailable || b.Volume(restoring.ID) == nil {
		t.Fatalf("the restore was not finished: %+v %v", got, err)
	}
	if got := getSnapshot(t, second, ebsScope, pending.ID); got.State != cloud.SnapshotError {
		t.Fatalf("a snapshot whose point in time was lost is %s, want error", got.State)
	}
	if b.Snapshot(pending.ID) != nil {
		t.Error("the block store still has the abandoned snapshot")
	}
	if _, err := second.GetVolume(ctx, ebsScope, doomed.ID); err == nil || b.Volume(doomed.ID) != nil {
		t.Fatal("the deletion was not finished")
	}
	if err := second.DeleteSnapshot(ctx, ebsScope, snap.ID); err != nil {
		t.Fatalf("the snapshot is still held after the restore finished: %v", err)
	}
	second.Close()
}
