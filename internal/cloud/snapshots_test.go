package cloud_test

import (
	"bytes"
	"context"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// TestEncryptedSnapshotsKeepTheirKeys follows a data key from an encrypted
// volume through its snapshot, a restore, a re-keyed restore, a copy to another
// Region and a restore shared to another account: the fake block store refuses
// any restore or copy given the wrong key.
func TestEncryptedSnapshotsKeepTheirKeys(t *testing.T) {
	ctx := context.Background()
	keys := cloud.UseFakeVolumeKeys(t)
	c := cloudtest.New(t)
	b := fakeBlocks(c)
	keys.SetEncryptionByDefault(ebsScope, true)

	v := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 4})
	if !v.Encrypted || v.KMSKeyARN != cloud.FakeKeyARN(ebsScope, "") || len(b.Volume(v.ID).Key) != cloud.VolumeKeyBytes {
		t.Fatalf("encryption by default: %+v", v)
	}
	snap := completedSnapshot(t, c, ebsScope, v.ID)
	if !snap.Encrypted || !bytes.Equal(b.Snapshot(snap.ID).Key, b.Volume(v.ID).Key) {
		t.Fatal("the snapshot is not in its volume's key")
	}
	same := availableVolume(t, c, ebsScope, cloud.VolumeRequest{SnapshotID: snap.ID})
	if !bytes.Equal(b.Volume(same.ID).Key, b.Volume(v.ID).Key) {
		t.Error("a volume restored without a key does not keep the snapshot's data key")
	}
	rekeyed := availableVolume(t, c, ebsScope, cloud.VolumeRequest{SnapshotID: snap.ID, Encrypted: true, KMSKeyID: "mine"})
	if rekeyed.KMSKeyARN != cloud.FakeKeyARN(ebsScope, "mine") || bytes.Equal(b.Volume(rekeyed.ID).Key, b.Volume(v.ID).Key) {
		t.Errorf("a volume restored under another key was not re-keyed: %+v", rekeyed)
	}

	west := cloud.Scope{Account: ebsScope.Account, Region: "us-west-2"}
	cp, err := c.CopySnapshot(ctx, west, cloud.CopySnapshotRequest{SourceRegion: "us-east-1", SourceSnapshotID: snap.ID})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	cp = getSnapshot(t, c, west, cp.ID)
	if cp.State != cloud.SnapshotCompleted || cp.KMSKeyARN != cloud.FakeKeyARN(west, "") || cp.StoredBytes != 0 || cp.VolumeID != cloud.CopiedVolumeID {
		t.Fatalf("cross-Region copy: %+v", cp)
	}
	if _, err := c.CreateVolume(ctx, west, "", cloud.VolumeRequest{AvailabilityZone: "us-west-2a", SnapshotID: cp.ID}); err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()

	// Shared with another account: not with the AWS managed key, never public.
	mustFail(t, c.ModifySnapshotPermissions(ctx, ebsScope, snap.ID, []string{"222222222222"}, nil), "OperationNotPermitted")
	mustFail(t, c.ModifySnapshotPermissions(ctx, ebsScope, snap.ID, []string{cloud.PublicGroup}, nil), "UnsupportedOperation")
	own, err := c.CopySnapshot(ctx, ebsScope, cloud.CopySnapshotRequest{SourceRegion: "us-east-1", SourceSnapshotID: snap.ID, Encrypted: true, KMSKeyID: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	if err := c.ModifySnapshotPermissions(ctx, ebsScope, own.ID, []string{"222222222222"}, nil); err != nil {
		t.Fatal(err)
	}
	other := cloud.Scope{Account: "222222222222", Region: "us-east-1"}
	theirs, err := c.CreateVolume(ctx, other, "", cloud.VolumeRequest{AvailabilityZone: "us-east-1b", SnapshotID: own.ID})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	got, err := c.GetVolume(ctx, other, theirs.ID)
	if err != nil || got.State != cloud.VolumeAvailable || got.KMSKeyARN != cloud.FakeKeyARN(other, "") {
		t.Fatalf("volume from a shared snapshot: %+v %v", got, err)
	}
}

func TestSnapshotSharingVisibility(t *testing.T) {
	ctx := context.Background()
	c := cloudtest.New(t)
	v := availableVolume(t, c, ebsScope, cloud.VolumeRequest{Size: 1})
	snap := completedSnapshot(t, c, ebsScope, v.ID)
	other := cloud.Scope{Account: "222222222222", Region: "us-east-1"}
	third := cloud.Scope{Account: "333333333333", Region: "us-east-1"}
	visible := func(s cloud.Scope, q cloud.SnapshotQuery) int {
		t.Helper()
		list, _, err := c.DescribeSnapshots(ctx, s, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if visible(other, cloud.SnapshotQuery{}) != 0 {
		t.Fatal("a private snapshot is visible to another account")
	}
	if err := c.ModifySnapshotPermissions(ctx, ebsScope, snap.ID, []string{other.Account}, nil); err != nil {
		t.Fatal(err)
	}
	if visible(other, cloud.SnapshotQuery{}) != 1 || visible(third, cloud.SnapshotQuery{}) != 0 {
		t.Fatal("sharing with one account")
	}
	if visible(other, cloud.SnapshotQuery{OwnerIDs: []string{"self"}}) != 0 || visible(other, cloud.SnapshotQuery{OwnerIDs: []string{ebsScope.Account}}) != 1 {
		t.Fatal("OwnerIds")
	}
	if visible(ebsScope, cloud.SnapshotQuery{RestorableBy: []string{other.Account}}) != 1 || visible(ebsScope, cloud.SnapshotQuery{RestorableBy: []string{third.Account}}) != 0 {
		t.Fatal("RestorableBy")
	}
	if err := c.ModifySnapshotPermissions(ctx, ebsScope, snap.ID, []string{cloud.PublicGroup}, []string{other.Account}); err != nil {
		t.Fatal(err)
	}
	if visible(third, cloud.SnapshotQuery{}) != 1 || visible(third, cloud.SnapshotQuery{IDs: []string{snap.ID}}) != 1 {
		t.Fatal("a public snapshot is not visible")
	}
	if _, err := c.CreateVolume(ctx, third, "", cloud.VolumeRequest{AvailabilityZone: "us-east-1a", SnapshotID: snap.ID}); err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	if err := c.ResetSnapshotPermissions(ctx, ebsScope, snap.ID); err != nil {
		t.Fatal(err)
	}
	if visible(third, cloud.SnapshotQuery{}) != 0 {
		t.Fatal("reset left the snapshot public")
	}
	if _, _, err := c.DescribeSnapshots(ctx, third, cloud.SnapshotQuery{IDs: []string{snap.ID}}); codeOf(err) != "" || err == nil {
		t.Fatalf("a private snapshot by ID: %v", err)
	}
}
