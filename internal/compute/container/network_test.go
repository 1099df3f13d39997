package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
)

// fakeNetwork is a compute.Network for the tests: a bind-mounted namespace per
// instance under dir, and each interface a veth eth<DeviceIndex> with its MAC
// and primary address, its peer left in the same namespace (the dataplane's
// wiring to a subnet is its own business).
type fakeNetwork struct {
	dir string

	mu      sync.Mutex
	plugged map[string]string // interface ID → namespace path
}

var _ compute.Network = (*fakeNetwork)(nil)

func (f *fakeNetwork) InstanceNetns(ctx context.Context, id string) (string, error) {
	path := filepath.Join(f.dir, id)
	if h, err := netns.GetFromPath(path); err == nil {
		h.Close()
		return path, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return "", err
	}
	defer orig.Close()
	fresh, err := netns.New() // this thread is in it until Set below
	if err != nil {
		return "", err
	}
	defer fresh.Close()
	defer netns.Set(orig)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return "", err
	}
	return path, unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
}

func (f *fakeNetwork) RemoveInstanceNetns(ctx context.Context, id string) error {
	path := filepath.Join(f.dir, id)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (f *fakeNetwork) PlugInterface(ctx context.Context, path string, nic cloud.InterfaceSpec) error {
	h, err := f.handle(path)
	if err != nil {
		return err
	}
	defer h.Close()
	name := fmt.Sprintf("eth%d", nic.DeviceIndex)
	if _, err := h.LinkByName(name); err != nil {
		mac, err := net.ParseMAC(nic.MAC)
		if err != nil {
			return err
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac}, PeerName: "peer" + name}
		if err := h.LinkAdd(veth); err != nil {
			return fmt.Errorf("adding %s: %w", name, err)
		}
		link, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		_, subnet, _ := net.ParseCIDR(nic.SubnetCIDR)
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(nic.PrivateIPs[0]), Mask: subnet.Mask}}
		if err := h.AddrAdd(link, addr); err != nil {
			return err
		}
		if err := h.LinkSetUp(link); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.plugged[nic.ID] = path + "|" + name
	f.mu.Unlock()
	return nil
}

func (f *fakeNetwork) UnplugInterface(ctx context.Context, vpcID, interfaceID string) error {
	f.mu.Lock()
	where, ok := f.plugged[interfaceID]
	delete(f.plugged, interfaceID)
	f.mu.Unlock()
	if !ok {
		return nil
	}
	path, name, _ := strings.Cut(where, "|")
	h, err := f.handle(path)
	if err != nil {
		return nil // the namespace is gone, and the link with it
	}
	defer h.Close()
	if link, err := h.LinkByName(name); err == nil {
		return h.LinkDel(link)
	}
	return nil
}

func (f *fakeNetwork) handle(path string) (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

func TestNetwork(t *testing.T) {
	e := newEnv(t)
	network := &fakeNetwork{dir: t.TempDir(), plugged: map[string]string{}}
	e.opts.Network = network
	d := e.open()
	s := spec(t, conformance.NewID(), testDisk)
	running(t, d, s)
	primary := s.Interfaces[0]
	if out := d.mustExec(t, s.ID, "cat", "/sys/class/net/eth0/address"); out != primary.MAC {
		t.Errorf("eth0's MAC inside = %q, want %s", out, primary.MAC)
	}
	if out := d.mustExec(t, s.ID, "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, primary.PrivateIPs[0]+"/24") {
		t.Errorf("eth0 inside:\n%s\nwant %s/24", out, primary.PrivateIPs[0])
	}
	nsPath := filepath.Join(network.dir, s.ID)
	var inNS, instanceNS unix.Stat_t
	unix.Stat(nsPath, &inNS)
	unix.Stat(fmt.Sprintf("/proc/%d/ns/net", d.initPID(s.ID)), &instanceNS)
	if inNS.Ino != instanceNS.Ino {
		t.Error("the container is not in the namespace the Network made for it")
	}

	second := cloud.InterfaceSpec{ID: "eni-0123456789abcdef1", DeviceIndex: 1, MAC: "0e:00:00:00:00:02",
		PrivateIPs: []string{"10.0.1.20"}, SubnetCIDR: "10.0.1.0/24", Gateway: "10.0.1.1"}
	if err := d.AttachInterface(context.Background(), s.ID, second); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "cat", "/sys/class/net/eth1/address"); out != second.MAC {
		t.Errorf("hot-plugged eth1's MAC inside = %q, want %s", out, second.MAC)
	}
	if err := d.DetachInterface(context.Background(), s.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	if out, err := d.exec(t, s.ID, "ls", "/sys/class/net/eth1"); err == nil {
		t.Errorf("eth1 is still inside after DetachInterface: %s", out)
	}

	// Stop and start: the instance comes back in the same namespace.
	if err := d.Stop(context.Background(), s.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "cat", "/sys/class/net/eth0/address"); out != primary.MAC {
		t.Errorf("eth0's MAC after stop and start = %q, want %s", out, primary.MAC)
	}
	if err := d.Destroy(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(nsPath); !os.IsNotExist(err) {
		t.Errorf("the namespace is left after Destroy: %v", err)
	}
}
