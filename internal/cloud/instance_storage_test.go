package cloud_test

import (
	"context"
	"slices"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// imageWithExtras registers an image whose mappings are the root, an EBS data
// volume at /dev/sdb and ephemeral0 at /dev/sdc.
func imageWithExtras(t *testing.T, f runFixture) cloud.Image {
	t.Helper()
	root := f.image.BlockDevices[0].EBS.SnapshotID
	img, err := f.c.RegisterImage(context.Background(), instScope, cloud.ImageRequest{
		Name: "extras", Architecture: "x86_64", VirtualizationType: "hvm", RootDeviceName: "/dev/xvda",
		BlockDevices: []cloud.ImageBlockDevice{
			{DeviceName: "/dev/xvda", EBS: &cloud.ImageEBS{SnapshotID: root, DeleteOnTermination: true}},
			{DeviceName: "/dev/sdb", EBS: &cloud.ImageEBS{SnapshotID: root, DeleteOnTermination: false}},
			{DeviceName: "/dev/sdc", VirtualName: "ephemeral0"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestBlockDeviceMappingRules(t *testing.T) {
	f := newRunFixture(t)
	yes := true
	ebs := func(dev string, e cloud.LaunchEBS) cloud.LaunchBlockDevice {
		return cloud.LaunchBlockDevice{DeviceName: dev, EBS: &e}
	}
	cases := []struct {
		name string
		bdm  []cloud.LaunchBlockDevice
		code string
	}{
		{"InvalidBlockDeviceMapping: root smaller than its snapshot", []cloud.LaunchBlockDevice{ebs("/dev/xvda", cloud.LaunchEBS{VolumeSize: 4})}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: neither size nor snapshot", []cloud.LaunchBlockDevice{ebs("/dev/sdf", cloud.LaunchEBS{VolumeType: "gp3"})}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: a device twice", []cloud.LaunchBlockDevice{ebs("/dev/sdf", cloud.LaunchEBS{VolumeSize: 1}), ebs("sdf", cloud.LaunchEBS{VolumeSize: 2})}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: bad device name", []cloud.LaunchBlockDevice{ebs("/dev/hda", cloud.LaunchEBS{VolumeSize: 1})}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: bad virtual name", []cloud.LaunchBlockDevice{{DeviceName: "/dev/sdf", VirtualName: "scratch"}}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: NoDevice on the root", []cloud.LaunchBlockDevice{{DeviceName: "/dev/xvda", NoDevice: true}}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: nothing mapped", []cloud.LaunchBlockDevice{{DeviceName: "/dev/sdf"}}, "InvalidBlockDeviceMapping"},
		{"InvalidBlockDeviceMapping: new snapshot for the root", []cloud.LaunchBlockDevice{ebs("/dev/xvda", cloud.LaunchEBS{SnapshotID: "snap-0123456789abcdef0"})}, "InvalidBlockDeviceMapping"},
		{"InvalidParameterDependency: KmsKeyId without Encrypted", []cloud.LaunchBlockDevice{ebs("/dev/sdf", cloud.LaunchEBS{VolumeSize: 1, KMSKeyID: "alias/aws/ebs"})}, "InvalidParameterDependency"},
		{"MissingParameter: io2 without IOPS", []cloud.LaunchBlockDevice{ebs("/dev/sdf", cloud.LaunchEBS{VolumeSize: 4, VolumeType: "io2", Encrypted: &yes})}, "MissingParameter"},
		{"InvalidSnapshot.NotFound", []cloud.LaunchBlockDevice{ebs("/dev/sdf", cloud.LaunchEBS{SnapshotID: "snap-0123456789abcdef0"})}, "InvalidSnapshot.NotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.runErr(cloud.RunRequest{BlockDevices: tc.bdm})
			if tc.code == "InvalidSnapshot.NotFound" {
				if nf, ok := err.(*cloud.NotFoundError); !ok || nf.Kind != cloud.KindSnapshot {
					t.Fatalf("error %v, want the snapshot not found", err)
				}
				return
			}
			wantCode(t, "", err, tc.code)
		})
	}
	list, _, _ := f.c.DescribeInstances(context.Background(), instScope, nil, nil, cloud.Page{})
	vols, _, _ := f.c.DescribeVolumes(context.Background(), instScope, nil, nil, cloud.Page{})
	if len(list) != 0 || len(vols) != 1 {
		t.Errorf("refused launches left %d instances and %d volumes (the fixture has 1)", len(list), len(vols))
	}
}

func TestBlockDeviceMappings(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	img := imageWithExtras(t, f)
	snap := img.BlockDevices[0].EBS.SnapshotID
	yes, no := true, false
	r := f.run(t, cloud.RunRequest{ImageID: img.ID, InstanceType: "i3.large", VolumeTags: []cloud.Tag{{Key: "team", Value: "a"}},
		BlockDevices: []cloud.LaunchBlockDevice{
			{DeviceName: "/dev/xvda", EBS: &cloud.LaunchEBS{VolumeSize: 16, VolumeType: "io1", IOPS: 500, Encrypted: &yes}},
			{DeviceName: "/dev/sdb", NoDevice: true},
			{DeviceName: "xvdf", EBS: &cloud.LaunchEBS{VolumeSize: 4}},
			{DeviceName: "/dev/sdg", EBS: &cloud.LaunchEBS{SnapshotID: snap, DeleteOnTermination: &no}},
		}})
	id := r.Instances[0].ID
	f.c.WaitBlockJobs()
	v := f.get(t, id)
	byDevice := map[string]cloud.Volume{}
	for _, vol := range v.Volumes {
		a := v.Device(&vol)
		if a.State != cloud.AttachAttached || vol.State != cloud.VolumeInUse || vol.Tags["team"] != "a" {
			t.Errorf("volume %s at %s: %s/%s tags %v", vol.ID, a.Device, vol.State, a.State, vol.Tags)
		}
		byDevice[a.Device] = vol
	}
	root, data, fromSnap := byDevice["/dev/xvda"], byDevice["/dev/xvdf"], byDevice["/dev/sdg"]
	switch {
	case len(v.Volumes) != 3 || v.Volumes[0].ID != v.RootVolumeID:
		t.Fatalf("volumes %v (root first), want xvda, xvdf, sdg", byDevice)
	case root.Size != 16 || root.VolumeType != "io1" || root.IOPS != 500 || !root.Encrypted || root.SnapshotID != snap:
		t.Errorf("root %+v", root)
	case !v.Device(&root).DeleteOnTermination:
		t.Error("the root volume is not deleted on termination (the image's mapping)")
	case data.Size != 4 || data.SnapshotID != "" || data.VolumeType != cloud.DefaultVolumeType || !v.Device(&data).DeleteOnTermination:
		t.Errorf("empty data volume %+v %+v", data, v.Device(&data))
	case fromSnap.SnapshotID != snap || fromSnap.Size != 8 || v.Device(&fromSnap).DeleteOnTermination:
		t.Errorf("restored volume %+v %+v", fromSnap, v.Device(&fromSnap))
	}
	if len(v.InstanceStore) != 1 || v.InstanceStore[0].Device != "/dev/sdc" || v.InstanceStore[0].Size != 475e9 {
		t.Errorf("instance store %+v, want ephemeral0 at /dev/sdc of 475 GB", v.InstanceStore)
	}
	devs, err := f.drv.Devices(id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.Device)
		if d.Device == "/dev/sdc" && (!d.Ephemeral || d.Size != 475e9 || d.Path != "") {
			t.Errorf("the driver's instance store %+v", d)
		}
		if d.Device == "/dev/xvdf" && d.Path != f.c.BlockStore().VolumePath(data.ID) {
			t.Errorf("the driver's data volume %+v", d)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"/dev/sdc", "/dev/sdg", "/dev/xvda", "/dev/xvdf"}) {
		t.Errorf("the driver has devices %v", names)
	}

	if _, err := f.c.TerminateInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	for _, gone := range []string{root.ID, data.ID} {
		if _, err := f.c.GetVolume(ctx, instScope, gone); err == nil {
			t.Errorf("volume %s survived termination", gone)
		}
	}
	if kept, err := f.c.GetVolume(ctx, instScope, fromSnap.ID); err != nil || kept.State != cloud.VolumeAvailable {
		t.Errorf("the volume kept on termination: %+v %v", kept, err)
	}
}

// AWS ignores instance store mappings an instance type has no disk for.
func TestInstanceStoreMappingIgnoredWithoutDisks(t *testing.T) {
	f := newRunFixture(t)
	img := imageWithExtras(t, f)
	id := f.run(t, cloud.RunRequest{ImageID: img.ID, BlockDevices: []cloud.LaunchBlockDevice{{DeviceName: "/dev/sdd", VirtualName: "ephemeral1"}}}).Instances[0].ID
	f.c.WaitBlockJobs()
	if v := f.get(t, id); len(v.InstanceStore) != 0 || len(v.Volumes) != 2 {
		t.Errorf("t3.micro got instance store %+v and %d volumes", v.InstanceStore, len(v.Volumes))
	}
	id = f.run(t, cloud.RunRequest{ImageID: img.ID, InstanceType: "i3.large", BlockDevices: []cloud.LaunchBlockDevice{{DeviceName: "/dev/sdd", VirtualName: "ephemeral1"}}}).Instances[0].ID
	f.c.WaitBlockJobs()
	if v := f.get(t, id); len(v.InstanceStore) != 1 || v.InstanceStore[0].VirtualName != "ephemeral0" {
		t.Errorf("i3.large (one disk) got instance store %+v", v.InstanceStore)
	}
}

func TestInstanceStoreBackedInstance(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	if err := f.c.EnsureAccount(ctx, instScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	list, err := f.c.PublishImage(ctx, cloud.PublishRequest{DiskPath: fakeDisk(t, 3<<20), Name: "bundled", Architecture: "x86_64",
		Account: instScope.Account, Region: instScope.Region, InstanceStore: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := list[0].Image
	_, err = f.runErr(cloud.RunRequest{ImageID: img.ID})
	wantCode(t, "t3.micro with an instance-store AMI", err, "InvalidParameterCombination")
	r := f.run(t, cloud.RunRequest{ImageID: img.ID, InstanceType: "i3.large"})
	id := r.Instances[0].ID
	f.c.WaitBlockJobs()
	v := f.get(t, id)
	if v.State != cloud.InstanceRunning || v.RootDeviceType != "instance-store" || len(v.Volumes) != 0 || v.InstanceInitiatedShutdownBehavior != "terminate" {
		t.Fatalf("instance-store instance %+v", v.Instance)
	}
	devs, _ := f.drv.Devices(id)
	if len(devs) == 0 || devs[0].Device != "/dev/sda1" || !devs[0].Ephemeral || devs[0].Path != f.c.BlockStore().VolumePath(id+"-root") {
		t.Errorf("the driver's root %+v", devs)
	}
	blocks := f.c.BlockStore().(*cloudtest.Blocks)
	if copied := blocks.Volume(id + "-root"); copied == nil || copied.From != img.BundleID() {
		t.Errorf("the root copy %+v, want one of bundle %s", copied, img.BundleID())
	}
	_, err = f.c.StopInstances(ctx, instScope, []string{id}, false)
	wantCode(t, "stopping an instance-store-backed instance", err, "UnsupportedOperation")
	if err := f.c.RebootInstances(ctx, instScope, []string{id}); err != nil {
		t.Errorf("reboot: %v", err)
	}
	if _, err := f.c.TerminateInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if f.get(t, id).State != cloud.InstanceTerminated {
		t.Error("not terminated")
	}
	if blocks.Volume(id+"-root") != nil {
		t.Error("the root copy outlived the instance")
	}
}
