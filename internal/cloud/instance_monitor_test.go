package cloud_test

import (
	"context"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/mock"
)

// monitorFixture is an instance fixture whose mock driver the test can reach,
// to make guests power off or crash.
type monitorFixture struct {
	instanceFixture
	drv *mock.Driver
}

func newMonitorFixture(t *testing.T) monitorFixture {
	t.Helper()
	f := newInstanceFixture(t)
	// The monitor finds instances through the accounts (strato serve makes
	// each account before its first request).
	if err := f.c.EnsureAccount(context.Background(), instScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	drv, err := mock.Open(compute.Options{Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.c.UseCompute(drv)
	return monitorFixture{instanceFixture: f, drv: drv}
}

// running launches one instance and waits until it runs.
func (f monitorFixture) running(t *testing.T, req cloud.RunRequest) string {
	t.Helper()
	id := f.run(t, req).Instances[0].ID
	f.c.WaitBlockJobs()
	if s := f.get(t, id).State; s != cloud.InstanceRunning {
		t.Fatalf("launched instance is %s", s)
	}
	return id
}

func (f monitorFixture) check(t *testing.T) {
	t.Helper()
	if err := f.c.CheckInstances(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
}

func (f monitorFixture) status(t *testing.T, id string) cloud.InstanceStatus {
	t.Helper()
	list, _, err := f.c.DescribeInstanceStatus(context.Background(), instScope, []string{id}, true, nil, cloud.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("status of %s: %v %v", id, list, err)
	}
	return list[0]
}

// A `poweroff` inside an instance whose InstanceInitiatedShutdownBehavior is
// stop (the default) stops it, with AWS's Client.InstanceInitiatedShutdown
// reason, even when stop protection is on (it guards the API only).
func TestGuestPowerOffStops(t *testing.T) {
	f := newMonitorFixture(t)
	id := f.running(t, cloud.RunRequest{DisableAPIStop: true})
	if err := f.drv.PowerOffFromGuest(id); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	in := f.get(t, id)
	if in.State != cloud.InstanceStopped || in.StateReasonCode != "Client.InstanceInitiatedShutdown" ||
		in.StateReasonMessage != "Client.InstanceInitiatedShutdown: Instance initiated shutdown" {
		t.Fatalf("after a guest poweroff: %s %s %q", in.State, in.StateReasonCode, in.StateReasonMessage)
	}
	if len(in.Volumes) != 1 || in.Volumes[0].State != cloud.VolumeInUse {
		t.Fatalf("a stopped instance keeps its root volume: %+v", in.Volumes)
	}
	// It starts again as any stopped instance.
	if _, err := f.c.StartInstances(context.Background(), instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	f.check(t)
	if s := f.get(t, id).State; s != cloud.InstanceRunning {
		t.Fatalf("restarted instance is %s", s)
	}
}

// With InstanceInitiatedShutdownBehavior terminate, a guest poweroff
// terminates the instance as TerminateInstances would (its DeleteOnTermination
// root volume and its interface go), termination protection notwithstanding.
func TestGuestPowerOffTerminates(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := context.Background()
	id := f.running(t, cloud.RunRequest{InstanceInitiatedShutdownBehavior: "terminate", DisableAPITermination: true})
	in := f.get(t, id)
	root, eni := in.RootVolumeID, in.InterfaceID
	if err := f.drv.PowerOffFromGuest(id); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	in = f.get(t, id)
	if in.State != cloud.InstanceTerminated || in.StateReasonCode != "Client.InstanceInitiatedShutdown" {
		t.Fatalf("after a guest poweroff: %s %s", in.State, in.StateReasonCode)
	}
	if _, err := f.c.GetVolume(ctx, instScope, root); err == nil {
		t.Error("the DeleteOnTermination root volume survived")
	}
	if _, err := f.c.GetNetworkInterface(ctx, instScope, eni); err == nil {
		t.Error("the interface made with the instance survived")
	}
	if _, err := f.drv.Status(ctx, id); err == nil {
		t.Error("the driver still has the terminated instance")
	}
}

// An instance whose process died is impaired in its instance status check
// (reachability failed since the moment the monitor saw it) until it runs
// well again; the system check passes.
func TestCrashedInstanceImpaired(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := context.Background()
	id := f.running(t, cloud.RunRequest{})
	f.clock.Advance(cloud.StatusInitializingPeriod)
	if st := f.status(t, id); st.Instance.Status != cloud.StatusOK || st.System.Status != cloud.StatusOK {
		t.Fatalf("a healthy instance: %+v", st)
	}
	if err := f.drv.Crash(id); err != nil {
		t.Fatal(err)
	}
	crashSeen := f.clock.Now()
	f.check(t)
	st := f.status(t, id)
	if st.State != cloud.InstanceRunning || st.Instance.Status != cloud.StatusImpaired || st.Instance.Reachability != cloud.CheckFailed ||
		!st.Instance.ImpairedSince.Equal(crashSeen) || st.System.Status != cloud.StatusOK {
		t.Fatalf("a crashed instance: %+v", st)
	}
	// A later check keeps the first moment.
	f.clock.Advance(time.Minute)
	f.check(t)
	if got := f.status(t, id).Instance.ImpairedSince; !got.Equal(crashSeen) {
		t.Fatalf("impaired since %v, want %v", got, crashSeen)
	}
	list, _, err := f.c.DescribeInstanceStatus(ctx, instScope, nil, false, filterOf("instance-status.status", "impaired"), cloud.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("instance-status.status filter: %v %v", list, err)
	}
	// Stopping and starting it again is the cure, as on AWS.
	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	f.check(t)
	if st := f.status(t, id); st.Instance.Status != cloud.StatusNotApplicable || st.Instance.Reachability != "" {
		t.Fatalf("a stopped instance: %+v", st)
	}
	if _, err := f.c.StartInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	f.check(t)
	if st := f.status(t, id); st.Instance.Status == cloud.StatusImpaired {
		t.Fatalf("a restarted instance is still impaired: %+v", st)
	}
}

// An instance the driver lost altogether fails both checks.
func TestLostInstanceSystemImpaired(t *testing.T) {
	f := newMonitorFixture(t)
	id := f.running(t, cloud.RunRequest{})
	if err := f.drv.Destroy(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	st := f.status(t, id)
	if st.System.Status != cloud.StatusImpaired || st.System.Reachability != cloud.CheckFailed || st.Instance.Status != cloud.StatusImpaired {
		t.Fatalf("a lost instance: %+v", st)
	}
}

// The monitor's goroutine checks by the cloud's clock and stops with its
// context.
func TestInstanceMonitorFollowsTheClock(t *testing.T) {
	f := newMonitorFixture(t)
	id := f.running(t, cloud.RunRequest{})
	restore := cloud.SetMonitorWake(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.c.StartInstanceMonitor(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			f.c.WaitBlockJobs()
		}
		restore()
	}()
	time.Sleep(20 * time.Millisecond) // the first check, at once, finds nothing
	if err := f.drv.PowerOffFromGuest(id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if s := f.get(t, id).State; s != cloud.InstanceRunning {
		t.Fatalf("the monitor checked before its interval: %s", s)
	}
	f.clock.Advance(cloud.MonitorInterval)
	deadline := time.Now().Add(10 * time.Second)
	for f.get(t, id).State != cloud.InstanceStopped {
		if time.Now().After(deadline) {
			t.Fatalf("the monitor did not stop the powered-off instance: %s", f.get(t, id).State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	f.c.WaitBlockJobs() // returns only once the monitor has ended
	stopped = true
}

// Rebooting an instance whose process died brings it back (on AWS the cure for
// a failed instance status check), and a start is a new LaunchTime.
func TestRebootCuresACrashedInstance(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := context.Background()
	id := f.running(t, cloud.RunRequest{})
	if err := f.drv.Crash(id); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if err := f.c.RebootInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if rt, err := f.drv.Status(ctx, id); err != nil || rt.State != "running" || rt.Impaired {
		t.Fatalf("the driver after the reboot: %+v %v", rt, err)
	}
	f.clock.Advance(cloud.StatusInitializingPeriod)
	f.check(t)
	if st := f.status(t, id); st.Instance.Status != cloud.StatusOK {
		t.Fatalf("after the reboot: %+v", st)
	}

	launched := f.get(t, id).LaunchTime
	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	f.clock.Advance(time.Hour)
	started := f.clock.Now()
	if _, err := f.c.StartInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if got := f.get(t, id).LaunchTime; !got.Equal(started) || !got.After(launched) {
		t.Fatalf("LaunchTime after a start %v, want %v", got, started)
	}
}
