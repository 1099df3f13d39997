package cloud_test

import (
	"context"
	"encoding/base64"
	"testing"

	"strato/internal/cloud"
)

func boolPtr(v bool) *bool { return &v }

// attrFixture is one running and one stopped instance.
type attrFixture struct {
	instanceFixture
	running, stopped string
}

func newAttrFixture(t *testing.T) attrFixture {
	t.Helper()
	f := newInstanceFixture(t)
	r := f.run(t, cloud.RunRequest{MinCount: 2, MaxCount: 2})
	f.c.WaitBlockJobs()
	a := attrFixture{instanceFixture: f, running: r.Instances[0].ID, stopped: r.Instances[1].ID}
	if _, err := f.c.StopInstances(context.Background(), instScope, []string{a.stopped}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	return a
}

func (f attrFixture) modify(id string, ch cloud.InstanceAttributeChange) error {
	return f.c.ModifyInstanceAttribute(context.Background(), instScope, id, ch)
}

func TestModifyInstanceAttributeRules(t *testing.T) {
	f := newAttrFixture(t)
	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))
	cases := []struct {
		name string
		id   string
		ch   cloud.InstanceAttributeChange
		code string
	}{
		{"instance type while running", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrInstanceType, Value: "m5.large"}, "IncorrectInstanceState"},
		{"unknown instance type", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrInstanceType, Value: "x9.huge"}, "InvalidInstanceAttributeValue"},
		{"type of another architecture", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrInstanceType, Value: "t4g.micro"}, "InvalidInstanceAttributeValue"},
		{"user data while running", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrUserData, Value: ud}, "IncorrectInstanceState"},
		{"user data not base64", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrUserData, Value: "%%%"}, "InvalidParameterValue"},
		{"user data over 16 KB", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrUserData, Value: bigUserData()}, "InvalidParameterValue"},
		{"kernel while running", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrKernel, Value: "aki-12345678"}, "IncorrectInstanceState"},
		{"unknown kernel", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrKernel, Value: "aki-12345678"}, "InvalidAMIID.NotFound"},
		{"malformed RAM disk", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrRamdisk, Value: "aki-12345678"}, "InvalidAMIID.Malformed"},
		{"ebsOptimized while running", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrEbsOptimized, Bool: boolPtr(true)}, "IncorrectInstanceState"},
		{"enaSupport while running", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrENASupport, Bool: boolPtr(true)}, "IncorrectInstanceState"},
		{"bad shutdown behaviour", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrShutdownBehavior, Value: "reboot"}, "InvalidParameterValue"},
		{"sriovNetSupport not simple", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrSriovNetSupport, Value: "fancy"}, "InvalidParameterValue"},
		{"flag without a value", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrDisableAPITermination}, "MissingParameter"},
		{"unknown attribute", f.running, cloud.InstanceAttributeChange{Attribute: "colour", Value: "blue"}, "InvalidParameterValue"},
		{"root device name is fixed", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrRootDeviceName, Value: "/dev/sda1"}, "InvalidParameterValue"},
		{"enclaves", f.stopped, cloud.InstanceAttributeChange{Attribute: cloud.AttrEnclaveOptions, Bool: boolPtr(true)}, "UnsupportedOperation"},
		{"no groups", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrGroupSet}, "MissingParameter"},
		{"unmapped device", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrBlockDeviceMapping, Devices: []cloud.DeviceChange{{DeviceName: "/dev/sdz"}}}, "InvalidInstanceAttributeValue"},
		{"other volume at the device", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrBlockDeviceMapping, Devices: []cloud.DeviceChange{{DeviceName: "/dev/xvda", VolumeID: "vol-0123456789abcdef0"}}}, "InvalidInstanceAttributeValue"},
		{"instance store after launch", f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrBlockDeviceMapping, Devices: []cloud.DeviceChange{{DeviceName: "/dev/sdb", Other: true}}}, "InvalidParameterCombination"},
	}
	for _, tc := range cases {
		wantCode(t, tc.name, f.modify(tc.id, tc.ch), tc.code)
	}
	err := f.modify("i-0123456789abcdef0", cloud.InstanceAttributeChange{Attribute: cloud.AttrDisableAPITermination, Bool: boolPtr(true)})
	if _, ok := err.(*cloud.NotFoundError); !ok {
		t.Errorf("unknown instance: %v", err)
	}
	// Nothing was changed by the refused requests.
	in := f.get(t, f.stopped)
	if in.InstanceType != "t3.micro" || in.UserData != "" || in.SriovNetSupport != "" {
		t.Errorf("refused changes applied: %+v", in.Instance)
	}
}

func TestModifyInstanceAttributeChanges(t *testing.T) {
	f := newAttrFixture(t)
	ctx := context.Background()
	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))
	for _, ch := range []cloud.InstanceAttributeChange{
		{Attribute: cloud.AttrInstanceType, Value: "m5.large"},
		{Attribute: cloud.AttrUserData, Value: ud},
		{Attribute: cloud.AttrEbsOptimized, Bool: boolPtr(true)},
		{Attribute: cloud.AttrENASupport, Bool: boolPtr(true)},
		{Attribute: cloud.AttrSriovNetSupport, Value: "simple"},
		{Attribute: cloud.AttrShutdownBehavior, Value: "terminate"},
		{Attribute: cloud.AttrDisableAPIStop, Bool: boolPtr(true)},
	} {
		if err := f.modify(f.stopped, ch); err != nil {
			t.Fatalf("%s: %v", ch.Attribute, err)
		}
	}
	in := f.get(t, f.stopped)
	if in.InstanceType != "m5.large" || in.UserData != ud || !in.EbsOptimized || !in.ENASupport || in.SriovNetSupport != "simple" ||
		in.InstanceInitiatedShutdownBehavior != "terminate" || !in.DisableAPIStop {
		t.Fatalf("after the changes: %+v", in.Instance)
	}
	// The protections take effect.
	if err := f.modify(f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrDisableAPITermination, Bool: boolPtr(true)}); err != nil {
		t.Fatal(err)
	}
	_, err := f.c.TerminateInstances(ctx, instScope, []string{f.running})
	wantCode(t, "termination protection", err, "OperationNotPermitted")
	if err := f.modify(f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrDisableAPITermination, Bool: boolPtr(false)}); err != nil {
		t.Fatal(err)
	}

	// sourceDestCheck is the primary interface's; Reset turns it back on.
	if err := f.modify(f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrSourceDestCheck, Bool: boolPtr(false)}); err != nil {
		t.Fatal(err)
	}
	if v := f.get(t, f.running); v.Interfaces[0].SourceDestCheck {
		t.Fatal("sourceDestCheck still on")
	}
	if err := f.c.ResetInstanceAttribute(ctx, instScope, f.running, cloud.AttrSourceDestCheck); err != nil {
		t.Fatal(err)
	}
	if v := f.get(t, f.running); !v.Interfaces[0].SourceDestCheck {
		t.Fatal("reset sourceDestCheck is off")
	}
	wantCode(t, "reset kernel while running", f.c.ResetInstanceAttribute(ctx, instScope, f.running, cloud.AttrKernel), "IncorrectInstanceState")
	if err := f.c.ResetInstanceAttribute(ctx, instScope, f.stopped, cloud.AttrRamdisk); err != nil {
		t.Errorf("reset ramdisk of a stopped instance: %v", err)
	}
	wantCode(t, "reset instanceType", f.c.ResetInstanceAttribute(ctx, instScope, f.stopped, cloud.AttrInstanceType), "InvalidParameterValue")

	// DeleteOnTermination of the root volume: off, then the volume outlives the instance.
	root := f.get(t, f.running).RootVolumeID
	if err := f.modify(f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrBlockDeviceMapping, Devices: []cloud.DeviceChange{{DeviceName: "/dev/xvda", DeleteOnTermination: boolPtr(false)}}}); err != nil {
		t.Fatal(err)
	}
	if v := f.get(t, f.running); v.Device(&v.Volumes[0]).DeleteOnTermination {
		t.Fatal("DeleteOnTermination still set")
	}
	if _, err := f.c.TerminateInstances(ctx, instScope, []string{f.running}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v, err := f.c.GetVolume(ctx, instScope, root); err != nil || v.State != cloud.VolumeAvailable {
		t.Fatalf("the kept root volume: %+v %v", v, err)
	}
	err = f.modify(f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrDisableAPIStop, Bool: boolPtr(true)})
	wantCode(t, "terminated instance", err, "IncorrectInstanceState")
}

// groupSet replaces the primary interface's groups with groups of its VPC,
// up to the groups-per-interface quota.
func TestModifyInstanceGroups(t *testing.T) {
	f := newAttrFixture(t)
	ctx := context.Background()
	mine, err := f.c.CreateSecurityGroup(ctx, instScope, cloud.SecurityGroupRequest{Name: "web", Description: "web", VpcID: f.subnet.VpcID})
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.c.CreateVPC(ctx, instScope, cloud.VPCRequest{CIDR: "10.8.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := f.c.CreateSecurityGroup(ctx, instScope, cloud.SecurityGroupRequest{Name: "far", Description: "far", VpcID: other.ID})
	if err != nil {
		t.Fatal(err)
	}
	set := func(groups ...string) error {
		return f.modify(f.running, cloud.InstanceAttributeChange{Attribute: cloud.AttrGroupSet, Groups: groups})
	}
	wantCode(t, "group of another VPC", set(foreign.ID), "InvalidParameter")
	if err := set("sg-0123456789abcdef0"); err == nil {
		t.Error("an unknown group was accepted")
	}
	if err := set(mine.ID); err != nil {
		t.Fatal(err)
	}
	v := f.get(t, f.running)
	if len(v.Groups) != 1 || v.Groups[0].ID != mine.ID || v.Groups[0].Name != "web" || v.Interfaces[0].Groups[0].ID != mine.ID {
		t.Fatalf("groups: %+v / %+v", v.Groups, v.Interfaces[0].Groups)
	}
	if err := f.c.EnsureAccount(ctx, instScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetQuota(ctx, instScope.Account, cloud.QuotaSecurityGroupsPerInterface, 1); err != nil {
		t.Fatal(err)
	}
	def := f.get(t, f.stopped).Groups[0].ID
	wantCode(t, "over the quota", set(mine.ID, def), "SecurityGroupsPerInterfaceLimitExceeded")
}

func TestModifyInstanceMetadataOptions(t *testing.T) {
	f := newAttrFixture(t)
	ctx := context.Background()
	s := func(v string) *string { return &v }
	hop := int32(3)
	m, state, err := f.c.ModifyInstanceMetadataOptions(ctx, instScope, f.running, cloud.MetadataChange{HttpTokens: s("required"), HttpPutResponseHopLimit: &hop})
	if err != nil || state != "pending" || m.HttpTokens != "required" || m.HttpPutResponseHopLimit != 3 || m.HttpEndpoint != "enabled" {
		t.Fatalf("running: %+v %s %v", m, state, err)
	}
	if got := f.get(t, f.running).Metadata; got != m {
		t.Fatalf("recorded %+v, answered %+v", got, m)
	}
	_, state, err = f.c.ModifyInstanceMetadataOptions(ctx, instScope, f.stopped, cloud.MetadataChange{InstanceMetadataTags: s("enabled")})
	if err != nil || state != "applied" {
		t.Fatalf("stopped: %s %v", state, err)
	}
	bad := int32(65)
	for name, ch := range map[string]cloud.MetadataChange{
		"hop limit 65":  {HttpPutResponseHopLimit: &bad},
		"tokens":        {HttpTokens: s("sometimes")},
		"endpoint":      {HttpEndpoint: s("off")},
		"ipv6 endpoint": {HttpProtocolIPv6: s("maybe")},
	} {
		_, _, err := f.c.ModifyInstanceMetadataOptions(ctx, instScope, f.running, ch)
		wantCode(t, name, err, "InvalidParameterValue")
	}
	if got := f.get(t, f.running).Metadata; got != m {
		t.Fatalf("refused changes applied: %+v", got)
	}
}
