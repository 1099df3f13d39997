package vpcnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"strato/internal/netpolicy"
)

// dnsPolicy is a VPC of 10.0.0.0/16 whose resolver answers records, with one
// interface (10.0.1.5, see plugDNSClient) that the filter lets do anything: only the
// resolver is under test.
func dnsPolicy(vpc string, support bool, records ...netpolicy.DNSRecord) netpolicy.VPC {
	const group, subnet = "sg-0d45d45d45d45d45d", "subnet-0d45d45d45d45d45d"
	return netpolicy.VPC{ID: vpc, Region: "us-east-1", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		Subnets: []netpolicy.Subnet{{ID: subnet, CIDR: subnet1, NetworkACL: testACL}},
		Interfaces: []netpolicy.Interface{{ID: dnsClientENI(vpc), SubnetID: subnet, Kind: netpolicy.InterfaceInstance,
			Addresses: []netip.Addr{dnsClientAddr}, SecurityGroups: []string{group}, SourceDestCheck: true}},
		SecurityGroups: []netpolicy.SecurityGroup{{ID: group, Ingress: allowEverything(), Egress: allowEverything()}},
		NetworkACLs:    []netpolicy.NetworkACL{aclAllowAll(testACL)},
		DNS: netpolicy.DNS{Support: support, Hostnames: true, DomainName: "ec2.internal corp.example",
			NameServers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Records: records}}
}

// dnsClientAddr is the address of the instance that asks the resolver.
var dnsClientAddr = netip.MustParseAddr("10.0.1.5")

// dnsClientENI is the ID of the asking instance's interface in vpc: one per VPC, so the
// policy can name it before it is plugged.
func dnsClientENI(vpc string) string { return "eni-" + strings.TrimPrefix(vpc, "vpc-") }

// plugDNSClient plugs the asking instance (dnsPolicy's interface) into vpc.
func (f *fixture) plugDNSClient(vpc string) *instance {
	f.t.Helper()
	return f.plugInstanceWithInterface(vpc, dnsClientENI(vpc), subnet1, dnsClientAddr)
}

func record(name, addr string) netpolicy.DNSRecord {
	return netpolicy.DNSRecord{Name: name, Addr: netip.MustParseAddr(addr)}
}

// query asks server (UDP, or TCP when tcp is set) from inside the namespace at netns,
// and says how long the exchange took.
func query(t *testing.T, netns string, server netip.Addr, tcp bool, name string, qtype uint16) (*dns.Msg, time.Duration, error) {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), qtype)
	var resp *dns.Msg
	var took time.Duration
	err := inNamespace(netns, func() error {
		start := time.Now()
		var err error
		resp, _, err = c.Exchange(req, netip.AddrPortFrom(server, 53).String())
		took = time.Since(start)
		return err
	})
	return resp, took, err
}

// mustAnswer checks a query's rcode and the addresses (A) or names (PTR) it answers.
func mustAnswer(t *testing.T, netns string, server netip.Addr, tcp bool, name string, qtype uint16, rcode int, want ...string) {
	t.Helper()
	resp, took, err := query(t, netns, server, tcp, name, qtype)
	if err != nil {
		t.Fatalf("%s %s @%v (tcp %v): %v", dns.TypeToString[qtype], name, server, tcp, err)
	}
	var got []string
	for _, rr := range resp.Answer {
		if rr.Header().Ttl != dnsTTL {
			t.Errorf("%s: TTL %d, want %d", name, rr.Header().Ttl, dnsTTL)
		}
		switch rr := rr.(type) {
		case *dns.A:
			got = append(got, rr.A.String())
		case *dns.PTR:
			got = append(got, rr.Ptr)
		}
	}
	if resp.Rcode != rcode || len(got) != len(want) || (len(want) > 0 && got[0] != want[0]) {
		t.Fatalf("%s %s @%v: %s %q, want %s %q", dns.TypeToString[qtype], name, server,
			dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[rcode], want)
	}
	if !resp.RecursionAvailable || resp.Authoritative {
		t.Errorf("%s: flags ra=%v aa=%v, want ra and not aa (as Route 53 Resolver)", name, resp.RecursionAvailable, resp.Authoritative)
	}
	if took > 100*time.Millisecond {
		t.Errorf("%s @%v took %v", name, server, took)
	}
}

var (
	resolverBase = netip.MustParseAddr("10.0.0.2")
	subnet1      = netip.MustParsePrefix("10.0.1.0/24")
)

// From an instance, both resolver addresses answer over UDP and TCP: private and public
// names (the private address), PTR, NODATA for AAAA, NXDOMAIN for unknown names of the
// VPC's domains, and a quick SERVFAIL for the rest of the world.
func TestResolverAnswersInstances(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	policy := dnsPolicy(vpc, true,
		record("ip-10-0-1-5.ec2.internal", "10.0.1.5"),
		record("ec2-198-18-0-5.compute-1.amazonaws.com", "10.0.1.5"),
		record("ip-10-0-1-6.ec2.internal", "10.0.1.6"))
	if err := f.n.SetVPC(f.ctx, policy); err != nil {
		t.Fatal(err)
	}
	inst := f.plugDNSClient(vpc)
	for _, server := range []netip.Addr{resolverBase, resolverLinkLocal} {
		for _, tcp := range []bool{false, true} {
			mustAnswer(t, inst.netns, server, tcp, "ip-10-0-1-6.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.6")
			mustAnswer(t, inst.netns, server, tcp, "IP-10-0-1-6.EC2.Internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.6")
			mustAnswer(t, inst.netns, server, tcp, "ec2-198-18-0-5.compute-1.amazonaws.com", dns.TypeA, dns.RcodeSuccess, "10.0.1.5")
			mustAnswer(t, inst.netns, server, tcp, "6.1.0.10.in-addr.arpa", dns.TypePTR, dns.RcodeSuccess, "ip-10-0-1-6.ec2.internal.")
			mustAnswer(t, inst.netns, server, tcp, "ip-10-0-1-6.ec2.internal", dns.TypeAAAA, dns.RcodeSuccess)
			mustAnswer(t, inst.netns, server, tcp, "ip-10-0-9-9.ec2.internal", dns.TypeA, dns.RcodeNameError)
			mustAnswer(t, inst.netns, server, tcp, "nothing.corp.example", dns.TypeA, dns.RcodeNameError)
			mustAnswer(t, inst.netns, server, tcp, "ip-10-0-9-9.us-west-2.compute.internal", dns.TypeA, dns.RcodeNameError)
			mustAnswer(t, inst.netns, server, tcp, "9.9.0.10.in-addr.arpa", dns.TypePTR, dns.RcodeNameError)
			mustAnswer(t, inst.netns, server, tcp, "example.com", dns.TypeA, dns.RcodeServerFailure)
		}
	}
}

// enableDnsSupport off: the resolver's addresses answer nothing, at once.
func TestResolverSupportOffFailsFast(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc, true, record("ip-10-0-1-6.ec2.internal", "10.0.1.6"))); err != nil {
		t.Fatal(err)
	}
	inst := f.plugDNSClient(vpc)
	mustAnswer(t, inst.netns, resolverBase, false, "ip-10-0-1-6.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.6")
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc, false, record("ip-10-0-1-6.ec2.internal", "10.0.1.6"))); err != nil {
		t.Fatal(err)
	}
	for _, server := range []netip.Addr{resolverBase, resolverLinkLocal} {
		for _, tcp := range []bool{false, true} {
			_, took, err := query(t, inst.netns, server, tcp, "ip-10-0-1-6.ec2.internal", dns.TypeA)
			if err == nil {
				t.Fatalf("@%v (tcp %v) answered with support off", server, tcp)
			}
			if took > 100*time.Millisecond {
				t.Errorf("@%v (tcp %v) failed after %v (%v), want at once", server, tcp, took, err)
			}
		}
	}
	// On again: the same addresses serve again.
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc, true, record("ip-10-0-1-6.ec2.internal", "10.0.1.6"))); err != nil {
		t.Fatal(err)
	}
	mustAnswer(t, inst.netns, resolverLinkLocal, false, "ip-10-0-1-6.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.6")
}

// A second SetVPC changes the answers under the running resolver: a TCP connection
// opened before it gets the new answers on the same connection.
func TestResolverUpdatesWithoutRestart(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc, true, record("web.ec2.internal", "10.0.1.6"))); err != nil {
		t.Fatal(err)
	}
	inst := f.plugDNSClient(vpc)
	var conn *dns.Conn
	if err := inNamespace(inst.netns, func() error {
		var err error
		conn, err = dns.DialTimeout("tcp", netip.AddrPortFrom(resolverBase, 53).String(), 2*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := func(name string) *dns.Msg {
		t.Helper()
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if err := conn.WriteMsg(req); err != nil {
			t.Fatal(err)
		}
		resp, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := ask("web.ec2.internal."); len(resp.Answer) != 1 {
		t.Fatalf("before the update: %v", resp)
	}
	before := f.n.resolvers[vpc]
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc, true, record("db.ec2.internal", "10.0.1.7"))); err != nil {
		t.Fatal(err)
	}
	if f.n.resolvers[vpc] != before {
		t.Fatal("the resolver was replaced; it should only have new records")
	}
	if resp := ask("db.ec2.internal."); len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "10.0.1.7" {
		t.Fatalf("after the update, db: %v", resp)
	}
	if resp := ask("web.ec2.internal."); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("after the update, web: %v", resp)
	}
}

// Two VPCs with the same CIDR each hear their own resolver at the same addresses.
func TestResolverPerVPC(t *testing.T) {
	f := newFixture(t, nil)
	vpc1, vpc2 := newID(t, "vpc"), newID(t, "vpc")
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc1, true, record("db.ec2.internal", "10.0.1.7"), record("only1.ec2.internal", "10.0.1.8"))); err != nil {
		t.Fatal(err)
	}
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc2, true, record("db.ec2.internal", "10.0.1.9"))); err != nil {
		t.Fatal(err)
	}
	a := f.plugDNSClient(vpc1)
	b := f.plugDNSClient(vpc2)
	mustAnswer(t, a.netns, resolverBase, false, "db.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.7")
	mustAnswer(t, b.netns, resolverBase, false, "db.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.9")
	mustAnswer(t, a.netns, resolverLinkLocal, true, "only1.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.8")
	mustAnswer(t, b.netns, resolverLinkLocal, true, "only1.ec2.internal", dns.TypeA, dns.RcodeNameError)
	// Removing one VPC leaves the other's resolver serving.
	if err := f.n.RemoveVPC(f.ctx, vpc1); err != nil {
		t.Fatal(err)
	}
	mustAnswer(t, b.netns, resolverBase, false, "db.ec2.internal", dns.TypeA, dns.RcodeSuccess, "10.0.1.9")
	if _, ok := f.n.resolvers[vpc1]; ok {
		t.Fatal("the removed VPC's resolver is still running")
	}
}

// InstanceDNS gives what the DHCP options say, once the VPC's policy is known.
func TestInstanceDNS(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	done := make(chan error, 1)
	var servers []netip.Addr
	var search []string
	go func() {
		var err error
		servers, search, err = f.n.InstanceDNS(f.ctx, vpc)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the policy arrives after the question
	if err := f.n.SetVPC(f.ctx, dnsPolicy(vpc, true)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 || servers[0] != resolverBase || len(search) != 2 || search[0] != "ec2.internal" || search[1] != "corp.example" {
		t.Fatalf("InstanceDNS = %v %q", servers, search)
	}
}

// BenchmarkResolver measures UDP queries per second to a resolver in a namespace, from
// a client in the same namespace (the resolver's own cost, plus loopback).
func BenchmarkResolver(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (a network namespace)")
	}
	ns := filepath.Join(b.TempDir(), "bench-ns")
	if err := ensureNamespace(ns); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeNamespace(ns) })
	policy := dnsPolicy("vpc-bench", true, record("ip-10-0-1-6.ec2.internal", "10.0.1.6"))
	if err := addResolverAddrs(ns, resolverAddrs(&policy)); err != nil {
		b.Fatal(err)
	}
	r, err := startResolver(ns, policy.ID, resolverAddrs(&policy), newDNSZone(&policy))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.stop)
	var conn *dns.Conn
	if err := inNamespace(ns, func() error {
		var err error
		conn, err = dns.Dial("udp", netip.AddrPortFrom(resolverBase, 53).String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := new(dns.Msg)
	req.SetQuestion("ip-10-0-1-6.ec2.internal.", dns.TypeA)
	start := time.Now()
	for b.Loop() {
		conn.SetDeadline(time.Now().Add(time.Second))
		if err := conn.WriteMsg(req); err != nil {
			b.Fatal(err)
		}
		resp, err := conn.ReadMsg()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				b.Fatal("a query got no answer")
			}
			b.Fatal(err)
		}
		if len(resp.Answer) != 1 {
			b.Fatalf("answer %v", resp)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "queries/s")
}
