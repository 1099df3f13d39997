package vpcnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// The dataplane benchmarks run one workload over four paths and compare each with the
// first: two plain namespaces joined by one veth pair (the baseline), two instances of one
// subnet, two instances of different subnets, and a private instance reaching the host
// through a NAT gateway. The VPC's filter is the allow-all one of the routing tests (one
// security group and one network ACL that pass everything), so every packet goes through
// the rules a default VPC has.
//
// The ratio to the baseline is the figure that matters, and the machines these run on
// are shared: each iteration of a path runs the baseline too, just before (not timed),
// and the path reports the median of those paired ratios as "x-veth". Run -count 5 or
// more and take the medians.

// BenchmarkRoutingThroughput moves benchBytes of TCP data over one connection per
// iteration.
//
//	sudo go test ./internal/vpcnet -run '^$' -bench RoutingThroughput -count 5 -benchtime 1x
func BenchmarkRoutingThroughput(b *testing.B) {
	paths := newBenchPaths(b)
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(benchBytes)
			benchPaired(b, paths[0], p, transferWorkload)
		})
	}
}

// BenchmarkConnectionRate opens benchConnCount TCP connections per iteration, each
// sending one small request, reading one small answer and closing, benchConnWorkers at a
// time, and reports connections per second.
//
//	sudo go test ./internal/vpcnet -run '^$' -bench ConnectionRate -count 5 -benchtime 1x
func BenchmarkConnectionRate(b *testing.B) {
	paths := newBenchPaths(b)
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			elapsed := benchPaired(b, paths[0], p, connectionWorkload)
			b.ReportMetric(float64(b.N*benchConnCount)/elapsed.Seconds(), "conns/s")
		})
	}
}

// A workload sets up its server on a path and returns one run of it, which reports how
// long it took.
type workload func(b *testing.B, p benchPath) func() time.Duration

// benchPaired runs the workload b.N times on p, each time after one untimed run on the
// baseline (unless p is the baseline), reports the median ratio of the baseline's time to
// p's ("x-veth") and of the CPU time the process used for each ("cpu-x-veth": the
// workloads keep the CPUs busy, client, server and forwarding alike, so the two agree
// on a quiet machine, and the CPU ratio moves less when other work shares it), and
// returns p's total time.
func benchPaired(b *testing.B, baseline, p benchPath, w workload) time.Duration {
	run := w(b, p)
	var runBaseline func() time.Duration
	if p.name != baseline.name {
		runBaseline = w(b, baseline)
	}
	var total time.Duration
	var ratios, cpuRatios []float64
	b.ResetTimer()
	for range b.N {
		var base, baseCPU time.Duration
		if runBaseline != nil {
			b.StopTimer()
			c0 := cpuTime()
			base = runBaseline()
			baseCPU = cpuTime() - c0
			b.StartTimer()
		}
		c0 := cpuTime()
		took := run()
		tookCPU := cpuTime() - c0
		total += took
		if runBaseline != nil {
			ratios = append(ratios, base.Seconds()/took.Seconds())
			cpuRatios = append(cpuRatios, baseCPU.Seconds()/tookCPU.Seconds())
		}
	}
	if len(ratios) > 0 {
		slices.Sort(ratios)
		slices.Sort(cpuRatios)
		b.ReportMetric(ratios[len(ratios)/2], "x-veth")
		b.ReportMetric(cpuRatios[len(cpuRatios)/2], "cpu-x-veth")
	}
	return total
}

const (
	benchBytes       = 1 << 30
	benchConnCount   = 2000
	benchConnWorkers = 4
	benchMessage     = 64               // bytes of the request and of the answer
	benchDeadline    = 30 * time.Second // bounds one iteration of either benchmark
	benchPort        = 5001
)

// benchPath is one path of the benchmarks: a client in the namespace from, a server at to
// in the namespace toNS ("" for the test's own: the host).
type benchPath struct {
	name string
	from string
	to   netip.AddrPort
	toNS string
}

// newBenchPaths builds the four paths. The VPC has public subnets 10.0.1.0/24 and
// 10.0.2.0/24 and a private one, 10.0.3.0/24, that goes out through a NAT gateway in
// 10.0.1.0/24.
func newBenchPaths(b testing.TB) []benchPath {
	f := newFixture(b, nil)
	left, right := benchVethPair(b, f.n)

	v := f.newVPC("10.0.0.0/16")
	igw := v.attachIGW()
	v.routes("public", route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw))
	v.addSubnet("a", "10.0.1.0/24", "public")
	v.addSubnet("b", "10.0.2.0/24", "public")
	nat := v.addNAT("a", "10.0.1.100", f.publicAddr(1))
	v.routes("private", route("0.0.0.0/0", netpolicy.TargetNATGateway, nat))
	v.addSubnet("private", "10.0.3.0/24", "private")
	a := v.plug("a", "10.0.1.10")
	same := v.plug("a", "10.0.1.11")
	other := v.plug("b", "10.0.2.10")
	priv := v.plug("private", "10.0.3.10")
	v.apply()
	return []benchPath{
		{name: "veth-pair", from: left, to: netip.AddrPortFrom(benchRightAddr, benchPort), toNS: right},
		{name: "same-subnet", from: a.netns, to: netip.AddrPortFrom(same.ip, benchPort), toNS: same.netns},
		{name: "across-subnets", from: a.netns, to: netip.AddrPortFrom(other.ip, benchPort), toNS: other.netns},
		{name: "nat-gateway", from: priv.netns, to: netip.AddrPortFrom(f.hostAddr(), benchPort)},
	}
}

var benchRightAddr = netip.MustParseAddr("192.0.2.2")

// benchVethPair is the baseline: two namespaces and one veth pair, nothing else. They
// live in the Network's run directory, so Destroy removes them with the rest.
func benchVethPair(b testing.TB, n *Network) (left, right string) {
	left, right = n.nsPath("bench-l"), n.nsPath("bench-r")
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
	if err := withHandle(right, func(h *netlink.Handle) error {
		return configureBenchLink(h, "eth0", netip.PrefixFrom(benchRightAddr, 24).String())
	}); err != nil {
		b.Fatal(err)
	}
	return left, right
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

// benchListen listens at the path's server end until the benchmark ends and hands every
// connection to serve, on a goroutine of its own.
func benchListen(b testing.TB, p benchPath, serve func(net.Conn)) {
	var ln net.Listener
	listen := func() (err error) { ln, err = net.Listen("tcp4", p.to.String()); return err }
	var err error
	if p.toNS == "" {
		err = listen()
	} else {
		err = inNamespace(p.toNS, listen)
	}
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(benchDeadline))
				serve(c)
			})
		}
	})
}

// inBenchNamespace runs fn in the namespace ns ("" for the test's own).
func inBenchNamespace(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	return inNamespace(ns, fn)
}

// transferWorkload sends benchBytes over one new connection per run.
func transferWorkload(b *testing.B, p benchPath) func() time.Duration {
	received := make(chan error, 1)
	benchListen(b, p, func(c net.Conn) {
		_, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
		received <- err
	})
	chunk := make([]byte, 256<<10)
	return func() time.Duration {
		start := time.Now()
		var c net.Conn
		if err := inBenchNamespace(p.from, func() (err error) {
			c, err = net.DialTimeout("tcp4", p.to.String(), 5*time.Second)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(benchDeadline))
		for sent := 0; sent < benchBytes; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if err := <-received; err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
}

// connectionWorkload opens benchConnCount connections per run. The server answers and
// closes first, so TIME_WAIT stays on its side and the clients never run short of ports.
func connectionWorkload(b *testing.B, p benchPath) func() time.Duration {
	benchListen(b, p, func(c net.Conn) {
		buf := make([]byte, benchMessage)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write(buf)
	})
	return func() time.Duration {
		start := time.Now()
		if err := openConnections(p, benchConnCount, benchConnWorkers, time.Now().Add(benchDeadline)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
}

// openConnections makes count connections along p, workers at a time, each worker
// staying in the client's namespace (entering it is not part of the cost).
func openConnections(p benchPath, count, workers int, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var left atomic.Int64
	left.Store(int64(count))
	errs := make(chan error, workers)
	for range workers {
		go func() {
			errs <- inBenchNamespace(p.from, func() error {
				d := &net.Dialer{}
				request, answer := make([]byte, benchMessage), make([]byte, benchMessage)
				for left.Add(-1) >= 0 {
					if err := oneExchange(ctx, d, p.to, request, answer); err != nil {
						cancel()
						return err
					}
				}
				return nil
			})
		}()
	}
	var all []error
	for range workers {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// oneExchange connects, sends the request, reads the answer and the server's close.
func oneExchange(ctx context.Context, d *net.Dialer, to netip.AddrPort, request, answer []byte) error {
	c, err := d.DialContext(ctx, "tcp4", to.String())
	if err != nil {
		return err
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	}
	if _, err := c.Write(request); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, answer); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if n, err := c.Read(answer[:1]); n != 0 || err != io.EOF {
		return fmt.Errorf("after the answer: %d bytes, %v; want the server's close", n, err)
	}
	return nil
}

// cpuTime is the CPU time the process has used, user and system: the forwarding between
// namespaces runs in its threads' softirq context.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
