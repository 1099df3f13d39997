package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"strato/internal/cloud"

	"strato/internal/compute/host"
)

// The runtime spec (config.json) runc reads: only the fields the driver sets.
type (
	ociSpec struct {
		Version  string     `json:"ociVersion"`
		Process  ociProcess `json:"process"`
		Root     ociRoot    `json:"root"`
		Hostname string     `json:"hostname"`
		Mounts   []ociMount `json:"mounts"`
		Linux    ociLinux   `json:"linux"`
	}
	ociProcess struct {
		Terminal     bool     `json:"terminal"`
		User         ociUser  `json:"user"`
		Args         []string `json:"args"`
		Env          []string `json:"env"`
		Cwd          string   `json:"cwd"`
		Capabilities ociCaps  `json:"capabilities"`
	}
	ociUser struct {
		UID uint32 `json:"uid"`
		GID uint32 `json:"gid"`
	}
	ociCaps struct {
		Bounding  []string `json:"bounding"`
		Effective []string `json:"effective"`
		Permitted []string `json:"permitted"`
	}
	ociRoot struct {
		Path string `json:"path"`
	}
	ociMount struct {
		Destination string   `json:"destination"`
		Type        string   `json:"type"`
		Source      string   `json:"source"`
		Options     []string `json:"options,omitempty"`
	}
	ociLinux struct {
		Namespaces    []ociNamespace `json:"namespaces"`
		Devices       []ociDevice    `json:"devices,omitempty"`
		Resources     ociResources   `json:"resources"`
		CgroupsPath   string         `json:"cgroupsPath"`
		MaskedPaths   []string       `json:"maskedPaths"`
		ReadonlyPaths []string       `json:"readonlyPaths"`
	}
	ociNamespace struct {
		Type string `json:"type"`
		Path string `json:"path,omitempty"`
	}
	ociDevice struct {
		Path     string `json:"path"`
		Type     string `json:"type"`
		Major    int64  `json:"major"`
		Minor    int64  `json:"minor"`
		FileMode uint32 `json:"fileMode"`
		UID      uint32 `json:"uid"`
		GID      uint32 `json:"gid"`
	}
	ociResources struct {
		Devices []ociDeviceRule `json:"devices"`
		Memory  *ociMemory      `json:"memory,omitempty"`
		CPU     *ociCPU         `json:"cpu,omitempty"`
		Pids    *ociPids        `json:"pids,omitempty"`
	}
	ociDeviceRule struct {
		Allow  bool   `json:"allow"`
		Type   string `json:"type,omitempty"`
		Major  *int64 `json:"major,omitempty"`
		Minor  *int64 `json:"minor,omitempty"`
		Access string `json:"access,omitempty"`
	}
	ociMemory struct {
		Limit int64 `json:"limit"`
	}
	ociCPU struct {
		Quota  int64  `json:"quota"`
		Period uint64 `json:"period"`
	}
	ociPids struct {
		Limit int64 `json:"limit"`
	}
)

// Paths inside an instance that belong to strato: its init helper (read-only)
// and a directory the helper and the driver share (the exit reason).
const (
	guestHelperDir = "/.strato"
	guestHelper    = guestHelperDir + "/strato"
	guestRunDir    = guestHelperDir + "/run"
	exitReasonFile = "exit-reason"
)

// Limits every instance gets whatever its type.
const (
	cpuPeriod = 100_000 // µs: the quota is vCPUs periods
	pidsLimit = 4096
)

// capabilities is what root inside an instance may do, with the capabilities'
// numbers: what a system (not an application) container needs — mounting its
// volumes, configuring its network, running an SSH server — without what
// reaches past the instance (loading modules, raw I/O ports, the host's clock).
var capabilities = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21,
	"CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_MKNOD": 27, "CAP_LEASE": 28,
	"CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31,
}

// guestCapabilities lists the capabilities an instance gets: those above that
// strato itself may pass on (its bounding set; a sandboxed strato may lack some,
// and runc fails on a capability it cannot give).
func guestCapabilities() []string {
	bounding := ^uint64(0)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if hex, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				if v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64); err == nil {
					bounding = v
				}
			}
		}
	}
	var caps []string
	for name, bit := range capabilities {
		if bounding&(1<<bit) != 0 {
			caps = append(caps, name)
		}
	}
	slices.Sort(caps)
	return caps
}

// bundle is what a container is made from: the instance, the nodes of its
// block devices, and the network namespace to join ("" for a new one).
type bundle struct {
	spec      cloud.InstanceSpec
	nodes     []deviceNode
	netns     string
	resolv    string   // the host file bind-mounted at /etc/resolv.conf; "" keeps the image's
	guestInit string   // the host's strato executable
	caps      []string // guestCapabilities
	runDir    string   // the host directory shared as /.strato/run
	sysDir    string   // the host directory of the instance's sysfs view
	diskGID   uint32   // the guest's disk group, owner of block device nodes
}

// write writes config.json into dir, next to the mounted rootfs.
func (b bundle) write(dir string) error {
	raw, err := json.MarshalIndent(b.config(), "", "\t")
	if err != nil {
		return err
	}
	return host.ReplaceFile(filepath.Join(dir, "config.json"), func(f *os.File) error {
		_, err := f.Write(raw)
		return err
	})
}

func (b bundle) config() ociSpec {
	hostname := b.spec.Hostname
	if hostname == "" {
		hostname = b.spec.ID
	}
	return ociSpec{
		Version: "1.0.2",
		Process: ociProcess{
			Args: []string{guestHelper, "guest-init"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"HOME=/root", "TERM=linux"},
			Cwd:          "/",
			Capabilities: ociCaps{Bounding: b.caps, Effective: b.caps, Permitted: b.caps},
		},
		Root:     ociRoot{Path: "rootfs"},
		Hostname: hostname,
		Mounts:   b.mounts(),
		Linux:    b.linux(),
	}
}

func (b bundle) mounts() []ociMount {
	mounts := []ociMount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "mode=1777"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}},
		// A tmpfs under strato's files, so that the root volume gets only an
		// empty /.strato for their mount point.
		{Destination: guestHelperDir, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755", "size=64k"}},
		{Destination: guestHelper, Type: "bind", Source: b.guestInit, Options: []string{"bind", "ro"}},
		{Destination: guestRunDir, Type: "bind", Source: b.runDir, Options: []string{"bind", "rw"}},
	}
	if b.resolv != "" {
		// Read-write, as the file a DHCP client writes is: root in the guest may
		// edit it; the next boot writes it again.
		mounts = append(mounts, ociMount{Destination: guestResolvConf, Type: "bind", Source: b.resolv, Options: []string{"bind", "rw"}})
	}
	for _, v := range sysViews {
		mounts = append(mounts, ociMount{Destination: v.guest, Type: "bind", Source: filepath.Join(b.sysDir, v.host), Options: []string{"bind", "ro"}})
	}
	return mounts
}

func (b bundle) linux() ociLinux {
	namespaces := []ociNamespace{{Type: "pid"}, {Type: "mount"}, {Type: "uts"}, {Type: "ipc"}, {Type: "network", Path: b.netns}}
	res := ociResources{Pids: &ociPids{Limit: pidsLimit}}
	if b.spec.VCPUs > 0 {
		res.CPU = &ociCPU{Quota: int64(b.spec.VCPUs) * cpuPeriod, Period: cpuPeriod}
	}
	if b.spec.MemoryMiB > 0 {
		res.Memory = &ociMemory{Limit: int64(b.spec.MemoryMiB) << 20}
	}
	// Everything is denied but the usual character devices and the instance's
	// own block devices.
	res.Devices = []ociDeviceRule{{Allow: false, Access: "rwm"}}
	for _, c := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}, {10, 200}} {
		res.Devices = append(res.Devices, deviceRule("c", c[0], c[1], "rwm"))
	}
	var devices []ociDevice
	devices = append(devices, ociDevice{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200, FileMode: 0o666})
	for _, n := range b.nodes {
		devices = append(devices, ociDevice{Path: n.Guest, Type: "b", Major: int64(n.Major), Minor: int64(n.Minor), FileMode: 0o660, GID: b.diskGID})
		res.Devices = append(res.Devices, deviceRule("b", int64(n.Major), int64(n.Minor), n.access()))
	}
	return ociLinux{
		Namespaces:  namespaces,
		Devices:     devices,
		Resources:   res,
		CgroupsPath: fmt.Sprintf("strato/%s", b.spec.ID),
		MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"},
		ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
	}
}

// deviceRule is a devices cgroup rule; minor -1 is every minor number.
func deviceRule(kind string, major, minor int64, access string) ociDeviceRule {
	r := ociDeviceRule{Allow: true, Type: kind, Major: &major, Access: access}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}
