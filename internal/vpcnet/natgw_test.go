package vpcnet

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"strato/internal/netpolicy"
)

// A route to a NAT gateway takes, within its prefix, what the NAT gateway's subnet's
// route table does, less what more specific routes of its own table keep.
func TestNATRoutesFollowTheNATGatewaysSubnet(t *testing.T) {
	igw := route("0.0.0.0/0", netpolicy.TargetInternetGateway, "igw-1")
	s3 := route("203.0.113.0/24", netpolicy.TargetEndpoint, "vpce-1")
	for _, tc := range []struct {
		name     string
		own      []netpolicy.Route
		dst      string
		natTable []netpolicy.Route
		want     []netpolicy.Route
	}{
		{"the internet", nil, "0.0.0.0/0", []netpolicy.Route{igw}, []netpolicy.Route{route("0.0.0.0/0", "igw", "igw-1")}},
		{"an endpoint in its subnet's table", nil, "0.0.0.0/0", []netpolicy.Route{igw, s3},
			[]netpolicy.Route{route("0.0.0.0/0", "igw", "igw-1"), s3}},
		{"a more specific own route keeps its part", []netpolicy.Route{route("203.0.112.0/23", netpolicy.TargetPeering, "pcx-1")},
			"0.0.0.0/0", []netpolicy.Route{igw, s3}, []netpolicy.Route{route("0.0.0.0/0", "igw", "igw-1")}},
		{"an own route inside the NAT gateway's keeps only its own part",
			[]netpolicy.Route{route("203.0.113.128/25", netpolicy.TargetPeering, "pcx-1")},
			"0.0.0.0/0", []netpolicy.Route{igw, s3}, []netpolicy.Route{route("0.0.0.0/0", "igw", "igw-1"), s3}},
		{"decided by the most specific route holding it", nil, "198.51.100.0/24",
			[]netpolicy.Route{igw, route("198.51.0.0/16", netpolicy.TargetBlackhole, "")},
			[]netpolicy.Route{route("198.51.100.0/24", netpolicy.TargetBlackhole, "")}},
		{"no route in its subnet's table", nil, "0.0.0.0/0", nil, []netpolicy.Route{{Destination: everywhere}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			own := append(slices.Clone(tc.own), route(tc.dst, netpolicy.TargetNATGateway, "nat-1"))
			got := natRoutes(own, netip.MustParsePrefix(tc.dst), tc.natTable)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The NAT gateway's subnet's network ACLs apply to both legs of what passes through it,
// and its flow log records both legs, accepted and rejected, as its interface would see
// them: the private leg as the instance sends it, the public leg from its own address.
func TestNATGatewayAppliesItsSubnetsACLsAndFlowLogs(t *testing.T) {
	f := newFixture(t, nil)
	f.n.opts.FlowLogFlush = 100 * time.Millisecond
	host := f.hostAddr()
	v := f.newNATVPC()
	eip, p := v.eip, v.private

	// The NAT gateway's subnet: nothing out to port 7101, nothing in from the private
	// subnet to port 7102, the rest allowed.
	const aclID = "acl-0000000000000e71e"
	acl := aclAllowAll(aclID)
	acl.Egress = append([]netpolicy.ACLEntry{{RuleNumber: 50, Protocol: netpolicy.ProtocolTCP, FromPort: 7101, ToPort: 7101,
		CIDR: everywhere}}, acl.Egress...)
	acl.Ingress = append([]netpolicy.ACLEntry{{RuleNumber: 50, Protocol: netpolicy.ProtocolTCP, FromPort: 7102, ToPort: 7102,
		CIDR: netip.MustParsePrefix("10.0.2.0/24")}}, acl.Ingress...)
	v.policy.NetworkACLs = append(v.policy.NetworkACLs, acl)
	for i := range v.policy.Subnets {
		if v.policy.Subnets[i].ID == v.subnet["public"].ID {
			v.policy.Subnets[i].NetworkACL = aclID
		}
	}
	natENI := v.policy.NATGateways[0].InterfaceID
	logFile := filepath.Join(t.TempDir(), natENI+"-all")
	v.policy.FlowLogs = []netpolicy.FlowLog{{ID: "fl-0000000000000e71e", ResourceID: natENI, TrafficType: netpolicy.TrafficAll,
		Destination: logFile, AggregationInterval: 60,
		Format: "${interface-id} ${pkt-srcaddr} ${pkt-dstaddr} ${dstport} ${flow-direction} ${action}"}}
	v.apply()

	seen := listenAt(t, "", netip.AddrPortFrom(host, 7100))
	mustReach(t, p.netns, addrPort(host, 7100), seen, eip)
	for _, port := range []uint16{7101, 7102} {
		seenHere := listenAt(t, "", netip.AddrPortFrom(host, port))
		mustBeDropped(t, p.netns, addrPort(host, port))
		nothingSeen(t, seenHere, "the host")
	}

	h := regexp.QuoteMeta(host.String())
	waitForLines(t, logFile,
		// Accepted, both ways, both legs (replies go to the instance's port).
		natENI+` 10\.0\.2\.10 `+h+` 7100 ingress ACCEPT`,
		natENI+` 10\.0\.1\.100 `+h+` 7100 egress ACCEPT`,
		natENI+` `+h+` 10\.0\.1\.100 \d+ ingress ACCEPT`,
		natENI+` `+h+` 10\.0\.2\.10 \d+ egress ACCEPT`,
		// Refused leaving by the public leg: it did come in by the private one.
		natENI+` 10\.0\.2\.10 `+h+` 7101 ingress ACCEPT`,
		natENI+` 10\.0\.1\.100 `+h+` 7101 egress REJECT`,
		// Refused coming in by the private leg.
		natENI+` 10\.0\.2\.10 `+h+` 7102 ingress REJECT`,
	)

	// Replies pass the same ACL: with the host denied in, the connection cannot open.
	acl.Ingress = append([]netpolicy.ACLEntry{{RuleNumber: 40, Protocol: netpolicy.ProtocolAll, CIDR: netip.PrefixFrom(host, 32)}},
		acl.Ingress...)
	v.policy.NetworkACLs[len(v.policy.NetworkACLs)-1] = acl
	v.apply()
	mustBeDropped(t, p.netns, addrPort(host, 7100))
	waitForLines(t, logFile, natENI+` `+h+` 10\.0\.1\.100 \d+ ingress REJECT`)
}

// waitForLines waits until every pattern matches a line of the file.
func waitForLines(t *testing.T, path string, patterns ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		missing := ""
		for _, p := range patterns {
			if !regexp.MustCompile(`(?m)^` + p + `$`).Match(b) {
				missing = p
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no line matching %q:\n%s", path, missing, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Where the NAT gateway's subnet routes a service's prefix list to a gateway endpoint,
// what a private subnet sends there through the NAT gateway reaches the service from the
// NAT gateway's private address, not by the internet gateway.
func TestNATGatewayFollowsItsSubnetsEndpointRoute(t *testing.T) {
	f := newFixture(t, nil)
	serviceAddr := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), 443)
	v := f.newNATVPC(route("203.0.113.0/24", netpolicy.TargetEndpoint, newID(t, "vpce")))
	eip, p := v.eip, v.private
	v.apply()

	seenService := listenAt(t, f.n.servicesNamespace(), serviceAddr)
	seenHost := listenAt(t, "", netip.AddrPortFrom(f.hostAddr(), 7100))
	mustReach(t, p.netns, serviceAddr, seenService, netip.MustParseAddr("10.0.1.100"))
	mustReach(t, p.netns, addrPort(f.hostAddr(), 7100), seenHost, eip)
}
