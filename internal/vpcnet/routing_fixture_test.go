package vpcnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"strato/internal/netpolicy"
)

// testVPC builds a VPC's policy for routing tests: subnets with route tables by name,
// interfaces plugged as they are added, and a filter part that allows everything (one
// security group and one network ACL that pass all), so the tests see routing alone.
type testVPC struct {
	f      *fixture
	policy netpolicy.VPC
	tables map[string]string // route table name → ID
	subnet map[string]netpolicy.Subnet
}

const (
	allowAllGroup = "sg-0a110a110a110a110"
	allowAllACL   = "acl-0a110a110a110a110"
)

func (f *fixture) newVPC(cidrs ...string) *testVPC {
	v := &testVPC{f: f, tables: map[string]string{}, subnet: map[string]netpolicy.Subnet{}}
	v.policy.ID = newID(f.t, "vpc")
	for _, c := range cidrs {
		v.policy.CIDRs = append(v.policy.CIDRs, netip.MustParsePrefix(c))
	}
	v.policy.SecurityGroups = []netpolicy.SecurityGroup{{ID: allowAllGroup, Ingress: allowEverything(), Egress: allowEverything()}}
	v.policy.NetworkACLs = []netpolicy.NetworkACL{aclAllowAll(allowAllACL)}
	v.policy.Public = map[netip.Addr]netip.Addr{}
	return v
}

// attachIGW attaches an internet gateway and returns its ID.
func (v *testVPC) attachIGW() string {
	v.policy.InternetGateway = newID(v.f.t, "igw")
	return v.policy.InternetGateway
}

// routes sets the routes of the route table called name (made if new).
func (v *testVPC) routes(name string, routes ...netpolicy.Route) {
	id, ok := v.tables[name]
	if !ok {
		id = newID(v.f.t, "rtb")
		v.tables[name] = id
		v.policy.RouteTables = append(v.policy.RouteTables, netpolicy.RouteTable{ID: id})
	}
	for i := range v.policy.RouteTables {
		if v.policy.RouteTables[i].ID == id {
			v.policy.RouteTables[i].Routes = routes
		}
	}
}

// addSubnet adds a subnet associated with the route table called table.
func (v *testVPC) addSubnet(name, cidr, table string) {
	v.routesIfMissing(table)
	s := netpolicy.Subnet{ID: newID(v.f.t, "subnet"), CIDR: netip.MustParsePrefix(cidr),
		NetworkACL: allowAllACL, RouteTable: v.tables[table]}
	v.subnet[name] = s
	v.policy.Subnets = append(v.policy.Subnets, s)
}

func (v *testVPC) routesIfMissing(name string) {
	if _, ok := v.tables[name]; !ok {
		v.routes(name)
	}
}

// plug plugs an instance with address ip into the subnet called subnet, and adds its
// interface to the policy (source/dest check on).
func (v *testVPC) plug(subnet, ip string) *instance {
	s := v.subnet[subnet]
	inst := v.f.plugInstance(v.policy.ID, s.CIDR, netip.MustParseAddr(ip))
	v.policy.Interfaces = append(v.policy.Interfaces, netpolicy.Interface{
		ID: inst.eni, SubnetID: s.ID, Kind: netpolicy.InterfaceInstance,
		Addresses: []netip.Addr{inst.ip}, SecurityGroups: []string{allowAllGroup},
		SourceDestCheck: true, InstanceID: inst.id,
	})
	return inst
}

// addNAT adds an available NAT gateway in the subnet called subnet with private address
// ip and an Elastic IP of the pool; it returns the NAT gateway's ID and Elastic IP.
func (v *testVPC) addNAT(subnet, ip string, eip netip.Addr) string {
	s := v.subnet[subnet]
	nat := netpolicy.NATGateway{ID: newID(v.f.t, "nat"), SubnetID: s.ID, InterfaceID: newID(v.f.t, "eni"),
		PrivateIP: netip.MustParseAddr(ip), PublicIP: eip}
	v.policy.NATGateways = append(v.policy.NATGateways, nat)
	v.policy.Interfaces = append(v.policy.Interfaces, netpolicy.Interface{
		ID: nat.InterfaceID, SubnetID: s.ID, Kind: netpolicy.InterfaceNATGateway,
		Addresses: []netip.Addr{nat.PrivateIP},
	})
	v.policy.Public[eip] = nat.PrivateIP
	return nat.ID
}

// natVPC is the VPC of the NAT gateway tests, its policy not applied yet: subnet
// "public" (10.0.1.0/24) routed to an internet gateway and publicRoutes, subnet "private"
// (10.0.2.0/24) whose default route is a NAT gateway at 10.0.1.100 in "public" with the
// Elastic IP f.publicAddr(5), and an instance at 10.0.2.10 in "private".
type natVPC struct {
	*testVPC
	nat     string
	eip     netip.Addr
	private *instance
}

func (f *fixture) newNATVPC(publicRoutes ...netpolicy.Route) natVPC {
	v := f.newVPC("10.0.0.0/16")
	igw := v.attachIGW()
	v.routes("public", append([]netpolicy.Route{route("0.0.0.0/0", netpolicy.TargetInternetGateway, igw)}, publicRoutes...)...)
	v.addSubnet("public", "10.0.1.0/24", "public")
	v.addSubnet("private", "10.0.2.0/24", "private")
	eip := f.publicAddr(5)
	nat := v.addNAT("public", "10.0.1.100", eip)
	v.routes("private", route("0.0.0.0/0", netpolicy.TargetNATGateway, nat))
	return natVPC{testVPC: v, nat: nat, eip: eip, private: v.plug("private", "10.0.2.10")}
}

// interfaceOf is the policy's entry for an instance's interface.
func (v *testVPC) iface(inst *instance) *netpolicy.Interface {
	for i := range v.policy.Interfaces {
		if v.policy.Interfaces[i].ID == inst.eni {
			return &v.policy.Interfaces[i]
		}
	}
	v.f.t.Fatalf("%s is not in the policy", inst.eni)
	return nil
}

func (v *testVPC) apply() {
	v.f.t.Helper()
	if err := v.f.n.SetVPC(v.f.ctx, v.policy); err != nil {
		v.f.t.Fatalf("SetVPC: %v", err)
	}
}

func route(dst string, target, id string) netpolicy.Route {
	return netpolicy.Route{Destination: netip.MustParsePrefix(dst), Target: target, TargetID: id}
}

// publicAddr is the pool's i-th address.
func (f *fixture) publicAddr(i int) netip.Addr {
	a := f.opts.PublicPool.Addr()
	for range i {
		a = a.Next()
	}
	return a
}

// hostAddr is the host's address on the host link: "the internet" as the tests see it.
func (f *fixture) hostAddr() netip.Addr {
	host, _ := hostLinkAddrs(f.opts.Prefix)
	return host.Addr()
}

// listenAt listens at addr:port in the namespace at netns ("" for the test's own) and
// answers as listenTCP does.
func listenAt(t testing.TB, netns string, at netip.AddrPort) <-chan netip.Addr {
	t.Helper()
	var ln net.Listener
	listen := func() error {
		var err error
		ln, err = net.Listen("tcp4", at.String())
		return err
	}
	var err error
	if netns == "" {
		err = listen()
	} else {
		err = inNamespace(netns, listen)
	}
	if err != nil {
		t.Fatalf("listening at %v in %s: %v", at, nsLabel(netns), err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan netip.Addr, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write([]byte("hello\n"))
			c.Close()
			select {
			case seen <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap():
			default:
			}
		}
	}()
	return seen
}

// mustBeDropped checks a connection fails by timing out: dropped silently, not refused
// and not answered by an ICMP error.
func mustBeDropped(t *testing.T, from string, to netip.AddrPort) {
	t.Helper()
	err := dialFrom(from, to, time.Second)
	if err == nil {
		t.Fatalf("connecting to %v from %s worked; it must not", to, nsLabel(from))
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connecting to %v from %s: %v; want a silent drop (a timeout)", to, nsLabel(from), err)
	}
}

// nothingSeen checks a listener saw no connection.
func nothingSeen(t *testing.T, seen <-chan netip.Addr, what string) {
	t.Helper()
	select {
	case got := <-seen:
		t.Fatalf("%s saw a connection from %v", what, got)
	default:
	}
}

func (v *testVPC) String() string { return fmt.Sprintf("%s %v", v.policy.ID, v.policy.CIDRs) }

// internetPolicy is the policy of a VPC whose instances are all in public subnets: an
// internet gateway, one route table with 0.0.0.0/0 → igw for every subnet (each
// instance's /24), the instances' /16s as the VPC's CIDRs, a filter that allows
// everything, and public the public addresses.
func internetPolicy(vpc string, public map[netip.Addr]netip.Addr, insts ...*instance) netpolicy.VPC {
	const igw, rtb = "igw-0123456789abcdef0", "rtb-0123456789abcdef0"
	p := allowAll(vpc, insts...)
	p.InternetGateway = igw
	p.RouteTables = []netpolicy.RouteTable{{ID: rtb, Routes: []netpolicy.Route{
		{Destination: everywhere, Target: netpolicy.TargetInternetGateway, TargetID: igw}}}}
	for i := range p.Subnets {
		p.Subnets[i].RouteTable = rtb
	}
	for _, inst := range insts {
		if cidr := netip.PrefixFrom(inst.ip, 16).Masked(); !slices.Contains(p.CIDRs, cidr) {
			p.CIDRs = append(p.CIDRs, cidr)
		}
	}
	p.Public = public
	return p
}
