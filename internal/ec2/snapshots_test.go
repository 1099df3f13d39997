package ec2

import (
	"strings"
	"testing"
)

func TestSnapshotsAPI(t *testing.T) {
	d, c := newEBSService(t)
	vol := createTestVolume(t, d, c, "Size", "8")
	body := mustCall(t, d, "CreateSnapshot", "VolumeId", vol, "Description", "first",
		"TagSpecification.1.ResourceType", "snapshot", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v")
	if !strings.Contains(body, "<status>pending</status>") {
		t.Fatalf("a new snapshot: %s", body)
	}
	snap := idIn(t, body, "snapshotId", "snap")
	c.WaitBlockJobs()
	const other = "222222222222"
	runCases(t, d, []apiCase{
		{name: "completed", action: "DescribeSnapshots", params: []string{"SnapshotId.1", snap}, contains: "<status>completed</status>"},
		{name: "progress", action: "DescribeSnapshots", params: []string{"Filter.1.Name", "progress", "Filter.1.Value.1", "100%"}, contains: "<progress>100%</progress>"},
		{name: "owner self", action: "DescribeSnapshots", params: []string{"Owner.1", "self", "Filter.1.Name", "tag:k", "Filter.1.Value.1", "v"}, contains: snap},
		{name: "filter description", action: "DescribeSnapshots", params: []string{"Filter.1.Name", "description", "Filter.1.Value.1", "fir*"}, contains: "<volumeSize>8</volumeSize>"},
		{name: "filter volume", action: "DescribeSnapshots", params: []string{"Filter.1.Name", "volume-id", "Filter.1.Value.1", "vol-0123456789abcdef0"}, contains: "<snapshotSet/>"},
		{name: "unknown snapshot", action: "DescribeSnapshots", params: []string{"SnapshotId.1", "snap-0123456789abcdef0"}, code: "InvalidSnapshot.NotFound"},
		{name: "volume too small", action: "CreateVolume", params: []string{"AvailabilityZone", "us-east-1a", "SnapshotId", snap, "Size", "4"}, code: "InvalidParameterValue"},
		{name: "from snapshot", action: "CreateVolume", params: []string{"AvailabilityZone", "us-east-1a", "SnapshotId", snap}, contains: "<size>8</size>"},
		{name: "snapshots of an instance", action: "CreateSnapshots", params: []string{"InstanceSpecification.InstanceId", "i-0123456789abcdef0"}, code: "InvalidInstanceID.NotFound"},
		{name: "description too long", action: "CreateSnapshot", params: []string{"VolumeId", vol, "Description", strings.Repeat("x", 256)}, code: "InvalidParameterValue"},
		{name: "bad group", action: "ModifySnapshotAttribute", params: []string{"SnapshotId", snap, "Attribute", "createVolumePermission", "OperationType", "add", "UserGroup.1", "everyone"}, code: "InvalidParameterValue"},
		{name: "bad account", action: "ModifySnapshotAttribute", params: []string{"SnapshotId", snap, "CreateVolumePermission.Add.1.UserId", "12"}, code: "InvalidParameterValue"},
		{name: "share", action: "ModifySnapshotAttribute", params: []string{"SnapshotId", snap, "CreateVolumePermission.Add.1.UserId", other}, contains: "<return>true</return>"},
		{name: "shared", action: "DescribeSnapshotAttribute", params: []string{"SnapshotId", snap, "Attribute", "createVolumePermission"}, contains: "<createVolumePermission><item><userId>" + other + "</userId></item></createVolumePermission>"},
		{name: "public (legacy form)", action: "ModifySnapshotAttribute", params: []string{"SnapshotId", snap, "OperationType", "add", "UserGroup.1", "all"}, contains: "<return>true</return>"},
		{name: "public", action: "DescribeSnapshotAttribute", params: []string{"SnapshotId", snap, "Attribute", "createVolumePermission"}, contains: "<item><group>all</group></item>"},
		{name: "restorable by all", action: "DescribeSnapshots", params: []string{"RestorableBy.1", "all"}, contains: snap},
	})
	// The other account sees it and can restore and copy it.
	if body, err := callEC2As(t, d, other, "us-east-1", "DescribeSnapshots", "SnapshotId.1", snap); err != nil || strings.Contains(body, "<tagSet>") {
		t.Fatalf("the shared snapshot to its grantee (without the owner's tags): %v %s", err, body)
	}
	body, err := callEC2As(t, d, other, "eu-west-1", "CopySnapshot", "SourceRegion", "us-east-1", "SourceSnapshotId", snap)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitBlockJobs()
	copied := idIn(t, body, "snapshotId", "snap")
	if body, _ := callEC2As(t, d, other, "eu-west-1", "DescribeSnapshots", "SnapshotId.1", copied); !strings.Contains(body, "<ownerId>"+other+"</ownerId>") || !strings.Contains(body, "<status>completed</status>") {
		t.Fatalf("the copy in the other Region: %s", body)
	}
	runCases(t, d, []apiCase{
		{name: "reset", action: "ResetSnapshotAttribute", params: []string{"SnapshotId", snap, "Attribute", "createVolumePermission"}, contains: "<return>true</return>"},
		{name: "private again", action: "DescribeSnapshotAttribute", params: []string{"SnapshotId", snap, "Attribute", "createVolumePermission"}, contains: "<createVolumePermission/>"},
		{name: "bad source Region", action: "CopySnapshot", params: []string{"SourceRegion", "mars-1", "SourceSnapshotId", snap}, code: "InvalidParameterValue"},
		{name: "KmsKeyId without Encrypted", action: "CopySnapshot", params: []string{"SourceRegion", "us-east-1", "SourceSnapshotId", snap, "KmsKeyId", "alias/x"}, code: "InvalidParameterDependency"},
		{name: "delete", action: "DeleteSnapshot", params: []string{"SnapshotId", snap}, contains: "<return>true</return>"},
		{name: "deleted", action: "DeleteSnapshot", params: []string{"SnapshotId", snap}, code: "InvalidSnapshot.NotFound"},
	})
	c.WaitBlockJobs()
	if body, _ := callEC2As(t, d, other, "us-east-1", "DescribeSnapshots"); strings.Contains(body, snap) {
		t.Fatal("a deleted snapshot is still visible to its grantee")
	}
}
