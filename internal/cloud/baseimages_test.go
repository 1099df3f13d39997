package cloud_test

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"strato/internal/blockstore"
	"strato/internal/catalog"
	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/imagebuild"
)

// publishFixture is a control plane on a real block store in a temporary dir.
type publishFixture struct {
	c      *cloud.Cloud
	blocks *blockstore.Store
}

func newPublishFixture(t *testing.T) publishFixture {
	t.Helper()
	c := cloudtest.New(t)
	bs, err := blockstore.Open(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	c.UseBlocks(bs)
	t.Cleanup(func() {
		c.WaitBlockJobs()
		bs.Close()
	})
	return publishFixture{c: c, blocks: bs}
}

// fakeDisk writes a small raw disk: an MBR and some data at 1 MiB.
func fakeDisk(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mbr := make([]byte, 512)
	mbr[446+4] = 0x83
	mbr[510], mbr[511] = 0x55, 0xaa
	f.WriteAt(mbr, 0)
	f.WriteAt([]byte("strato data at one MiB"), 1<<20)
	return path
}

func newAccount(t *testing.T, c *cloud.Cloud) string {
	t.Helper()
	a, _, err := c.CreateAccount(context.Background(), "", "user")
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func describeAmazon(t *testing.T, c *cloud.Cloud, s cloud.Scope) []cloud.Image {
	t.Helper()
	list, _, err := c.DescribeImages(context.Background(), s, cloud.ImageQuery{Owners: []string{"amazon"}})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestPublishBaseImage publishes a disk as a base image: one image per Region,
// public with its snapshot, owner alias amazon, the same ID when published
// again (the earlier snapshots deleted), found by a fresh account.
func TestPublishBaseImage(t *testing.T) {
	ctx := context.Background()
	f := newPublishFixture(t)
	req := cloud.PublishRequest{DiskPath: fakeDisk(t, 3<<20), Name: "strato-minimal-x86_64-20250101",
		Description: "test", Architecture: "x86_64", Base: true, DefaultAlias: true}
	first := checkBaseImages(t, f, req)
	second := checkBaseImages(t, f, req)
	for region, img := range first {
		if second[region].ID != img.ID {
			t.Errorf("%s: published again, the image changed ID from %s to %s", region, img.ID, second[region].ID)
		}
		old := img.BlockDevices[0].EBS.SnapshotID
		if second[region].BlockDevices[0].EBS.SnapshotID == old {
			t.Errorf("%s: the new image reuses the old snapshot", region)
		}
		f.c.WaitBlockJobs()
		if f.blocks.HasSnapshot(old) {
			t.Errorf("%s: the replaced image's snapshot %s is still stored", region, old)
		}
	}
	user := cloud.Scope{Account: newAccount(t, f.c), Region: "us-east-1"}
	if n := len(describeAmazon(t, f.c, user)); n != 1 {
		t.Errorf("a fresh account sees %d images owned by amazon in us-east-1, want 1", n)
	}
	aliases, err := f.c.ImageAliases(ctx, "us-east-1")
	if err != nil || len(aliases) != 1 || aliases[0].Target != first["us-east-1"].ID {
		t.Errorf("default alias: %+v %v", aliases, err)
	}

	// An operator's choice of default stays when minimal is built again.
	other := req
	other.Name, other.DefaultAlias = "debian-12-amd64-20250101-strato", false
	debian, err := f.c.PublishImage(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetImageAlias(ctx, debian[0].Region, cloud.DefaultImageAlias, debian[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.PublishImage(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	aliases, err = f.c.ImageAliases(ctx, debian[0].Region)
	if err != nil || len(aliases) != 1 || aliases[0].Target != debian[0].ID {
		t.Errorf("the operator's default alias was not kept: %+v %v", aliases, err)
	}
}

// checkBaseImages publishes req and checks what every Region got.
func checkBaseImages(t *testing.T, f publishFixture, req cloud.PublishRequest) map[string]cloud.Image {
	t.Helper()
	ctx := context.Background()
	list, err := f.c.PublishImage(ctx, req, func(line string) { t.Log(line) })
	if err != nil {
		t.Fatal(err)
	}
	regions := catalog.Regions()
	if len(list) != len(regions) {
		t.Fatalf("%d images for %d Regions", len(list), len(regions))
	}
	user := newAccount(t, f.c)
	out := map[string]cloud.Image{}
	for _, r := range regions {
		s := cloud.Scope{Account: user, Region: r.Name}
		found := describeAmazon(t, f.c, s)
		if len(found) != 1 {
			t.Fatalf("%s: a fresh account finds %d amazon images", r.Name, len(found))
		}
		img := found[0]
		if img.OwnerID != cloud.CloudOwnerID || img.OwnerAlias != "amazon" || !img.Public || img.State != "available" ||
			img.RootDeviceName != "/dev/xvda" || img.VirtualizationType != "hvm" || !img.ENASupport || img.BootMode != "legacy-bios" {
			t.Errorf("%s: %+v", r.Name, img)
		}
		ebs := img.BlockDevices[0].EBS
		if ebs.VolumeSize != 1 || ebs.VolumeType != "gp3" || !ebs.DeleteOnTermination {
			t.Errorf("%s: root mapping %+v", r.Name, ebs)
		}
		snaps, _, err := f.c.DescribeSnapshots(ctx, s, cloud.SnapshotQuery{IDs: []string{ebs.SnapshotID}})
		if err != nil || len(snaps) != 1 || snaps[0].State != cloud.SnapshotCompleted {
			t.Fatalf("%s: its snapshot: %+v %v", r.Name, snaps, err)
		}
		if !f.blocks.HasSnapshot(ebs.SnapshotID) {
			t.Errorf("%s: snapshot %s is not in the block store", r.Name, ebs.SnapshotID)
		}
		if _, dup := out[img.ID]; dup {
			t.Errorf("image ID %s in two Regions", img.ID)
		}
		out[r.Name] = img
	}
	return out
}

// TestPublishedImageIDsDifferPerInstallation: two data dirs give a name
// different IDs.
func TestPublishedImageIDsDifferPerInstallation(t *testing.T) {
	var ids []string
	for range 2 {
		f := newPublishFixture(t)
		acct := newAccount(t, f.c)
		list, err := f.c.PublishImage(context.Background(), cloud.PublishRequest{DiskPath: fakeDisk(t, 3<<20), Name: "same-name",
			Architecture: "x86_64", Account: acct, Region: "eu-west-1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, list[0].ID)
	}
	if ids[0] == ids[1] {
		t.Errorf("two installations gave the same ID %s", ids[0])
	}
}

// TestImportImage imports a disk for an account: private, refused again under
// the same name without Replace (InvalidAMIName.Duplicate), replaced with it;
// an instance-store import keeps a bundle and no snapshot.
func TestImportImage(t *testing.T) {
	ctx := context.Background()
	f := newPublishFixture(t)
	owner := cloud.Scope{Account: newAccount(t, f.c), Region: "eu-west-1"}
	other := cloud.Scope{Account: newAccount(t, f.c), Region: "eu-west-1"}
	req := cloud.PublishRequest{DiskPath: fakeDisk(t, 3<<20), Name: "imported", Architecture: "x86_64",
		Account: owner.Account, Region: owner.Region}
	list, err := f.c.PublishImage(ctx, req, nil)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	img := list[0].Image
	if img.Public || img.OwnerAlias != "" || img.OwnerID != owner.Account || img.RootDeviceType != "ebs" {
		t.Errorf("imported image: %+v", img)
	}
	if _, err := f.c.GetImage(ctx, other, img.ID); err == nil {
		t.Error("another account sees a private imported image")
	}
	_, err = f.c.PublishImage(ctx, req, nil)
	wantCode(t, "import under a taken name", err, "InvalidAMIName.Duplicate")
	req.Replace = true
	again, err := f.c.PublishImage(ctx, req, nil)
	if err != nil || again[0].ID != img.ID {
		t.Fatalf("replace: %+v %v", again, err)
	}

	req.Name, req.InstanceStore = "bundled", true
	list, err = f.c.PublishImage(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	is := list[0].Image
	if is.RootDeviceType != "instance-store" || len(is.BlockDevices) != 0 || is.BundleID() == "" || !f.blocks.HasSnapshot(is.BundleID()) {
		t.Errorf("instance-store image: %+v", is)
	}
	snaps, _, err := f.c.DescribeSnapshots(ctx, owner, cloud.SnapshotQuery{OwnerIDs: []string{"self"}})
	if err != nil || len(snaps) != 1 {
		t.Errorf("the account has %d snapshots, want 1 (the EBS import's): %v", len(snaps), err)
	}
}

// TestPublishRefusesNonDisks: a file without a partition table is not
// published, and nothing is left behind.
func TestPublishRefusesNonDisks(t *testing.T) {
	f := newPublishFixture(t)
	path := filepath.Join(t.TempDir(), "not-a-disk")
	os.WriteFile(path, make([]byte, 4096), 0o600)
	_, err := f.c.PublishImage(context.Background(), cloud.PublishRequest{DiskPath: path, Name: "nope", Architecture: "x86_64", Base: true}, nil)
	if err == nil {
		t.Fatal("published a file with no partition table")
	}
	entries, _ := os.ReadDir(filepath.Join(f.blocks.Dir(), "manifests"))
	if len(entries) != 0 {
		t.Errorf("left %d manifests", len(entries))
	}
}

// needImageTools skips without mke2fs and busybox-static, unless
// STRATO_TEST_REQUIRE_TOOLS is set, when their absence fails the test.
func needImageTools(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mke2fs"); err == nil {
		if _, err := os.Stat(imagebuild.BusyboxPath); err == nil {
			return
		}
	}
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
		t.Fatal("mke2fs (e2fsprogs) or busybox-static is not installed")
	}
	t.Skip("mke2fs (e2fsprogs) or busybox-static is not installed")
}

// TestBuildMinimalImage builds the minimal base image in-process as `strato
// image build minimal` does and restores a volume from it in another account:
// it holds the MBR and the ext4 file system.
func TestBuildMinimalImage(t *testing.T) {
	needImageTools(t)
	ctx := context.Background()
	f := newPublishFixture(t)
	base, err := imagebuild.BaseFor(imagebuild.KindMinimal, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	helper, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	disk, err := base.Build(ctx, t.TempDir(), helper, "", testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	req := cloud.PublishRequest{DiskPath: disk, Name: base.Name, Description: base.Description,
		Architecture: base.Architecture, Base: true, DefaultAlias: true}
	images := checkBaseImages(t, f, req)
	t.Logf("built and published in %v", time.Since(start))
	again := checkBaseImages(t, f, req)
	if again["eu-central-1"].ID != images["eu-central-1"].ID {
		t.Error("a rebuild changed the image ID")
	}

	user := cloud.Scope{Account: newAccount(t, f.c), Region: "eu-central-1"}
	snap := again["eu-central-1"].BlockDevices[0].EBS.SnapshotID
	v, err := f.c.CreateVolume(ctx, user, "", cloud.VolumeRequest{AvailabilityZone: "eu-central-1a", SnapshotID: snap})
	if err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	vol, err := f.blocks.OpenVolume(v.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer vol.Close()
	sector := make([]byte, 512)
	if _, err := vol.ReadAt(sector, 0); err != nil {
		t.Fatal(err)
	}
	if sector[510] != 0x55 || sector[511] != 0xaa || sector[446+4] != 0x83 {
		t.Errorf("no MBR with a Linux partition: %x", sector[446:])
	}
	sb := make([]byte, 1024)
	if _, err := vol.ReadAt(sb, imagebuild.PartitionStart+1024); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 || string(sb[0x78:0x78+len(imagebuild.RootLabel)]) != imagebuild.RootLabel {
		t.Error("no ext4 superblock labelled cloudimg-rootfs at 1 MiB")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
