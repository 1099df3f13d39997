package cloud_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// flakyCompute fails the hot-plug calls named in fail.
type flakyCompute struct {
	cloud.Compute
	mu   sync.Mutex
	fail map[string]bool
}

func (f *flakyCompute) failing(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[op] {
		return errors.New(op + " failed: the guest holds the device")
	}
	return nil
}

func (f *flakyCompute) set(op string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = on
}

func (f *flakyCompute) AttachVolume(ctx context.Context, id string, dev cloud.BlockDevice) error {
	if err := f.failing("AttachVolume"); err != nil {
		return err
	}
	return f.Compute.AttachVolume(ctx, id, dev)
}

func (f *flakyCompute) DetachVolume(ctx context.Context, id, device string) error {
	if err := f.failing("DetachVolume"); err != nil {
		return err
	}
	return f.Compute.DetachVolume(ctx, id, device)
}

func (f *flakyCompute) ResizeVolume(ctx context.Context, id, device string, size int64) error {
	if err := f.failing("ResizeVolume"); err != nil {
		return err
	}
	return f.Compute.ResizeVolume(ctx, id, device, size)
}

func (f *flakyCompute) DetachInterface(ctx context.Context, id, eni string) error {
	if err := f.failing("DetachInterface"); err != nil {
		return err
	}
	return f.Compute.DetachInterface(ctx, id, eni)
}

// useFlaky has the fixture's Cloud use its mock driver through a flakyCompute
// failing the calls named.
func (f runFixture) useFlaky(fail ...string) *flakyCompute {
	flaky := &flakyCompute{Compute: f.drv, fail: map[string]bool{}}
	for _, op := range fail {
		flaky.fail[op] = true
	}
	f.c.UseCompute(flaky)
	return flaky
}

// pending launches an instance held pending (its root volume's restore
// waits) until launched.
func (f runFixture) pending(t *testing.T) string {
	t.Helper()
	f.c.BlockStore().(*cloudtest.Blocks).Hold()
	return f.run(t, cloud.RunRequest{}).Instances[0].ID
}

func (f runFixture) launched() {
	f.c.BlockStore().(*cloudtest.Blocks).Release()
	f.c.WaitBlockJobs()
}

func (f runFixture) devices(t *testing.T, id string) []string {
	t.Helper()
	devs, err := f.drv.Devices(id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range devs {
		out = append(out, d.Device)
	}
	slices.Sort(out)
	return out
}

func (f runFixture) volume(t *testing.T, id string) cloud.Volume {
	t.Helper()
	v, err := f.c.GetVolume(context.Background(), instScope, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAttachAndDetachVolumes(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	flaky := f.useFlaky()
	vol := availableVolume(t, f.c, instScope, cloud.VolumeRequest{AvailabilityZone: "us-east-1a", Size: 2})
	id := f.pending(t)
	_, err := f.c.AttachVolume(ctx, instScope, vol.ID, id, "/dev/sdf")
	wantCode(t, "attaching to a pending instance", err, "IncorrectState")
	f.launched()

	// Hot attach: attaching, then attached once the driver has it.
	a, err := f.c.AttachVolume(ctx, instScope, vol.ID, id, "/dev/sdf")
	if err != nil || a.State != cloud.AttachAttaching {
		t.Fatalf("attach: %+v %v", a, err)
	}
	f.c.WaitBlockJobs()
	if v := f.volume(t, vol.ID); v.Attachments[0].State != cloud.AttachAttached || v.State != cloud.VolumeInUse {
		t.Errorf("after the driver: %+v", v)
	}
	if got := f.devices(t, id); !slices.Equal(got, []string{"/dev/sdf", "/dev/xvda"}) {
		t.Errorf("driver devices %v", got)
	}
	if v := f.get(t, id); len(v.Volumes) != 2 {
		t.Errorf("DescribeInstances shows %d volumes", len(v.Volumes))
	}

	// The root volume stays with a running instance.
	root := f.get(t, id).RootVolumeID
	_, err = f.c.DetachVolume(ctx, instScope, root, "", "", false)
	wantCode(t, "detaching the root of a running instance", err, "IncorrectState")
	_, err = f.c.DetachVolume(ctx, instScope, root, "", "", true)
	wantCode(t, "force-detaching the root of a running instance", err, "IncorrectState")

	// A detach the guest refuses leaves it attached; forced, it goes (a forced
	// detach the driver fails is recorded too: see the interfaces' test).
	flaky.set("DetachVolume", true)
	if a, err = f.c.DetachVolume(ctx, instScope, vol.ID, id, "", false); err != nil || a.State != cloud.AttachDetaching {
		t.Fatalf("detach: %+v %v", a, err)
	}
	f.c.WaitBlockJobs()
	if v := f.volume(t, vol.ID); len(v.Attachments) != 1 || v.Attachments[0].State != cloud.AttachAttached {
		t.Errorf("a failed detach left %+v", v.Attachments)
	}
	flaky.set("DetachVolume", false)
	if _, err = f.c.DetachVolume(ctx, instScope, vol.ID, id, "", true); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v := f.volume(t, vol.ID); len(v.Attachments) != 0 || v.State != cloud.VolumeAvailable {
		t.Errorf("after a forced detach: %+v", v)
	}

	// A failed attach leaves the volume available.
	flaky.set("AttachVolume", true)
	if _, err := f.c.AttachVolume(ctx, instScope, vol.ID, id, "/dev/sdg"); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	flaky.set("AttachVolume", false)
	if v := f.volume(t, vol.ID); len(v.Attachments) != 0 || v.State != cloud.VolumeAvailable {
		t.Errorf("after a failed attach: %+v", v)
	}

	// Stopped: cold attach, and the root may go; without it the instance does not start.
	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if _, err := f.c.AttachVolume(ctx, instScope, vol.ID, id, "/dev/sdh"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.DetachVolume(ctx, instScope, root, id, "/dev/xvda", false); err != nil {
		t.Fatalf("detaching the root of a stopped instance: %v", err)
	}
	f.c.WaitBlockJobs()
	if v := f.get(t, id); v.RootVolumeID != "" || len(v.Volumes) != 1 {
		t.Errorf("stopped instance without its root: %+v", v.Instance)
	}
	_, err = f.c.StartInstances(ctx, instScope, []string{id})
	wantCode(t, "starting without a root volume", err, "IncorrectInstanceState")
	if _, err := f.c.AttachVolume(ctx, instScope, root, id, "/dev/xvda"); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if v := f.get(t, id); v.RootVolumeID != root {
		t.Errorf("root volume back: %q", v.RootVolumeID)
	}
	if _, err := f.c.StartInstances(ctx, instScope, []string{id}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if got := f.devices(t, id); !slices.Equal(got, []string{"/dev/sdh", "/dev/xvda"}) {
		t.Errorf("driver devices after start %v", got)
	}
}

// TestModifyVolumeOfAnAttachedVolume: growing a volume attached to a running
// instance has the driver show the guest its new size (ResizeVolume, in bytes,
// at the attachment's device); a driver that fails, or a stopped instance, does
// not keep the modification from completing.
func TestModifyVolumeOfAnAttachedVolume(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	flaky := f.useFlaky()
	vol := availableVolume(t, f.c, instScope, cloud.VolumeRequest{AvailabilityZone: "us-east-1a", Size: 2})
	id := f.pending(t)
	f.launched()
	if _, err := f.c.AttachVolume(ctx, instScope, vol.ID, id, "/dev/sdf"); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	sizeInDriver := func() int64 {
		t.Helper()
		devs, err := f.drv.Devices(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if d.Device == "/dev/sdf" {
				return d.Size
			}
		}
		t.Fatalf("the driver has no /dev/sdf: %+v", devs)
		return 0
	}
	modify := func(size int32) {
		t.Helper()
		f.clock.Advance(cloud.VolumeModificationInterval)
		if _, err := f.c.ModifyVolume(ctx, instScope, vol.ID, cloud.ModifyVolumeRequest{Size: size}); err != nil {
			t.Fatal(err)
		}
		f.c.WaitBlockJobs()
		if v := f.volume(t, vol.ID); v.Size != size || v.Modification == nil || v.Modification.State == cloud.ModModifying {
			t.Errorf("after growing to %d GiB: size %d, modification %+v", size, v.Size, v.Modification)
		}
	}

	modify(3)
	if got := sizeInDriver(); got != 3<<30 {
		t.Errorf("the driver was told %d bytes, want %d", got, 3<<30)
	}
	flaky.set("ResizeVolume", true)
	modify(4)
	flaky.set("ResizeVolume", false)
	if got := sizeInDriver(); got != 3<<30 {
		t.Errorf("a failing driver recorded %d bytes", got)
	}

	if _, err := f.c.StopInstances(ctx, instScope, []string{id}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	modify(5)
	if got := sizeInDriver(); got != 3<<30 {
		t.Errorf("a stopped instance's driver recorded %d bytes, want it told nothing to do", got)
	}
}

func TestAttachAndDetachNetworkInterfaces(t *testing.T) {
	f := newRunFixture(t)
	ctx := context.Background()
	n1, n2 := f.newENI(t, f.subnet.ID), f.newENI(t, f.subnet.ID)
	id := f.pending(t)
	_, err := f.c.AttachNetworkInterface(ctx, instScope, n1.ID, id, 1)
	wantCode(t, "attaching to a pending instance", err, "IncorrectState")
	f.launched()

	attachment, err := f.c.AttachNetworkInterface(ctx, instScope, n1.ID, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Attaching until the driver has plugged it (which may already be done).
	if n, _ := f.c.GetNetworkInterface(ctx, instScope, n1.ID); n.Attachment == nil ||
		n.Attachment.Status != cloud.AttachAttaching && n.Attachment.Status != cloud.AttachAttached {
		t.Errorf("just attached: %+v", n.Attachment)
	}
	f.c.WaitBlockJobs()
	if n, _ := f.c.GetNetworkInterface(ctx, instScope, n1.ID); n.Attachment.Status != cloud.AttachAttached {
		t.Errorf("after the driver: %+v", n.Attachment)
	}
	_, err = f.c.AttachNetworkInterface(ctx, instScope, n2.ID, id, 1)
	wantCode(t, "a device index in use", err, "InvalidParameterValue")
	_, err = f.c.AttachNetworkInterface(ctx, instScope, n2.ID, id, 2)
	wantCode(t, "a third interface on t3.micro", err, "AttachmentLimitExceeded")
	primary := f.get(t, id).Interfaces[0]
	wantCode(t, "detaching the primary interface", f.c.DetachNetworkInterface(ctx, instScope, primary.Attachment.ID, false), "OperationNotPermitted")

	if v := f.get(t, id); len(v.Interfaces) != 2 || v.Interfaces[1].ID != n1.ID {
		t.Errorf("DescribeInstances interfaces %+v", v.Interfaces)
	}
	if err := f.c.DetachNetworkInterface(ctx, instScope, attachment, false); err != nil {
		t.Fatal(err)
	}
	// Detaching until the driver has unplugged it (which may already be done).
	if n, _ := f.c.GetNetworkInterface(ctx, instScope, n1.ID); n.Attachment != nil && n.Attachment.Status != cloud.AttachDetaching {
		t.Errorf("just detached: %+v", n.Attachment)
	}
	f.c.WaitBlockJobs()
	if n, _ := f.c.GetNetworkInterface(ctx, instScope, n1.ID); n.Status() != "available" {
		t.Errorf("after the driver: %+v", n)
	}
	// Again, now that the slot is free, and the driver refusing a detach.
	f.useFlaky("DetachInterface")
	attachment, err = f.c.AttachNetworkInterface(ctx, instScope, n2.ID, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if err := f.c.DetachNetworkInterface(ctx, instScope, attachment, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if n, _ := f.c.GetNetworkInterface(ctx, instScope, n2.ID); n.Attachment == nil || n.Attachment.Status != cloud.AttachAttached {
		t.Errorf("a failed detach left %+v", n.Attachment)
	}
	if err := f.c.DetachNetworkInterface(ctx, instScope, attachment, true); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if n, _ := f.c.GetNetworkInterface(ctx, instScope, n2.ID); n.Status() != "available" {
		t.Errorf("after a forced detach: %+v", n)
	}
}
