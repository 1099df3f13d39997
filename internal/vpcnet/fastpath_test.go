package vpcnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fastPathLab is a forwarding namespace like the inet one, its program loaded but not
// attached: link "a" leads to the host's network 192.0.2.0/30 (the host at .2), link
// "b" to the pool 198.18.0.0/24 (through 169.254.0.2). Both neighbours are permanent,
// so the route lookup finds everything it needs.
type fastPathLab struct {
	fwd        string
	a, b       netlink.Link
	hostMAC    net.HardwareAddr // the peer of a
	gatewayMAC net.HardwareAddr // the peer of b
}

var (
	labPool    = netip.MustParsePrefix("198.18.0.0/24")
	labHostNet = netip.MustParsePrefix("192.0.2.0/30")
	labHost    = netip.MustParseAddr("192.0.2.2")
)

func newFastPathLab(t *testing.T) *fastPathLab {
	requireRoot(t)
	dir := t.TempDir()
	lab := &fastPathLab{fwd: filepath.Join(dir, "fwd"),
		hostMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}, gatewayMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xb}}
	far := filepath.Join(dir, "far")
	for _, ns := range []string{lab.fwd, far} {
		if err := ensureNamespace(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { removeNamespace(ns) })
	}
	if err := setSysctls(lab.fwd, map[string]string{"ipv4.ip_forward": "1"}); err != nil {
		t.Fatal(err)
	}
	err := withHandle(lab.fwd, func(h *netlink.Handle) error {
		var err error
		if lab.a, err = addVeth(h, "a", far, "ha", lab.hostMAC); err != nil {
			return err
		}
		if lab.b, err = addVeth(h, "b", far, "hb", lab.gatewayMAC); err != nil {
			return err
		}
		gateway := netip.MustParseAddr("169.254.0.2")
		for _, step := range []error{
			h.AddrAdd(lab.a, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("192.0.2.1/30"))}),
			h.AddrAdd(lab.b, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("169.254.0.1/32"))}),
			h.LinkSetUp(lab.a), h.LinkSetUp(lab.b),
			h.RouteAdd(&netlink.Route{LinkIndex: lab.b.Attrs().Index, Dst: ipNet(labPool),
				Gw: net.IP(gateway.AsSlice()), Flags: int(netlink.FLAG_ONLINK)}),
			h.NeighSet(&netlink.Neigh{LinkIndex: lab.a.Attrs().Index, Family: netlink.FAMILY_V4,
				State: netlink.NUD_PERMANENT, IP: net.IP(labHost.AsSlice()), HardwareAddr: lab.hostMAC}),
			h.NeighSet(&netlink.Neigh{LinkIndex: lab.b.Attrs().Index, Family: netlink.FAMILY_V4,
				State: netlink.NUD_PERMANENT, IP: net.IP(gateway.AsSlice()), HardwareAddr: lab.gatewayMAC}),
		} {
			if step != nil {
				return step
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

// load loads the program with the given links in its map.
func (lab *fastPathLab) load(t *testing.T, links ...netlink.Link) *ebpf.Program {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, l := range links {
		if err := m.Put(uint32(l.Attrs().Index), uint8(1)); err != nil {
			t.Fatal(err)
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: fastPathProgram([][2]netip.Prefix{{labPool, labPool}, {labPool, labHostNet}, {labHostNet, labPool}}, m)})
	if err != nil {
		t.Fatalf("loading the fast path: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// run runs prog on frame as if it arrived on link in, and returns its verdict and the
// frame as the program left it.
func (lab *fastPathLab) run(t *testing.T, prog *ebpf.Program, in netlink.Link, frame []byte) (uint32, []byte) {
	t.Helper()
	skb := make([]byte, 192) // struct __sk_buff, with only the receiving link set
	binary.LittleEndian.PutUint32(skb[skbIfindex:], uint32(in.Attrs().Index))
	out := make([]byte, len(frame))
	var verdict uint32
	err := inNamespace(lab.fwd, func() (err error) {
		verdict, err = prog.Run(&ebpf.RunOptions{Data: frame, DataOut: out, Context: skb})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return verdict, out
}

// testFrame is an Ethernet frame to dst's MAC with an IPv4 header (valid checksum) and
// 20 bytes of TCP after it.
func testFrame(dstMAC net.HardwareAddr, src, dst string, ttl byte) []byte {
	f := make([]byte, ethHeaderLen+ipv4HeaderLen+20)
	copy(f, dstMAC)
	copy(f[6:], net.HardwareAddr{2, 0, 0, 0, 0, 0xee})
	binary.BigEndian.PutUint16(f[frameEtherType:], unix.ETH_P_IP)
	ip := f[ethHeaderLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], ipv4HeaderLen+20)
	ip[8], ip[9] = ttl, unix.IPPROTO_TCP
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], internetChecksum(ip[:ipv4HeaderLen]))
	return f
}

const tcActRedirect = 7

func TestFastPathForwardsWhatTheForwardChainAllows(t *testing.T) {
	lab := newFastPathLab(t)
	prog := lab.load(t, lab.a, lab.b)
	aMAC, bMAC := lab.a.Attrs().HardwareAddr, lab.b.Attrs().HardwareAddr
	for _, c := range []struct {
		name             string
		in               netlink.Link
		src, dst         string
		ttl              byte
		wantDst, wantSrc net.HardwareAddr // nil: not forwarded
	}{
		{"host to the pool", lab.a, "192.0.2.2", "198.18.0.5", 64, lab.gatewayMAC, bMAC},
		{"the pool to the host", lab.b, "198.18.0.5", "192.0.2.2", 64, lab.hostMAC, aMAC},
		{"pool to pool", lab.b, "198.18.0.6", "198.18.0.5", 2, lab.gatewayMAC, bMAC},
		{"TTL 1 (the stack answers)", lab.a, "192.0.2.2", "198.18.0.5", 1, nil, nil},
		{"from outside the pool and the host", lab.b, "203.0.113.1", "198.18.0.5", 64, nil, nil},
		{"from the host, not to the pool", lab.a, "192.0.2.2", "203.0.113.9", 64, nil, nil},
		{"from the pool, not to the host or the pool", lab.b, "198.18.0.5", "10.0.0.1", 64, nil, nil},
		{"to the namespace itself", lab.b, "198.18.0.5", "192.0.2.1", 64, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := testFrame(c.in.Attrs().HardwareAddr, c.src, c.dst, c.ttl)
			verdict, out := lab.run(t, prog, c.in, in)
			if c.wantDst == nil {
				if verdict != tcActOK || !bytes.Equal(out, in) {
					t.Fatalf("verdict %d, frame changed %v; want %d (to the stack), unchanged", verdict, !bytes.Equal(out, in), tcActOK)
				}
				return
			}
			if verdict != tcActRedirect {
				t.Fatalf("verdict %d, want %d (redirected)", verdict, tcActRedirect)
			}
			if !bytes.Equal(out[0:6], c.wantDst) || !bytes.Equal(out[6:12], c.wantSrc) {
				t.Errorf("MACs %v → %v, want %v → %v", net.HardwareAddr(out[6:12]), net.HardwareAddr(out[0:6]), c.wantSrc, c.wantDst)
			}
			ip := out[ethHeaderLen : ethHeaderLen+ipv4HeaderLen]
			if ip[8] != c.ttl-1 {
				t.Errorf("TTL %d, want %d", ip[8], c.ttl-1)
			}
			if sum := internetChecksum(ip); sum != 0 {
				t.Errorf("header checksum wrong after the TTL changed: checksum over the header %#04x", sum)
			}
			if !bytes.Equal(out[ethHeaderLen+ipv4HeaderLen:], in[ethHeaderLen+ipv4HeaderLen:]) ||
				!bytes.Equal(ip[12:20], in[ethHeaderLen+12:ethHeaderLen+20]) {
				t.Error("the addresses or the payload changed")
			}
		})
	}
}

func TestFastPathDeliversOnlyThroughItsLinks(t *testing.T) {
	lab := newFastPathLab(t)
	prog := lab.load(t, lab.a) // b is not ours: a packet leaving by it goes to the stack
	in := testFrame(lab.a.Attrs().HardwareAddr, "192.0.2.2", "198.18.0.5", 64)
	if verdict, out := lab.run(t, prog, lab.a, in); verdict != tcActOK || !bytes.Equal(out, in) {
		t.Fatalf("verdict %d; want %d, the frame unchanged", verdict, tcActOK)
	}
	// Nor without the neighbour: the stack resolves it.
	if err := withHandle(lab.fwd, func(h *netlink.Handle) error {
		return h.NeighDel(&netlink.Neigh{LinkIndex: lab.a.Attrs().Index, Family: netlink.FAMILY_V4,
			IP: net.IP(labHost.AsSlice())})
	}); err != nil {
		t.Fatal(err)
	}
	prog = lab.load(t, lab.a, lab.b)
	in = testFrame(lab.b.Attrs().HardwareAddr, "198.18.0.5", "192.0.2.2", 64)
	if verdict, _ := lab.run(t, prog, lab.b, in); verdict != tcActOK {
		t.Fatalf("verdict %d without a neighbour; want %d", verdict, tcActOK)
	}
}

// TestFastPathCarriesTheNATGatewaysTraffic: a private instance's UDP and TCP to the
// host pass the inet namespace without its IP stack (its forwarding counter stays
// still), and arrive with the TTL the stack would give them.
func TestFastPathCarriesTheNATGatewaysTraffic(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newNATVPC()
	v.apply()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.hostAddr(), 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTTL, 1) })
	if err != nil {
		t.Fatal(err)
	}
	to := netip.MustParseAddrPort(conn.LocalAddr().String())
	// receiveTTL sends one datagram from the private instance and returns its TTL on arrival.
	receiveTTL := func() int {
		t.Helper()
		if err := inNamespace(v.private.netns, func() error {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("ttl?"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf, oob := make([]byte, 64), make([]byte, 64)
		_, oobn, _, from, err := conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		if from.Addr() != v.eip {
			t.Fatalf("datagram from %v, want the NAT gateway's Elastic IP %v", from.Addr(), v.eip)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 || len(msgs[0].Data) < 4 {
			t.Fatalf("no TTL with the datagram: %v %v", msgs, err)
		}
		return int(binary.NativeEndian.Uint32(msgs[0].Data))
	}
	server := netip.AddrPortFrom(f.hostAddr(), 7100)
	seen := listenAt(t, "", server)
	// The first exchange resolves the inet namespace's neighbours, through its stack.
	receiveTTL()
	mustReach(t, v.private.netns, server, seen, v.eip)
	before := f.inetForwarded()
	if ttl := receiveTTL(); ttl != 62 {
		t.Errorf("TTL %d on arrival, want 62: 64 less the router and the inet namespace", ttl)
	}
	for range 20 {
		mustReach(t, v.private.netns, server, seen, v.eip)
	}
	if n := f.inetForwarded() - before; n != 0 {
		t.Errorf("the inet namespace's stack forwarded %d packets; want all on the fast path", n)
	}
}

// inetForwarded is the inet namespace's count of packets its IP stack forwarded.
func (f *fixture) inetForwarded() int {
	f.t.Helper()
	var n int
	err := inNamespace(f.n.inetNamespace(), func() error {
		b, err := os.ReadFile("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		var names []string
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || fields[0] != "Ip:" {
				continue
			}
			if names == nil {
				names = fields
				continue
			}
			for i, name := range names {
				if name == "ForwDatagrams" && i < len(fields) {
					n, err = strconv.Atoi(fields[i])
					return err
				}
			}
		}
		return errors.New("no Ip: ForwDatagrams in snmp")
	})
	if err != nil {
		f.t.Fatal(fmt.Errorf("reading the inet namespace's counters: %w", err))
	}
	return n
}

// TestFastPathIsRebuiltOnOpen: a restarted strato (Open on the same wiring) puts a new
// program on every inet link, the old one's filters replaced, not doubled; a VPC's removal
// leaves the remaining links theirs.
func TestFastPathIsRebuiltOnOpen(t *testing.T) {
	f := newFixture(t, nil)
	v := f.newNATVPC()
	v.apply()
	before := fastPathFilters(t, f.n.inetNamespace())
	if len(before) != 2 { // the host link and the VPC's uplink
		t.Fatalf("fast path on %d links (%v), want 2", len(before), before)
	}
	f.restart()
	v.apply()
	after := fastPathFilters(t, f.n.inetNamespace())
	if len(after) != len(before) {
		t.Fatalf("after Open: fast path on %v, before on %v", after, before)
	}
	for link, id := range after {
		if id == before[link] {
			t.Errorf("%s kept program %d: not rebuilt", link, id)
		}
	}
	server := netip.AddrPortFrom(f.hostAddr(), 7101)
	seen := listenAt(t, "", server)
	mustReach(t, v.private.netns, server, seen, v.eip)
	forwarded := f.inetForwarded()
	for range 5 {
		mustReach(t, v.private.netns, server, seen, v.eip)
	}
	if d := f.inetForwarded() - forwarded; d != 0 {
		t.Errorf("after Open the inet namespace's stack forwarded %d packets", d)
	}

	// A second VPC's uplink gets the fast path; removing that VPC leaves the others theirs.
	other := f.newVPC("10.9.0.0/16")
	other.attachIGW()
	other.addSubnet("a", "10.9.1.0/24", "main")
	other.plug("a", "10.9.1.10")
	other.apply()
	if got := fastPathFilters(t, f.n.inetNamespace()); len(got) != 3 {
		t.Fatalf("with a second VPC: fast path on %v, want 3 links", got)
	}
	if err := f.n.RemoveVPC(f.ctx, other.policy.ID); err != nil {
		t.Fatal(err)
	}
	if got := fastPathFilters(t, f.n.inetNamespace()); len(got) != 2 {
		t.Fatalf("after removing the second VPC: fast path on %v, want 2 links", got)
	}
	mustReach(t, v.private.netns, server, seen, v.eip)
}

// fastPathFilters maps each link of the namespace at path that has the fast path's
// filter on its ingress to the filter's program ID.
func fastPathFilters(t *testing.T, path string) map[string]int {
	t.Helper()
	found := map[string]int{}
	err := withHandle(path, func(h *netlink.Handle) error {
		links, err := h.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			filters, err := h.FilterList(l, netlink.HANDLE_MIN_INGRESS)
			if err != nil {
				return fmt.Errorf("filters of %s: %w", l.Attrs().Name, err)
			}
			for _, fl := range filters {
				if b, ok := fl.(*netlink.BpfFilter); ok && b.Name == fastPathFilterName {
					if _, dup := found[l.Attrs().Name]; dup {
						return fmt.Errorf("%s has the fast path twice", l.Attrs().Name)
					}
					found[l.Attrs().Name] = b.Id
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
