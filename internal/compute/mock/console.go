package mock

import (
	"fmt"
	"os"
	"strings"
	"time"

	"strato/internal/cloud"
)

// consoleLimit is how much console a driver keeps: GetConsoleOutput returns at
// most the last 64 KiB.
const consoleLimit = 64 << 10

// log appends one console line stamped with the driver's clock, dropping the
// oldest lines past consoleLimit.
func (d *Driver) log(in *instance, line string) {
	stamp := d.opts.Clock.Now().UTC().Format(time.RFC3339)
	in.Console = append(in.Console, fmt.Sprintf("[%s] %s\n", stamp, line)...)
	if excess := len(in.Console) - consoleLimit; excess > 0 {
		cut := excess
		if nl := strings.IndexByte(string(in.Console[excess:]), '\n'); nl >= 0 {
			cut += nl + 1
		}
		in.Console = append(in.Console[:0], in.Console[cut:]...)
	}
}

// boot writes what a minimal guest prints while it starts.
func (d *Driver) boot(in *instance) {
	s := in.Spec
	d.log(in, fmt.Sprintf("Linux version 6.1.0-strato-mock (%s), %d vCPUs, %d MiB (%s)",
		orDefault(s.Architecture, "x86_64"), s.VCPUs, s.MemoryMiB, orDefault(s.InstanceType, "unknown type")))
	for _, b := range in.devices() {
		if b.Device != "" {
			d.log(in, fmt.Sprintf("blkfront: %s: %s", kernelName(b.Device), sizeHint(b)))
		}
	}
	d.log(in, fmt.Sprintf("EXT4-fs (%s): mounted filesystem as root", kernelName(s.Root.Device)))
	for _, nic := range s.Interfaces {
		ip := "no address"
		if len(nic.PrivateIPs) > 0 {
			ip = nic.PrivateIPs[0]
		}
		d.log(in, fmt.Sprintf("eth%d: %s (%s) %s in %s via %s", nic.DeviceIndex, nic.MAC, nic.ID, ip, nic.SubnetCIDR, nic.Gateway))
	}
	host := orDefault(s.Hostname, s.ID)
	d.log(in, "systemd-hostnamed: hostname set to "+host)
	d.log(in, "Reached target Multi-User System.")
	d.log(in, host+" login:")
}

// shutdown writes what a guest prints when asked to power off.
func (d *Driver) shutdown(in *instance) {
	d.log(in, "systemd[1]: Stopping Multi-User System...")
	d.log(in, "systemd-shutdown[1]: Powering off.")
	d.log(in, "reboot: Power down")
}

// kernelName is how Linux on Xen and Nitro names a mapped device: /dev/sdf
// appears as xvdf.
func kernelName(device string) string {
	name := strings.TrimPrefix(device, "/dev/")
	if rest, ok := strings.CutPrefix(name, "sd"); ok {
		return "xvd" + rest
	}
	return name
}

// sizeHint describes a device for the log: its size when its file exists (mock
// only looks), read-only, instance storage.
func sizeHint(b cloud.BlockDevice) string {
	var parts []string
	if fi, err := os.Stat(b.Path); err == nil && b.Path != "" {
		parts = append(parts, fmt.Sprintf("%d bytes", fi.Size()))
	}
	if b.ReadOnly {
		parts = append(parts, "read-only")
	}
	if b.Ephemeral {
		parts = append(parts, "instance storage")
	}
	if len(parts) == 0 {
		return "ready"
	}
	return strings.Join(parts, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
