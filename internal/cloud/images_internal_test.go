package cloud

import (
	"context"
	"slices"
	"testing"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// putSnapshot stores a snapshot document as the snapshots' code would leave it.
func putSnapshot(t *testing.T, c *Cloud, s Scope, snap Snapshot) {
	t.Helper()
	if err := c.update(context.Background(), func(tx store.Tx) error {
		return snapshots.insert(tx, s, &snap, snap.StartTime, nil)
	}); err != nil {
		t.Fatal(err)
	}
}

func rootImage(name, snapshotID string) ImageRequest {
	return ImageRequest{
		Name: name, Architecture: "x86_64", VirtualizationType: "hvm", RootDeviceName: "/dev/xvda",
		BlockDevices: []ImageBlockDevice{
			{DeviceName: "/dev/xvda", EBS: &ImageEBS{SnapshotID: snapshotID, DeleteOnTermination: true}},
			{DeviceName: "/dev/sdb", VirtualName: "ephemeral0"},
			{DeviceName: "/dev/sdc", NoDevice: true},
		},
	}
}

func TestRegisterImageRules(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	putSnapshot(t, c, s, Snapshot{ID: "snap-0123456789abcdef0", OwnerID: s.Account, VolumeSize: 8, State: "completed"})
	putSnapshot(t, c, s, Snapshot{ID: "snap-0123456789abcdef1", OwnerID: s.Account, VolumeSize: 8, State: "pending"})

	img, err := c.RegisterImage(ctx, s, rootImage("web-server 1.0", "snap-0123456789abcdef0"))
	if err != nil {
		t.Fatal(err)
	}
	if img.State != "available" || img.RootDeviceType != "ebs" || img.BlockDevices[0].EBS.VolumeSize != 8 || img.BlockDevices[0].EBS.VolumeType != "gp2" {
		t.Errorf("registered image: %+v %+v", img, img.BlockDevices[0].EBS)
	}
	bad := func(mod func(*ImageRequest)) ImageRequest {
		r := rootImage("another", "snap-0123456789abcdef0")
		mod(&r)
		return r
	}
	for _, tc := range []struct {
		name string
		req  ImageRequest
		code string
	}{
		{"same name", rootImage("web-server 1.0", "snap-0123456789abcdef0"), "InvalidAMIName.Duplicate"},
		{"name too short", bad(func(r *ImageRequest) { r.Name = "ab" }), "InvalidAMIName.Malformed"},
		{"name with a comma", bad(func(r *ImageRequest) { r.Name = "a,b,c" }), "InvalidAMIName.Malformed"},
		{"unknown architecture", bad(func(r *ImageRequest) { r.Architecture = "sparc" }), "InvalidParameterValue"},
		{"unknown boot mode", bad(func(r *ImageRequest) { r.BootMode = "bios" }), "InvalidParameterValue"},
		{"no root device name", bad(func(r *ImageRequest) { r.RootDeviceName = "" }), "MissingParameter"},
		{"root device not mapped", bad(func(r *ImageRequest) { r.RootDeviceName = "/dev/sda1" }), "InvalidBlockDeviceMapping"},
		{"bad device name", bad(func(r *ImageRequest) { r.BlockDevices[1].DeviceName = "/dev/vdb" }), "InvalidBlockDeviceMapping"},
		{"bad ephemeral name", bad(func(r *ImageRequest) { r.BlockDevices[1].VirtualName = "ephemeral24" }), "InvalidBlockDeviceMapping"},
		{"device twice", bad(func(r *ImageRequest) { r.BlockDevices[2].DeviceName = "/dev/sdb" }), "InvalidBlockDeviceMapping"},
		{"missing snapshot", bad(func(r *ImageRequest) { r.BlockDevices[0].EBS.SnapshotID = "snap-0123456789abcdef9" }), "NotFound"},
		{"pending snapshot", bad(func(r *ImageRequest) { r.BlockDevices[0].EBS.SnapshotID = "snap-0123456789abcdef1" }), "IncorrectState"},
		{"volume smaller than the snapshot", bad(func(r *ImageRequest) { r.BlockDevices[0].EBS.VolumeSize = 4 }), "InvalidBlockDeviceMapping"},
		{"unknown kernel", bad(func(r *ImageRequest) { r.KernelID = "aki-0123456789abcdef0" }), "NotFound"},
	} {
		_, err := c.RegisterImage(ctx, s, tc.req)
		got := errCode(err)
		if _, nf := err.(*NotFoundError); nf {
			got = "NotFound"
		}
		if got != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	// The snapshot stays while the image uses it.
	if err := c.view(ctx, func(tx store.Tx) error {
		busy, err := anyInUse(snapshotUsers, tx, s, "snap-0123456789abcdef0")
		if !busy || err != nil {
			t.Errorf("snapshot of a registered image not in use: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeregisterImage(ctx, s, img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetImage(ctx, s, img.ID); err == nil {
		t.Error("a deregistered image is still there")
	}
}

func TestImageSharing(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	owner, friend, stranger := internalScope, Scope{Account: "222233334444", Region: internalScope.Region}, Scope{Account: "333344445555", Region: internalScope.Region}
	putSnapshot(t, c, owner, Snapshot{ID: "snap-0123456789abcdef0", OwnerID: owner.Account, VolumeSize: 8, State: "completed"})
	putSnapshot(t, c, owner, Snapshot{ID: "snap-0123456789abcdef2", OwnerID: owner.Account, VolumeSize: 8, State: "completed", Encrypted: true, KMSKeyARN: "arn:aws:kms:eu-west-1:111122223333:key/managed"})
	img, err := c.RegisterImage(ctx, owner, rootImage("shared", "snap-0123456789abcdef0"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := c.RegisterImage(ctx, owner, rootImage("secret", "snap-0123456789abcdef2"))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(s Scope, q ImageQuery) []string {
		t.Helper()
		list, _, err := c.DescribeImages(ctx, s, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range list {
			out = append(out, i.ID)
		}
		return out
	}
	if got := ids(friend, ImageQuery{}); len(got) != 0 {
		t.Fatalf("private images visible to another account: %v", got)
	}
	if _, err := c.GetImage(ctx, friend, img.ID); err == nil {
		t.Fatal("another account reads a private image")
	}
	if err := c.ModifyImageLaunchPermission(ctx, owner, img.ID, LaunchPermissionChange{AddUsers: []string{friend.Account}}); err != nil {
		t.Fatal(err)
	}
	if got := ids(friend, ImageQuery{}); !slices.Equal(got, []string{img.ID}) {
		t.Errorf("shared image not visible to the friend: %v", got)
	}
	if got := ids(friend, ImageQuery{ExecutableUsers: []string{"self"}}); !slices.Equal(got, []string{img.ID}) {
		t.Errorf("ExecutableBy self: %v", got)
	}
	if got := ids(friend, ImageQuery{Owners: []string{"self"}}); len(got) != 0 {
		t.Errorf("Owners self shows others' images: %v", got)
	}
	if got := ids(stranger, ImageQuery{}); len(got) != 0 {
		t.Errorf("image shared with one account visible to another: %v", got)
	}
	if err := c.ModifyImageLaunchPermission(ctx, owner, img.ID, LaunchPermissionChange{AddAll: true}); err != nil {
		t.Fatal(err)
	}
	if got := ids(stranger, ImageQuery{Filters: []filter.Filter{{Name: "is-public", Values: []string{"true"}}}}); !slices.Equal(got, []string{img.ID}) {
		t.Errorf("public image not visible: %v", got)
	}
	if got := ids(owner, ImageQuery{ExecutableUsers: []string{friend.Account}}); !slices.Equal(got, []string{img.ID}) {
		t.Errorf("owner's ExecutableBy friend: %v", got)
	}
	// Encrypted images cannot be public; with the AWS-managed key, not shared at all.
	err = c.ModifyImageLaunchPermission(ctx, owner, secret.ID, LaunchPermissionChange{AddAll: true})
	if errCode(err) != "InvalidParameter" {
		t.Errorf("encrypted image made public: %v", err)
	}
	volumeKeyIsAWSManaged = func(tx store.Tx, s Scope, arn string) (bool, error) {
		return arn == "arn:aws:kms:eu-west-1:111122223333:key/managed", nil
	}
	t.Cleanup(func() { volumeKeyIsAWSManaged = func(store.Tx, Scope, string) (bool, error) { return false, nil } })
	err = c.ModifyImageLaunchPermission(ctx, owner, secret.ID, LaunchPermissionChange{AddUsers: []string{friend.Account}})
	if errCode(err) != "InvalidParameter" {
		t.Errorf("image encrypted with the AWS-managed key shared: %v", err)
	}
	if err := c.ResetImageLaunchPermission(ctx, owner, img.ID); err != nil {
		t.Fatal(err)
	}
	if got := ids(stranger, ImageQuery{}); len(got) != 0 {
		t.Errorf("reset image still visible: %v", got)
	}
	if got := ids(friend, ImageQuery{}); len(got) != 0 {
		t.Errorf("reset image still shared: %v", got)
	}
	if _, _, err := c.DescribeImages(ctx, owner, ImageQuery{Owners: []string{"someone"}}); errCode(err) != "InvalidUserID.Malformed" {
		t.Errorf("bad owner: %v", err)
	}
}

func TestImageAliases(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	owner, user := internalScope, Scope{Account: "222233334444", Region: internalScope.Region}
	putSnapshot(t, c, owner, Snapshot{ID: "snap-0123456789abcdef0", OwnerID: owner.Account, VolumeSize: 8, State: "completed"})
	private, err := c.RegisterImage(ctx, owner, rootImage("private", "snap-0123456789abcdef0"))
	if err != nil {
		t.Fatal(err)
	}
	public, err := c.RegisterImage(ctx, owner, rootImage("public", "snap-0123456789abcdef0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyImageLaunchPermission(ctx, owner, public.ID, LaunchPermissionChange{AddAll: true}); err != nil {
		t.Fatal(err)
	}
	const hardCoded = "ami-0abcdef1234567890"
	if _, err := c.GetImage(ctx, user, hardCoded); err == nil {
		t.Fatal("an unknown AMI ID resolves without an alias")
	}
	if err := c.SetImageAlias(ctx, user.Region, hardCoded, private.ID); err == nil {
		t.Error("an alias to a private image was accepted")
	}
	if err := c.SetImageAlias(ctx, user.Region, "ami-nope", public.ID); errCode(err) != "InvalidAMIID.Malformed" {
		t.Errorf("malformed alias: %v", err)
	}
	if err := c.SetImageAlias(ctx, user.Region, hardCoded, public.ID); err != nil {
		t.Fatal(err)
	}
	img, err := c.GetImage(ctx, user, hardCoded)
	if err != nil || img.ID != public.ID {
		t.Fatalf("alias resolves to %v, %v; want %s", img.ID, err, public.ID)
	}
	list, _, err := c.DescribeImages(ctx, user, ImageQuery{ImageIDs: []string{hardCoded}})
	if err != nil || len(list) != 1 || list[0].ID != public.ID {
		t.Errorf("DescribeImages by the aliased ID: %v %v", list, err)
	}
	if _, err := c.GetImage(ctx, Scope{Account: user.Account, Region: "us-east-1"}, hardCoded); err == nil {
		t.Error("an alias of one Region resolves in another")
	}
	// Development mode: unknown IDs resolve to the default alias.
	resolveUnknownImages = true
	t.Cleanup(func() { resolveUnknownImages = false })
	if _, err := c.GetImage(ctx, user, "ami-0fedcba9876543210"); err == nil {
		t.Error("without a default alias or cloud image, an unknown ID resolved")
	}
	if err := c.SetImageAlias(ctx, user.Region, DefaultImageAlias, public.ID); err != nil {
		t.Fatal(err)
	}
	if img, err := c.GetImage(ctx, user, "ami-0fedcba9876543210"); err != nil || img.ID != public.ID {
		t.Errorf("dev mode: unknown ID resolves to %v, %v", img.ID, err)
	}
	aliases, err := c.ImageAliases(ctx, user.Region)
	if err != nil || len(aliases) != 2 {
		t.Errorf("aliases: %v %v", aliases, err)
	}
	if err := c.DeleteImageAlias(ctx, user.Region, hardCoded); err != nil {
		t.Fatal(err)
	}
}
