package ec2

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"strato/internal/awsapi"
	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// newEBSService is newService that also returns its control plane, so tests can
// wait for the background work of volumes and snapshots.
func newEBSService(t *testing.T) (*awsapi.EC2, *cloud.Cloud) {
	c := cloudtest.New(t)
	return New(c), c
}

// callEC2As sends one call as another account or Region.
func callEC2As(t *testing.T, d *awsapi.EC2, account, region, action string, params ...string) (string, error) {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	body, err := d.Serve(context.Background(), &awsapi.Call{Action: action, Params: v, AccountID: account, Region: region, RequestID: "r"})
	return string(body), err
}

func createTestVolume(t *testing.T, d *awsapi.EC2, c *cloud.Cloud, params ...string) string {
	t.Helper()
	body := mustCall(t, d, "CreateVolume", append([]string{"AvailabilityZone", "us-east-1a"}, params...)...)
	if !strings.Contains(body, "<status>creating</status>") {
		t.Fatalf("a new volume is not creating: %s", body)
	}
	c.WaitBlockJobs()
	return idIn(t, body, "volumeId", "vol")
}

func TestCreateVolumeRules(t *testing.T) {
	d, _ := newEBSService(t)
	az := []string{"AvailabilityZone", "us-east-1a"}
	with := func(p ...string) []string { return append(append([]string{}, az...), p...) }
	runCases(t, d, []apiCase{
		{name: "no size or snapshot", action: "CreateVolume", params: az, code: "MissingParameter"},
		{name: "no zone", action: "CreateVolume", params: []string{"Size", "1"}, code: "MissingParameter"},
		{name: "unknown zone", action: "CreateVolume", params: []string{"AvailabilityZone", "us-east-1z", "Size", "1"}, code: "InvalidParameterValue"},
		{name: "zone of another Region", action: "CreateVolume", params: []string{"AvailabilityZone", "eu-west-1a", "Size", "1"}, code: "InvalidParameterValue"},
		{name: "unknown type", action: "CreateVolume", params: with("Size", "1", "VolumeType", "gp9"), code: "InvalidParameterValue"},
		{name: "gp2 too large", action: "CreateVolume", params: with("Size", "16385"), code: "InvalidParameterValue"},
		{name: "standard too large", action: "CreateVolume", params: with("Size", "1025", "VolumeType", "standard"), code: "InvalidParameterValue"},
		{name: "st1 too small", action: "CreateVolume", params: with("Size", "124", "VolumeType", "st1"), code: "InvalidParameterValue"},
		{name: "sc1 too small", action: "CreateVolume", params: with("Size", "100", "VolumeType", "sc1"), code: "InvalidParameterValue"},
		{name: "iops on gp2", action: "CreateVolume", params: with("Size", "10", "Iops", "300"), code: "InvalidParameterCombination"},
		{name: "io1 without iops", action: "CreateVolume", params: with("Size", "10", "VolumeType", "io1"), code: "MissingParameter"},
		{name: "io2 without iops", action: "CreateVolume", params: with("Size", "10", "VolumeType", "io2"), code: "MissingParameter"},
		{name: "io1 over 50 IOPS per GiB", action: "CreateVolume", params: with("Size", "10", "VolumeType", "io1", "Iops", "501"), code: "InvalidParameterValue"},
		{name: "io1 over 64,000", action: "CreateVolume", params: with("Size", "2000", "VolumeType", "io1", "Iops", "64001"), code: "InvalidParameterValue"},
		{name: "io1 below 100", action: "CreateVolume", params: with("Size", "10", "VolumeType", "io1", "Iops", "99"), code: "InvalidParameterValue"},
		{name: "io2 over 500 per GiB", action: "CreateVolume", params: with("Size", "10", "VolumeType", "io2", "Iops", "5001"), code: "InvalidParameterValue"},
		{name: "gp3 below 3,000", action: "CreateVolume", params: with("Size", "10", "VolumeType", "gp3", "Iops", "2999"), code: "InvalidParameterValue"},
		{name: "gp3 over 16,000", action: "CreateVolume", params: with("Size", "100", "VolumeType", "gp3", "Iops", "16001"), code: "InvalidParameterValue"},
		{name: "gp3 over 500 per GiB", action: "CreateVolume", params: with("Size", "7", "VolumeType", "gp3", "Iops", "4000"), code: "InvalidParameterValue"},
		{name: "gp3 throughput below 125", action: "CreateVolume", params: with("Size", "10", "VolumeType", "gp3", "Throughput", "124"), code: "InvalidParameterValue"},
		{name: "gp3 throughput over 1,000", action: "CreateVolume", params: with("Size", "100", "VolumeType", "gp3", "Iops", "16000", "Throughput", "1001"), code: "InvalidParameterValue"},
		{name: "gp3 throughput over 0.25 per IOPS", action: "CreateVolume", params: with("Size", "100", "VolumeType", "gp3", "Throughput", "751"), code: "InvalidParameterValue"},
		{name: "throughput on gp2", action: "CreateVolume", params: with("Size", "10", "Throughput", "200"), code: "InvalidParameterCombination"},
		{name: "multi-attach on gp3", action: "CreateVolume", params: with("Size", "10", "VolumeType", "gp3", "MultiAttachEnabled", "true"), code: "InvalidParameterCombination"},
		{name: "KmsKeyId without Encrypted", action: "CreateVolume", params: with("Size", "10", "KmsKeyId", "alias/mine"), code: "InvalidParameterDependency"},
		{name: "encrypted with the account's EBS key", action: "CreateVolume", params: with("Size", "10", "Encrypted", "true"), contains: "<encrypted>true</encrypted><kmsKeyId>arn:aws:kms:us-east-1:123456789012:key/"},
		{name: "encrypted with a key that does not exist", action: "CreateVolume", params: with("Size", "10", "Encrypted", "true", "KmsKeyId", "alias/nope"), code: "InvalidKMSKey.NotFound"},
		{name: "unknown snapshot", action: "CreateVolume", params: with("SnapshotId", "snap-0123456789abcdef0"), code: "InvalidSnapshot.NotFound"},
		{name: "gp2 baseline", action: "CreateVolume", params: with("Size", "100"), contains: "<iops>300</iops>"},
		{name: "gp2 minimum", action: "CreateVolume", params: with("Size", "1"), contains: "<iops>100</iops>"},
		{name: "gp3 defaults", action: "CreateVolume", params: with("Size", "10", "VolumeType", "gp3"), contains: "<iops>3000</iops>"},
		{name: "io2 multi-attach", action: "CreateVolume", params: with("Size", "10", "VolumeType", "io2", "Iops", "5000", "MultiAttachEnabled", "true"), contains: "<multiAttachEnabled>true</multiAttachEnabled>"},
		{name: "tags", action: "CreateVolume", params: with("Size", "1", "TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "data"), contains: "<key>Name</key><value>data</value>"},
	})
}

func TestVolumeStorageQuota(t *testing.T) {
	d, c := newEBSService(t)
	mustCall(t, d, "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "16384", "VolumeType", "io2", "Iops", "100")
	mustCall(t, d, "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "4096", "VolumeType", "io2", "Iops", "100")
	_, err := callEC2(t, d, "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "4", "VolumeType", "io2", "Iops", "100")
	if e, _ := awsapi.AsError(err); e == nil || e.Code != "VolumeLimitExceeded" {
		t.Fatalf("want VolumeLimitExceeded past 20 TiB of io2, got %v", err)
	}
	c.WaitBlockJobs()
}

func TestVolumeLifecycleAPI(t *testing.T) {
	d, c := newEBSService(t)
	vol := createTestVolume(t, d, c, "Size", "10", "ClientToken", "tok-1")
	again := mustCall(t, d, "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "10", "ClientToken", "tok-1")
	if idIn(t, again, "volumeId", "vol") != vol {
		t.Fatal("a repeated client token made another volume")
	}
	other := createTestVolume(t, d, c, "Size", "1", "VolumeType", "standard")
	runCases(t, d, []apiCase{
		{name: "available", action: "DescribeVolumes", params: []string{"VolumeId.1", vol}, contains: "<status>available</status>"},
		{name: "filter size", action: "DescribeVolumes", params: []string{"Filter.1.Name", "size", "Filter.1.Value.1", "10"}, contains: vol},
		{name: "filter type", action: "DescribeVolumes", params: []string{"Filter.1.Name", "volume-type", "Filter.1.Value.1", "standard"}, contains: other},
		{name: "filter status", action: "DescribeVolumes", params: []string{"Filter.1.Name", "status", "Filter.1.Value.1", "available", "Filter.2.Name", "encrypted", "Filter.2.Value.1", "false"}, contains: other},
		{name: "filter attachment", action: "DescribeVolumes", params: []string{"Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", "i-0123456789abcdef0"}, contains: "<volumeSet/>"},
		{name: "bad filter", action: "DescribeVolumes", params: []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, code: "InvalidParameterValue"},
		{name: "ids with MaxResults", action: "DescribeVolumes", params: []string{"VolumeId.1", vol, "MaxResults", "5"}, code: "InvalidParameterCombination"},
		{name: "MaxResults 1000 is 500", action: "DescribeVolumes", params: []string{"MaxResults", "1000"}, contains: vol},
		{name: "MaxResults below 5", action: "DescribeVolumes", params: []string{"MaxResults", "4"}, code: "InvalidParameterValue"},
		{name: "unknown volume", action: "DescribeVolumes", params: []string{"VolumeId.1", "vol-0123456789abcdef0"}, code: "InvalidVolume.NotFound"},
		{name: "status", action: "DescribeVolumeStatus", params: []string{"VolumeId.1", vol}, contains: "<volumeStatus><details><item><name>io-enabled</name><status>passed</status>"},
		{name: "autoEnableIO off", action: "DescribeVolumeAttribute", params: []string{"VolumeId", vol, "Attribute", "autoEnableIO"}, contains: "<autoEnableIO><value>false</value></autoEnableIO>"},
		{name: "set autoEnableIO", action: "ModifyVolumeAttribute", params: []string{"VolumeId", vol, "AutoEnableIO.Value", "true"}, contains: "<return>true</return>"},
		{name: "autoEnableIO on", action: "DescribeVolumeAttribute", params: []string{"VolumeId", vol, "Attribute", "autoEnableIO"}, contains: "<value>true</value>"},
		{name: "bad attribute", action: "DescribeVolumeAttribute", params: []string{"VolumeId", vol, "Attribute", "size"}, code: "InvalidParameterValue"},
		{name: "attach: no instances yet", action: "AttachVolume", params: []string{"VolumeId", vol, "InstanceId", "i-0123456789abcdef0", "Device", "/dev/sdf"}, code: "InvalidInstanceID.NotFound"},
		{name: "detach an available volume", action: "DetachVolume", params: []string{"VolumeId", vol}, code: "IncorrectState"},
		{name: "shrink", action: "ModifyVolume", params: []string{"VolumeId", vol, "Size", "5"}, code: "InvalidParameterValue"},
		{name: "modify to gp3", action: "ModifyVolume", params: []string{"VolumeId", vol, "Size", "20", "VolumeType", "gp3"}, contains: "<modificationState>modifying</modificationState>"},
		{name: "second modification within 6 hours", action: "ModifyVolume", params: []string{"VolumeId", other, "Size", "2"}, contains: "<targetSize>2</targetSize>"},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "grown", action: "DescribeVolumes", params: []string{"VolumeId.1", vol}, contains: "<size>20</size>"},
		{name: "modification listed", action: "DescribeVolumesModifications", params: []string{"VolumeId.1", vol}, contains: "<targetVolumeType>gp3</targetVolumeType>"},
		{name: "modification filter", action: "DescribeVolumesModifications", params: []string{"Filter.1.Name", "target-size", "Filter.1.Value.1", "2"}, contains: other},
		{name: "rate limit", action: "ModifyVolume", params: []string{"VolumeId", vol, "Size", "30"}, code: "VolumeModificationRateExceeded"},
		{name: "delete", action: "DeleteVolume", params: []string{"VolumeId", other}, contains: "<return>true</return>"},
		{name: "dry run", action: "DeleteVolume", params: []string{"VolumeId", vol, "DryRun", "true"}, code: "DryRunOperation"},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "deleted", action: "DescribeVolumes", params: []string{"VolumeId.1", other}, code: "InvalidVolume.NotFound"},
		{name: "dry run kept it", action: "DescribeVolumes", params: []string{"VolumeId.1", vol}, contains: vol},
	})
}
