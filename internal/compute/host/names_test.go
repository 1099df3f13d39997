package host

import "testing"

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
