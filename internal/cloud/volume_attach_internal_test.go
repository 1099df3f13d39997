package cloud

import (
	"context"
	"fmt"
	"testing"

	"strato/internal/store"
)

// The attachment model is used by the instances' code; until instances exist it
// is tested here, on volume documents written directly.

func attachFixture(t *testing.T, vols ...Volume) (*Cloud, Scope) {
	t.Helper()
	c, _ := newInternalCloud(t)
	c.UseBlocks(unusedBlocks{}) // the rules refuse before the block store is reached
	s := Scope{Account: "111111111111", Region: "us-east-1"}
	if err := c.update(context.Background(), func(tx store.Tx) error {
		for i := range vols {
			if err := volumes.insert(tx, s, &vols[i], txNow(tx), nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c, s
}

type unusedBlocks struct{ Blocks }

func testVolume(id, zone string, multi bool) Volume {
	return Volume{ID: id, AvailabilityZone: zone, Size: 8, VolumeType: "io2", IOPS: 100, MultiAttach: multi, State: VolumeAvailable}
}

func TestAttachVolumeRules(t *testing.T) {
	const inst, other = "i-00000000000000001", "i-00000000000000002"
	c, s := attachFixture(t,
		testVolume("vol-00000000000000001", "us-east-1a", false),
		testVolume("vol-00000000000000002", "us-east-1b", false),
		testVolume("vol-00000000000000003", "us-east-1a", true),
		testVolume("vol-00000000000000004", "us-east-1a", false),
	)
	attach := func(vol, instance, device string) error {
		return c.update(context.Background(), func(tx store.Tx) error {
			_, err := attachVolume(tx, s, txNow(tx), vol, instance, "us-east-1a", device, true)
			return err
		})
	}
	detach := func(vol, instance string) error {
		return c.update(context.Background(), func(tx store.Tx) error {
			_, err := detachVolume(tx, s, vol, instance, "", false)
			return err
		})
	}
	for _, tc := range []struct {
		name, vol, instance, device, code string
	}{
		{"bad device", "vol-00000000000000001", inst, "/dev/sdz9x", "InvalidParameterValue"},
		{"not a device", "vol-00000000000000001", inst, "sdf", "InvalidParameterValue"},
		{"other zone", "vol-00000000000000002", inst, "/dev/sdf", "InvalidVolume.ZoneMismatch"},
		{"attach", "vol-00000000000000001", inst, "/dev/sdf", ""},
		{"attached again", "vol-00000000000000001", other, "/dev/sdg", "VolumeInUse"},
		{"device taken", "vol-00000000000000004", inst, "/dev/sdf", "InvalidParameterValue"},
		{"xvd device", "vol-00000000000000004", inst, "/dev/xvdg", ""},
		{"multi-attach", "vol-00000000000000003", inst, "/dev/sdh", ""},
		{"multi-attach second instance", "vol-00000000000000003", other, "/dev/sdh", ""},
		{"multi-attach same instance", "vol-00000000000000003", inst, "/dev/sdi", "VolumeInUse"},
		{"unknown volume", "vol-0000000000000000f", inst, "/dev/sdj", "volume \"vol-0000000000000000f\" does not exist"},
	} {
		if got := errCode(attach(tc.vol, tc.instance, tc.device)); got != tc.code {
			t.Errorf("%s: want %q, got %q", tc.name, tc.code, got)
		}
	}
	v, _ := c.GetVolume(context.Background(), s, "vol-00000000000000001")
	if v.State != VolumeInUse || v.Attachments[0].State != AttachAttaching || !v.Attachments[0].DeleteOnTermination {
		t.Fatalf("attached volume: %+v", v)
	}
	if got := errCode(c.DeleteVolume(context.Background(), s, v.ID)); got != "VolumeInUse" {
		t.Errorf("deleting an attached volume: %s", got)
	}
	if got := errCode(detach("vol-00000000000000003", "")); got != "InvalidParameterCombination" {
		t.Errorf("detaching a multi-attached volume without its instance: %s", got)
	}
	if got := errCode(detach(v.ID, other)); got != "InvalidAttachment.NotFound" {
		t.Errorf("detaching from another instance: %s", got)
	}
	if err := c.update(context.Background(), func(tx store.Tx) error { return finishVolumeAttach(tx, s, v.ID, inst) }); err != nil {
		t.Fatal(err)
	}
	if err := detach(v.ID, inst); err != nil {
		t.Fatal(err)
	}
	if got := errCode(detach(v.ID, inst)); got != "IncorrectState" {
		t.Errorf("detaching twice: %s", got)
	}
	if err := c.update(context.Background(), func(tx store.Tx) error { return finishVolumeDetach(tx, s, v.ID, inst) }); err != nil {
		t.Fatal(err)
	}
	v, _ = c.GetVolume(context.Background(), s, v.ID)
	if v.State != VolumeAvailable || len(v.Attachments) != 0 {
		t.Fatalf("detached volume: %+v", v)
	}
}

func TestAttachmentLimit(t *testing.T) {
	var vols []Volume
	for i := range MaxVolumeAttachments + 1 {
		vols = append(vols, testVolume(fmt.Sprintf("vol-%017x", i+1), "us-east-1a", false))
	}
	c, s := attachFixture(t, vols...)
	devices := []string{}
	for _, a := range "fghijklmnop" {
		devices = append(devices, "/dev/sd"+string(a), "/dev/xvd"+string(a))
	}
	for _, a := range "abcdefgh" {
		devices = append(devices, "/dev/xvdb"+string(a))
	}
	var err error
	for i, v := range vols {
		err = c.update(context.Background(), func(tx store.Tx) error {
			_, err := attachVolume(tx, s, txNow(tx), v.ID, "i-00000000000000001", "us-east-1a", devices[i], false)
			return err
		})
		if i < MaxVolumeAttachments && err != nil {
			t.Fatalf("attachment %d: %v", i+1, err)
		}
	}
	if errCode(err) != "AttachmentLimitExceeded" {
		t.Fatalf("want AttachmentLimitExceeded, got %v", err)
	}
}
