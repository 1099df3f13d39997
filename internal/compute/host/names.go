package host

import (
	"slices"
	"strings"

	"strato/internal/cloud"
)

// GuestName is the name a device has inside the instance: Linux on Xen and on
// Nitro shows the /dev/sdX of a block device mapping as /dev/xvdX.
func GuestName(device string) string {
	name := strings.TrimPrefix(device, "/dev/")
	if rest, ok := strings.CutPrefix(name, "sd"); ok {
		name = "xvd" + rest
	}
	return "/dev/" + name
}

// RootGuestName is the root disk's name inside: many AMIs name the root device
// by its partition (/dev/sda1), and the guest sees the disk /dev/xvda with its
// partition /dev/xvda1.
func RootGuestName(device string) string {
	return strings.TrimRight(GuestName(device), "0123456789")
}

// Volume is a volume of an instance at a device name.
type Volume struct {
	cloud.BlockDevice
	Guest string // its name inside the instance: /dev/xvdf, the root /dev/xvda
	Index int    // its index in the spec's Devices; -1 for the root volume
}

// VolumeAt finds the volume a spec has at a device name as the API gives it
// (/dev/sdf or /dev/xvdf; the root volume also by its mapping's name,
// /dev/sda1); ok is false when no volume is there (a detached root volume is
// none).
func VolumeAt(spec cloud.InstanceSpec, device string) (v Volume, ok bool) {
	if spec.Root.Path != "" && IsRootDevice(spec, device) {
		return Volume{BlockDevice: spec.Root, Guest: RootGuestName(spec.Root.Device), Index: -1}, true
	}
	guest := GuestName(device)
	i := slices.IndexFunc(spec.Devices, func(b cloud.BlockDevice) bool { return GuestName(b.Device) == guest })
	if i < 0 {
		return Volume{}, false
	}
	return Volume{BlockDevice: spec.Devices[i], Guest: guest, Index: i}, true
}

// IsRootDevice tells whether a device name as the API gives it names the spec's
// root device: /dev/xvda for a root mapped as /dev/sda1 too. A volume attached
// there while the root volume is detached becomes the root volume.
func IsRootDevice(spec cloud.InstanceSpec, device string) bool {
	return GuestName(device) == RootGuestName(spec.Root.Device) || device == spec.Root.Device
}

// IsInstanceID tells instance directories from a driver's others, and keeps an ID
// from naming a path outside the driver's directory.
func IsInstanceID(name string) bool {
	rest, ok := strings.CutPrefix(name, "i-")
	return ok && rest != "" && strings.Trim(rest, "0123456789abcdefghijklmnopqrstuvwxyz") == ""
}

// CloneSpec copies a spec's slices, so the record never shares them with the
// caller.
func CloneSpec(spec cloud.InstanceSpec) cloud.InstanceSpec {
	spec.Devices = slices.Clone(spec.Devices)
	spec.Interfaces = slices.Clone(spec.Interfaces)
	return spec
}
