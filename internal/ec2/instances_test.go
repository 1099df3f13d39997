package ec2

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/compute"
	_ "strato/internal/compute/mock"
)

// newInstanceService is a service with default VPCs, the mock driver and an
// image of a completed root snapshot.
func newInstanceService(t *testing.T) (*awsapi.EC2, *cloud.Cloud, string) {
	t.Helper()
	c := cloudtest.WithDefaultVPCs(t)
	drv, err := compute.Open("mock", compute.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c.UseCompute(drv)
	d := New(c)
	vol := createTestVolume(t, d, c, "Size", "8")
	snap := idIn(t, mustCall(t, d, "CreateSnapshot", "VolumeId", vol), "snapshotId", "snap")
	c.WaitBlockJobs()
	ami := idIn(t, mustCall(t, d, "RegisterImage", "Name", "minimal", "Architecture", "x86_64", "VirtualizationType", "hvm",
		"RootDeviceName", "/dev/xvda", "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap), "imageId", "ami")
	return d, c, ami
}

func TestRunAndDescribeInstancesAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	mustCall(t, d, "CreateKeyPair", "KeyName", "k")
	body := mustCall(t, d, "RunInstances", "ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "2",
		"KeyName", "k", "Placement.AvailabilityZone", "us-east-1b",
		"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web")
	for _, want := range []string{"<reservationId>r-", "<code>0</code><name>pending</name>", "<availabilityZone>us-east-1b</availabilityZone>", "<keyName>k</keyName>", "<amiLaunchIndex>1</amiLaunchIndex>", "<networkInterfaceId>eni-", "<status>attaching</status>"} {
		if !strings.Contains(body, want) {
			t.Errorf("RunInstances lacks %s: %s", want, body)
		}
	}
	id := idIn(t, body, "instanceId", "i")
	c.WaitBlockJobs()
	body = mustCall(t, d, "DescribeInstances", "InstanceId.1", id)
	for _, want := range []string{"<code>16</code><name>running</name>", "<deviceName>/dev/xvda</deviceName>", "<status>attached</status>", "<networkInterfaceId>eni-", "<key>Name</key>"} {
		if !strings.Contains(body, want) {
			t.Errorf("DescribeInstances lacks %s: %s", want, body)
		}
	}
	body = mustCall(t, d, "DescribeInstances", "Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "running", "Filter.2.Name", "tag:Name", "Filter.2.Value.1", "web")
	if strings.Count(body, "<reservationId>") != 1 || strings.Count(body, "<instanceId>") != 2 {
		t.Errorf("one reservation of two instances expected: %s", body)
	}
	body = mustCall(t, d, "DescribeInstances", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "m5.large")
	if strings.Contains(body, "<instanceId>") {
		t.Errorf("the instance-type filter matched: %s", body)
	}
	body = mustCall(t, d, "DescribeInstances", "MaxResults", "5")
	if strings.Count(body, "<instanceId>") != 2 {
		t.Errorf("page: %s", body)
	}
}

func TestRunInstancesErrorsAPI(t *testing.T) {
	d, _, ami := newInstanceService(t)
	run := func(p ...string) []string {
		return append([]string{"ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1"}, p...)
	}
	runCases(t, d, []apiCase{
		{name: "unknown key", action: "RunInstances", params: run("KeyName", "nope"), code: "InvalidKeyPair.NotFound"},
		{name: "unknown image", action: "RunInstances", params: []string{"ImageId", "ami-0123456789abcdef0", "MinCount", "1", "MaxCount", "1"}, code: "InvalidAMIID.NotFound"},
		{name: "arm type for x86 image", action: "RunInstances", params: []string{"ImageId", ami, "InstanceType", "t4g.micro", "MinCount", "1", "MaxCount", "1"}, code: "InvalidParameterValue"},
		{name: "unknown subnet", action: "RunInstances", params: run("SubnetId", "subnet-0123456789abcdef0"), code: "InvalidSubnetID.NotFound"},
		{name: "unknown group", action: "RunInstances", params: run("SecurityGroupId.1", "sg-0123456789abcdef0"), code: "InvalidGroup.NotFound"},
		{name: "bad user data", action: "RunInstances", params: run("UserData", "%%%"), code: "InvalidParameterValue"},
		{name: "launch template not found", action: "RunInstances", params: run("LaunchTemplate.LaunchTemplateId", "lt-0123456789abcdef0"), code: "InvalidLaunchTemplateId.NotFound"},
		// Options strato does not carry out are refused by name, not ignored.
		{name: "spot", action: "RunInstances", params: run("InstanceMarketOptions.MarketType", "spot"), code: "UnsupportedOperation"},
		{name: "IAM profile", action: "RunInstances", params: run("IamInstanceProfile.Name", "web"), code: "UnsupportedOperation"},
		{name: "detailed monitoring", action: "RunInstances", params: run("Monitoring.Enabled", "true"), code: "UnsupportedOperation"},
		{name: "IPv6", action: "RunInstances", params: run("Ipv6AddressCount", "1"), code: "UnsupportedOperation"},
		{name: "CPU options", action: "RunInstances", params: run("CpuOptions.CoreCount", "1"), code: "UnsupportedOperation"},
		{name: "hibernation", action: "RunInstances", params: run("HibernationOptions.Configured", "true"), code: "UnsupportedHibernationConfiguration"},
		{name: "placement group", action: "RunInstances", params: run("Placement.GroupName", "cluster"), code: "UnsupportedOperation"},
		{name: "resource-name hostnames", action: "RunInstances", params: run("PrivateDnsNameOptions.HostnameType", "resource-name"), code: "UnsupportedOperation"},
		{name: "kernel image", action: "RunInstances", params: run("KernelId", "aki-0123456789abcdef0"), code: "UnsupportedOperation"},
		{name: "credits standard", action: "RunInstances", params: run("CreditSpecification.CpuCredits", "standard"), code: "UnsupportedOperation"},
		{name: "credits bad value", action: "RunInstances", params: run("CreditSpecification.CpuCredits", "lots"), code: "InvalidParameterValue"},
		{name: "credits on m5", action: "RunInstances", params: []string{"ImageId", ami, "InstanceType", "m5.large", "MinCount", "1", "MaxCount", "1", "CreditSpecification.CpuCredits", "unlimited"}, code: "InvalidParameterCombination"},
		{name: "unknown instance", action: "StopInstances", params: []string{"InstanceId.1", "i-0123456789abcdef0"}, code: "InvalidInstanceID.NotFound"},
	})
}

func TestInstanceLifecycleAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := idIn(t, mustCall(t, d, "RunInstances", "ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1", "DisableApiTermination", "true"), "instanceId", "i")
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "protected", action: "TerminateInstances", params: []string{"InstanceId.1", id}, code: "OperationNotPermitted"},
		{name: "start running", action: "StartInstances", params: []string{"InstanceId.1", id}, contains: "<previousState><code>16</code><name>running</name></previousState>"},
		{name: "stop", action: "StopInstances", params: []string{"InstanceId.1", id}, contains: "<currentState><code>64</code><name>stopping</name></currentState>"},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "stopped", action: "DescribeInstances", params: []string{"InstanceId.1", id}, contains: "<code>Client.UserInitiatedShutdown</code>"},
		{name: "reboot stopped", action: "RebootInstances", params: []string{"InstanceId.1", id}, code: "IncorrectInstanceState"},
		{name: "start", action: "StartInstances", params: []string{"InstanceId.1", id}, contains: "<currentState><code>0</code><name>pending</name></currentState>"},
	})
	c.WaitBlockJobs()
	id2 := idIn(t, mustCall(t, d, "RunInstances", "ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1"), "instanceId", "i")
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "terminate", action: "TerminateInstances", params: []string{"InstanceId.1", id2}, contains: "<currentState><code>32</code><name>shutting-down</name></currentState>"},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "terminated", action: "DescribeInstances", params: []string{"InstanceId.1", id2}, contains: "<code>48</code><name>terminated</name>"},
		{name: "start terminated", action: "StartInstances", params: []string{"InstanceId.1", id2}, code: "IncorrectInstanceState"},
		{name: "terminate again", action: "TerminateInstances", params: []string{"InstanceId.1", id2}, contains: "<previousState><code>48</code><name>terminated</name></previousState>"},
	})
}

func TestGetConsoleOutput(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := idIn(t, mustCall(t, d, "RunInstances", "ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1"), "instanceId", "i")
	c.WaitBlockJobs()
	body := mustCall(t, d, "GetConsoleOutput", "InstanceId", id, "Latest", "true")
	m := regexp.MustCompile(`<output>([A-Za-z0-9+/=]+)</output>`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "<timestamp>") {
		t.Fatalf("no console output of a running instance: %s", body)
	}
	log, err := base64.StdEncoding.DecodeString(m[1])
	if err != nil || len(log) == 0 {
		t.Fatalf("console output is not base64 of a log: %v %q", err, log)
	}
	runCases(t, d, []apiCase{
		{name: "unknown instance", action: "GetConsoleOutput", params: []string{"InstanceId", "i-0123456789abcdef0"}, code: "InvalidInstanceID.NotFound"},
	})
}

// Options at their defaults (as Terraform and the SDKs send them) launch.
func TestRunInstancesDefaultOptionsPass(t *testing.T) {
	d, _, ami := newInstanceService(t)
	body := mustCall(t, d, "RunInstances", "ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1",
		"Monitoring.Enabled", "false", "CreditSpecification.CpuCredits", "unlimited", "Placement.Tenancy", "default",
		"CapacityReservationSpecification.CapacityReservationPreference", "open", "PrivateDnsNameOptions.HostnameType", "ip-name",
		"HibernationOptions.Configured", "false", "EnclaveOptions.Enabled", "false")
	if !strings.Contains(body, "<instanceId>i-") {
		t.Fatalf("RunInstances with default options: %s", body)
	}
}
