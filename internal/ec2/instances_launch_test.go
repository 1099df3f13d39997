package ec2

import (
	"regexp"
	"strings"
	"testing"
)

// runParams are RunInstances' parameters for one t3.micro of the image, plus p.
func runParams(ami string, p ...string) []string {
	return append([]string{"ImageId", ami, "InstanceType", "t3.micro", "MinCount", "1", "MaxCount", "1"}, p...)
}

func valueIn(t *testing.T, body, tag string) string {
	t.Helper()
	m := regexp.MustCompile(`<` + tag + `>([^<]+)</` + tag + `>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <%s> in %s", tag, body)
	}
	return m[1]
}

func TestRunInstancesNetworkAndStorageErrorsAPI(t *testing.T) {
	d, _, ami := newInstanceService(t)
	sn := idIn(t, mustCall(t, d, "DescribeSubnets", "Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1a"), "subnetId", "subnet")
	runCases(t, d, []apiCase{
		{name: "InvalidParameterCombination: subnet and interfaces", action: "RunInstances",
			params: runParams(ami, "SubnetId", sn, "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.SubnetId", sn), code: "InvalidParameterCombination"},
		{name: "InvalidParameterCombination: groups and interfaces", action: "RunInstances",
			params: runParams(ami, "SecurityGroupId.1", "sg-0123456789abcdef0", "NetworkInterface.1.DeviceIndex", "0"), code: "InvalidParameterCombination"},
		{name: "InvalidParameterCombination: public IP on device 1", action: "RunInstances",
			params: runParams(ami, "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.2.DeviceIndex", "1", "NetworkInterface.2.AssociatePublicIpAddress", "true"), code: "InvalidParameterCombination"},
		{name: "AttachmentLimitExceeded", action: "RunInstances",
			params: runParams(ami, "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.2.DeviceIndex", "1", "NetworkInterface.3.DeviceIndex", "2"), code: "AttachmentLimitExceeded"},
		{name: "UnsupportedOperation: IPv6 on an interface", action: "RunInstances",
			params: runParams(ami, "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.Ipv6AddressCount", "1"), code: "UnsupportedOperation"},
		{name: "InvalidBlockDeviceMapping: root smaller than the snapshot", action: "RunInstances",
			params: runParams(ami, "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.VolumeSize", "4"), code: "InvalidBlockDeviceMapping"},
		{name: "InvalidBlockDeviceMapping: no size nor snapshot", action: "RunInstances",
			params: runParams(ami, "BlockDeviceMapping.1.DeviceName", "/dev/sdf", "BlockDeviceMapping.1.Ebs.VolumeType", "gp3"), code: "InvalidBlockDeviceMapping"},
		{name: "InvalidBlockDeviceMapping: NoDevice on the root", action: "RunInstances",
			params: runParams(ami, "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.NoDevice", ""), code: "InvalidBlockDeviceMapping"},
	})
}

func TestRunInstancesWithInterfacesAndMappingsAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	sn := idIn(t, mustCall(t, d, "DescribeSubnets", "Filter.1.Name", "availability-zone", "Filter.1.Value.1", "us-east-1a"), "subnetId", "subnet")
	// As the aws CLI sends --associate-public-ip-address --subnet-id.
	body := mustCall(t, d, "RunInstances", runParams(ami, "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.SubnetId", sn,
		"NetworkInterface.1.AssociatePublicIpAddress", "true", "NetworkInterface.1.SecondaryPrivateIpAddressCount", "1",
		"BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.VolumeSize", "12",
		"BlockDeviceMapping.2.DeviceName", "/dev/sdf", "BlockDeviceMapping.2.Ebs.VolumeSize", "2", "BlockDeviceMapping.2.Ebs.DeleteOnTermination", "false",
		"TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "app", "TagSpecification.1.Tag.1.Value", "db")...)
	id := idIn(t, body, "instanceId", "i")
	c.WaitBlockJobs()
	body = mustCall(t, d, "DescribeInstances", "InstanceId.1", id)
	ip := valueIn(t, body, "ipAddress")
	for _, want := range []string{
		"<dnsName>ec2-" + strings.ReplaceAll(ip, ".", "-") + ".compute-1.amazonaws.com</dnsName>",
		"<deviceName>/dev/sdf</deviceName><ebs>", "<deleteOnTermination>false</deleteOnTermination><status>attached</status>",
		"<association><ipOwnerId>amazon</ipOwnerId>", "<publicIp>" + ip + "</publicIp>", "<primary>false</primary>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("DescribeInstances lacks %s: %s", want, body)
		}
	}
	vols := mustCall(t, d, "DescribeVolumes", "Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", id)
	if strings.Count(vols, "<attachmentSet>") != 2 || !strings.Contains(vols, "<size>12</size>") || strings.Count(vols, "<key>app</key>") != 2 {
		t.Errorf("volumes of the instance: %s", vols)
	}
	runCases(t, d, []apiCase{
		{name: "ip-address filter", action: "DescribeInstances", params: []string{"Filter.1.Name", "ip-address", "Filter.1.Value.1", ip}, contains: id},
		{name: "dns-name filter", action: "DescribeInstances", params: []string{"Filter.1.Name", "dns-name", "Filter.1.Value.1", "ec2-*"}, contains: id},
		{name: "block-device-mapping.device-name filter", action: "DescribeInstances", params: []string{"Filter.1.Name", "block-device-mapping.device-name", "Filter.1.Value.1", "/dev/sdf"}, contains: id},
		{name: "block-device-mapping.delete-on-termination filter", action: "DescribeInstances", params: []string{"Filter.1.Name", "block-device-mapping.delete-on-termination", "Filter.1.Value.1", "false"}, contains: id},
		{name: "network-interface.addresses.association.public-ip filter", action: "DescribeInstances", params: []string{"Filter.1.Name", "network-interface.addresses.association.public-ip", "Filter.1.Value.1", ip}, contains: id},
		{name: "network-interface.subnet-id filter", action: "DescribeInstances", params: []string{"Filter.1.Name", "network-interface.subnet-id", "Filter.1.Value.1", sn}, contains: id},
		{name: "no match", action: "DescribeInstances", params: []string{"Filter.1.Name", "network-interface.attachment.device-index", "Filter.1.Value.1", "3"}, contains: "<reservationSet/>"},
		{name: "interface association", action: "DescribeNetworkInterfaces", params: []string{"Filter.1.Name", "association.public-dns-name", "Filter.1.Value.1", "ec2-*"}, contains: "<publicIp>" + ip + "</publicIp>"},
		{name: "stop releases the public IP", action: "StopInstances", params: []string{"InstanceId.1", id}, contains: "<name>stopping</name>"},
	})
	c.WaitBlockJobs()
	if body := mustCall(t, d, "DescribeInstances", "InstanceId.1", id); strings.Contains(body, "<ipAddress>") || !strings.Contains(body, "<dnsName></dnsName>") {
		t.Errorf("a stopped instance shows a public address: %s", body)
	}
}

func TestAttachmentsThroughTheAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := idIn(t, mustCall(t, d, "RunInstances", runParams(ami)...), "instanceId", "i")
	c.WaitBlockJobs()
	body := mustCall(t, d, "DescribeInstances", "InstanceId.1", id)
	root := idIn(t, body, "volumeId", "vol")
	primary := idIn(t, body, "attachmentId", "eni-attach")
	vol := createTestVolume(t, d, c, "Size", "1")
	eni := idIn(t, mustCall(t, d, "CreateNetworkInterface", "SubnetId", valueIn(t, body, "subnetId")), "networkInterfaceId", "eni")
	runCases(t, d, []apiCase{
		{name: "attach a volume", action: "AttachVolume", params: []string{"VolumeId", vol, "InstanceId", id, "Device", "/dev/sdf"}, contains: "<status>attaching</status>"},
		{name: "IncorrectState: the root of a running instance", action: "DetachVolume", params: []string{"VolumeId", root}, code: "IncorrectState"},
		{name: "attach an interface", action: "AttachNetworkInterface", params: []string{"NetworkInterfaceId", eni, "InstanceId", id, "DeviceIndex", "1"}, contains: "<attachmentId>eni-attach-"},
		{name: "OperationNotPermitted: the primary interface", action: "DetachNetworkInterface", params: []string{"AttachmentId", primary}, code: "OperationNotPermitted"},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "volume attached", action: "DescribeVolumes", params: []string{"VolumeId.1", vol}, contains: "<device>/dev/sdf</device><instanceId>" + id + "</instanceId><status>attached</status>"},
		{name: "instance shows it", action: "DescribeInstances", params: []string{"InstanceId.1", id}, contains: "<deviceName>/dev/sdf</deviceName><ebs>"},
		{name: "interface attached", action: "DescribeNetworkInterfaces", params: []string{"NetworkInterfaceId.1", eni}, contains: "<deviceIndex>1</deviceIndex><networkCardIndex>0</networkCardIndex><instanceId>" + id + "</instanceId><instanceOwnerId>123456789012</instanceOwnerId><status>attached</status>"},
		{name: "detach the volume", action: "DetachVolume", params: []string{"VolumeId", vol}, contains: "<status>detaching</status>"},
	})
	c.WaitBlockJobs()
	runCases(t, d, []apiCase{
		{name: "volume available", action: "DescribeVolumes", params: []string{"VolumeId.1", vol}, contains: "<status>available</status>"},
	})
}

func TestElasticIPOnAnInstanceAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	id := idIn(t, mustCall(t, d, "RunInstances", runParams(ami)...), "instanceId", "i")
	c.WaitBlockJobs()
	auto := valueIn(t, mustCall(t, d, "DescribeInstances", "InstanceId.1", id), "ipAddress")
	alloc := mustCall(t, d, "AllocateAddress", "Domain", "vpc")
	eip, allocID := valueIn(t, alloc, "publicIp"), idIn(t, alloc, "allocationId", "eipalloc")
	assoc := idIn(t, mustCall(t, d, "AssociateAddress", "AllocationId", allocID, "InstanceId", id), "associationId", "eipassoc")
	body := mustCall(t, d, "DescribeInstances", "InstanceId.1", id)
	if valueIn(t, body, "ipAddress") != eip || !strings.Contains(body, "<ipOwnerId>123456789012</ipOwnerId>") {
		t.Errorf("the Elastic IP does not replace %s: %s", auto, body)
	}
	if body := mustCall(t, d, "DescribeAddresses", "AllocationId.1", allocID); !strings.Contains(body, "<instanceId>"+id+"</instanceId>") {
		t.Errorf("DescribeAddresses: %s", body)
	}
	mustCall(t, d, "StopInstances", "InstanceId.1", id)
	c.WaitBlockJobs()
	mustCall(t, d, "StartInstances", "InstanceId.1", id)
	c.WaitBlockJobs()
	if got := valueIn(t, mustCall(t, d, "DescribeInstances", "InstanceId.1", id), "ipAddress"); got != eip {
		t.Errorf("after stop and start the instance has %s, want its Elastic IP %s", got, eip)
	}
	// A running instance with one interface gets a public IP again (AWS's user guide).
	mustCall(t, d, "DisassociateAddress", "AssociationId", assoc)
	if got := valueIn(t, mustCall(t, d, "DescribeInstances", "InstanceId.1", id), "ipAddress"); got == eip {
		t.Errorf("the Elastic IP stays after disassociation")
	}
}
