package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// A flow is one row of the connectivity matrix: a TCP connection, a UDP datagram or
// an ICMP echo from one end to another, and whether it must pass. An end is "host"
// (the operator's host, which is "the internet"), an instance's name ("web" is its
// private address, "web.public" its public one), or a name the test gives an address
// ("nat.eip", "eip"). The far end answers with its name and the source address it
// saw; seenAs, when set, names the end whose address that must be (what address
// translation did on the way).
type flow struct {
	from, to string
	proto    string // tcp, udp or icmp
	port     int    // 0 for icmp, and for the host's own listeners
	pass     bool
	seenAs   string
	by       string // the instance that must answer, for an end whose address moves
}

func (f flow) String() string {
	verdict := "drops"
	if f.pass {
		verdict = "passes"
	}
	port := ""
	if f.port != 0 {
		port = strconv.Itoa(f.port)
	}
	return fmt.Sprintf("%s_to_%s_%s%s_%s", f.from, f.to, f.proto, port, verdict)
}

// dataplane is the test's VPC with its instances.
type dataplane struct {
	*instanceCloud
	vms     map[string]*vm
	addrs   map[string]netip.Addr // other named ends
	hostTCP int                   // the host's listeners, on hostAddr
	hostUDP int
}

// end is the address of a named end.
func (d *dataplane) end(t *testing.T, name string) netip.Addr {
	t.Helper()
	if name == "host" {
		return d.hostAddr
	}
	base, public := strings.CutSuffix(name, ".public")
	if v := d.vms[base]; v != nil {
		if public {
			return v.public
		}
		return v.private
	}
	if a, ok := d.addrs[name]; ok {
		return a
	}
	t.Fatalf("no end called %q", name)
	return netip.Addr{}
}

// answerer is the name the far end answers with: the instance's host name, "host",
// or "" when the end is not a single instance (an Elastic IP that moves).
func (d *dataplane) answerer(name string) string {
	if name == "host" {
		return "host"
	}
	base, _ := strings.CutSuffix(name, ".public")
	if v := d.vms[base]; v != nil {
		return v.hostname
	}
	return ""
}

// probe sends the flow once, waiting at most timeout, and returns the far end's answer.
func (d *dataplane) probe(t *testing.T, f flow, timeout time.Duration) (string, error) {
	to := d.end(t, f.to)
	port := f.port
	if f.to == "host" && port == 0 {
		port = map[string]int{"tcp": d.hostTCP, "udp": d.hostUDP}[f.proto]
	}
	dst := netip.AddrPortFrom(to, uint16(port)).String()
	if f.from == "host" {
		switch f.proto {
		case "icmp":
			out, err := exec.Command(netprobe(t), "dial", "icmp", to.String(), timeout.String()).CombinedOutput()
			return string(out), err
		default:
			c, err := net.DialTimeout(f.proto+"4", dst, timeout)
			if err != nil {
				return "", err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			if f.proto == "udp" {
				c.Write([]byte("probe\n"))
			}
			return bufio.NewReader(c).ReadString('\n')
		}
	}
	v := d.vms[f.from]
	if v == nil {
		t.Fatalf("no instance called %q", f.from)
	}
	if f.proto == "icmp" {
		dst = to.String()
	}
	return v.run(fmt.Sprintf("/tmp/netprobe dial %s %s %s", f.proto, dst, timeout), nil)
}

// check sends the flow and says what is wrong with the outcome ("" when nothing).
func (d *dataplane) check(t *testing.T, f flow, timeout time.Duration) string {
	got, err := d.probe(t, f, timeout)
	if !f.pass {
		if err == nil {
			return fmt.Sprintf("passed, answer %q", strings.TrimSpace(got))
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("dropped: %v %s", err, strings.TrimSpace(got))
	}
	if f.proto == "icmp" {
		return ""
	}
	name, seen, _ := strings.Cut(strings.TrimSpace(got), " ")
	want := d.answerer(f.to)
	if f.by != "" {
		want = d.answerer(f.by)
	}
	if want != "" && name != want {
		return fmt.Sprintf("answered by %q, want %q", name, want)
	}
	if f.seenAs != "" {
		src, err := netip.ParseAddrPort(seen)
		if want := d.end(t, f.seenAs); err != nil || src.Addr() != want {
			return fmt.Sprintf("the far end saw the source %q, want %s (%s)", seen, want, f.seenAs)
		}
	}
	return ""
}

// matrix checks every flow, all at once (each drop costs its timeout), and returns
// when all are done: parallel subtests run only once their parent's function has
// returned, so they get a parent of their own.
func (d *dataplane) matrix(t *testing.T, flows ...flow) {
	t.Helper()
	t.Run("matrix", func(t *testing.T) {
		for _, f := range flows {
			t.Run(f.String(), func(t *testing.T) {
				t.Parallel()
				if why := d.check(t, f, 2*time.Second); why != "" {
					t.Error(why)
				}
			})
		}
	})
}

// passesWithin sends the flow until it passes and returns how long that took; the
// test fails when it did not pass within limit.
func (d *dataplane) passesWithin(t *testing.T, f flow, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		why := d.check(t, f, 300*time.Millisecond)
		took := time.Since(since)
		if why == "" {
			return took
		}
		if took > limit {
			t.Errorf("%s: not within %v: %s", f, limit, why)
			return took
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle gives the dataplane its time to apply a change (rules apply to new
// connections within a second).
func settle() { time.Sleep(time.Second) }

// serveHost answers each TCP connection and UDP datagram on the host's link address
// with "host REMOTE-ADDRESS", as netprobe does in instances.
func (d *dataplane) serveHost(t *testing.T) {
	l, err := net.Listen("tcp4", netip.AddrPortFrom(d.hostAddr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	d.hostTCP = l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "host %s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	u, err := net.ListenPacket("udp4", netip.AddrPortFrom(d.hostAddr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	d.hostUDP = u.LocalAddr().(*net.UDPAddr).Port
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			u.WriteTo([]byte("host "+from.String()+"\n"), from)
		}
	}()
}

func tcpFrom(cidr string, ports ...int32) types.IpPermission {
	to := ports[0]
	if len(ports) > 1 {
		to = ports[1]
	}
	return types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: &ports[0], ToPort: &to, IpRanges: []types.IpRange{{CidrIp: &cidr}}}
}

// TestDataplaneMatrix is the connectivity matrix of the VPC dataplane on real
// container instances: what the VPC API configures decides, packet by packet, what
// passes between instances, the host ("the internet") and the metadata service.
//
// The VPC, 10.0.0.0/16 with an internet gateway:
//
//	public-a 10.0.1.0/24  0/0 → igw   web (ssh, web groups), client (ssh, client)
//	                                   and the NAT gateway
//	public-b 10.0.2.0/24  0/0 → igw   other (ssh, web)
//	private  10.0.3.0/24  0/0 → nat   priv (ssh, web), no public address
//
// Every instance runs netprobe: TCP 8080-8082 and 9000, UDP 7000, echo 9100-9101.
func TestDataplaneMatrix(t *testing.T) {
	ic := startInstanceCloud(t, "--flow-log-flush", "1s")
	c := ic.c
	d := &dataplane{instanceCloud: ic, vms: map[string]*vm{}, addrs: map[string]netip.Addr{}}
	d.serveHost(t)

	vpc := aws.ToString(answer(c.CreateVpc(ctx(t), &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})).must(t).Vpc.VpcId)
	answer(c.ModifyVpcAttribute(ctx(t), &ec2.ModifyVpcAttributeInput{VpcId: &vpc, EnableDnsHostnames: &types.AttributeBooleanValue{Value: aws.Bool(true)}})).must(t)
	igw := aws.ToString(answer(c.CreateInternetGateway(ctx(t), &ec2.CreateInternetGatewayInput{})).must(t).InternetGateway.InternetGatewayId)
	answer(c.AttachInternetGateway(ctx(t), &ec2.AttachInternetGatewayInput{InternetGatewayId: &igw, VpcId: &vpc})).must(t)
	subnet := func(cidr string, public bool) string {
		id := aws.ToString(answer(c.CreateSubnet(ctx(t), &ec2.CreateSubnetInput{VpcId: &vpc, CidrBlock: &cidr, AvailabilityZone: aws.String("us-east-1a")})).must(t).Subnet.SubnetId)
		if public {
			answer(c.ModifySubnetAttribute(ctx(t), &ec2.ModifySubnetAttributeInput{SubnetId: &id, MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}})).must(t)
		}
		return id
	}
	publicA, publicB, private := subnet("10.0.1.0/24", true), subnet("10.0.2.0/24", true), subnet("10.0.3.0/24", false)
	routeTable := func(subnets ...string) string {
		id := aws.ToString(answer(c.CreateRouteTable(ctx(t), &ec2.CreateRouteTableInput{VpcId: &vpc})).must(t).RouteTable.RouteTableId)
		for _, s := range subnets {
			answer(c.AssociateRouteTable(ctx(t), &ec2.AssociateRouteTableInput{RouteTableId: &id, SubnetId: &s})).must(t)
		}
		return id
	}
	publicRT, privateRT := routeTable(publicA, publicB), routeTable(private)
	answer(c.CreateRoute(ctx(t), &ec2.CreateRouteInput{RouteTableId: &publicRT, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: &igw})).must(t)
	natEIP := answer(c.AllocateAddress(ctx(t), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})).must(t)
	d.addrs["nat.eip"] = netip.MustParseAddr(aws.ToString(natEIP.PublicIp))
	nat := aws.ToString(answer(c.CreateNatGateway(ctx(t), &ec2.CreateNatGatewayInput{SubnetId: &publicA, AllocationId: natEIP.AllocationId})).must(t).NatGateway.NatGatewayId)
	waitNAT(t, c, nat, types.NatGatewayStateAvailable)
	answer(c.CreateRoute(ctx(t), &ec2.CreateRouteInput{RouteTableId: &privateRT, DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: &nat})).must(t)

	group := func(name string, rules ...types.IpPermission) string {
		id := aws.ToString(answer(c.CreateSecurityGroup(ctx(t), &ec2.CreateSecurityGroupInput{VpcId: &vpc, GroupName: &name, Description: &name})).must(t).GroupId)
		if len(rules) > 0 {
			answer(c.AuthorizeSecurityGroupIngress(ctx(t), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &id, IpPermissions: rules})).must(t)
		}
		return id
	}
	hostLink := ic.hostLink.String()
	// SSH from the host's link and from inside the VPC: narrower than 0.0.0.0/0, so
	// the test's own SSH connections are tracked and survive every change below.
	sshGroup := group("ssh", tcpFrom(hostLink, 22), tcpFrom("10.0.0.0/16", 22))
	clientGroup := group("client")
	webRules := []types.IpPermission{
		tcpFrom("0.0.0.0/0", 8080),
		tcpFrom("10.0.2.0/24", 8081),
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8082), ToPort: aws.Int32(8082), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: &clientGroup}}},
		{IpProtocol: aws.String("udp"), FromPort: aws.Int32(7000), ToPort: aws.Int32(7000), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}},
		{IpProtocol: aws.String("icmp"), FromPort: aws.Int32(-1), ToPort: aws.Int32(-1), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}},
		// Echo: 9100 from anywhere (with the default all-out egress rule: untracked),
		// 9101 from the host's link only (tracked).
		tcpFrom("0.0.0.0/0", 9100),
		tcpFrom(hostLink, 9101),
	}
	webGroup := group("web", webRules...)

	web := ic.launch("web", publicA, sshGroup, webGroup)
	client := ic.launch("client", publicA, sshGroup, clientGroup)
	other := ic.launch("other", publicB, sshGroup, webGroup)
	priv := ic.launch("priv", private, sshGroup, webGroup)
	for _, v := range []*vm{web, client, other, priv} {
		d.vms[v.name] = v
		// SSH to other and priv goes through web, so that ACL changes on other's
		// subnet for the host's traffic leave the test's own path alone.
		if v == web || v == client {
			ic.sshTo(v, nil)
		} else {
			ic.sshTo(v, web)
		}
		ic.startNetprobe(v, "tcp:8080", "tcp:8081", "tcp:8082", "tcp:9000", "udp:7000", "echo:9100", "echo:9101")
	}
	if priv.public.IsValid() || !web.public.IsValid() || !other.public.IsValid() {
		t.Fatalf("public addresses: web %v, other %v, priv %v (a private subnet maps none)", web.public, other.public, priv.public)
	}
	time.Sleep(300 * time.Millisecond) // netprobe's servers are listening

	t.Run("baseline", func(t *testing.T) {
		d.matrix(t,
			// Security groups: port, CIDR, source group, protocol.
			flow{from: "host", to: "web.public", proto: "tcp", port: 8080, pass: true, seenAs: "host"},
			flow{from: "host", to: "web.public", proto: "tcp", port: 8081, pass: false}, // only from 10.0.2.0/24
			flow{from: "host", to: "web.public", proto: "tcp", port: 9000, pass: false}, // no rule
			flow{from: "other", to: "web", proto: "tcp", port: 8081, pass: true, seenAs: "other"},
			flow{from: "client", to: "web", proto: "tcp", port: 8081, pass: false},
			flow{from: "client", to: "web", proto: "tcp", port: 8082, pass: true}, // a member of the client group
			flow{from: "other", to: "web", proto: "tcp", port: 8082, pass: false},
			flow{from: "client", to: "web", proto: "udp", port: 7000, pass: true, seenAs: "client"},
			flow{from: "host", to: "web.public", proto: "udp", port: 7000, pass: false},
			flow{from: "client", to: "web", proto: "icmp", pass: true},
			flow{from: "host", to: "web.public", proto: "icmp", pass: false},
			flow{from: "web", to: "client", proto: "tcp", port: 8080, pass: false}, // the client group admits nothing
			// Routes: the local route joins the subnets; public subnets reach the internet
			// with their public address; the private one through the NAT gateway.
			flow{from: "priv", to: "web", proto: "tcp", port: 8080, pass: true, seenAs: "priv"},
			flow{from: "web", to: "priv", proto: "tcp", port: 8080, pass: true},
			flow{from: "web", to: "host", proto: "tcp", pass: true, seenAs: "web.public"},
			flow{from: "other", to: "host", proto: "udp", pass: true, seenAs: "other.public"},
			flow{from: "priv", to: "host", proto: "tcp", pass: true, seenAs: "nat.eip"},
			flow{from: "priv", to: "host", proto: "udp", pass: true, seenAs: "nat.eip"},
			flow{from: "host", to: "nat.eip", proto: "tcp", port: 8080, pass: false}, // nothing opens a connection in
		)
		// The instance sees only its private address; the metadata service knows the
		// public one.
		addrs, err := web.run("ip -4 -o addr show", nil)
		if err != nil || !strings.Contains(addrs, web.private.String()+"/24") || strings.Contains(addrs, web.public.String()) {
			t.Errorf("web's addresses inside (%v):\n%s", err, addrs)
		}
		if got, err := web.run("wget -q -O - http://169.254.169.254/latest/meta-data/public-ipv4", nil); err != nil || got != web.public.String() {
			t.Errorf("web's public-ipv4 from the metadata service: %q (%v), want %s", got, err, web.public)
		}
	})

	t.Run("changes apply within a second", func(t *testing.T) {
		start := time.Now()
		answer(c.AuthorizeSecurityGroupIngress(ctx(t), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &webGroup, IpPermissions: []types.IpPermission{tcpFrom("0.0.0.0/0", 9000)}})).must(t)
		took := d.passesWithin(t, flow{from: "host", to: "web.public", proto: "tcp", port: 9000, pass: true}, start, time.Second)
		t.Logf("a new rule let the first connection in %v after the call", took)

		start = time.Now()
		answer(c.ModifyNetworkInterfaceAttribute(ctx(t), &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: &other.eni, Groups: []string{sshGroup, webGroup, clientGroup}})).must(t)
		took = d.passesWithin(t, flow{from: "other", to: "web", proto: "tcp", port: 8082, pass: true}, start, time.Second)
		t.Logf("joining the client group let other in %v after the call", took)
		answer(c.ModifyNetworkInterfaceAttribute(ctx(t), &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: &other.eni, Groups: []string{sshGroup, webGroup}})).must(t)
		answer(c.RevokeSecurityGroupIngress(ctx(t), &ec2.RevokeSecurityGroupIngressInput{GroupId: &webGroup, IpPermissions: []types.IpPermission{tcpFrom("0.0.0.0/0", 9000)}})).must(t)
		settle()
		d.matrix(t,
			flow{from: "other", to: "web", proto: "tcp", port: 8082, pass: false},
			flow{from: "host", to: "web.public", proto: "tcp", port: 9000, pass: false},
		)
	})

	t.Run("revoking keeps tracked connections and cuts untracked ones", func(t *testing.T) {
		open := func(port int) (net.Conn, *bufio.Reader) {
			conn, err := net.DialTimeout("tcp4", netip.AddrPortFrom(web.public, uint16(port)).String(), 2*time.Second)
			if err != nil {
				t.Fatalf("echo %d: %v", port, err)
			}
			t.Cleanup(func() { conn.Close() })
			return conn, bufio.NewReader(conn)
		}
		echo := func(conn net.Conn, r *bufio.Reader) error {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := conn.Write([]byte("ping\n")); err != nil {
				return err
			}
			line, err := r.ReadString('\n')
			if err == nil && line != "ping\n" {
				err = fmt.Errorf("echoed %q", line)
			}
			return err
		}
		untracked, ur := open(9100)
		tracked, tr := open(9101)
		for _, c := range []struct {
			conn net.Conn
			r    *bufio.Reader
		}{{untracked, ur}, {tracked, tr}} {
			if err := echo(c.conn, c.r); err != nil {
				t.Fatalf("before the revoke: %v", err)
			}
		}
		answer(c.RevokeSecurityGroupIngress(ctx(t), &ec2.RevokeSecurityGroupIngressInput{GroupId: &webGroup,
			IpPermissions: []types.IpPermission{tcpFrom("0.0.0.0/0", 9100), tcpFrom(hostLink, 9101)}})).must(t)
		settle()
		if err := echo(tracked, tr); err != nil {
			t.Errorf("the tracked connection (rule from %s) did not survive the revoke: %v", hostLink, err)
		}
		if err := echo(untracked, ur); err == nil {
			t.Error("the untracked connection (rule from 0.0.0.0/0, all egress) survived the revoke")
		}
		d.matrix(t,
			flow{from: "host", to: "web.public", proto: "tcp", port: 9100, pass: false},
			flow{from: "host", to: "web.public", proto: "tcp", port: 9101, pass: false},
		)
		answer(c.AuthorizeSecurityGroupIngress(ctx(t), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &webGroup,
			IpPermissions: []types.IpPermission{tcpFrom("0.0.0.0/0", 9100), tcpFrom(hostLink, 9101)}})).must(t)
	})

	t.Run("egress rules", func(t *testing.T) {
		// other's only group: SSH in, and out only TCP 8080 to public-a.
		narrow := group("narrow-egress", tcpFrom("10.0.0.0/16", 22))
		answer(c.RevokeSecurityGroupEgress(ctx(t), &ec2.RevokeSecurityGroupEgressInput{GroupId: &narrow,
			IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})).must(t)
		answer(c.AuthorizeSecurityGroupEgress(ctx(t), &ec2.AuthorizeSecurityGroupEgressInput{GroupId: &narrow,
			IpPermissions: []types.IpPermission{tcpFrom("10.0.1.0/24", 8080)}})).must(t)
		answer(c.ModifyNetworkInterfaceAttribute(ctx(t), &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: &other.eni, Groups: []string{narrow}})).must(t)
		settle()
		d.matrix(t,
			flow{from: "other", to: "web", proto: "tcp", port: 8080, pass: true},
			flow{from: "other", to: "web", proto: "tcp", port: 8081, pass: false}, // web would let it in; other's egress does not let it out
			flow{from: "other", to: "host", proto: "tcp", pass: false},
			flow{from: "other", to: "web", proto: "icmp", pass: false},
			flow{from: "host", to: "other.public", proto: "tcp", port: 8080, pass: false},
		)
		// Replies of allowed connections pass whatever egress says (our SSH session is
		// one), and the metadata service and the resolver are always there.
		out, err := other.run("wget -q -O - http://169.254.169.254/latest/meta-data/instance-id; echo; nslookup "+web.privateName, nil)
		if err != nil || !strings.HasPrefix(out, other.id) || !strings.Contains(out, web.private.String()) {
			t.Errorf("metadata and DNS from an instance whose egress is narrow (%v):\n%s", err, out)
		}
		answer(c.ModifyNetworkInterfaceAttribute(ctx(t), &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: &other.eni, Groups: []string{sshGroup, webGroup}})).must(t)
	})

	t.Run("network ACLs are stateless, first match wins", func(t *testing.T) {
		acl := aws.ToString(answer(c.CreateNetworkAcl(ctx(t), &ec2.CreateNetworkAclInput{VpcId: &vpc})).must(t).NetworkAcl.NetworkAclId)
		entry := func(replace bool, rule int32, egress bool, action types.RuleAction, proto, cidr string, from, to int32) {
			t.Helper()
			var ports *types.PortRange
			if proto == "6" || proto == "17" {
				ports = &types.PortRange{From: &from, To: &to}
			}
			var err error
			if replace {
				_, err = c.ReplaceNetworkAclEntry(ctx(t), &ec2.ReplaceNetworkAclEntryInput{NetworkAclId: &acl, RuleNumber: &rule, Egress: &egress,
					RuleAction: action, Protocol: &proto, CidrBlock: &cidr, PortRange: ports})
			} else {
				_, err = c.CreateNetworkAclEntry(ctx(t), &ec2.CreateNetworkAclEntryInput{NetworkAclId: &acl, RuleNumber: &rule, Egress: &egress,
					RuleAction: action, Protocol: &proto, CidrBlock: &cidr, PortRange: ports})
			}
			noErr(t, err)
		}
		entry(false, 100, false, types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0)
		entry(false, 100, true, types.RuleActionAllow, "6", "0.0.0.0/0", 1024, 65535)
		associations := answer(c.DescribeNetworkAcls(ctx(t), &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{publicB}}}})).must(t)
		var association, defaultACL string
		for _, a := range associations.NetworkAcls[0].Associations {
			if aws.ToString(a.SubnetId) == publicB {
				association, defaultACL = aws.ToString(a.NetworkAclAssociationId), aws.ToString(a.NetworkAclId)
			}
		}
		association = aws.ToString(answer(c.ReplaceNetworkAclAssociation(ctx(t), &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &association, NetworkAclId: &acl})).must(t).NewAssociationId)
		settle()
		d.matrix(t,
			flow{from: "host", to: "other.public", proto: "tcp", port: 8080, pass: true}, // replies go to ports >= 1024
			flow{from: "web", to: "other", proto: "tcp", port: 8080, pass: true},
			flow{from: "web", to: "other", proto: "udp", port: 7000, pass: false}, // UDP replies are not allowed out
		)

		// The ephemeral-port lesson: allowing out only the service's own port blocks the
		// service's replies, while other's own connections out (to port 8080) work. (Rule
		// 90 keeps the test's SSH path through web.)
		entry(false, 90, true, types.RuleActionAllow, "6", web.private.String()+"/32", 1024, 65535)
		entry(true, 100, true, types.RuleActionAllow, "6", "0.0.0.0/0", 8080, 8080)
		settle()
		d.matrix(t,
			flow{from: "host", to: "other.public", proto: "tcp", port: 8080, pass: false},
			flow{from: "other", to: "web", proto: "tcp", port: 8080, pass: true},
		)

		// Rule numbers decide: a deny at 50 for the private subnet comes before the
		// allow at 100; the same deny after it (at 200) changes nothing.
		entry(true, 100, true, types.RuleActionAllow, "6", "0.0.0.0/0", 1024, 65535)
		entry(false, 50, false, types.RuleActionDeny, "6", "10.0.3.0/24", 8080, 8080)
		settle()
		d.matrix(t,
			flow{from: "priv", to: "other", proto: "tcp", port: 8080, pass: false},
			flow{from: "web", to: "other", proto: "tcp", port: 8080, pass: true},
		)
		_, err := c.DeleteNetworkAclEntry(ctx(t), &ec2.DeleteNetworkAclEntryInput{NetworkAclId: &acl, RuleNumber: aws.Int32(50), Egress: aws.Bool(false)})
		noErr(t, err)
		entry(false, 200, false, types.RuleActionDeny, "6", "10.0.3.0/24", 8080, 8080)
		settle()
		d.matrix(t, flow{from: "priv", to: "other", proto: "tcp", port: 8080, pass: true})
		answer(c.ReplaceNetworkAclAssociation(ctx(t), &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &association, NetworkAclId: &defaultACL})).must(t)
	})

	t.Run("the VPC resolver", func(t *testing.T) {
		out, err := web.run("cat /etc/resolv.conf", nil)
		if err != nil || !strings.Contains(out, "nameserver 10.0.0.2") || !strings.Contains(out, "search ec2.internal") {
			t.Errorf("resolv.conf (%v):\n%s", err, out)
		}
		lookups := []struct{ name, server, want string }{
			{priv.privateName, "10.0.0.2", priv.private.String()},
			{priv.hostname, "", priv.private.String()}, // through the search domain
			{other.publicName, "169.254.169.253", other.private.String()},
		}
		for _, l := range lookups {
			out, err := web.run("nslookup "+l.name+" "+l.server, nil)
			if err != nil || !strings.Contains(out, "Address: "+l.want) {
				t.Errorf("nslookup %s %s (%v):\n%s", l.name, l.server, err, out)
			}
		}
		start := time.Now()
		out, err = web.run("nslookup example.com", nil)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("a name outside the VPC took %v (%v):\n%s", time.Since(start), err, out)
		}
		answer(c.ModifyVpcAttribute(ctx(t), &ec2.ModifyVpcAttributeInput{VpcId: &vpc, EnableDnsSupport: &types.AttributeBooleanValue{Value: aws.Bool(false)}})).must(t)
		settle()
		start = time.Now()
		out, err = web.run("nslookup "+priv.privateName, nil)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("with DNS support off, a lookup took %v (%v):\n%s", time.Since(start), err, out)
		}
		answer(c.ModifyVpcAttribute(ctx(t), &ec2.ModifyVpcAttributeInput{VpcId: &vpc, EnableDnsSupport: &types.AttributeBooleanValue{Value: aws.Bool(true)}})).must(t)
		settle()
		if out, err := web.run("nslookup "+priv.privateName, nil); err != nil || !strings.Contains(out, priv.private.String()) {
			t.Errorf("DNS support on again (%v):\n%s", err, out)
		}
	})

	t.Run("flow logs name the interface and the action", func(t *testing.T) {
		answer(c.CreateFlowLogs(ctx(t), &ec2.CreateFlowLogsInput{ResourceIds: []string{other.eni}, ResourceType: types.FlowLogsResourceTypeNetworkInterface,
			TrafficType: types.TrafficTypeAll, LogDestinationType: types.LogDestinationTypeCloudWatchLogs, LogGroupName: aws.String("dataplane"),
			DeliverLogsPermissionArn: aws.String("arn:aws:iam::" + ic.account + ":role/flow-logs"), MaxAggregationInterval: aws.Int32(60)})).must(t)
		settle()
		d.matrix(t,
			flow{from: "host", to: "other.public", proto: "tcp", port: 9000, pass: false},
			flow{from: "host", to: "other.public", proto: "tcp", port: 8080, pass: true},
		)
		// version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
		want := map[string]bool{
			fmt.Sprintf("%s %s %s 9000 6 REJECT", ic.account, other.eni, ic.hostAddr): false,
			fmt.Sprintf("%s %s %s 8080 6 ACCEPT", ic.account, other.eni, ic.hostAddr): false,
		}
		path := filepath.Join(ic.dataDir, "flow-logs", "dataplane", other.eni+"-all")
		var records []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			records, _ = os.ReadFile(path)
			for _, line := range strings.Split(string(records), "\n") {
				f := strings.Fields(line)
				if len(f) == 14 && f[0] == "2" && f[3] == ic.hostAddr.String() && f[4] == other.private.String() {
					want[strings.Join([]string{f[1], f[2], f[3], f[6], f[7], f[12]}, " ")] = true
				}
			}
			if !missing(want) {
				return
			}
		}
		t.Errorf("flow log records in %s: want %v, have:\n%s", path, want, records)
	})

	t.Run("a route to a deleted NAT gateway is a blackhole", func(t *testing.T) {
		answer(c.DeleteNatGateway(ctx(t), &ec2.DeleteNatGatewayInput{NatGatewayId: &nat})).must(t)
		waitNAT(t, c, nat, types.NatGatewayStateDeleted)
		tables := answer(c.DescribeRouteTables(ctx(t), &ec2.DescribeRouteTablesInput{RouteTableIds: []string{privateRT}})).must(t)
		for _, r := range tables.RouteTables[0].Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && r.State != types.RouteStateBlackhole {
				t.Errorf("the private default route is %s, want blackhole", r.State)
			}
		}
		settle()
		d.matrix(t,
			flow{from: "priv", to: "host", proto: "tcp", pass: false},
			flow{from: "priv", to: "web", proto: "tcp", port: 8080, pass: true}, // the local route still joins the subnets
		)
	})

	t.Run("an Elastic IP moves the traffic at once", func(t *testing.T) {
		eip := answer(c.AllocateAddress(ctx(t), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})).must(t)
		d.addrs["eip"] = netip.MustParseAddr(aws.ToString(eip.PublicIp))
		associate := func(v *vm) {
			answer(c.AssociateAddress(ctx(t), &ec2.AssociateAddressInput{AllocationId: eip.AllocationId, InstanceId: &v.id, AllowReassociation: aws.Bool(true)})).must(t)
		}
		// In the private subnet the address leads nowhere: its table has no route to the
		// internet gateway.
		associate(priv)
		settle()
		d.matrix(t, flow{from: "host", to: "eip", proto: "tcp", port: 8080, pass: false})
		for _, v := range []*vm{web, other} {
			start := time.Now()
			associate(v)
			took := d.passesWithin(t, flow{from: "host", to: "eip", proto: "tcp", port: 8080, pass: true, seenAs: "host", by: v.name}, start, time.Second)
			t.Logf("the Elastic IP reached %s %v after the call", v.name, took)
		}
	})
}

// missing says whether any wanted record is still missing.
func missing(want map[string]bool) bool {
	for _, ok := range want {
		if !ok {
			return true
		}
	}
	return false
}
