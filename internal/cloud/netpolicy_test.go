package cloud_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"strato/internal/cloud"
	"strato/internal/netpolicy"
)

// policyFixture is a run fixture whose account exists and whose public pool is
// configured, with helpers to find things in pushed policies.
type policyFixture struct {
	runFixture
	ctx context.Context
	vpc string
}

func newPolicyFixture(t *testing.T) policyFixture {
	t.Helper()
	f := policyFixture{runFixture: newRunFixture(t), ctx: context.Background()}
	f.vpc = f.subnet.VpcID
	if err := f.c.EnsureAccount(f.ctx, instScope.Account, "policy"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ConfigurePublicPool(f.ctx, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	return f
}

// pushed runs a change and returns the policy the dataplane was then told; the
// change must have led to a push of the VPC.
func (f policyFixture) pushed(t *testing.T, vpcID string, change func() error) netpolicy.VPC {
	t.Helper()
	f.c.WaitBlockJobs()
	before := f.dp.pushesOf(vpcID)
	if err := change(); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if f.dp.pushesOf(vpcID) == before {
		t.Fatalf("no push of %s after the change", vpcID)
	}
	return f.dp.policyOf(vpcID)
}

// must is for the setup steps of a test: an error there ends the test with a
// panic.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ports(p int32) *int32 { return &p }

func pfx(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, c := range s {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}

func groupOf(p netpolicy.VPC, id string) netpolicy.SecurityGroup {
	for _, g := range p.SecurityGroups {
		if g.ID == id {
			return g
		}
	}
	return netpolicy.SecurityGroup{}
}

func interfaceOf(p netpolicy.VPC, id string) netpolicy.Interface {
	for _, n := range p.Interfaces {
		if n.ID == id {
			return n
		}
	}
	return netpolicy.Interface{}
}

func subnetOf(p netpolicy.VPC, id string) netpolicy.Subnet {
	for _, sn := range p.Subnets {
		if sn.ID == id {
			return sn
		}
	}
	return netpolicy.Subnet{}
}

func routesOf(p netpolicy.VPC, table string) []string {
	var out []string
	for _, t := range p.RouteTables {
		if t.ID == table {
			for _, r := range t.Routes {
				out = append(out, fmt.Sprintf("%s %s %s", r.Destination, r.Target, r.TargetID))
			}
		}
	}
	slices.Sort(out)
	return out
}

func hasRule(rules []netpolicy.Rule, proto, from, to int, peers []netip.Prefix) bool {
	return slices.ContainsFunc(rules, func(r netpolicy.Rule) bool {
		return r.Protocol == proto && r.FromPort == from && r.ToPort == to && slices.Equal(r.Peers, peers)
	})
}

func mainTableOf(t *testing.T, f policyFixture) string {
	t.Helper()
	p := f.pushed(t, f.vpc, func() error {
		_, err := f.c.CreateSubnet(f.ctx, instScope, cloud.SubnetRequest{VpcID: f.vpc, CIDR: "10.0.9.0/24", AvailabilityZone: "us-east-1a"})
		return err
	})
	return subnetOf(p, f.subnet.ID).RouteTable
}

// Each kind of change leads to a push whose policy shows it.
func TestPolicyFollowsEveryChange(t *testing.T) {
	f := newPolicyFixture(t)
	s := instScope
	inst := f.run(t, cloud.RunRequest{}).Instances[0]
	eni := inst.InterfaceID
	main := mainTableOf(t, f)
	var web cloud.SecurityGroup
	var acl cloud.NetworkACL
	var table cloud.RouteTable
	var igw cloud.InternetGateway
	var list cloud.PrefixList
	var nat cloud.NATGateway
	spare := f.newENI(t, f.subnet.ID)
	tcp := func(port int32, perm cloud.Permission) cloud.Permission {
		perm.Protocol, perm.FromPort, perm.ToPort = "tcp", ports(port), ports(port)
		return perm
	}
	yes, no := true, false
	cases := []struct {
		name   string
		change func() error
		check  func(p netpolicy.VPC) bool
	}{
		{"a new security group", func() (err error) {
			web, err = f.c.CreateSecurityGroup(f.ctx, s, cloud.SecurityGroupRequest{Name: "web", Description: "web", VpcID: f.vpc})
			return err
		}, func(p netpolicy.VPC) bool {
			return hasRule(groupOf(p, web.ID).Egress, netpolicy.ProtocolAll, -1, -1, pfx("0.0.0.0/0"))
		}},
		{"an ingress rule from a CIDR", func() error {
			_, err := f.c.AuthorizeSecurityGroupRules(f.ctx, s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: web.ID},
				Permissions: []cloud.Permission{tcp(22, cloud.Permission{IPv4: []cloud.PeerRange{{ID: "192.0.2.0/24"}}})}})
			return err
		}, func(p netpolicy.VPC) bool {
			return hasRule(groupOf(p, web.ID).Ingress, netpolicy.ProtocolTCP, 22, 22, pfx("192.0.2.0/24"))
		}},
		{"a rule from a group without members matches nothing", func() error {
			_, err := f.c.AuthorizeSecurityGroupRules(f.ctx, s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: web.ID},
				Permissions: []cloud.Permission{tcp(80, cloud.Permission{Groups: []cloud.PeerGroup{{ID: web.ID}}})}})
			return err
		}, func(p netpolicy.VPC) bool { return len(groupOf(p, web.ID).Ingress) == 1 }},
		{"an interface joins the group: the reference holds its address", func() error {
			return f.c.ModifyNetworkInterfaceAttribute(f.ctx, s, eni, cloud.InterfaceChange{Groups: []string{web.ID}})
		}, func(p netpolicy.VPC) bool {
			return hasRule(groupOf(p, web.ID).Ingress, netpolicy.ProtocolTCP, 80, 80, pfx(inst.PrivateIP+"/32")) &&
				slices.Equal(interfaceOf(p, eni).SecurityGroups, []string{web.ID})
		}},
		{"a secondary address joins the group's members", func() error {
			_, err := f.c.AssignPrivateIPAddresses(f.ctx, s, eni, cloud.AssignRequest{Addresses: []string{"10.0.1.200"}})
			return err
		}, func(p netpolicy.VPC) bool {
			return hasRule(groupOf(p, web.ID).Ingress, netpolicy.ProtocolTCP, 80, 80, pfx(inst.PrivateIP+"/32", "10.0.1.200/32")) &&
				slices.Equal(interfaceOf(p, eni).Addresses, []netip.Addr{netip.MustParseAddr(inst.PrivateIP), netip.MustParseAddr("10.0.1.200")})
		}},
		{"a revoked rule", func() error {
			_, err := f.c.RevokeSecurityGroupRules(f.ctx, s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: web.ID},
				Permissions: []cloud.Permission{tcp(22, cloud.Permission{IPv4: []cloud.PeerRange{{ID: "192.0.2.0/24"}}})}})
			return err
		}, func(p netpolicy.VPC) bool { return len(groupOf(p, web.ID).Ingress) == 1 }},
		{"source/destination check off", func() error {
			return f.c.ModifyInstanceAttribute(f.ctx, s, inst.ID, cloud.InstanceAttributeChange{Attribute: cloud.AttrSourceDestCheck, Bool: &no})
		}, func(p netpolicy.VPC) bool { return !interfaceOf(p, eni).SourceDestCheck }},
		{"a new network ACL", func() (err error) {
			acl, err = f.c.CreateNetworkACL(f.ctx, s, f.vpc, nil, "")
			return err
		}, func(p netpolicy.VPC) bool {
			return slices.ContainsFunc(p.NetworkACLs, func(a netpolicy.NetworkACL) bool { return a.ID == acl.ID })
		}},
		{"ACL entries, in rule-number order, ending with the default deny", func() error {
			for _, e := range []cloud.ACLEntryRequest{
				{RuleNumber: 200, Protocol: "-1", RuleAction: "deny", CIDR: "192.0.2.0/24"},
				{RuleNumber: 100, Protocol: "6", RuleAction: "allow", CIDR: "0.0.0.0/0", PortRange: &cloud.ACLPortRange{From: 443, To: 443}},
				{RuleNumber: 100, Egress: true, Protocol: "1", RuleAction: "allow", CIDR: "10.0.0.0/8", ICMP: &cloud.ACLICMP{Type: 8, Code: -1}},
				{RuleNumber: 110, Protocol: "6", RuleAction: "allow", IPv6CIDR: "::/0", PortRange: &cloud.ACLPortRange{From: 443, To: 443}},
			} {
				if err := f.c.CreateNetworkACLEntry(f.ctx, s, acl.ID, e); err != nil {
					return err
				}
			}
			return nil
		}, func(p netpolicy.VPC) bool {
			i := slices.IndexFunc(p.NetworkACLs, func(a netpolicy.NetworkACL) bool { return a.ID == acl.ID })
			a := p.NetworkACLs[i]
			in := []netpolicy.ACLEntry{
				{RuleNumber: 100, Protocol: netpolicy.ProtocolTCP, FromPort: 443, ToPort: 443, CIDR: pfx("0.0.0.0/0")[0], Allow: true},
				{RuleNumber: 200, Protocol: netpolicy.ProtocolAll, FromPort: -1, ToPort: -1, CIDR: pfx("192.0.2.0/24")[0]},
				{RuleNumber: netpolicy.DefaultACLRuleNumber, Protocol: netpolicy.ProtocolAll, FromPort: -1, ToPort: -1, CIDR: pfx("0.0.0.0/0")[0]},
			}
			out := []netpolicy.ACLEntry{
				{RuleNumber: 100, Protocol: netpolicy.ProtocolICMP, FromPort: 8, ToPort: -1, CIDR: pfx("10.0.0.0/8")[0], Allow: true},
				in[2],
			}
			return slices.Equal(a.Ingress, in) && slices.Equal(a.Egress, out)
		}},
		{"the subnet moves to the ACL", func() error {
			cur, err := f.c.NetworkACLOfSubnet(f.ctx, s, f.subnet.ID)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(cur.Associations, func(a cloud.ACLAssociation) bool { return a.SubnetID == f.subnet.ID })
			_, err = f.c.ReplaceNetworkACLAssociation(f.ctx, s, cur.Associations[i].ID, acl.ID)
			return err
		}, func(p netpolicy.VPC) bool { return subnetOf(p, f.subnet.ID).NetworkACL == acl.ID }},
		{"a new route table", func() (err error) {
			table, err = f.c.CreateRouteTable(f.ctx, s, f.vpc, "", nil)
			return err
		}, func(p netpolicy.VPC) bool {
			return slices.ContainsFunc(p.RouteTables, func(r netpolicy.RouteTable) bool { return r.ID == table.ID })
		}},
		{"the subnet's route table", func() error {
			_, err := f.c.AssociateRouteTable(f.ctx, s, table.ID, f.subnet.ID, "")
			return err
		}, func(p netpolicy.VPC) bool { return subnetOf(p, f.subnet.ID).RouteTable == table.ID }},
		{"an attached internet gateway and a route to it", func() error {
			var err error
			if igw, err = f.c.CreateInternetGateway(f.ctx, s, nil); err != nil {
				return err
			}
			if err := f.c.AttachInternetGateway(f.ctx, s, igw.ID, f.vpc); err != nil {
				return err
			}
			return f.c.CreateRoute(f.ctx, s, cloud.RouteRequest{TableID: table.ID, DestinationCIDR: "0.0.0.0/0", Targets: map[string]string{"GatewayId": igw.ID}})
		}, func(p netpolicy.VPC) bool {
			return p.InternetGateway == igw.ID && slices.Equal(routesOf(p, table.ID), []string{"0.0.0.0/0 igw " + igw.ID})
		}},
		{"a route to a detached interface is a blackhole", func() error {
			return f.c.CreateRoute(f.ctx, s, cloud.RouteRequest{TableID: table.ID, DestinationCIDR: "192.0.2.0/24", Targets: map[string]string{"NetworkInterfaceId": spare.ID}})
		}, func(p netpolicy.VPC) bool {
			return slices.Contains(routesOf(p, table.ID), "192.0.2.0/24 blackhole ")
		}},
		{"a route to an instance goes to its primary interface", func() error {
			return f.c.CreateRoute(f.ctx, s, cloud.RouteRequest{TableID: table.ID, DestinationCIDR: "192.0.3.0/24", Targets: map[string]string{"InstanceId": inst.ID}})
		}, func(p netpolicy.VPC) bool {
			return slices.Contains(routesOf(p, table.ID), "192.0.3.0/24 eni "+eni)
		}},
		{"a route to a prefix list, one per entry", func() error {
			var err error
			list, err = f.c.CreateManagedPrefixList(f.ctx, s, cloud.PrefixListRequest{Name: "partners", AddressFamily: "IPv4", MaxEntries: 5,
				Entries: []cloud.PrefixListEntry{{CIDR: "203.0.113.0/25"}, {CIDR: "203.0.113.128/25"}}})
			if err != nil {
				return err
			}
			return f.c.CreateRoute(f.ctx, s, cloud.RouteRequest{TableID: table.ID, DestinationPrefixListID: list.ID, Targets: map[string]string{"GatewayId": igw.ID}})
		}, func(p netpolicy.VPC) bool {
			r := routesOf(p, table.ID)
			return slices.Contains(r, "203.0.113.0/25 igw "+igw.ID) && slices.Contains(r, "203.0.113.128/25 igw "+igw.ID)
		}},
		{"a rule from the prefix list", func() error {
			_, err := f.c.AuthorizeSecurityGroupRules(f.ctx, s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: web.ID},
				Permissions: []cloud.Permission{{Protocol: "udp", FromPort: ports(53), ToPort: ports(53), PrefixLists: []cloud.PeerRange{{ID: list.ID}}}}})
			return err
		}, func(p netpolicy.VPC) bool {
			return hasRule(groupOf(p, web.ID).Ingress, netpolicy.ProtocolUDP, 53, 53, pfx("203.0.113.0/25", "203.0.113.128/25"))
		}},
		{"the prefix list's new entries, in routes and rules", func() error {
			v := list.Version
			_, err := f.c.ModifyManagedPrefixList(f.ctx, s, cloud.PrefixListChange{ID: list.ID, CurrentVersion: &v, Add: []cloud.PrefixListEntry{{CIDR: "198.19.0.0/16"}}})
			return err
		}, func(p netpolicy.VPC) bool {
			return slices.Contains(routesOf(p, table.ID), "198.19.0.0/16 igw "+igw.ID) &&
				hasRule(groupOf(p, web.ID).Ingress, netpolicy.ProtocolUDP, 53, 53, pfx("203.0.113.0/25", "203.0.113.128/25", "198.19.0.0/16"))
		}},
		{"a NAT gateway, available at once, with its interface and Elastic IP", func() error {
			eip, err := f.c.AllocateAddress(f.ctx, s, cloud.AllocateRequest{})
			if err != nil {
				return err
			}
			nat, err = f.c.CreateNATGateway(f.ctx, s, "", cloud.NATGatewayRequest{SubnetID: f.subnet.ID, AllocationID: eip.AllocationID})
			if err != nil {
				return err
			}
			return f.c.CreateRoute(f.ctx, s, cloud.RouteRequest{TableID: main, DestinationCIDR: "0.0.0.0/0", Targets: map[string]string{"NatGatewayId": nat.ID}})
		}, func(p netpolicy.VPC) bool {
			want := netpolicy.NATGateway{ID: nat.ID, SubnetID: f.subnet.ID, InterfaceID: nat.NetworkInterfaceID,
				PrivateIP: netip.MustParseAddr(nat.PrivateIP), PublicIP: netip.MustParseAddr(nat.PublicIP)}
			n := interfaceOf(p, nat.NetworkInterfaceID)
			return slices.Equal(p.NATGateways, []netpolicy.NATGateway{want}) && p.Public[want.PublicIP] == want.PrivateIP &&
				n.Kind == netpolicy.InterfaceNATGateway && !n.SourceDestCheck && len(n.SecurityGroups) == 0 &&
				slices.Contains(routesOf(p, main), "0.0.0.0/0 nat "+nat.ID)
		}},
		{"a gateway endpoint's routes to the service's prefix list", func() error {
			_, err := f.c.CreateVpcEndpoint(f.ctx, s, cloud.EndpointRequest{VpcID: f.vpc, ServiceName: "com.amazonaws.us-east-1.s3", RouteTableIDs: []string{table.ID}})
			return err
		}, func(p netpolicy.VPC) bool {
			return slices.ContainsFunc(routesOf(p, table.ID), func(r string) bool { return strings.HasPrefix(r, "198.51.100.0/25 vpce vpce-") })
		}},
		{"a deleted NAT gateway's route is a blackhole", func() error {
			return f.c.DeleteNATGateway(f.ctx, s, nat.ID)
		}, func(p netpolicy.VPC) bool {
			return len(p.NATGateways) == 0 && slices.Contains(routesOf(p, main), "0.0.0.0/0 blackhole ")
		}},
		{"a detached internet gateway's routes are blackholes", func() error {
			return f.c.DetachInternetGateway(f.ctx, s, igw.ID, f.vpc)
		}, func(p netpolicy.VPC) bool {
			return p.InternetGateway == "" && slices.Contains(routesOf(p, table.ID), "0.0.0.0/0 blackhole ")
		}},
		{"a second block", func() error {
			_, err := f.c.AssociateVPCCIDRBlock(f.ctx, s, f.vpc, "10.1.0.0/16")
			return err
		}, func(p netpolicy.VPC) bool { return slices.Equal(p.CIDRs, pfx("10.0.0.0/16", "10.1.0.0/16")) }},
		{"DNS hostnames", func() error {
			return f.c.SetVPCAttribute(f.ctx, s, f.vpc, cloud.VPCAttrDNSHostnames, true)
		}, func(p netpolicy.VPC) bool { return p.DNS.Support && p.DNS.Hostnames }},
		{"the interface's group set back", func() error {
			return f.c.ModifyNetworkInterfaceAttribute(f.ctx, s, eni, cloud.InterfaceChange{SourceDestCheck: &yes})
		}, func(p netpolicy.VPC) bool { return interfaceOf(p, eni).SourceDestCheck }},
	}
	for _, tc := range cases {
		p := f.pushed(t, f.vpc, tc.change)
		if tc.check != nil && !tc.check(p) {
			t.Errorf("%s: the pushed policy does not show it: %+v", tc.name, p)
		}
	}
}
