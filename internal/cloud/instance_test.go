package cloud_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/compute"
	_ "strato/internal/compute/mock"
)

var instScope = cloud.Scope{Account: "111122223333", Region: "us-east-1"}

// instanceFixture is a control plane with the mock driver, a VPC with a subnet
// and an image whose root snapshot is completed.
type instanceFixture struct {
	c      *cloud.Cloud
	clock  *cloudtest.Clock
	subnet cloud.Subnet
	image  cloud.Image
}

func newInstanceFixture(t testing.TB) instanceFixture {
	t.Helper()
	ctx := context.Background()
	clock := cloudtest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	c := cloudtest.NewWithClock(t, clock)
	drv, err := compute.Open("mock", compute.Options{DataDir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	c.UseCompute(drv)
	s := instScope
	vpc, err := c.CreateVPC(ctx, s, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := c.CreateSubnet(ctx, s, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: "10.0.1.0/24", AvailabilityZone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	vol := availableVolume(t, c, s, cloud.VolumeRequest{AvailabilityZone: "us-east-1a", Size: 8})
	snap := completedSnapshot(t, c, s, vol.ID)
	img, err := c.RegisterImage(ctx, s, cloud.ImageRequest{
		Name: "minimal", Architecture: "x86_64", VirtualizationType: "hvm", RootDeviceName: "/dev/xvda",
		BlockDevices: []cloud.ImageBlockDevice{{DeviceName: "/dev/xvda", EBS: &cloud.ImageEBS{SnapshotID: snap.ID, DeleteOnTermination: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return instanceFixture{c: c, clock: clock, subnet: sn, image: img}
}

func (f instanceFixture) run(t *testing.T, req cloud.RunRequest) cloud.Reservation {
	t.Helper()
	if req.ImageID == "" {
		req.ImageID = f.image.ID
	}
	if req.SubnetID == "" {
		req.SubnetID = f.subnet.ID
	}
	if req.MinCount == 0 {
		req.MinCount, req.MaxCount = 1, 1
	}
	if req.InstanceType == "" {
		req.InstanceType = "t3.micro"
	}
	r, err := f.c.RunInstances(context.Background(), instScope, "", req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f instanceFixture) get(t *testing.T, id string) cloud.InstanceView {
	t.Helper()
	list, _, err := f.c.DescribeInstances(context.Background(), instScope, []string{id}, nil, cloud.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("describe %s: %v %v", id, list, err)
	}
	return list[0]
}

func TestRunInstancesPendingThenRunning(t *testing.T) {
	f := newInstanceFixture(t)
	r := f.run(t, cloud.RunRequest{MinCount: 2, MaxCount: 2})
	if len(r.Instances) != 2 || r.Instances[0].State != cloud.InstancePending || r.Instances[1].LaunchIndex != 1 {
		t.Fatalf("reservation %+v", r)
	}
	f.c.WaitBlockJobs()
	in := f.get(t, r.Instances[0].ID)
	if in.State != cloud.InstanceRunning || cloud.InstanceStateCode(in.State) != 16 {
		t.Fatalf("state %s", in.State)
	}
	if len(in.Volumes) != 1 || in.Volumes[0].State != cloud.VolumeInUse || in.Device(&in.Volumes[0]).State != cloud.AttachAttached {
		t.Fatalf("root volume %+v", in.Volumes)
	}
	// The root volume holds the image: restored from its snapshot, not made empty.
	root := f.c.BlockStore().(*cloudtest.Blocks).Volume(in.Volumes[0].ID)
	if want := f.image.BlockDevices[0].EBS.SnapshotID; root == nil || root.From != want {
		t.Fatalf("root volume in the block store %+v, want one restored from %s", root, want)
	}
	if len(in.Interfaces) != 1 || in.Interfaces[0].PrimaryIP() != in.PrivateIP || in.SubnetID != f.subnet.ID {
		t.Fatalf("interfaces %+v", in.Interfaces)
	}
}

func TestRunInstancesRules(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	base := cloud.RunRequest{ImageID: f.image.ID, SubnetID: f.subnet.ID, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1}
	cases := []struct {
		name string
		edit func(*cloud.RunRequest)
		code string
	}{
		{"InvalidKeyPair.NotFound", func(r *cloud.RunRequest) { r.KeyName = "nope" }, "InvalidKeyPair.NotFound"},
		{"architecture mismatch", func(r *cloud.RunRequest) { r.InstanceType = "t4g.micro" }, "InvalidParameterValue"},
		{"unknown type", func(r *cloud.RunRequest) { r.InstanceType = "x9.huge" }, "InvalidParameterValue"},
		{"min over max", func(r *cloud.RunRequest) { r.MinCount = 3 }, "InvalidParameterValue"},
		{"user data too big", func(r *cloud.RunRequest) { r.UserData = bigUserData() }, "InvalidParameterValue"},
		{"image not found", func(r *cloud.RunRequest) { r.ImageID = "ami-0123456789abcdef0" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := base
			tc.edit(&req)
			_, err := f.c.RunInstances(ctx, instScope, "", req)
			if tc.code == "" {
				var nf *cloud.NotFoundError
				if !errors.As(err, &nf) {
					t.Fatalf("error %v, want not found", err)
				}
				return
			}
			wantCode(t, "", err, tc.code)
		})
	}
	list, _, err := f.c.DescribeInstances(ctx, instScope, nil, nil, cloud.Page{})
	if err != nil || len(list) != 0 {
		t.Fatalf("refused launches left %d instances (%v)", len(list), err)
	}
}

func bigUserData() string {
	return base64.StdEncoding.EncodeToString(make([]byte, cloud.MaxUserData+1))
}

func TestRunInstancesClientToken(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	req := cloud.RunRequest{ImageID: f.image.ID, SubnetID: f.subnet.ID, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1}
	a, err := f.c.RunInstances(ctx, instScope, "tok-1", req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.c.RunInstances(ctx, instScope, "tok-1", req)
	if err != nil || b.Instances[0].ID != a.Instances[0].ID {
		t.Fatalf("repeat: %v %v", b, err)
	}
	f.c.WaitBlockJobs()
}

func TestStopStartTerminate(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	r := f.run(t, cloud.RunRequest{})
	f.c.WaitBlockJobs()
	id := r.Instances[0].ID
	root := f.get(t, id).RootVolumeID
	ip := f.get(t, id).PrivateIP

	_, err := f.c.StartInstances(ctx, instScope, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := f.c.StopInstances(ctx, instScope, []string{id}, false)
	if err != nil || ch[0].PreviousState != cloud.InstanceRunning || ch[0].Current != cloud.InstanceStopping {
		t.Fatalf("stop: %v %v", ch, err)
	}
	f.c.WaitBlockJobs()
	in := f.get(t, id)
	if in.State != cloud.InstanceStopped || in.StateReasonCode != "Client.UserInitiatedShutdown" || in.PrivateIP != ip {
		t.Fatalf("after stop %+v", in.Instance)
	}
	if err := f.c.RebootInstances(ctx, instScope, []string{id}); err == nil {
		t.Fatal("rebooting a stopped instance worked")
	} else {
		wantCode(t, "", err, "IncorrectInstanceState")
	}
	ch, err = f.c.StartInstances(ctx, instScope, []string{id})
	if err != nil || ch[0].PreviousState != cloud.InstanceStopped || ch[0].Current != cloud.InstancePending {
		t.Fatalf("start: %v %v", ch, err)
	}
	f.c.WaitBlockJobs()
	if s := f.get(t, id).State; s != cloud.InstanceRunning {
		t.Fatalf("after start %s", s)
	}
	ch, err = f.c.TerminateInstances(ctx, instScope, []string{id})
	if err != nil || ch[0].Current != cloud.InstanceShuttingDown {
		t.Fatalf("terminate: %v %v", ch, err)
	}
	f.c.WaitBlockJobs()
	if s := f.get(t, id).State; s != cloud.InstanceTerminated {
		t.Fatalf("after terminate %s", s)
	}
	if _, err := f.c.GetVolume(ctx, instScope, root); err == nil {
		t.Fatal("the DeleteOnTermination root volume survived")
	}
	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err == nil {
		t.Fatal("stopping a terminated instance worked")
	} else {
		wantCode(t, "", err, "IncorrectInstanceState")
	}
	f.clock.Advance(time.Hour)
	if _, _, err := f.c.DescribeInstances(ctx, instScope, []string{id}, nil, cloud.Page{}); err == nil {
		t.Fatal("a terminated instance is visible after an hour")
	}
}

func TestTerminationProtection(t *testing.T) {
	f := newInstanceFixture(t)
	r := f.run(t, cloud.RunRequest{DisableAPITermination: true})
	f.c.WaitBlockJobs()
	_, err := f.c.TerminateInstances(context.Background(), instScope, []string{r.Instances[0].ID})
	wantCode(t, "", err, "OperationNotPermitted")
}

func TestRunInstancesWithoutDriver(t *testing.T) {
	c := cloudtest.New(t)
	_, err := c.RunInstances(context.Background(), instScope, "", cloud.RunRequest{ImageID: "ami-0123456789abcdef0", MinCount: 1, MaxCount: 1})
	if err == nil {
		t.Fatal("RunInstances without a driver worked")
	}
}

func TestInstanceLimitExceededAndMinCount(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	if err := f.c.EnsureAccount(ctx, instScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetQuota(ctx, instScope.Account, cloud.QuotaInstances, 2); err != nil {
		t.Fatal(err)
	}
	_, err := f.c.RunInstances(ctx, instScope, "", cloud.RunRequest{ImageID: f.image.ID, SubnetID: f.subnet.ID, InstanceType: "t3.micro", MinCount: 3, MaxCount: 3})
	wantCode(t, "", err, "InstanceLimitExceeded")
	// Up to MaxCount when only MinCount fits.
	r := f.run(t, cloud.RunRequest{MinCount: 1, MaxCount: 5})
	if len(r.Instances) != 2 {
		t.Fatalf("launched %d, want the 2 the quota allows", len(r.Instances))
	}
	f.c.WaitBlockJobs()
	// Terminated instances free their place.
	if _, err := f.c.TerminateInstances(ctx, instScope, []string{r.Instances[0].ID}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	f.run(t, cloud.RunRequest{})
	f.c.WaitBlockJobs()
}

// Another account's public image launches without any grant on its snapshots,
// as on AWS (strato's own base images are launched this way).
func TestRunAnotherAccountsPublicImage(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	user := cloud.Scope{Account: "444455556666", Region: instScope.Region}
	vpc, err := f.c.CreateVPC(ctx, user, cloud.VPCRequest{CIDR: "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := f.c.CreateSubnet(ctx, user, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: "10.9.1.0/24", AvailabilityZone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	req := cloud.RunRequest{ImageID: f.image.ID, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1, SubnetID: sn.ID}
	if _, err := f.c.RunInstances(ctx, user, "", req); err == nil {
		t.Fatal("another account launched a private image")
	}
	if err := f.c.ModifyImageLaunchPermission(ctx, instScope, f.image.ID, cloud.LaunchPermissionChange{AddAll: true}); err != nil {
		t.Fatal(err)
	}
	r, err := f.c.RunInstances(ctx, user, "", req)
	if err != nil {
		t.Fatalf("launching another account's public image: %v", err)
	}
	f.c.WaitBlockJobs()
	list, _, err := f.c.DescribeInstances(ctx, user, []string{r.Instances[0].ID}, nil, cloud.Page{})
	if err != nil || len(list) != 1 || list[0].State != "running" {
		t.Fatalf("the instance: %+v %v", list, err)
	}
}

// CreateImage reboots a running instance through its driver unless NoReboot.
func TestCreateImageRebootsTheInstance(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	r := f.run(t, cloud.RunRequest{})
	f.c.WaitBlockJobs()
	id := r.Instances[0].ID
	reboots := func() int {
		out, _, err := f.c.ConsoleOutput(ctx, instScope, id)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(out), "Rebooting.")
	}
	if _, err := f.c.CreateImage(ctx, instScope, cloud.CreateImageRequest{InstanceID: id, Name: "quiet", NoReboot: true}); err != nil {
		t.Fatal(err)
	}
	if n := reboots(); n != 0 {
		t.Fatalf("NoReboot rebooted %d times", n)
	}
	if _, err := f.c.CreateImage(ctx, instScope, cloud.CreateImageRequest{InstanceID: id, Name: "consistent"}); err != nil {
		t.Fatal(err)
	}
	if n := reboots(); n != 1 {
		t.Fatalf("CreateImage without NoReboot rebooted %d times, want 1", n)
	}
	f.c.WaitBlockJobs()
}

// The host's capacity: instances that do not fit are InsufficientInstanceCapacity,
// all or nothing up to MinCount; stopped instances hold none.
func TestRunInstancesHostCapacity(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	if err := f.c.EnsureAccount(ctx, instScope.Account, "capacity"); err != nil {
		t.Fatal(err)
	}
	f.c.UseCapacity(cloud.HostCapacity{VCPUs: 5, MemoryMiB: 64 << 10}) // t3.micro: 2 vCPUs
	r := f.run(t, cloud.RunRequest{MinCount: 1, MaxCount: 5})
	if len(r.Instances) != 2 {
		t.Fatalf("%d instances launched on 5 vCPUs, want 2", len(r.Instances))
	}
	f.c.WaitBlockJobs()
	_, err := f.c.RunInstances(ctx, instScope, "", cloud.RunRequest{ImageID: f.image.ID, SubnetID: f.subnet.ID, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1})
	wantCode(t, "a full host", err, "InsufficientInstanceCapacity")
	if _, err := f.c.StopInstances(ctx, instScope, []string{r.Instances[0].ID}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if r := f.run(t, cloud.RunRequest{MinCount: 1, MaxCount: 1}); len(r.Instances) != 1 {
		t.Fatalf("a stopped instance still holds its capacity")
	}
}
