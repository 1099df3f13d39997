package cloud_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/mock"
	"strato/internal/netpolicy"
)

// fakeDataplane records what the control plane tells it, per VPC.
type fakeDataplane struct {
	mu       sync.Mutex
	maps     map[string]map[netip.Addr]netip.Addr
	policies map[string]netpolicy.VPC // the last policy pushed, per VPC
	pushes   map[string]int           // how many policies were pushed, per VPC
	removed  []string
	calls    int
	fail     error
}

func (d *fakeDataplane) RemoveVPC(ctx context.Context, vpcID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	delete(d.maps, vpcID)
	delete(d.policies, vpcID)
	d.removed = append(d.removed, vpcID)
	return d.fail
}

func (d *fakeDataplane) SetVPC(ctx context.Context, policy netpolicy.VPC) error {
	vpcID, m := policy.ID, policy.Public
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.fail != nil {
		return d.fail
	}
	if d.maps == nil {
		d.maps = map[string]map[netip.Addr]netip.Addr{}
		d.policies = map[string]netpolicy.VPC{}
		d.pushes = map[string]int{}
	}
	d.maps[vpcID] = m
	d.policies[vpcID] = policy
	d.pushes[vpcID]++
	return nil
}

// policyOf is the last policy pushed for a VPC.
func (d *fakeDataplane) policyOf(vpcID string) netpolicy.VPC {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.policies[vpcID]
}

// pushesOf counts the policies pushed for a VPC.
func (d *fakeDataplane) pushesOf(vpcID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pushes[vpcID]
}

// mapOf is the last map pushed for a VPC, as "public→private" strings.
func (d *fakeDataplane) mapOf(vpcID string) map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for pub, priv := range d.maps[vpcID] {
		out[pub.String()] = priv.String()
	}
	return out
}

// runFixture is an instance fixture whose driver and dataplane the test holds.
type runFixture struct {
	instanceFixture
	drv *mock.Driver
	dp  *fakeDataplane
}

func newRunFixture(t *testing.T) runFixture {
	t.Helper()
	f := newInstanceFixture(t)
	drv, err := mock.Open(compute.Options{DataDir: t.TempDir(), Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.c.UseCompute(drv)
	dp := &fakeDataplane{}
	f.c.UseDataplane(dp)
	return runFixture{instanceFixture: f, drv: drv, dp: dp}
}

// runErr launches as f.run does, in the fixture's subnet unless the request
// has NetworkInterfaces.
func (f runFixture) runErr(req cloud.RunRequest) (cloud.Reservation, error) {
	if req.ImageID == "" {
		req.ImageID = f.image.ID
	}
	if req.MinCount == 0 {
		req.MinCount, req.MaxCount = 1, 1
	}
	if req.InstanceType == "" {
		req.InstanceType = "t3.micro"
	}
	if req.SubnetID == "" && len(req.Interfaces) == 0 {
		req.SubnetID = f.subnet.ID
	}
	return f.c.RunInstances(context.Background(), instScope, "", req)
}

func (f runFixture) run(t *testing.T, req cloud.RunRequest) cloud.Reservation {
	t.Helper()
	r, err := f.runErr(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// subnetIn makes another subnet of the fixture's VPC.
func (f runFixture) subnetIn(t *testing.T, cidr, zone string) cloud.Subnet {
	t.Helper()
	sn, err := f.c.CreateSubnet(context.Background(), instScope, cloud.SubnetRequest{VpcID: f.subnet.VpcID, CIDR: cidr, AvailabilityZone: zone})
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

func (f runFixture) newENI(t *testing.T, subnetID string) cloud.NetworkInterface {
	t.Helper()
	n, err := f.c.CreateNetworkInterface(context.Background(), instScope, "", cloud.InterfaceRequest{SubnetID: subnetID})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func index(i int) *int { return &i }

func TestRunInstancesNetworkInterfaceRules(t *testing.T) {
	f := newRunFixture(t)
	other := f.subnetIn(t, "10.0.2.0/24", "us-east-1b")
	free := f.newENI(t, f.subnet.ID)
	far := f.newENI(t, other.ID)
	yes, no := true, false
	primary := func(l cloud.LaunchInterface) cloud.LaunchInterface { l.DeviceIndex = index(0); return l }
	newAt := func(i int) cloud.LaunchInterface {
		return cloud.LaunchInterface{DeviceIndex: index(i), SubnetID: f.subnet.ID}
	}
	cases := []struct {
		name string
		req  cloud.RunRequest
		code string
	}{
		{"InvalidParameterCombination: instance-level subnet", cloud.RunRequest{SubnetID: f.subnet.ID, Interfaces: []cloud.LaunchInterface{newAt(0)}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: instance-level groups", cloud.RunRequest{SecurityGroupIDs: []string{"sg-0123456789abcdef0"}, Interfaces: []cloud.LaunchInterface{newAt(0)}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: instance-level private IP", cloud.RunRequest{PrivateIP: "10.0.1.50", Interfaces: []cloud.LaunchInterface{newAt(0)}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: public IP at device index 1", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{newAt(0), {DeviceIndex: index(1), SubnetID: f.subnet.ID, AssociatePublicIP: &yes}}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: public IP with two interfaces", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{SubnetID: f.subnet.ID, AssociatePublicIP: &yes}), newAt(1)}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: public IP on an existing interface", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: free.ID, AssociatePublicIP: &yes})}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: existing interface with a subnet", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: free.ID, SubnetID: f.subnet.ID})}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: existing interface deleted on termination", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: free.ID, DeleteOnTermination: &yes})}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: existing interface for two instances", cloud.RunRequest{MinCount: 2, MaxCount: 2, Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: free.ID, DeleteOnTermination: &no})}}, "InvalidParameterCombination"},
		{"InvalidParameterCombination: a private IP for two instances", cloud.RunRequest{MinCount: 2, MaxCount: 2, Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{SubnetID: f.subnet.ID, PrivateIP: "10.0.1.50"})}}, "InvalidParameterCombination"},
		{"MissingParameter: no device index", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{SubnetID: f.subnet.ID}}}, "MissingParameter"},
		{"InvalidParameterValue: device index twice", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{newAt(0), newAt(0)}}, "InvalidParameterValue"},
		{"InvalidParameterValue: no device index 0", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{newAt(1)}}, "InvalidParameterValue"},
		{"AttachmentLimitExceeded: three interfaces on t3.micro", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{newAt(0), newAt(1), newAt(2)}}, "AttachmentLimitExceeded"},
		{"PrivateIpAddressLimitExceeded: t3.micro has 2 addresses per interface", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{SubnetID: f.subnet.ID, SecondaryCount: 2})}}, "PrivateIpAddressLimitExceeded"},
		{"InvalidParameterValue: interfaces in two zones", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{newAt(0), {DeviceIndex: index(1), NetworkInterfaceID: far.ID}}}, "InvalidParameterValue"},
		{"InvalidParameterValue: placement in another zone", cloud.RunRequest{AvailabilityZone: "us-east-1b", Interfaces: []cloud.LaunchInterface{newAt(0)}}, "InvalidParameterValue"},
		{"InvalidNetworkInterfaceID.NotFound", cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: "eni-0123456789abcdef0"})}}, "InvalidNetworkInterfaceID.NotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.runErr(tc.req)
			if tc.code == "InvalidNetworkInterfaceID.NotFound" {
				var nf *cloud.NotFoundError
				if !errors.As(err, &nf) || nf.Kind != cloud.KindNetworkInterface {
					t.Fatalf("error %v, want the interface not found", err)
				}
				return
			}
			wantCode(t, "", err, tc.code)
		})
	}
	// An interface in use cannot be attached at launch.
	f.run(t, cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: free.ID})}})
	_, err := f.runErr(cloud.RunRequest{Interfaces: []cloud.LaunchInterface{primary(cloud.LaunchInterface{NetworkInterfaceID: free.ID})}})
	wantCode(t, "interface in use", err, "InvalidNetworkInterface.InUse")
	f.c.WaitBlockJobs()
}

func TestRunInstancesWithNetworkInterfaces(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	existing := f.newENI(t, f.subnet.ID)
	g, err := f.c.CreateSecurityGroup(ctx, instScope, cloud.SecurityGroupRequest{Name: "web", Description: "web", VpcID: f.subnet.VpcID})
	if err != nil {
		t.Fatal(err)
	}
	r := f.run(t, cloud.RunRequest{InstanceType: "i3.large", Interfaces: []cloud.LaunchInterface{
		{DeviceIndex: index(2), SubnetID: f.subnet.ID, PrefixCount: 1},
		{DeviceIndex: index(1), NetworkInterfaceID: existing.ID},
		{DeviceIndex: index(0), SubnetID: f.subnet.ID, PrivateIP: "10.0.1.20", SecondaryCount: 2, Groups: []string{g.ID}, Description: "primary"},
	}, InterfaceTags: []cloud.Tag{{Key: "k", Value: "v"}}})
	in := r.Instances[0]
	if len(in.Interfaces) != 3 || in.Interfaces[0].Attachment.Status != cloud.AttachAttaching {
		t.Fatalf("interfaces at launch: %+v", in.Interfaces)
	}
	f.c.WaitBlockJobs()
	v := f.get(t, in.ID)
	p, x, third := v.Interfaces[0], v.Interfaces[1], v.Interfaces[2]
	switch {
	case v.InterfaceID != p.ID || v.PrivateIP != "10.0.1.20" || len(p.PrivateIPs) != 3:
		t.Errorf("primary interface %+v of %+v", p, v.Instance)
	case len(third.Prefixes) != 1 || third.Attachment.DeviceIndex != 2 || len(third.Groups) != 1 || third.Groups[0].Name != "default":
		t.Errorf("third interface %+v", third)
	case p.Attachment.DeviceIndex != 0 || !p.Attachment.DeleteOnTermination || p.Attachment.Status != cloud.AttachAttached:
		t.Errorf("primary attachment %+v", p.Attachment)
	case len(v.Groups) != 1 || v.Groups[0].ID != g.ID || p.Description != "primary" || p.Tags["k"] != "v":
		t.Errorf("primary groups %+v, description %q, tags %v", v.Groups, p.Description, p.Tags)
	case x.ID != existing.ID || x.Attachment.DeviceIndex != 1 || x.Attachment.DeleteOnTermination || x.Attachment.Status != cloud.AttachAttached:
		t.Errorf("existing interface %+v", x)
	}
	if _, err := f.c.TerminateInstances(ctx, instScope, []string{in.ID}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if _, err := f.c.GetNetworkInterface(ctx, instScope, p.ID); err == nil {
		t.Error("the interface made with the instance survived it")
	}
	if n, err := f.c.GetNetworkInterface(ctx, instScope, existing.ID); err != nil || n.Status() != "available" {
		t.Errorf("the existing interface after termination: %+v %v", n, err)
	}
}

func TestPublicIPFollowsTheInstance(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	if err := f.c.EnsureAccount(ctx, instScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	_, free0, _ := f.c.PublicPool(ctx)
	if err := f.c.SetSubnetAttribute(ctx, instScope, f.subnet.ID, cloud.SubnetAttrMapPublicIPOnLaunch, true); err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetVPCAttribute(ctx, instScope, f.subnet.VpcID, cloud.VPCAttrDNSHostnames, true); err != nil {
		t.Fatal(err)
	}
	id := f.run(t, cloud.RunRequest{}).Instances[0].ID
	f.c.WaitBlockJobs()
	v := f.get(t, id)
	pub := v.PublicIP()
	if ip, err := netip.ParseAddr(pub); err != nil || !netip.MustParsePrefix("198.18.0.0/15").Contains(ip) {
		t.Fatalf("public IP %q not from the pool", pub)
	}
	if want := "ec2-" + dashed(pub) + ".compute-1.amazonaws.com"; v.PublicDNSName() != want {
		t.Errorf("public DNS name %q, want %q", v.PublicDNSName(), want)
	}
	a := v.Interfaces[0].PrivateIPs[0].Association
	if a == nil || a.IPOwnerID != "amazon" || a.AllocationID != "" {
		t.Errorf("interface association %+v", a)
	}
	if got := f.dp.mapOf(f.subnet.VpcID); got[pub] != v.PrivateIP || len(got) != 1 {
		t.Errorf("dataplane map %v, want %s→%s", got, pub, v.PrivateIP)
	}
	if _, n, _ := f.c.PublicPool(ctx); n != free0-1 {
		t.Errorf("pool has %d free, want %d", n, free0-1)
	}

	// Stopped: released; started: a new one.
	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v := f.get(t, id); v.PublicIP() != "" || v.PublicDNSName() != "" {
		t.Errorf("a stopped instance keeps %s", v.PublicIP())
	}
	if _, n, _ := f.c.PublicPool(ctx); n != free0 {
		t.Errorf("pool has %d free after stop, want %d", n, free0)
	}
	if got := f.dp.mapOf(f.subnet.VpcID); len(got) != 0 {
		t.Errorf("dataplane map after stop %v", got)
	}
	if _, err := f.c.StartInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	started := f.get(t, id)
	if started.PublicIP() == "" || f.dp.mapOf(f.subnet.VpcID)[started.PublicIP()] != started.PrivateIP {
		t.Errorf("no new public IP on start: %q, dataplane %v", started.PublicIP(), f.dp.mapOf(f.subnet.VpcID))
	}

	// The request overrides the subnet, both ways.
	no, yes := false, true
	quiet := f.run(t, cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), SubnetID: f.subnet.ID, AssociatePublicIP: &no}}}).Instances[0]
	if quiet.PublicIP() != "" {
		t.Errorf("AssociatePublicIpAddress false got %s", quiet.PublicIP())
	}
	if err := f.c.SetSubnetAttribute(ctx, instScope, f.subnet.ID, cloud.SubnetAttrMapPublicIPOnLaunch, false); err != nil {
		t.Fatal(err)
	}
	if v := f.run(t, cloud.RunRequest{}).Instances[0]; v.PublicIP() != "" {
		t.Errorf("a subnet without MapPublicIpOnLaunch gave %s", v.PublicIP())
	}
	loud := f.run(t, cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), AssociatePublicIP: &yes, SubnetID: f.subnet.ID}}}).Instances[0]
	if loud.PublicIP() == "" {
		t.Error("AssociatePublicIpAddress true gave no public IP")
	}
	f.c.WaitBlockJobs()

	// Terminated: released.
	if _, err := f.c.TerminateInstances(ctx, instScope, []string{id, loud.ID}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if _, n, _ := f.c.PublicPool(ctx); n != free0 {
		t.Errorf("pool has %d free after terminate, want %d", n, free0)
	}
	if got := f.dp.mapOf(f.subnet.VpcID); len(got) != 0 {
		t.Errorf("dataplane map after terminate %v", got)
	}
	m, err := f.c.PublicAddresses(ctx, f.subnet.VpcID)
	if err != nil || len(m) != 0 {
		t.Errorf("PublicAddresses after terminate: %v %v", m, err)
	}
}

func dashed(ip string) string {
	out := []byte(ip)
	for i := range out {
		if out[i] == '.' {
			out[i] = '-'
		}
	}
	return string(out)
}

func TestElasticIPOnAnInstance(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	igw, err := f.c.CreateInternetGateway(ctx, instScope, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.AttachInternetGateway(ctx, instScope, igw.ID, f.subnet.VpcID); err != nil {
		t.Fatal(err)
	}
	yes := true
	id := f.run(t, cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), SubnetID: f.subnet.ID, AssociatePublicIP: &yes}}}).Instances[0].ID
	f.c.WaitBlockJobs()
	auto := f.get(t, id).PublicIP()
	wantCode(t, "detaching the gateway of an instance with a public IP", f.c.DetachInternetGateway(ctx, instScope, igw.ID, f.subnet.VpcID), "DependencyViolation")

	eip, err := f.c.AllocateAddress(ctx, instScope, cloud.AllocateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	assoc, err := f.c.AssociateAddress(ctx, instScope, cloud.AssociateRequest{AllocationID: eip.AllocationID, InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	v := f.get(t, id)
	if v.PublicIP() != eip.PublicIP {
		t.Fatalf("public IP %s, want the Elastic IP %s", v.PublicIP(), eip.PublicIP)
	}
	if got := f.dp.mapOf(f.subnet.VpcID); len(got) != 1 || got[eip.PublicIP] != v.PrivateIP {
		t.Errorf("dataplane map %v", got)
	}
	// The assigned address went back to the pool: another account's Elastic IP may take it.
	taken, err := f.c.AllocateAddress(ctx, cloud.Scope{Account: "444455556666", Region: "us-east-1"}, cloud.AllocateRequest{Address: auto})
	if err != nil {
		t.Fatalf("the replaced public IP %s is not free: %v", auto, err)
	}
	addrs, err := f.c.DescribeAddresses(ctx, instScope, []string{eip.AllocationID}, nil, nil)
	if err != nil || addrs[0].InstanceID != id {
		t.Errorf("DescribeAddresses: %+v %v", addrs, err)
	}

	// The Elastic IP stays across stop and start.
	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v := f.get(t, id); v.PublicIP() != eip.PublicIP {
		t.Errorf("stopped: public IP %q, want the Elastic IP", v.PublicIP())
	}
	if _, err := f.c.StartInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v := f.get(t, id); v.PublicIP() != eip.PublicIP {
		t.Errorf("started: public IP %q, want the Elastic IP", v.PublicIP())
	}

	// Disassociated from a running instance with one interface: a new public IP (AWS's user guide).
	if err := f.c.DisassociateAddress(ctx, instScope, assoc, ""); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	v = f.get(t, id)
	if v.PublicIP() == "" || v.PublicIP() == eip.PublicIP || v.PublicIP() == taken.PublicIP {
		t.Errorf("after disassociation: public IP %q", v.PublicIP())
	}
	if got := f.dp.mapOf(f.subnet.VpcID); len(got) != 1 || got[v.PublicIP()] != v.PrivateIP {
		t.Errorf("dataplane map after disassociation %v", got)
	}
}

func TestElasticIPGoneWithTwoInterfaces(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	igw, _ := f.c.CreateInternetGateway(ctx, instScope, nil)
	if err := f.c.AttachInternetGateway(ctx, instScope, igw.ID, f.subnet.VpcID); err != nil {
		t.Fatal(err)
	}
	yes := true
	id := f.run(t, cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), SubnetID: f.subnet.ID, AssociatePublicIP: &yes}}}).Instances[0].ID
	f.c.WaitBlockJobs()
	second := f.newENI(t, f.subnet.ID)
	if _, err := f.c.AttachNetworkInterface(ctx, instScope, second.ID, id, 1); err != nil {
		t.Fatal(err)
	}
	eip, _ := f.c.AllocateAddress(ctx, instScope, cloud.AllocateRequest{})
	assoc, err := f.c.AssociateAddress(ctx, instScope, cloud.AssociateRequest{AllocationID: eip.AllocationID, InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.DisassociateAddress(ctx, instScope, assoc, ""); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v := f.get(t, id); v.PublicIP() != "" {
		t.Errorf("an instance with two interfaces got a public IP back: %s", v.PublicIP())
	}
}

func TestDataplaneFailureDoesNotFailTheRequest(t *testing.T) {
	f := newRunFixture(t)
	if err := f.c.EnsureAccount(context.Background(), instScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	f.dp.fail = errors.New("dataplane down")
	yes := true
	if _, err := f.runErr(cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), SubnetID: f.subnet.ID, AssociatePublicIP: &yes}}}); err != nil {
		t.Fatalf("a dataplane failure failed RunInstances: %v", err)
	}
	f.c.WaitBlockJobs()
	f.dp.mu.Lock()
	calls := f.dp.calls
	f.dp.mu.Unlock()
	if calls == 0 {
		t.Error("the dataplane was never told")
	}
	// After a restart, the resync tells it every VPC.
	f.dp.mu.Lock()
	f.dp.fail = nil
	f.dp.mu.Unlock()
	if err := f.c.ResyncDataplane(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.dp.mapOf(f.subnet.VpcID); len(got) != 1 {
		t.Errorf("resync told %v", got)
	}
	if _, err := f.c.PublicAddresses(context.Background(), "vpc-0123456789abcdef0"); err == nil {
		t.Error("PublicAddresses of an unknown VPC worked")
	}
}

// Past MinCount, the instance that finds no public address ends the launch,
// and what it had made is undone: no interface or volume is left behind.
func TestLaunchEndsWhenThePublicPoolRunsOut(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	if err := f.c.ConfigurePublicPool(ctx, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/30")}); err != nil {
		t.Fatal(err)
	}
	yes := true
	req := cloud.RunRequest{MinCount: 1, MaxCount: 4, Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), SubnetID: f.subnet.ID, AssociatePublicIP: &yes}}}
	r := f.run(t, req)
	if len(r.Instances) != 2 {
		t.Fatalf("launched %d instances with a pool of 2 addresses", len(r.Instances))
	}
	f.c.WaitBlockJobs()
	enis, _, _ := f.c.DescribeNetworkInterfaces(ctx, instScope, nil, nil, cloud.Page{})
	vols, _, _ := f.c.DescribeVolumes(ctx, instScope, nil, nil, cloud.Page{})
	if len(enis) != 2 || len(vols) != 3 {
		t.Errorf("%d interfaces and %d volumes, want 2 and 3 (two roots, the fixture's volume)", len(enis), len(vols))
	}
	req.MinCount = 2
	_, err := f.runErr(req)
	wantCode(t, "MinCount beyond the pool", err, "InsufficientAddressCapacity")
}

// A deleted VPC leaves the dataplane: its router and tables go with it.
func TestDeletedVPCLeavesTheDataplane(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	if err := f.c.EnsureAccount(ctx, instScope.Account, "dataplane"); err != nil {
		t.Fatal(err)
	}
	vpc, err := f.c.CreateVPC(ctx, instScope, cloud.VPCRequest{CIDR: "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.DeleteVPC(ctx, instScope, vpc.ID); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	f.dp.mu.Lock()
	removed := slices.Clone(f.dp.removed)
	f.dp.mu.Unlock()
	if !slices.Equal(removed, []string{vpc.ID}) {
		t.Fatalf("the dataplane removed %v, want [%s]", removed, vpc.ID)
	}
	// At the next start nothing is pushed for it again.
	if err := f.c.ResyncDataplane(ctx); err != nil {
		t.Fatal(err)
	}
	if m := f.dp.mapOf(vpc.ID); len(m) != 0 {
		t.Errorf("a deleted VPC's map was pushed: %v", m)
	}
}
