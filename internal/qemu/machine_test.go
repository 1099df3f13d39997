package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func testMachine(dir string) Machine {
	return Machine{
		Name: "i-0123456789abcdef0", Accel: "tcg", VCPUs: 2, MemoryMiB: 512,
		Kernel: "/k", Initrd: "/i", Append: "console=ttyS0 root=LABEL=cloudimg-rootfs -- guest-init --vm",
		Console: filepath.Join(dir, "console,log"), QMPSocket: filepath.Join(dir, "qmp.sock"), PIDFile: filepath.Join(dir, "qemu.pid"),
		Disks: []Disk{{ID: "vol-root", Path: filepath.Join(dir, "root.img"), Serial: "xvda"},
			{ID: "vol-data", Path: filepath.Join(dir, "data.img"), Serial: "xvdf", ReadOnly: true}},
		NICs:      []NIC{{ID: "eni-0123456789abcdef0", MAC: "02:00:00:00:00:01", FD: 3}},
		FreePorts: 4,
	}
}

func TestMachineArgs(t *testing.T) {
	m := testMachine("/run/x")
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	for _, want := range []string{
		"-machine q35,accel=tcg,", "-smp 2", "-m 512", "-nodefaults", "-daemonize", "-pidfile /run/x/qemu.pid",
		"path=/run/x/console,,log", // the comma doubled inside the option
		"-kernel /k -initrd /i -append console=ttyS0 root=LABEL=cloudimg-rootfs -- guest-init --vm",
		"pcie-root-port,id=rp6,bus=pcie.0,chassis=7", // 2 disks + 1 NIC + 4 free = rp0..rp6
		"virtio-blk-pci,id=vol-root,drive=node-vol-root,bus=rp0,serial=xvda",
		`"node-name":"node-vol-data","read-only":true,"discard":"unmap","file":{"driver":"file","filename":"/run/x/data.img"}`,
		"tap,id=net-eni-0123456789abcdef0,fd=3",
		"virtio-net-pci,id=eni-0123456789abcdef0,netdev=net-eni-0123456789abcdef0,mac=02:00:00:00:00:01,bus=rp2",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("the command line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "rp7") || strings.Contains(line, "bootindex") {
		t.Errorf("too many ports, or a boot index with a kernel: %s", line)
	}

	// A block device (an encrypted volume's plaintext) is opened as one.
	m.Disks[1].HostDevice = true
	args, _ = m.Args()
	if line := strings.Join(args, " "); !strings.Contains(line, `"file":{"driver":"host_device","filename":"/run/x/data.img"}`) {
		t.Errorf("a block device is not opened with host_device: %s", line)
	}
	m.Disks[1].HostDevice = false

	// Without a kernel, the firmware boots the first disk.
	m.Kernel, m.Initrd, m.Append = "", "", ""
	args, _ = m.Args()
	if line := strings.Join(args, " "); !strings.Contains(line, "bus=rp0,serial=xvda,bootindex=0") || strings.Contains(line, "-kernel") {
		t.Errorf("booting from disk: %s", line)
	}
}

func TestMachineRefusesWhatQEMUWouldMisread(t *testing.T) {
	for name, change := range map[string]func(*Machine){
		"name with a comma":   func(m *Machine) { m.Name = "i-0,x" },
		"accelerator":         func(m *Machine) { m.Accel = "hvf" },
		"no memory":           func(m *Machine) { m.MemoryMiB = 0 },
		"initrd, no kernel":   func(m *Machine) { m.Kernel = "" },
		"long serial":         func(m *Machine) { m.Disks[0].Serial = "vol0123456789abcdef012" },
		"serial with a comma": func(m *Machine) { m.Disks[0].Serial = "a,b" },
		"duplicate ID":        func(m *Machine) { m.Disks[1].ID = m.Disks[0].ID },
		"bad MAC":             func(m *Machine) { m.NICs[0].MAC = "02:00" },
		"stdin as a tap":      func(m *Machine) { m.NICs[0].FD = 0 },
		"too many ports":      func(m *Machine) { m.FreePorts = 40 },
	} {
		m := testMachine("/run/x")
		change(&m)
		if _, err := m.Args(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A real QEMU takes the command line: it daemonizes (its process is no child of ours),
// writes its PID file, opens its monitor, and has the disks on their ports with their
// serials and the free ports empty.
func TestMachineStartsInQEMU(t *testing.T) {
	bin := needTool(t, "qemu-system-x86_64", "qemu-system-x86")
	dir := t.TempDir()
	m := testMachine(dir)
	m.Kernel, m.Initrd, m.Append, m.NICs, m.Paused = "", "", "", nil, true
	for _, d := range m.Disks {
		if err := os.WriteFile(d.Path, make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args, err := m.Args()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu: %v\n%s", err, out)
	}
	pidText, err := os.ReadFile(m.PIDFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Ours, by the PID its own file gives; quit normally first.
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := Dial(ctx, m.QMPSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	blocks, err := q.QueryBlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var devices []string
	for _, b := range blocks {
		devices = append(devices, b.QDev)
	}
	for _, d := range m.Disks {
		if !slices.ContainsFunc(devices, func(qdev string) bool { return strings.Contains(qdev, d.ID) }) {
			t.Errorf("QEMU has no disk %s: %v", d.ID, devices)
		}
	}
	var serial string
	if err := q.Execute(ctx, "qom-get", map[string]any{"path": "/machine/peripheral/vol-data", "property": "serial"}, &serial); err != nil || serial != "xvdf" {
		t.Errorf("vol-data's serial %q (%v)", serial, err)
	}
	last := m.Ports() - 1
	var chassis int
	if err := q.Execute(ctx, "qom-get", map[string]any{"path": "/machine/peripheral/" + Port(last), "property": "chassis"}, &chassis); err != nil || chassis != last+1 {
		t.Errorf("the last free port %s: chassis %d (%v)", Port(last), chassis, err)
	}
	if err := q.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("QEMU still runs after quit")
		}
	}
}

// openTestTap opens a tap queue in a network namespace of its own (made here and gone
// with the descriptor), as vpcnet.PlugTap hands one to the driver.
func openTestTap(t *testing.T) *os.File {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a tap needs root")
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result)
	go func() {
		// The thread leaves with the new namespace: it is never unlocked, so the
		// runtime discards it when this goroutine ends.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{nil, err}
			return
		}
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{nil, err}
			return
		}
		ifr, _ := unix.NewIfreq("tap0")
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			done <- result{nil, err}
			return
		}
		done <- result{os.NewFile(uintptr(fd), "tap0"), nil}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.f.Close() })
	return r.f
}

// A NIC is hot-plugged through the monitor: the tap's descriptor passed with getfd,
// then netdev_add and device_add on a free root port; and unplugged again.
func TestNICHotplugInQEMU(t *testing.T) {
	tap := openTestTap(t)
	dir := t.TempDir()
	q := startQEMU(t, dir, "-machine", "q35", "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
		"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.SendFD(ctx, "tap-eni", tap); err != nil {
		t.Fatal(err)
	}
	if err := q.NICAdd(ctx, TapNIC{ID: "eni-0123456789abcdef0", FDName: "tap-eni", MAC: "02:00:00:00:00:07", Bus: "rp0"}); err != nil {
		t.Fatal(err)
	}
	var mac string
	if err := q.Execute(ctx, "qom-get", map[string]any{"path": "/machine/peripheral/eni-0123456789abcdef0", "property": "mac"}, &mac); err != nil || mac != "02:00:00:00:00:07" {
		t.Errorf("the NIC's MAC %q (%v)", mac, err)
	}
	if err := q.NICDel(ctx, "eni-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	if err := q.NICDel(ctx, "eni-0123456789abcdef0"); err != nil {
		t.Errorf("unplugging what is gone: %v", err)
	}
	if err := q.SendFD(ctx, "closed", os.NewFile(^uintptr(0), "nothing")); err == nil {
		t.Error("passing a closed file succeeded")
	}
}
