package qemu

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Machine is one virtual machine as QEMU runs it: a q35 machine without legacy devices,
// its serial console appended to a file, a QMP socket, its disks as virtio-blk and its
// network interfaces as virtio-net, each on a PCIe root port of its own so that it can be
// unplugged, and free root ports for what is hot-plugged later (a port cannot be added
// to a running machine).
//
// Args renders the command line. QEMU daemonizes itself (-daemonize, with -pidfile):
// its process is then no child of strato, and outlives it.
type Machine struct {
	Name      string // the instance ID: QEMU's -name, and the prefix of its device IDs
	Accel     string // "kvm" or "tcg"
	VCPUs     int
	MemoryMiB int
	// Kernel, Initrd and Append boot a kernel directly; with Kernel empty the
	// firmware boots the first disk's boot loader (an imported full-disk image).
	Kernel, Initrd, Append string
	Console                string // the file the serial console is appended to
	QMPSocket              string
	PIDFile                string
	Disks                  []Disk
	NICs                   []NIC
	// FreePorts is how many root ports are left free for hot-plug.
	FreePorts int
	// Paused starts the machine stopped (-S), for tests that only look at its devices.
	Paused bool
}

// Disk is a virtio-blk device over a raw file or block device.
type Disk struct {
	ID     string // the device's QOM ID; its block node is NodeName(ID)
	Path   string
	Serial string // what the guest reads in /sys/block/vdX/serial (20 bytes at most)
	// HostDevice says Path is a block device (an encrypted volume's plaintext,
	// /dev/mapper/…), which QEMU opens with its host_device driver.
	HostDevice bool
	ReadOnly   bool
}

// fileDriver is the protocol driver QEMU opens a disk's path with.
func fileDriver(hostDevice bool) string {
	if hostDevice {
		return "host_device"
	}
	return "file"
}

// NIC is a virtio-net device over a tap queue passed to QEMU as file descriptor FD (3 and
// up: os/exec's ExtraFiles).
type NIC struct {
	ID  string
	MAC string
	FD  int
}

// MaxSerial is the longest virtio-blk serial: QEMU cuts longer ones silently.
const MaxSerial = 20

// ids are what QEMU accepts as IDs (and what strato's resource IDs are made of).
var ids = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// NodeName is the block node of the disk with this device ID.
func NodeName(diskID string) string { return "node-" + diskID }

// Port is the name of the n-th root port.
func Port(n int) string { return "rp" + strconv.Itoa(n) }

// Ports is how many root ports the machine has: one per disk and NIC it starts with,
// then the free ones. Devices take them in that order: disks, NICs, hot-plugged.
func (m Machine) Ports() int { return len(m.Disks) + len(m.NICs) + m.FreePorts }

// escapeOption doubles the commas of a value inside QEMU's comma-separated options.
func escapeOption(v string) string { return strings.ReplaceAll(v, ",", ",,") }

func (m Machine) validate() error {
	var errs []error
	if !ids.MatchString(m.Name) {
		errs = append(errs, fmt.Errorf("machine name %q", m.Name))
	}
	if m.Accel != "kvm" && m.Accel != "tcg" {
		errs = append(errs, fmt.Errorf("accelerator %q (kvm or tcg)", m.Accel))
	}
	if m.VCPUs < 1 || m.MemoryMiB < 16 {
		errs = append(errs, fmt.Errorf("%d vCPUs, %d MiB", m.VCPUs, m.MemoryMiB))
	}
	if m.Console == "" || m.QMPSocket == "" || m.PIDFile == "" {
		errs = append(errs, errors.New("console, QMP socket and PID file are needed"))
	}
	if m.Kernel == "" && (m.Initrd != "" || m.Append != "") {
		errs = append(errs, errors.New("an initrd or command line without a kernel"))
	}
	seen := map[string]bool{}
	for _, d := range m.Disks {
		if !ids.MatchString(d.ID) || seen[d.ID] {
			errs = append(errs, fmt.Errorf("disk ID %q", d.ID))
		}
		seen[d.ID] = true
		if d.Path == "" || len(d.Serial) > MaxSerial || strings.ContainsAny(d.Serial, ",=") {
			errs = append(errs, fmt.Errorf("disk %s: path %q, serial %q", d.ID, d.Path, d.Serial))
		}
	}
	fds := map[int]bool{}
	for _, n := range m.NICs {
		if !ids.MatchString(n.ID) || seen[n.ID] {
			errs = append(errs, fmt.Errorf("NIC ID %q", n.ID))
		}
		seen[n.ID] = true
		if hw, err := net.ParseMAC(n.MAC); err != nil || len(hw) != 6 {
			errs = append(errs, fmt.Errorf("NIC %s: MAC %q", n.ID, n.MAC))
		}
		if n.FD < 3 || fds[n.FD] {
			errs = append(errs, fmt.Errorf("NIC %s: file descriptor %d", n.ID, n.FD))
		}
		fds[n.FD] = true
	}
	if m.FreePorts < 0 || m.Ports() > 28 {
		// q35's pcie.0 has 32 slots; the host bridge, the LPC bridge and spare room
		// take the rest.
		errs = append(errs, fmt.Errorf("%d root ports (at most 28)", m.Ports()))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("qemu: machine %s: %w", m.Name, err)
	}
	return nil
}

// Args is QEMU's command line for the machine (without the program's name).
func (m Machine) Args() ([]string, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	cpu := "max" // every feature TCG emulates
	if m.Accel == "kvm" {
		cpu = "host"
	}
	args := []string{
		"-name", "guest=" + m.Name + ",process=qemu-" + m.Name,
		// No SATA, SMBus, VGA, default NIC, floppy or CD-ROM: only what is asked for.
		"-machine", "q35,accel=" + m.Accel + ",sata=off,smbus=off,graphics=off",
		"-cpu", cpu,
		"-smp", strconv.Itoa(m.VCPUs),
		"-m", strconv.Itoa(m.MemoryMiB),
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
		// Native PCIe hot-plug: a port the guest never powered on gives its device
		// back at once, and Linux handles the attention button (ACPI hot-plug waits
		// for an ACPI eject that a guest without ACPI support never sends).
		"-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
		"-chardev", "file,id=console,append=on,path=" + escapeOption(m.Console),
		"-serial", "chardev:console",
		"-qmp", "unix:" + escapeOption(m.QMPSocket) + ",server=on,wait=off",
		"-pidfile", m.PIDFile,
		"-daemonize",
		// Entropy from the host: without it a guest's kernel may wait minutes at boot
		// for its random number generator (host keys, DHCP transaction IDs).
		"-object", "rng-random,id=rng,filename=/dev/urandom",
		"-device", "virtio-rng-pci,rng=rng,bus=pcie.0",
	}
	if m.Paused {
		args = append(args, "-S")
	}
	if m.Kernel != "" {
		args = append(args, "-kernel", m.Kernel)
		if m.Initrd != "" {
			args = append(args, "-initrd", m.Initrd)
		}
		if m.Append != "" {
			args = append(args, "-append", m.Append)
		}
	}
	for i := range m.Ports() {
		args = append(args, "-device", fmt.Sprintf("pcie-root-port,id=%s,bus=pcie.0,chassis=%d", Port(i), i+1))
	}
	port := 0
	for i, d := range m.Disks {
		// One raw node with its file node inside, as BlockdevAdd makes for a hot-plugged
		// disk, so that BlockdevDel of NodeName(ID) closes either kind. Discard punches
		// holes into the sparse file when the guest trims.
		args = append(args, "-blockdev", fmt.Sprintf(`{"driver":"raw","node-name":%q,"read-only":%t,"discard":"unmap","file":{"driver":%q,"filename":%q}}`,
			NodeName(d.ID), d.ReadOnly, fileDriver(d.HostDevice), d.Path))
		dev := fmt.Sprintf("virtio-blk-pci,id=%s,drive=%s,bus=%s", d.ID, NodeName(d.ID), Port(port))
		if d.Serial != "" {
			dev += ",serial=" + d.Serial
		}
		if i == 0 && m.Kernel == "" {
			dev += ",bootindex=0"
		}
		args = append(args, "-device", dev)
		port++
	}
	for _, n := range m.NICs {
		args = append(args,
			"-netdev", fmt.Sprintf("tap,id=net-%s,fd=%d", n.ID, n.FD),
			"-device", fmt.Sprintf("virtio-net-pci,id=%s,netdev=net-%s,mac=%s,bus=%s", n.ID, n.ID, n.MAC, Port(port)))
		port++
	}
	return args, nil
}
