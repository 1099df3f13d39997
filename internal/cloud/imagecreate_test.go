package cloud_test

import (
	"context"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

func TestCreateImageOfAnInstance(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	s := cloud.Scope{Account: "123456789012", Region: "us-east-1"}
	volume := func(size int32) string {
		v, err := c.CreateVolume(ctx, s, "", cloud.VolumeRequest{AvailabilityZone: "us-east-1a", Size: size, VolumeType: "gp3"})
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	root, data, scratch := volume(8), volume(20), volume(5)
	c.WaitBlockJobs()
	if _, err := c.CreateImage(ctx, s, cloud.CreateImageRequest{InstanceID: "i-0123456789abcdef0", Name: "no such instance"}); err == nil {
		t.Fatal("an image of a missing instance")
	}
	cloud.StubInstance(t, c, s, "i-0123456789abcdef0", "us-east-1a",
		cloud.InstanceForImage{RootDeviceName: "/dev/xvda", Architecture: "x86_64", VirtualizationType: "hvm", ENASupport: true,
			Ephemeral: map[string]string{"/dev/sdb": "ephemeral0"}},
		map[string]string{root: "/dev/xvda", data: "/dev/sdf", scratch: "/dev/sdg"})
	img, err := c.CreateImage(ctx, s, cloud.CreateImageRequest{
		InstanceID: "i-0123456789abcdef0", Name: "app server", NoReboot: true,
		BlockDevices: []cloud.ImageBlockDevice{
			{DeviceName: "/dev/sdg", NoDevice: true},
			{DeviceName: "/dev/sdf", EBS: &cloud.ImageEBS{VolumeSize: 30, DeleteOnTermination: true}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img.State != "pending" {
		t.Errorf("a new image of an instance is %s, want pending", img.State)
	}
	c.WaitBlockJobs()
	got, err := c.GetImage(ctx, s, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "available" || got.RootDeviceName != "/dev/xvda" || got.SourceInstanceID != "i-0123456789abcdef0" {
		t.Errorf("image after its snapshots completed: %+v", got)
	}
	byDevice := map[string]cloud.ImageBlockDevice{}
	for _, b := range got.BlockDevices {
		byDevice[b.DeviceName] = b
	}
	if b := byDevice["/dev/xvda"]; b.EBS == nil || b.EBS.SnapshotID == "" || b.EBS.VolumeSize != 8 || !b.EBS.DeleteOnTermination || b.EBS.VolumeType != "gp3" {
		t.Errorf("root mapping %+v", b.EBS)
	}
	if b := byDevice["/dev/sdf"]; b.EBS == nil || b.EBS.VolumeSize != 30 || !b.EBS.DeleteOnTermination {
		t.Errorf("grown data mapping %+v", b.EBS)
	}
	if b := byDevice["/dev/sdg"]; !b.NoDevice {
		t.Errorf("left-out volume %+v", b)
	}
	if b := byDevice["/dev/sdb"]; b.VirtualName != "ephemeral0" {
		t.Errorf("instance store %+v", b)
	}
	// Two snapshots, for the root and the data volume, none for the left-out one.
	snaps, _, err := c.DescribeSnapshots(ctx, s, cloud.SnapshotQuery{OwnerIDs: []string{"self"}})
	if err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots of the image: %d %v", len(snaps), err)
	}
	for _, tc := range []struct {
		name string
		req  cloud.CreateImageRequest
	}{
		{"same name", cloud.CreateImageRequest{InstanceID: "i-0123456789abcdef0", Name: "app server", NoReboot: true}},
		{"shrinking a volume", cloud.CreateImageRequest{InstanceID: "i-0123456789abcdef0", Name: "smaller", NoReboot: true,
			BlockDevices: []cloud.ImageBlockDevice{{DeviceName: "/dev/sdf", EBS: &cloud.ImageEBS{VolumeSize: 10}}}}},
		{"a volume the instance lacks", cloud.CreateImageRequest{InstanceID: "i-0123456789abcdef0", Name: "extra", NoReboot: true,
			BlockDevices: []cloud.ImageBlockDevice{{DeviceName: "/dev/sdh", EBS: &cloud.ImageEBS{VolumeSize: 10}}}}},
	} {
		if _, err := c.CreateImage(ctx, s, tc.req); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
