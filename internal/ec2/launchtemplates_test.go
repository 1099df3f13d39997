package ec2

import (
	"context"
	"strings"
	"testing"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud/cloudtest"
)

func TestLaunchTemplatesAPI(t *testing.T) {
	d := newService(t)
	body := mustCall(t, d, "CreateLaunchTemplate", "LaunchTemplateName", "web", "VersionDescription", "first",
		"LaunchTemplateData.ImageId", "ami-00000000000000001", "LaunchTemplateData.InstanceType", "t3.micro",
		"LaunchTemplateData.SecurityGroupId.1", "sg-00000000000000001",
		"LaunchTemplateData.BlockDeviceMapping.1.DeviceName", "/dev/xvda", "LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize", "20",
		"LaunchTemplateData.TagSpecification.1.ResourceType", "instance", "LaunchTemplateData.TagSpecification.1.Tag.1.Key", "Name",
		"LaunchTemplateData.TagSpecification.1.Tag.1.Value", "web",
		"TagSpecification.1.ResourceType", "launch-template", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "a")
	lt := idIn(t, body, "launchTemplateId", "lt")
	for _, want := range []string{"<launchTemplateName>web</launchTemplateName>", "<defaultVersionNumber>1</defaultVersionNumber>", "<latestVersionNumber>1</latestVersionNumber>", "<createdBy>arn:aws:iam::123456789012:root</createdBy>", "<key>team</key>"} {
		if !strings.Contains(body, want) {
			t.Errorf("CreateLaunchTemplate lacks %s: %s", want, body)
		}
	}
	runCases(t, d, []apiCase{
		{name: "name taken", action: "CreateLaunchTemplate", params: []string{"LaunchTemplateName", "web", "LaunchTemplateData.ImageId", "ami-00000000000000001"}, code: "InvalidLaunchTemplateName.AlreadyExistsException"},
		{name: "no data", action: "CreateLaunchTemplate", params: []string{"LaunchTemplateName", "other"}, code: "MissingParameter"},
		{name: "instance tags on the template", action: "CreateLaunchTemplate", params: []string{"LaunchTemplateName", "other", "LaunchTemplateData.ImageId", "ami-00000000000000001", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "k"}, code: "InvalidParameterValue"},
		// Version 2 from version 1: the type changes, the rest is inherited.
		{name: "version from a source", action: "CreateLaunchTemplateVersion", params: []string{"LaunchTemplateId", lt, "SourceVersion", "1", "VersionDescription", "bigger", "LaunchTemplateData.InstanceType", "m5.large"},
			contains: "<versionNumber>2</versionNumber><versionDescription>bigger</versionDescription>"},
		{name: "version from nothing", action: "CreateLaunchTemplateVersion", params: []string{"LaunchTemplateName", "web", "LaunchTemplateData.InstanceType", "c5.large"}, contains: "<versionNumber>3</versionNumber>"},
		{name: "unknown source", action: "CreateLaunchTemplateVersion", params: []string{"LaunchTemplateId", lt, "SourceVersion", "9", "LaunchTemplateData.InstanceType", "m5.large"}, code: "InvalidLaunchTemplateId.VersionNotFound"},
		{name: "unknown template", action: "CreateLaunchTemplateVersion", params: []string{"LaunchTemplateName", "nope", "LaunchTemplateData.InstanceType", "m5.large"}, code: "InvalidLaunchTemplateName.NotFoundException"},
		{name: "describe", action: "DescribeLaunchTemplates", params: []string{"LaunchTemplateName.1", "web"}, contains: "<latestVersionNumber>3</latestVersionNumber>"},
		{name: "describe unknown", action: "DescribeLaunchTemplates", params: []string{"LaunchTemplateId.1", "lt-0123456789abcdef0"}, code: "InvalidLaunchTemplateId.NotFound"},
		{name: "set default", action: "ModifyLaunchTemplate", params: []string{"LaunchTemplateId", lt, "SetDefaultVersion", "2"}, contains: "<defaultVersionNumber>2</defaultVersionNumber>"},
	})
	body = mustCall(t, d, "DescribeLaunchTemplateVersions", "LaunchTemplateId", lt, "LaunchTemplateVersion.1", "2")
	for _, want := range []string{"<imageId>ami-00000000000000001</imageId>", "<instanceType>m5.large</instanceType>", "<defaultVersion>true</defaultVersion>",
		"<securityGroupIdSet><item>sg-00000000000000001</item></securityGroupIdSet>", "<volumeSize>20</volumeSize>", "<tagSpecificationSet><item><resourceType>instance</resourceType>"} {
		if !strings.Contains(body, want) {
			t.Errorf("version 2 lacks %s: %s", want, body)
		}
	}
	body = mustCall(t, d, "DescribeLaunchTemplateVersions", "LaunchTemplateName", "web", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "c5.large")
	if strings.Count(body, "<versionNumber>") != 1 || !strings.Contains(body, "<versionNumber>3</versionNumber>") || strings.Contains(body, "<imageId>") {
		t.Errorf("version 3 holds only what it was given: %s", body)
	}
	body = mustCall(t, d, "DeleteLaunchTemplateVersions", "LaunchTemplateId", lt, "LaunchTemplateVersion.1", "2", "LaunchTemplateVersion.2", "3")
	if !strings.Contains(body, "<successfullyDeletedLaunchTemplateVersionSet><item><launchTemplateId>"+lt+"</launchTemplateId><launchTemplateName>web</launchTemplateName><versionNumber>3</versionNumber>") ||
		!strings.Contains(body, "<code>unexpectedError</code>") {
		t.Errorf("deleting the default and another: %s", body)
	}
	runCases(t, d, []apiCase{
		{name: "delete", action: "DeleteLaunchTemplate", params: []string{"LaunchTemplateName", "web"}, contains: "<launchTemplateId>" + lt + "</launchTemplateId>"},
		{name: "deleted", action: "DescribeLaunchTemplates", params: []string{"LaunchTemplateId.1", lt}, code: "InvalidLaunchTemplateId.NotFound"},
		{name: "versions of nothing", action: "DeleteLaunchTemplateVersions", params: []string{"LaunchTemplateId", lt, "LaunchTemplateVersion.1", "1"}, contains: "<code>launchTemplateIdDoesNotExist</code>"},
	})
}

func TestGetLaunchTemplateDataAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := runningInstance(t, d, c, ami, "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web")
	body := mustCall(t, d, "GetLaunchTemplateData", "InstanceId", id)
	for _, want := range []string{"<imageId>" + ami + "</imageId>", "<instanceType>t3.micro</instanceType>", "<deviceName>/dev/xvda</deviceName>",
		"<deviceIndex>0</deviceIndex>", "<availabilityZone>us-east-1a</availabilityZone>", "<httpTokens>optional</httpTokens>", "<key>Name</key><value>web</value>"} {
		if !strings.Contains(body, want) {
			t.Errorf("GetLaunchTemplateData lacks %s: %s", want, body)
		}
	}
	runCases(t, d, []apiCase{
		{name: "unknown instance", action: "GetLaunchTemplateData", params: []string{"InstanceId", "i-0123456789abcdef0"}, code: "InvalidInstanceID.NotFound"},
	})
}

// applyLaunchTemplate fills what a RunInstances request leaves unset from the
// template version, as AWS merges.
func TestApplyLaunchTemplate(t *testing.T) {
	c := cloudtest.New(t)
	s := &Service{cloud: c}
	d := New(c)
	call := &awsapi.EC2Call{Call: &awsapi.Call{AccountID: "123456789012", Region: "us-east-1"}}
	ctx := context.Background()
	mustCall(t, d, "CreateLaunchTemplate", "LaunchTemplateName", "web",
		"LaunchTemplateData.ImageId", "ami-00000000000000001", "LaunchTemplateData.InstanceType", "t3.micro", "LaunchTemplateData.KeyName", "k",
		"LaunchTemplateData.RamDiskId", "ari-12345678", "LaunchTemplateData.ElasticGpuSpecification.1.Type", "eg1.medium",
		"LaunchTemplateData.SecurityGroupId.1", "sg-00000000000000001",
		"LaunchTemplateData.Placement.AvailabilityZone", "us-east-1b", "LaunchTemplateData.MetadataOptions.HttpTokens", "required",
		"LaunchTemplateData.BlockDeviceMapping.1.DeviceName", "/dev/xvda", "LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize", "20",
		"LaunchTemplateData.BlockDeviceMapping.2.DeviceName", "/dev/sdf", "LaunchTemplateData.BlockDeviceMapping.2.Ebs.VolumeSize", "5",
		"LaunchTemplateData.NetworkInterface.1.DeviceIndex", "1", "LaunchTemplateData.NetworkInterface.1.SubnetId", "subnet-00000000000000001",
		"LaunchTemplateData.TagSpecification.1.ResourceType", "instance",
		"LaunchTemplateData.TagSpecification.1.Tag.1.Key", "a", "LaunchTemplateData.TagSpecification.1.Tag.1.Value", "1",
		"LaunchTemplateData.TagSpecification.1.Tag.2.Key", "b", "LaunchTemplateData.TagSpecification.1.Tag.2.Value", "2",
		"LaunchTemplateData.TagSpecification.2.ResourceType", "volume",
		"LaunchTemplateData.TagSpecification.2.Tag.1.Key", "v", "LaunchTemplateData.TagSpecification.2.Tag.1.Value", "1",
		// strato makes no Spot requests: nothing to tag.
		"LaunchTemplateData.TagSpecification.3.ResourceType", "spot-instances-request", "LaunchTemplateData.TagSpecification.3.Tag.1.Key", "s")
	mustCall(t, d, "CreateLaunchTemplateVersion", "LaunchTemplateName", "web", "LaunchTemplateData.ImageId", "ami-00000000000000002")

	tag := func(k, v string) ec2api.Tag { return ec2api.Tag{Key: ptr(k), Value: ptr(v)} }
	in := &ec2api.RunInstancesRequest{
		MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)), InstanceType: ptr("m5.large"),
		SecurityGroups:      []string{"default"},
		MetadataOptions:     &ec2api.InstanceMetadataOptionsRequest{HttpPutResponseHopLimit: ptr(int32(2))},
		Placement:           &ec2api.Placement{Tenancy: ptr("default")},
		BlockDeviceMappings: []ec2api.BlockDeviceMapping{{DeviceName: ptr("/dev/sdf"), NoDevice: ptr("")}, {DeviceName: ptr("/dev/sdg"), Ebs: &ec2api.EbsBlockDevice{VolumeSize: ptr(int32(1))}}},
		NetworkInterfaces:   []ec2api.InstanceNetworkInterfaceSpecification{{DeviceIndex: ptr(int32(1)), NetworkInterfaceId: ptr("eni-00000000000000001")}},
		TagSpecifications:   []ec2api.TagSpecification{{ResourceType: ptr("instance"), Tags: []ec2api.Tag{tag("b", "3"), tag("c", "4")}}},
		LaunchTemplate:      &ec2api.LaunchTemplateSpecification{LaunchTemplateName: ptr("web")},
	}
	if err := s.applyLaunchTemplate(ctx, call, in); err != nil {
		t.Fatal(err)
	}
	switch {
	case in.LaunchTemplate != nil:
		t.Error("LaunchTemplate not cleared")
	case deref(in.ImageId) != "ami-00000000000000001":
		t.Errorf("the default version is 1, image %s", deref(in.ImageId))
	case deref(in.InstanceType) != "m5.large" || deref(in.KeyName) != "k" || deref(in.RamdiskId) != "ari-12345678":
		t.Errorf("scalars: %s %s %s", deref(in.InstanceType), deref(in.KeyName), deref(in.RamdiskId))
	case len(in.ElasticGpuSpecification) != 1:
		t.Errorf("elastic GPUs: %+v", in.ElasticGpuSpecification)
	case len(in.SecurityGroupIds) != 0 || len(in.SecurityGroups) != 1:
		t.Errorf("the request's groups replace the template's: %v %v", in.SecurityGroupIds, in.SecurityGroups)
	case deref(in.Placement.AvailabilityZone) != "us-east-1b" || deref(in.Placement.Tenancy) != "default":
		t.Errorf("placement: %+v", in.Placement)
	case deref(in.MetadataOptions.HttpTokens) != "required" || deref(in.MetadataOptions.HttpPutResponseHopLimit) != 2:
		t.Errorf("metadata options: %+v", in.MetadataOptions)
	case len(in.NetworkInterfaces) != 1 || deref(in.NetworkInterfaces[0].NetworkInterfaceId) != "eni-00000000000000001" || in.NetworkInterfaces[0].SubnetId != nil:
		t.Errorf("the request's interface replaces the template's at its index: %+v", in.NetworkInterfaces)
	}
	devices := map[string]ec2api.BlockDeviceMapping{}
	for _, m := range in.BlockDeviceMappings {
		devices[deref(m.DeviceName)] = m
	}
	if len(devices) != 3 || deref(devices["/dev/xvda"].Ebs.VolumeSize) != 20 || devices["/dev/sdf"].NoDevice == nil || devices["/dev/sdg"].Ebs == nil {
		t.Errorf("block device mappings merged by device: %+v", in.BlockDeviceMappings)
	}
	tags := map[string]map[string]string{}
	for _, spec := range in.TagSpecifications {
		tags[deref(spec.ResourceType)] = map[string]string{}
		for _, t := range spec.Tags {
			tags[deref(spec.ResourceType)][deref(t.Key)] = deref(t.Value)
		}
	}
	if len(tags) != 2 || tags["instance"]["a"] != "1" || tags["instance"]["b"] != "3" || tags["instance"]["c"] != "4" || tags["volume"]["v"] != "1" {
		t.Errorf("tags merged per resource type: %v", tags)
	}

	// A version by number or alias; the request's own parameters stay.
	in = &ec2api.RunInstancesRequest{ImageId: ptr("ami-0000000000000000f"), LaunchTemplate: &ec2api.LaunchTemplateSpecification{LaunchTemplateName: ptr("web"), Version: ptr("$Latest")}}
	if err := s.applyLaunchTemplate(ctx, call, in); err != nil || deref(in.ImageId) != "ami-0000000000000000f" || deref(in.InstanceType) != "" {
		t.Errorf("$Latest (version 2, image only) under the request's image: %v %s %s", err, deref(in.ImageId), deref(in.InstanceType))
	}
	for _, tc := range []struct {
		name string
		spec ec2api.LaunchTemplateSpecification
		code string
	}{
		{"unknown version", ec2api.LaunchTemplateSpecification{LaunchTemplateName: ptr("web"), Version: ptr("7")}, "InvalidLaunchTemplateId.VersionNotFound"},
		{"unknown name", ec2api.LaunchTemplateSpecification{LaunchTemplateName: ptr("nope")}, "InvalidLaunchTemplateName.NotFoundException"},
		{"unknown ID", ec2api.LaunchTemplateSpecification{LaunchTemplateId: ptr("lt-0123456789abcdef0")}, "InvalidLaunchTemplateId.NotFound"},
		{"both", ec2api.LaunchTemplateSpecification{LaunchTemplateId: ptr("lt-0123456789abcdef0"), LaunchTemplateName: ptr("web")}, "InvalidParameterCombination"},
	} {
		spec := tc.spec
		err := s.applyLaunchTemplate(ctx, call, &ec2api.RunInstancesRequest{LaunchTemplate: &spec})
		if e, _ := awsapi.AsError(toAPIError(err)); e == nil || e.Code != tc.code {
			t.Errorf("%s: want %s, got %v", tc.name, tc.code, err)
		}
	}
	if err := s.applyLaunchTemplate(ctx, call, &ec2api.RunInstancesRequest{}); err != nil {
		t.Errorf("no template: %v", err)
	}
}
