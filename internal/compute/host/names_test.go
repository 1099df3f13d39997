package host

import (
	"reflect"
	"testing"

	"strato/internal/cloud"
)

func TestGuestNames(t *testing.T) {
	for _, tc := range []struct{ device, guest, root string }{
		{"/dev/sdf", "/dev/xvdf", "/dev/xvdf"},
		{"/dev/xvdf", "/dev/xvdf", "/dev/xvdf"},
		{"/dev/sda1", "/dev/xvda1", "/dev/xvda"},
		{"/dev/xvda", "/dev/xvda", "/dev/xvda"},
		{"xvdh", "/dev/xvdh", "/dev/xvdh"},
	} {
		if got := GuestName(tc.device); got != tc.guest {
			t.Errorf("GuestName(%s) = %s, want %s", tc.device, got, tc.guest)
		}
		if got := RootGuestName(tc.device); got != tc.root {
			t.Errorf("RootGuestName(%s) = %s, want %s", tc.device, got, tc.root)
		}
	}
}

func TestIsInstanceID(t *testing.T) {
	for id, want := range map[string]bool{
		"i-0123456789abcdef0": true, "i-1": true, "i-": false, "runc": false,
		"i-../x": false, "i-a/b": false, "": false, "i-ABC": false,
	} {
		if got := IsInstanceID(id); got != want {
			t.Errorf("IsInstanceID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestVolumeAt(t *testing.T) {
	spec := cloud.InstanceSpec{
		Root:    cloud.BlockDevice{Device: "/dev/sda1", Path: "/v/root"},
		Devices: []cloud.BlockDevice{{Device: "/dev/sdb", Path: "/v/eph"}, {Device: "/dev/xvdf", Path: "/v/f"}},
	}
	for device, want := range map[string]Volume{
		"/dev/sda1": {spec.Root, "/dev/xvda", -1}, "/dev/xvda": {spec.Root, "/dev/xvda", -1},
		"/dev/sdb": {spec.Devices[0], "/dev/xvdb", 0}, "/dev/xvdb": {spec.Devices[0], "/dev/xvdb", 0},
		"/dev/sdf": {spec.Devices[1], "/dev/xvdf", 1}, "/dev/xvdf": {spec.Devices[1], "/dev/xvdf", 1},
		"/dev/sdg": {},
	} {
		v, ok := VolumeAt(spec, device)
		if ok != (want.Path != "") || !reflect.DeepEqual(v, want) {
			t.Errorf("VolumeAt(%s) = %+v, %v; want %+v", device, v, ok, want)
		}
	}
	spec.Root.Path = "" // detached
	if v, ok := VolumeAt(spec, "/dev/sda1"); ok {
		t.Errorf("VolumeAt(a detached root) = %+v, true", v)
	}
}
