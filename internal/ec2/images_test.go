package ec2

import (
	"strings"
	"testing"
)

func TestImagesAPI(t *testing.T) {
	d, c := newEBSService(t)
	vol := createTestVolume(t, d, c, "Size", "8")
	snap := idIn(t, mustCall(t, d, "CreateSnapshot", "VolumeId", vol), "snapshotId", "snap")
	c.WaitBlockJobs()
	register := func(name string, extra ...string) []string {
		return append([]string{"Name", name, "Architecture", "x86_64", "VirtualizationType", "hvm", "RootDeviceName", "/dev/xvda",
			"BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap,
			"BlockDeviceMapping.2.DeviceName", "/dev/sdb", "BlockDeviceMapping.2.VirtualName", "ephemeral0"}, extra...)
	}
	body := mustCall(t, d, "RegisterImage", register("web 1.0", "Description", "the web tier", "EnaSupport", "true", "BootMode", "uefi",
		"TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "tier", "TagSpecification.1.Tag.1.Value", "web")...)
	ami := idIn(t, body, "imageId", "ami")
	const other = "222222222222"
	runCases(t, d, []apiCase{
		{name: "described", action: "DescribeImages", params: []string{"ImageId.1", ami}, contains: "<imageState>available</imageState>"},
		{name: "its mappings", action: "DescribeImages", params: []string{"ImageId.1", ami}, contains: "<deviceName>/dev/xvda</deviceName><ebs><deleteOnTermination>true</deleteOnTermination><snapshotId>" + snap + "</snapshotId><volumeSize>8</volumeSize><volumeType>gp2</volumeType><encrypted>false</encrypted></ebs>"},
		{name: "ephemeral", action: "DescribeImages", params: []string{"ImageId.1", ami}, contains: "<virtualName>ephemeral0</virtualName>"},
		{name: "owner self and tag", action: "DescribeImages", params: []string{"Owner.1", "self", "Filter.1.Name", "tag:tier", "Filter.1.Value.1", "web"}, contains: ami},
		{name: "name wildcard", action: "DescribeImages", params: []string{"Filter.1.Name", "name", "Filter.1.Value.1", "web *"}, contains: ami},
		{name: "root device type", action: "DescribeImages", params: []string{"Filter.1.Name", "root-device-type", "Filter.1.Value.1", "instance-store"}, contains: "<imagesSet/>"},
		{name: "by snapshot", action: "DescribeImages", params: []string{"Filter.1.Name", "block-device-mapping.snapshot-id", "Filter.1.Value.1", snap}, contains: ami},
		{name: "amazon's", action: "DescribeImages", params: []string{"Owner.1", "amazon"}, contains: "<imagesSet/>"},
		{name: "malformed ID", action: "DescribeImages", params: []string{"ImageId.1", "ami-xyz"}, code: "InvalidAMIID.Malformed"},
		{name: "unknown ID", action: "DescribeImages", params: []string{"ImageId.1", "ami-0123456789abcdef0"}, code: "InvalidAMIID.NotFound"},
		{name: "same name", action: "RegisterImage", params: register("web 1.0"), code: "InvalidAMIName.Duplicate"},
		{name: "bad name", action: "RegisterImage", params: register("x"), code: "InvalidAMIName.Malformed"},
		{name: "image of a missing instance", action: "CreateImage", params: []string{"InstanceId", "i-0123456789abcdef0", "Name", "of an instance"}, code: "InvalidInstanceID.NotFound"},
		{name: "instance-store from S3", action: "RegisterImage", params: []string{"Name", "bundle", "ImageLocation", "bucket/image.manifest.xml"}, code: "UnsupportedOperation"},
		{name: "snapshot in use", action: "DeleteSnapshot", params: []string{"SnapshotId", snap}, code: "InvalidSnapshot.InUse"},
		{name: "description", action: "DescribeImageAttribute", params: []string{"ImageId", ami, "Attribute", "description"}, contains: "<value>the web tier</value>"},
		{name: "boot mode", action: "DescribeImageAttribute", params: []string{"ImageId", ami, "Attribute", "bootMode"}, contains: "<value>uefi</value>"},
		{name: "bad attribute", action: "DescribeImageAttribute", params: []string{"ImageId", ami, "Attribute", "colour"}, code: "InvalidParameterValue"},
		{name: "change description", action: "ModifyImageAttribute", params: []string{"ImageId", ami, "Description.Value", "v2"}, contains: "<return>true</return>"},
		{name: "changed", action: "DescribeImages", params: []string{"ImageId.1", ami}, contains: "<description>v2</description>"},
		{name: "share", action: "ModifyImageAttribute", params: []string{"ImageId", ami, "LaunchPermission.Add.1.UserId", other}, contains: "<return>true</return>"},
		{name: "shared", action: "DescribeImageAttribute", params: []string{"ImageId", ami, "Attribute", "launchPermission"}, contains: "<launchPermission><item><userId>" + other + "</userId></item></launchPermission>"},
		{name: "bad group", action: "ModifyImageAttribute", params: []string{"ImageId", ami, "LaunchPermission.Add.1.Group", "everyone"}, code: "InvalidParameterValue"},
		{name: "public (legacy form)", action: "ModifyImageAttribute", params: []string{"ImageId", ami, "Attribute", "launchPermission", "OperationType", "add", "UserGroup.1", "all"}, contains: "<return>true</return>"},
		{name: "is public", action: "DescribeImages", params: []string{"Filter.1.Name", "is-public", "Filter.1.Value.1", "true"}, contains: "<isPublic>true</isPublic>"},
		{name: "only launchPermission resets", action: "ResetImageAttribute", params: []string{"ImageId", ami, "Attribute", "description"}, code: "InvalidParameterValue"},
	})
	// The grantee sees it, without the owner's tags, and cannot read its permissions.
	body, err := callEC2As(t, d, other, "us-east-1", "DescribeImages", "ExecutableBy.1", "self")
	if err != nil || !strings.Contains(body, ami) || strings.Contains(body, "<tagSet><item>") {
		t.Fatalf("the shared image to its grantee: %v %s", err, body)
	}
	if _, err := callEC2As(t, d, other, "us-east-1", "DescribeImageAttribute", "ImageId", ami, "Attribute", "launchPermission"); err == nil {
		t.Error("another account read the image's launch permissions")
	}
	if _, err := callEC2As(t, d, other, "us-east-1", "DeregisterImage", "ImageId", ami); err == nil {
		t.Error("another account deregistered the image")
	}
	// The grantee copies it to another Region: the copy is its own, pending until
	// its snapshot copies complete.
	body, err = callEC2As(t, d, other, "eu-west-1", "CopyImage", "SourceRegion", "us-east-1", "SourceImageId", ami, "Name", "my web")
	if err == nil {
		t.Fatalf("copied an image whose snapshots were not shared: %s", body)
	}
	mustCall(t, d, "ModifySnapshotAttribute", "SnapshotId", snap, "CreateVolumePermission.Add.1.UserId", other)
	body, err = callEC2As(t, d, other, "eu-west-1", "CopyImage", "SourceRegion", "us-east-1", "SourceImageId", ami, "Name", "my web", "ClientToken", "copy-1")
	if err != nil {
		t.Fatal(err)
	}
	copied := idIn(t, body, "imageId", "ami")
	again, _ := callEC2As(t, d, other, "eu-west-1", "CopyImage", "SourceRegion", "us-east-1", "SourceImageId", ami, "Name", "my web", "ClientToken", "copy-1")
	if !strings.Contains(again, copied) {
		t.Errorf("the same client token made another copy: %s", again)
	}
	c.WaitBlockJobs()
	body, _ = callEC2As(t, d, other, "eu-west-1", "DescribeImages", "ImageId.1", copied)
	for _, want := range []string{"<imageState>available</imageState>", "<imageOwnerId>" + other + "</imageOwnerId>", "<name>my web</name>", "<isPublic>false</isPublic>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the copy lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, snap) {
		t.Errorf("the copy maps the source's snapshot, not its own: %s", body)
	}
	runCases(t, d, []apiCase{
		{name: "copy to a bad Region", action: "CopyImage", params: []string{"SourceRegion", "mars-1", "SourceImageId", ami, "Name", "x y z"}, code: "InvalidParameterValue"},
		{name: "reset", action: "ResetImageAttribute", params: []string{"ImageId", ami, "Attribute", "launchPermission"}, contains: "<return>true</return>"},
		{name: "private", action: "DescribeImageAttribute", params: []string{"ImageId", ami, "Attribute", "launchPermission"}, contains: "<launchPermission/>"},
		{name: "deregister", action: "DeregisterImage", params: []string{"ImageId", ami}, contains: "<return>true</return>"},
		{name: "gone", action: "DescribeImages", params: []string{"ImageId.1", ami}, code: "InvalidAMIID.NotFound"},
		{name: "its snapshot stays, free", action: "DeleteSnapshot", params: []string{"SnapshotId", snap}, contains: "<return>true</return>"},
		{name: "the grantee's copy is not the owner's", action: "DescribeImages", params: []string{"ImageId.1", copied}, code: "InvalidAMIID.NotFound"},
	})
	if body, _ := callEC2As(t, d, other, "us-east-1", "DescribeImages"); strings.Contains(body, ami) {
		t.Errorf("a deregistered image is still visible to its former grantee: %s", body)
	}
}
