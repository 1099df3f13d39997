package vpcnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// BenchmarkRoutingThroughput moves a bounded amount of TCP data (benchBytes per
// iteration) between network namespaces: two plain namespaces joined by one veth pair
// (the baseline), two instances of one subnet, two instances of different subnets, and a
// private instance sending to the host through a NAT gateway. The ratio of each to the
// baseline is the figure that matters (go test -bench RoutingThroughput -count 5, then
// the medians).
//
//	sudo go test ./internal/vpcnet -run '^$' -bench RoutingThroughput -count 5 -benchtime 1x
func BenchmarkRoutingThroughput(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (network namespaces)")
	}
	bn := newBenchNetwork(b)
	from, to := bn.vethPair(b)
	b.Run("veth-pair", func(b *testing.B) {
		benchTransfer(b, from, netip.AddrPortFrom(to.addr, 5001), to.ns)
	})
	v := bn.vpc(b)
	a := bn.plug(b, v, "10.0.1.10", "10.0.1.0/24")
	same := bn.plug(b, v, "10.0.1.11", "10.0.1.0/24")
	other := bn.plug(b, v, "10.0.2.10", "10.0.2.0/24")
	priv := bn.plug(b, v, "10.0.3.10", "10.0.3.0/24")
	bn.apply(b, v)
	b.Run("same-subnet", func(b *testing.B) {
		benchTransfer(b, a.netns, netip.AddrPortFrom(same.ip, 5001), same.netns)
	})
	b.Run("across-subnets", func(b *testing.B) {
		benchTransfer(b, a.netns, netip.AddrPortFrom(other.ip, 5001), other.netns)
	})
	b.Run("nat-gateway", func(b *testing.B) {
		host, _ := hostLinkAddrs(bn.n.opts.Prefix)
		benchTransfer(b, priv.netns, netip.AddrPortFrom(host.Addr(), 5001), "")
	})
}

const benchBytes = 200 << 20

type benchNetwork struct {
	n      *Network
	ctx    context.Context
	prefix string
}

type benchEnd struct {
	ns   string
	addr netip.Addr
}

func newBenchNetwork(b *testing.B) *benchNetwork {
	suffix := make([]byte, 2)
	rand.Read(suffix)
	opts := Options{Prefix: "sb" + hex.EncodeToString(suffix), RunDir: b.TempDir(),
		PublicPool: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + suffix[0]&1, suffix[1], 0}), 24)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	n, err := Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := n.Destroy(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return &benchNetwork{n: n, ctx: ctx, prefix: opts.Prefix}
}

// vethPair is the baseline: two namespaces and one veth pair, nothing else.
func (bn *benchNetwork) vethPair(b *testing.B) (string, benchEnd) {
	left, right := bn.n.nsPath("bench-l"), bn.n.nsPath("bench-r")
	for _, ns := range []string{left, right} {
		if err := ensureNamespace(ns); err != nil {
			b.Fatal(err)
		}
	}
	if err := withHandle(left, func(h *netlink.Handle) error {
		l, err := addVeth(h, "eth0", right, "eth0", nil)
		if err != nil {
			return err
		}
		return configureBenchLink(h, l.Attrs().Name, "192.0.2.1/24")
	}); err != nil {
		b.Fatal(err)
	}
	if err := withHandle(right, func(h *netlink.Handle) error { return configureBenchLink(h, "eth0", "192.0.2.2/24") }); err != nil {
		b.Fatal(err)
	}
	return left, benchEnd{ns: right, addr: netip.MustParseAddr("192.0.2.2")}
}

func configureBenchLink(h *netlink.Handle, name, cidr string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	if err := h.AddrReplace(l, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix(cidr))}); err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

// vpc makes a VPC with public subnets 10.0.1.0/24 and 10.0.2.0/24 and a private one,
// 10.0.3.0/24, that goes out through a NAT gateway in 10.0.1.0/24.
func (bn *benchNetwork) vpc(b *testing.B) *netpolicy.VPC {
	id := func(kind string) string {
		s := make([]byte, 9)
		rand.Read(s)
		return kind + "-" + hex.EncodeToString(s)[:17]
	}
	v := &netpolicy.VPC{ID: id("vpc"), CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		InternetGateway: id("igw"), Public: map[netip.Addr]netip.Addr{}}
	public, private := id("rtb"), id("rtb")
	nat := netpolicy.NATGateway{ID: id("nat"), InterfaceID: id("eni"), PrivateIP: netip.MustParseAddr("10.0.1.100"),
		PublicIP: bn.n.opts.PublicPool.Addr().Next()}
	v.RouteTables = []netpolicy.RouteTable{
		{ID: public, Routes: []netpolicy.Route{{Destination: everywhere, Target: netpolicy.TargetInternetGateway, TargetID: v.InternetGateway}}},
		{ID: private, Routes: []netpolicy.Route{{Destination: everywhere, Target: netpolicy.TargetNATGateway, TargetID: nat.ID}}},
	}
	for i, table := range []string{public, public, private} {
		v.Subnets = append(v.Subnets, netpolicy.Subnet{ID: fmt.Sprintf("subnet-%017d", i+1),
			CIDR: netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", i+1)), RouteTable: table})
	}
	nat.SubnetID = v.Subnets[0].ID
	v.NATGateways = []netpolicy.NATGateway{nat}
	v.Interfaces = append(v.Interfaces, netpolicy.Interface{ID: nat.InterfaceID, SubnetID: nat.SubnetID,
		Kind: netpolicy.InterfaceNATGateway, Addresses: []netip.Addr{nat.PrivateIP}})
	v.Public[nat.PublicIP] = nat.PrivateIP
	return v
}

func (bn *benchNetwork) plug(b *testing.B, v *netpolicy.VPC, ip, cidr string) *instance {
	s := make([]byte, 9)
	rand.Read(s)
	inst := &instance{id: "i-" + hex.EncodeToString(s)[:17], eni: "eni-" + hex.EncodeToString(s)[1:18], vpc: v.ID,
		ip: netip.MustParseAddr(ip)}
	path, err := bn.n.InstanceNetns(bn.ctx, inst.id)
	if err != nil {
		b.Fatal(err)
	}
	inst.netns = path
	subnet := netip.MustParsePrefix(cidr)
	if err := bn.n.PlugInterface(bn.ctx, inst.plug(subnet)); err != nil {
		b.Fatal(err)
	}
	for _, sn := range v.Subnets {
		if sn.CIDR == subnet {
			v.Interfaces = append(v.Interfaces, netpolicy.Interface{ID: inst.eni, SubnetID: sn.ID,
				Kind: netpolicy.InterfaceInstance, Addresses: []netip.Addr{inst.ip}, SourceDestCheck: true})
		}
	}
	return inst
}

func (bn *benchNetwork) apply(b *testing.B, v *netpolicy.VPC) {
	if err := bn.n.SetVPC(bn.ctx, *v); err != nil {
		b.Fatal(err)
	}
}

// benchTransfer sends benchBytes bytes per iteration from the namespace from (its
// source address chosen by routing) to a listener at to in the namespace toNS ("" for
// the test's own), and reports the rate.
func benchTransfer(b *testing.B, from string, to netip.AddrPort, toNS string) {
	var ln net.Listener
	listen := func() (err error) { ln, err = net.Listen("tcp4", to.String()); return err }
	var err error
	if toNS == "" {
		err = listen()
	} else {
		err = inNamespace(toNS, listen)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	received := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, err = io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
			c.Close()
			received <- err
		}
	}()
	chunk := make([]byte, 256<<10)
	b.SetBytes(benchBytes)
	b.ResetTimer()
	for range b.N {
		var c net.Conn
		if err := inNamespace(from, func() (err error) {
			c, err = net.DialTimeout("tcp4", to.String(), 5*time.Second)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < benchBytes; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if err := <-received; err != nil {
			b.Fatal(err)
		}
	}
}
