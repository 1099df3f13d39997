package ec2

import (
	"encoding/base64"
	"strings"
	"testing"

	"strato/internal/awsapi"
	"strato/internal/cloud"
)

// runningInstance launches one instance and waits until it runs.
func runningInstance(t *testing.T, d *awsapi.EC2, c *cloud.Cloud, ami string, params ...string) string {
	t.Helper()
	id := idIn(t, mustCall(t, d, "RunInstances", append([]string{"ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1"}, params...)...), "instanceId", "i")
	c.WaitBlockJobs()
	return id
}

// The seeds' `aws ec2 modify-instance-attribute --block-device-mappings
// file://mapping.json` with [{"DeviceName":"/dev/xvda","Ebs":{"DeleteOnTermination":false}}]
// changes the attached root volume's flag.
func TestModifyBlockDeviceMappingAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := runningInstance(t, d, c, ami)
	mustCall(t, d, "ModifyInstanceAttribute", "InstanceId", id, "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "false")
	body := mustCall(t, d, "DescribeInstanceAttribute", "InstanceId", id, "Attribute", "blockDeviceMapping")
	if !strings.Contains(body, "<deviceName>/dev/xvda</deviceName>") || !strings.Contains(body, "<deleteOnTermination>false</deleteOnTermination>") {
		t.Fatalf("blockDeviceMapping after the change: %s", body)
	}
	if body := mustCall(t, d, "DescribeInstances", "InstanceId.1", id); !strings.Contains(body, "<deleteOnTermination>false</deleteOnTermination>") {
		t.Fatalf("DescribeInstances: %s", body)
	}
	runCases(t, d, []apiCase{
		{name: "unmapped device", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "BlockDeviceMapping.1.DeviceName", "/dev/sdz", "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "false"}, code: "InvalidInstanceAttributeValue"},
	})
}

func TestModifyInstanceAttributeAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := runningInstance(t, d, c, ami)
	script := []byte("#!/bin/sh\necho hello\n")
	runCases(t, d, []apiCase{
		{name: "no attribute", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id}, code: "MissingParameter"},
		{name: "two attributes", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "DisableApiTermination.Value", "true", "SourceDestCheck.Value", "false"}, code: "InvalidParameterCombination"},
		{name: "Attribute and another", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "instanceType", "Value", "m5.large", "EbsOptimized.Value", "true"}, code: "InvalidParameterCombination"},
		{name: "type while running", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "instanceType", "Value", "m5.large"}, code: "IncorrectInstanceState"},
		{name: "Attribute without Value", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "instanceType"}, code: "MissingParameter"},
		{name: "not a boolean", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "disableApiTermination", "Value", "yes"}, code: "InvalidParameterValue"},
		{name: "unknown attribute", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "colour"}, code: "InvalidParameterValue"},
		{name: "unknown instance", action: "DescribeInstanceAttribute", params: []string{"InstanceId", "i-0123456789abcdef0", "Attribute", "instanceType"}, code: "InvalidInstanceID.NotFound"},
		{name: "protect", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "disableApiTermination", "Value", "true"}},
		{name: "protected", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "disableApiTermination"}, contains: "<disableApiTermination><value>true</value></disableApiTermination>"},
		{name: "no source/dest check", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "SourceDestCheck.Value", "false"}},
		{name: "source/dest check off", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "sourceDestCheck"}, contains: "<sourceDestCheck><value>false</value></sourceDestCheck>"},
		{name: "reset source/dest check", action: "ResetInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "sourceDestCheck"}},
		{name: "source/dest check on", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "sourceDestCheck"}, contains: "<sourceDestCheck><value>true</value></sourceDestCheck>"},
		{name: "reset user data", action: "ResetInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "userData"}, code: "InvalidParameterValue"},
		{name: "kernel", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "kernel"}, contains: "<kernel></kernel>"},
		{name: "shutdown behaviour", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "instanceInitiatedShutdownBehavior"}, contains: "<value>stop</value>"},
		{name: "root device", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "rootDeviceName"}, contains: "<rootDeviceName><value>/dev/xvda</value></rootDeviceName>"},
		{name: "groups", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "groupSet"}, contains: "<groupName>default</groupName>"},
		{name: "stop", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "DisableApiStop.Value", "true"}},
		{name: "stop protected", action: "StopInstances", params: []string{"InstanceId.1", id}, code: "OperationNotPermitted"},
		{name: "unprotect stop", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "disableApiStop", "Value", "false"}},
		{name: "stop it", action: "StopInstances", params: []string{"InstanceId.1", id}},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "type while stopped", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "InstanceType.Value", "m5.large"}},
		{name: "new type", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "instanceType"}, contains: "<instanceType><value>m5.large</value></instanceType>"},
		{name: "bad type", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "InstanceType.Value", "x9.huge"}, code: "InvalidInstanceAttributeValue"},
		// The blob travels base64-encoded and is kept as base64 text.
		{name: "user data", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "UserData.Value", base64.StdEncoding.EncodeToString(script)}},
		{name: "new user data", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "userData"}, contains: "<value>" + base64.StdEncoding.EncodeToString(script) + "</value>"},
		{name: "unknown kernel", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "Kernel.Value", "aki-12345678"}, code: "InvalidAMIID.NotFound"},
		{name: "sriov", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "SriovNetSupport.Value", "simple"}},
		{name: "sriov on", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "sriovNetSupport"}, contains: "<value>simple</value>"},
		{name: "ena", action: "ModifyInstanceAttribute", params: []string{"InstanceId", id, "EnaSupport.Value", "true"}},
		{name: "ena on", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "enaSupport"}, contains: "<enaSupport><value>true</value></enaSupport>"},
		{name: "product codes", action: "DescribeInstanceAttribute", params: []string{"InstanceId", id, "Attribute", "productCodes"}, contains: "<instanceId>" + id + "</instanceId>"},
	})
}

func TestModifyInstanceGroupSetAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := runningInstance(t, d, c, ami)
	vpc := idIn(t, mustCall(t, d, "DescribeVpcs", "Filter.1.Name", "isDefault", "Filter.1.Value.1", "true"), "vpcId", "vpc")
	sg := idIn(t, mustCall(t, d, "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", vpc), "groupId", "sg")
	mustCall(t, d, "ModifyInstanceAttribute", "InstanceId", id, "GroupId.1", sg)
	body := mustCall(t, d, "DescribeInstances", "InstanceId.1", id)
	if !strings.Contains(body, "<groupName>web</groupName><groupId>"+sg+"</groupId>") || strings.Contains(body, "<groupName>default</groupName>") {
		t.Fatalf("groups after groupSet: %s", body)
	}
}

func TestModifyInstanceMetadataOptionsAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := runningInstance(t, d, c, ami)
	runCases(t, d, []apiCase{
		{name: "require tokens", action: "ModifyInstanceMetadataOptions", params: []string{"InstanceId", id, "HttpTokens", "required", "HttpPutResponseHopLimit", "2"},
			contains: "<instanceMetadataOptions><state>pending</state><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint>"},
		{name: "applied", action: "DescribeInstances", params: []string{"InstanceId.1", id}, contains: "<state>applied</state><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit>"},
		{name: "hop limit 0", action: "ModifyInstanceMetadataOptions", params: []string{"InstanceId", id, "HttpPutResponseHopLimit", "0"}, code: "InvalidParameterValue"},
		{name: "hop limit 65", action: "ModifyInstanceMetadataOptions", params: []string{"InstanceId", id, "HttpPutResponseHopLimit", "65"}, code: "InvalidParameterValue"},
		{name: "bad endpoint", action: "ModifyInstanceMetadataOptions", params: []string{"InstanceId", id, "HttpEndpoint", "off"}, code: "InvalidParameterValue"},
		{name: "unknown instance", action: "ModifyInstanceMetadataOptions", params: []string{"InstanceId", "i-0123456789abcdef0", "HttpTokens", "required"}, code: "InvalidInstanceID.NotFound"},
	})
}
