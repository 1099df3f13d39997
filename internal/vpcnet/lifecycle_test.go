package vpcnet

import (
	"strato/internal/netpolicy"

	"context"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"strato/internal/imds"
)

// Close keeps the wiring (instances keep talking); Open adopts it, restarting the metadata
// listeners; plugging again changes nothing that was right.
func TestReopenAdoptsTheWiring(t *testing.T) {
	resolver := &resolverByInterface{owner: map[string]*imds.Instance{}, addr: map[string]netip.Addr{}}
	handler := imds.NewHandler(resolver, nil, nil)
	f := newFixture(t, handler)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.10"))
	resolver.add(a)
	resolver.add(b)
	pub := f.opts.PublicPool.Addr().Next()
	policy := internetPolicy(vpc, nil, a, b)
	policy.Public = map[netip.Addr]netip.Addr{pub: a.ip}
	f.setVPC(policy)
	routerLink := linkIndexIn(t, f.n.routerNamespace(vpc), eniLink(a.eni))
	instanceLink := linkIndexIn(t, a.netns, "eth0")
	seenA := listenTCP(t, a.netns, 22)
	seenB := listenTCP(t, b.netns, 22)
	host, _ := hostLinkAddrs(f.opts.Prefix)

	if err := f.n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.n.PlugInterface(f.ctx, a.plug(subnetA)); err == nil {
		t.Fatal("a closed Network plugged an interface")
	}
	if _, _, err := metadataGet(a.netns, http.MethodGet, "/", nil); err == nil {
		t.Fatal("metadata answered after Close")
	}
	mustReach(t, a.netns, addrPort(b.ip, 22), seenB, a.ip)
	mustReach(t, "", addrPort(pub, 22), seenA, host.Addr())

	n, err := Open(f.ctx, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.n = n
	mustGetInstanceID(t, a) // before anyone plugs again
	mustGetInstanceID(t, b)
	// What the control plane's ResyncDataplane does at start.
	f.setVPC(policy)
	if err := n.PlugInterface(f.ctx, a.plug(subnetA)); err != nil {
		t.Fatal(err)
	}
	if got := linkIndexIn(t, n.routerNamespace(vpc), eniLink(a.eni)); got != routerLink {
		t.Errorf("plugging again made a new router link (index %d, was %d)", got, routerLink)
	}
	if got := linkIndexIn(t, a.netns, "eth0"); got != instanceLink {
		t.Errorf("plugging again made a new eth0 (index %d, was %d)", got, instanceLink)
	}
	mustGetInstanceID(t, a)
	mustReach(t, "", addrPort(pub, 22), seenA, host.Addr())
	mustReach(t, b.netns, addrPort(a.ip, 22), seenA, b.ip)
}

// Plugging again with more addresses and another MAC reconciles the interface: the new
// address is reachable, and the instance may send from it.
func TestPlugAgainReconcilesTheInterface(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.20"))
	secondary := netip.MustParseAddr("10.0.1.30")
	policy := internetPolicy(vpc, nil, a, b)
	policy.Interfaces[0].Addresses = append(policy.Interfaces[0].Addresses, secondary)
	f.setVPC(policy)
	p := a.plug(subnetA)
	p.PrivateIPs = append(p.PrivateIPs, secondary)
	p.MAC = "02:00:00:aa:bb:cc"
	if err := f.n.PlugInterface(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := f.n.PlugInterface(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := withHandle(a.netns, func(h *netlink.Handle) error {
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		if got := eth0.Attrs().HardwareAddr.String(); got != p.MAC {
			t.Errorf("eth0 MAC %s, want %s", got, p.MAC)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seenA := listenTCP(t, a.netns, 7000)
	seenB := listenTCP(t, b.netns, 7000)
	mustReach(t, b.netns, addrPort(secondary, 7000), seenA, b.ip)
	// From the secondary address (the kernel picks it as source when asked to).
	var err error
	if err = inNamespace(a.netns, func() error { return dialFromSource(secondary, addrPort(b.ip, 7000)) }); err != nil {
		t.Fatalf("from the secondary address: %v", err)
	}
	select {
	case got := <-seenB:
		if got != secondary {
			t.Fatalf("b saw %v, want %v", got, secondary)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b saw nothing")
	}

	// Back to the primary address only: the secondary one goes from both ends.
	if err := f.n.PlugInterface(f.ctx, a.plug(subnetA)); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, b.netns, addrPort(secondary, 7000))
	mustReach(t, b.netns, addrPort(a.ip, 7000), seenA, b.ip)
}

// Every call may be repeated, and removing what is not there is fine.
func TestCallsAreIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	again, err := f.n.InstanceNetns(f.ctx, a.id)
	if err != nil || again != a.netns {
		t.Fatalf("InstanceNetns again: %q %v, want %q", again, err, a.netns)
	}
	for range 2 {
		if err := f.n.UnplugInterface(f.ctx, vpc, a.eni); err != nil {
			t.Fatalf("UnplugInterface: %v", err)
		}
	}
	if err := f.n.UnplugInterface(f.ctx, newID(t, "vpc"), newID(t, "eni")); err != nil {
		t.Fatalf("UnplugInterface of nothing: %v", err)
	}
	for range 2 {
		if err := f.n.RemoveVPC(f.ctx, vpc); err != nil {
			t.Fatalf("RemoveVPC: %v", err)
		}
		if err := f.n.RemoveInstanceNetns(f.ctx, a.id); err != nil {
			t.Fatalf("RemoveInstanceNetns: %v", err)
		}
	}
	if _, err := os.Stat(a.netns); !os.IsNotExist(err) {
		t.Fatalf("the instance's namespace file is still there (%v)", err)
	}
	if err := f.n.PlugInterface(f.ctx, Plug{VpcID: "vpc-../x", InterfaceID: a.eni}); err == nil {
		t.Fatal("an ID that is not an ID was accepted")
	}
}

// Nothing strato makes routes toward the host's uplink: the inet namespace has no default
// route, the host does not forward, and the only host route strato adds is the pool's.
func TestNothingRoutesToTheUplink(t *testing.T) {
	requireRoot(t)
	forwardBefore, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	forwardAfter, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if string(forwardAfter) != string(forwardBefore) {
		t.Errorf("the host's ip_forward changed from %q to %q", forwardBefore, forwardAfter)
	}
	if err := withHandle(f.n.inetNamespace(), func(h *netlink.Handle) error {
		routes, err := h.RouteList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				t.Errorf("the inet namespace has a default route: %v", r)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := withHostHandle(func(h *netlink.Handle) error {
		link, err := h.LinkByName(f.n.hostLink())
		if err != nil {
			return err
		}
		routes, err := h.RouteList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			dst, _ := netip.ParsePrefix(r.Dst.String())
			host, _ := hostLinkAddrs(f.opts.Prefix)
			if dst != f.opts.PublicPool && dst != host.Masked() {
				t.Errorf("host route through %s to %v", f.n.hostLink(), dst)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Destroy leaves no namespace file or mount, no link, no host route and no table of its
// prefix; namespaces held open by someone else are emptied of strato's links.
func TestDestroyLeavesNothing(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	if err := f.n.SetVPC(f.ctx, netpolicy.VPC{ID: vpc, Public: map[netip.Addr]netip.Addr{f.opts.PublicPool.Addr().Next(): a.ip}}); err != nil {
		t.Fatal(err)
	}
	// Hold the instance's namespace as a running instance would.
	held, err := netns.GetFromPath(a.netns)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// `strato net teardown` after strato stopped: Teardown knows only the prefix
	// (the default pool it assumes is not this network's), then Destroy again.
	if err := f.n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Teardown(ctx, Options{Prefix: f.opts.Prefix, RunDir: f.opts.RunDir}); err != nil {
		t.Fatal(err)
	}
	if err := f.n.Destroy(ctx); err != nil {
		t.Fatalf("Destroy again: %v", err)
	}
	if entries, err := os.ReadDir(f.opts.RunDir); err == nil {
		for _, e := range entries {
			t.Errorf("left in the run directory: %s", e.Name())
		}
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mountinfo), f.opts.RunDir) {
		t.Errorf("mounts left under %s", f.opts.RunDir)
	}
	if err := withHostHandle(func(h *netlink.Handle) error {
		links, err := h.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, f.opts.Prefix) {
				t.Errorf("host link left: %s", l.Attrs().Name)
			}
		}
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(f.opts.PublicPool)}, netlink.RT_FILTER_DST)
		if err != nil {
			return err
		}
		for _, r := range routes {
			t.Errorf("host route left: %v", r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hostTables, err := (&nftables.Conn{}).ListTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range hostTables {
		if strings.HasPrefix(tb.Name, f.opts.Prefix) {
			t.Errorf("host nftables table left: %s", tb.Name)
		}
	}
	h, err := netlink.NewHandleAt(held)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			t.Errorf("link left in the instance's namespace: %s", l.Attrs().Name)
		}
	}
}
