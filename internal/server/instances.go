package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/container" // registers the container driver
	_ "strato/internal/compute/mock"    // the mock driver registers itself
	"strato/internal/compute/qemu"      // registers the qemu driver
	"strato/internal/imagebuild"
	"strato/internal/imds"
	qemuaccel "strato/internal/qemu"
	"strato/internal/vpcnet"
)

// Drivers lists the compute drivers `--driver` accepts.
var Drivers = []string{"auto", "mock", "container", "qemu"}

// resolveDriver turns --driver into a registered driver's name, and says how a
// virtual machine driver boots its machines: auto is qemu when KVM really runs
// guests here and a VM kernel is installed, else container when strato runs as root
// and runc works, else mock.
func resolveDriver(name, dataDir string) (driver, why string, boot compute.VMBoot, err error) {
	vmBoot := func() (compute.VMBoot, error) {
		files, ok, err := imagebuild.InstalledVMBoot(dataDir)
		if err != nil {
			return compute.VMBoot{}, err
		}
		if !ok {
			return compute.VMBoot{}, errors.New("no VM kernel is installed: run strato image build vm-kernel")
		}
		return compute.VMBoot{Kernel: files.Kernel, Initrd: files.Initramfs, Cmdline: imagebuild.VMKernelArgs}, nil
	}
	switch name {
	case "", "auto":
		if boot, err := vmBoot(); err == nil && qemu.Available(compute.Options{VMBoot: boot}) == nil {
			if accel, err := qemuaccel.DetectAccel(context.Background()); err == nil && accel.Accel == "kvm" {
				return "qemu", "auto: " + accel.String(), boot, nil
			}
		}
		if err := container.Available(); err != nil {
			return "mock", "auto: " + err.Error(), compute.VMBoot{}, nil
		}
		return "container", "auto: root and runc work (no VM with KVM here)", compute.VMBoot{}, nil
	case "mock":
		return "mock", "asked for", compute.VMBoot{}, nil
	case "container":
		if err := container.Available(); err != nil {
			return "", "", compute.VMBoot{}, fmt.Errorf("the container driver cannot run here: %w", err)
		}
		return "container", "asked for", compute.VMBoot{}, nil
	case "qemu":
		boot, err := vmBoot()
		if err == nil {
			err = qemu.Available(compute.Options{VMBoot: boot})
		}
		if err != nil {
			return "", "", compute.VMBoot{}, fmt.Errorf("the qemu driver cannot run here: %w", err)
		}
		return "qemu", "asked for", boot, nil
	}
	return "", "", compute.VMBoot{}, fmt.Errorf("unknown driver %q (choose one of auto, mock, container, qemu)", name)
}

// instanceHost is the compute driver and, for drivers that run real instances,
// the dataplane their interfaces plug into and the metadata service it serves.
type instanceHost struct {
	compute cloud.Compute
	network *vpcnet.Network
}

// openInstanceHost opens the driver; a driver with real instances gets strato's
// instance network, with the metadata service on 169.254.169.254 of every
// interface, and the control plane tells that network its public addresses.
func openInstanceHost(ctx context.Context, c *cloud.Cloud, cfg Config, driver string, boot compute.VMBoot, log *slog.Logger) (*instanceHost, error) {
	boot.MemoryScale = cfg.VMMemoryScale
	opts := compute.Options{DataDir: cfg.DataDir, Log: log, VMBoot: boot}
	h := &instanceHost{}
	if driver != "mock" {
		pool, _, err := c.PublicPool(ctx)
		if err != nil {
			return nil, err
		}
		if len(pool) != 1 {
			return nil, fmt.Errorf("the instance network routes one public pool prefix; --public-pool has %d", len(pool))
		}
		signer, err := c.IdentitySigner(ctx)
		if err != nil {
			return nil, err
		}
		h.network, err = vpcnet.Open(ctx, vpcnet.Options{
			Prefix: cfg.NetPrefix, PublicPool: pool[0], Log: log, FlowLogFlush: cfg.FlowLogFlush,
			Metadata: imds.NewHandler(c.MetadataResolver(), signer, time.Now),
		})
		if err != nil {
			return nil, fmt.Errorf("instance network: %w", err)
		}
		opts.Network = instanceNetwork{h.network}
		c.UseDataplane(h.network)
	}
	drv, err := compute.Open(driver, opts)
	if err != nil {
		h.close()
		return nil, fmt.Errorf("driver %s: %w", driver, err)
	}
	h.compute = drv
	if driver != "mock" {
		capacity, err := hostCapacity(cfg.VCPUOvercommit, cfg.MemoryOvercommit)
		if err != nil {
			h.close()
			return nil, err
		}
		c.UseCapacity(capacity)
		log.Info("instance capacity", "vcpus", capacity.VCPUs, "memory_mib", capacity.MemoryMiB)
	}
	return h, nil
}

// Default overcommit of the host for instances: their types' vCPUs and memory
// are limits (a cgroup's quota and ceiling), not reservations, and idle
// instances use a few MiB, so the host promises more than it has.
const (
	DefaultVCPUOvercommit   = 128
	DefaultMemoryOvercommit = 8
)

// hostCapacity is the host's CPUs and memory times the overcommit factors.
func hostCapacity(vcpuFactor, memoryFactor float64) (cloud.HostCapacity, error) {
	if vcpuFactor <= 0 {
		vcpuFactor = DefaultVCPUOvercommit
	}
	if memoryFactor <= 0 {
		memoryFactor = DefaultMemoryOvercommit
	}
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return cloud.HostCapacity{}, fmt.Errorf("reading the host's memory: %w", err)
	}
	memMiB := float64(info.Totalram) * float64(info.Unit) / (1 << 20)
	return cloud.HostCapacity{
		VCPUs:     int(float64(runtime.NumCPU()) * vcpuFactor),
		MemoryMiB: int64(memMiB * memoryFactor),
	}, nil
}

func (h *instanceHost) close() {
	if closer, ok := h.compute.(interface{ Close() error }); ok {
		closer.Close()
	}
	if h.network != nil {
		h.network.Close()
	}
}

// instanceNetwork gives the drivers strato's instance network (compute.Network).
type instanceNetwork struct{ n *vpcnet.Network }

var (
	_ compute.DNSProvider = instanceNetwork{}
	_ compute.TapNetwork  = instanceNetwork{}
)

func (w instanceNetwork) InstanceNetns(ctx context.Context, id string) (string, error) {
	return w.n.InstanceNetns(ctx, id)
}

func (w instanceNetwork) RemoveInstanceNetns(ctx context.Context, id string) error {
	return w.n.RemoveInstanceNetns(ctx, id)
}

func (w instanceNetwork) UnplugInterface(ctx context.Context, vpcID, interfaceID string) error {
	return w.n.UnplugInterface(ctx, vpcID, interfaceID)
}

// InstanceDNS is what the VPC's DHCP options tell instances about DNS
// (compute.DNSProvider: the container driver writes it into resolv.conf).
func (w instanceNetwork) InstanceDNS(ctx context.Context, vpcID string) (compute.DNSConfig, error) {
	servers, search, err := w.n.InstanceDNS(ctx, vpcID)
	return compute.DNSConfig{NameServers: servers, Search: search}, err
}

func (w instanceNetwork) PlugInterface(ctx context.Context, netns string, nic cloud.InterfaceSpec) error {
	p, err := plugOf(netns, nic)
	if err != nil {
		return err
	}
	return w.n.PlugInterface(ctx, p)
}

// PlugTap wires a virtual machine's interface (compute.TapNetwork).
func (w instanceNetwork) PlugTap(ctx context.Context, nic cloud.InterfaceSpec) (*os.File, error) {
	p, err := plugOf("", nic)
	if err != nil {
		return nil, err
	}
	return w.n.PlugTap(ctx, p)
}

// plugOf is the dataplane's view of an interface a driver plugs.
func plugOf(netns string, nic cloud.InterfaceSpec) (vpcnet.Plug, error) {
	p := vpcnet.Plug{VpcID: nic.VpcID, InterfaceID: nic.ID, Netns: netns, DeviceIndex: nic.DeviceIndex, MAC: nic.MAC}
	var err error
	if p.Subnet, err = netip.ParsePrefix(nic.SubnetCIDR); err != nil {
		return p, fmt.Errorf("interface %s: subnet %q: %w", nic.ID, nic.SubnetCIDR, err)
	}
	if p.Gateway, err = netip.ParseAddr(nic.Gateway); err != nil {
		return p, fmt.Errorf("interface %s: gateway %q: %w", nic.ID, nic.Gateway, err)
	}
	for _, s := range nic.PrivateIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("interface %s: address %q: %w", nic.ID, s, err)
		}
		p.PrivateIPs = append(p.PrivateIPs, ip)
	}
	return p, nil
}
