package vpcnet

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// These tests build real namespaces, veth pairs, routes and nftables tables, each under its
// own random Prefix, RunDir and public pool, and send packets only between namespaces they
// made and from the host into them. They need root.

const testTimeout = 60 * time.Second

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") == "1" {
		t.Fatal("vpcnet tests need root (network namespaces, veth, nftables) and STRATO_TEST_REQUIRE_TOOLS=1 forbids skipping")
	}
	t.Skip("vpcnet tests need root (network namespaces, veth, nftables); run as root to run them")
}

func randomHex(t testing.TB, bytes int) string {
	t.Helper()
	b := make([]byte, bytes)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newID makes an AWS-style ID with 17 hex digits.
func newID(t testing.TB, kind string) string {
	return kind + "-" + randomHex(t, 9)[:17]
}

type fixture struct {
	t    testing.TB
	ctx  context.Context
	n    *Network
	opts Options
}

// newFixture opens a Network with a fresh prefix, run directory and public pool (a random
// /24 of 198.18.0.0/15, so a strato running on the same host keeps its own routes), and
// destroys it when the test ends.
func newFixture(t testing.TB, metadata http.Handler) *fixture {
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Prefix:     "st" + hex.EncodeToString(b),
		RunDir:     t.TempDir(),
		PublicPool: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + b[0]&1, b[1], 0}), 24),
		Metadata:   metadata,
	}
	f := &fixture{t: t, ctx: ctx, opts: opts}
	t.Cleanup(func() {
		// A Network of the same options (defaults applied) destroys what Open made, also
		// when Open failed halfway.
		n := f.n
		if n == nil {
			n = newNetwork(opts)
		}
		dctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := n.Destroy(dctx); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	n, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	f.n = n
	f.opts = n.opts
	return f
}

// restart closes the Network and opens another on what it left, as strato's restart does.
func (f *fixture) restart() {
	f.t.Helper()
	if err := f.n.Close(); err != nil {
		f.t.Fatal(err)
	}
	n, err := Open(f.ctx, f.opts)
	if err != nil {
		f.t.Fatalf("Open: %v", err)
	}
	f.n = n
}

// instance is an instance namespace with one interface plugged.
type instance struct {
	id, eni, vpc string
	netns        string
	ip           netip.Addr
	subnet       netip.Prefix
}

// plugInstance makes an instance namespace and plugs a new interface with address ip of
// subnet into vpc.
func (f *fixture) plugInstance(vpc string, subnet netip.Prefix, ip netip.Addr) *instance {
	f.t.Helper()
	return f.plugInstanceWithInterface(vpc, newID(f.t, "eni"), subnet, ip)
}

// plugInstanceWithInterface is plugInstance with the interface's ID chosen by the caller.
func (f *fixture) plugInstanceWithInterface(vpc, eni string, subnet netip.Prefix, ip netip.Addr) *instance {
	f.t.Helper()
	inst := &instance{id: newID(f.t, "i"), eni: eni, vpc: vpc, ip: ip, subnet: subnet}
	path, err := f.n.InstanceNetns(f.ctx, inst.id)
	if err != nil {
		f.t.Fatalf("InstanceNetns: %v", err)
	}
	inst.netns = path
	if err := f.n.PlugInterface(f.ctx, inst.plug(subnet)); err != nil {
		f.t.Fatalf("PlugInterface: %v", err)
	}
	return inst
}

func (inst *instance) plug(subnet netip.Prefix) Plug {
	suffix := inst.eni[len(inst.eni)-6:]
	return Plug{
		VpcID:       inst.vpc,
		InterfaceID: inst.eni,
		Netns:       inst.netns,
		DeviceIndex: 0,
		MAC:         fmt.Sprintf("02:00:00:%s:%s:%s", suffix[0:2], suffix[2:4], suffix[4:6]),
		PrivateIPs:  []netip.Addr{inst.ip},
		Subnet:      subnet,
		Gateway:     subnet.Masked().Addr().Next(),
	}
}

// listenTCP listens on port in the namespace at netns and answers every connection with
// "hello\n"; the remote addresses it saw arrive on the returned channel.
func listenTCP(t testing.TB, netns string, port int) <-chan netip.Addr {
	t.Helper()
	return listenAt(t, netns, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)))
}

// listenIn listens on TCP port of every address in the namespace at netns until the test
// ends.
func listenIn(t testing.TB, netns string, port int) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := inNamespace(netns, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	}); err != nil {
		t.Fatalf("listening in %s: %v", nsLabel(netns), err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialFrom connects from the namespace at netns ("" for the test's own) and reads the
// listener's greeting.
func dialFrom(netns string, to netip.AddrPort, timeout time.Duration) error {
	d := &net.Dialer{Timeout: timeout}
	if netns == "" {
		return greet(d, to)
	}
	return inNamespace(netns, func() error { return greet(d, to) })
}

// dialFromSource connects from the address src (of the calling thread's namespace).
func dialFromSource(src netip.Addr, to netip.AddrPort) error {
	return greet(&net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}, to)
}

func greet(d *net.Dialer, to netip.AddrPort) error {
	c, err := d.Dial("tcp4", to.String())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d.Timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the greeting: %w", err)
	}
	if line != "hello\n" {
		return fmt.Errorf("greeting %q", line)
	}
	return nil
}

// mustReach checks a connection from one namespace to an address works and that the
// listener saw it come from wantSource.
func mustReach(t testing.TB, from string, to netip.AddrPort, seen <-chan netip.Addr, wantSource netip.Addr) {
	t.Helper()
	if err := dialFrom(from, to, 5*time.Second); err != nil {
		t.Fatalf("connecting to %v from %s: %v", to, nsLabel(from), err)
	}
	select {
	case got := <-seen:
		if got != wantSource {
			t.Fatalf("the listener at %v saw the connection from %v, want %v", to, got, wantSource)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the listener at %v saw no connection", to)
	}
}

// mustNotReach checks a connection from one namespace to an address fails.
func mustNotReach(t testing.TB, from string, to netip.AddrPort) {
	t.Helper()
	if err := dialFrom(from, to, time.Second); err == nil {
		t.Fatalf("connecting to %v from %s worked; it must not", to, nsLabel(from))
	}
}

func nsLabel(netns string) string {
	if netns == "" {
		return "the host"
	}
	return netns[strings.LastIndexByte(netns, '/')+1:]
}

// linkIndexIn is the index of the link named name in the namespace at path.
func linkIndexIn(t testing.TB, path, name string) int {
	t.Helper()
	var index int
	if err := withHandle(path, func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		index = l.Attrs().Index
		return nil
	}); err != nil {
		t.Fatalf("link %s in %s: %v", name, nsLabel(path), err)
	}
	return index
}
