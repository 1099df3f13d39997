package cloud_test

import (
	"net/netip"
	"slices"
	"testing"

	"strato/internal/cloud"
	"strato/internal/netpolicy"
)

// A peering is pushed to both sides, each in its own scope (here another account
// in another Region), with the other side's current blocks; deleting it makes
// both sides' routes to it blackholes.
func TestPolicyPeeringBothSides(t *testing.T) {
	f := newPolicyFixture(t)
	a := instScope
	b := cloud.Scope{Account: "222233334444", Region: "us-west-2"}
	if err := f.c.EnsureAccount(f.ctx, b.Account, "peer"); err != nil {
		t.Fatal(err)
	}
	vpcB := must(f.c.CreateVPC(f.ctx, b, cloud.VPCRequest{CIDR: "10.1.0.0/16"}))
	// A pending request changes nothing yet.
	pcx := must(f.c.CreateVPCPeeringConnection(f.ctx, a, cloud.PeeringRequest{VpcID: f.vpc, PeerVpcID: vpcB.ID, PeerOwnerID: b.Account, PeerRegion: b.Region}))
	pb := f.pushed(t, vpcB.ID, func() error {
		_, err := f.c.AcceptVPCPeeringConnection(f.ctx, b, pcx.ID)
		return err
	})
	pa := f.dp.policyOf(f.vpc)
	wantA := []netpolicy.Peering{{ID: pcx.ID, PeerVPC: vpcB.ID, PeerCIDRs: pfx("10.1.0.0/16")}}
	wantB := []netpolicy.Peering{{ID: pcx.ID, PeerVPC: f.vpc, PeerCIDRs: pfx("10.0.0.0/16")}}
	if !peeringsEqual(pa.Peerings, wantA) || !peeringsEqual(pb.Peerings, wantB) {
		t.Fatalf("peerings: A %+v, B %+v", pa.Peerings, pb.Peerings)
	}
	if pb.AccountID != b.Account || pb.Region != b.Region {
		t.Errorf("B's policy is of %s/%s", pb.AccountID, pb.Region)
	}
	// B's new block reaches A's view of the peering.
	pa = f.pushed(t, f.vpc, func() error {
		_, err := f.c.AssociateVPCCIDRBlock(f.ctx, b, vpcB.ID, "10.2.0.0/16")
		return err
	})
	if !slices.Equal(pa.Peerings[0].PeerCIDRs, pfx("10.1.0.0/16", "10.2.0.0/16")) {
		t.Errorf("A sees B's blocks as %v", pa.Peerings[0].PeerCIDRs)
	}
	main := mainTableOf(t, f)
	pa = f.pushed(t, f.vpc, func() error {
		return f.c.CreateRoute(f.ctx, a, cloud.RouteRequest{TableID: main, DestinationCIDR: "10.1.0.0/16", Targets: map[string]string{"VpcPeeringConnectionId": pcx.ID}})
	})
	if !slices.Contains(routesOf(pa, main), "10.1.0.0/16 pcx "+pcx.ID) {
		t.Errorf("A's routes: %v", routesOf(pa, main))
	}
	pb = f.pushed(t, vpcB.ID, func() error { return f.c.DeleteVPCPeeringConnection(f.ctx, a, pcx.ID) })
	pa = f.dp.policyOf(f.vpc)
	if len(pa.Peerings)+len(pb.Peerings) != 0 {
		t.Errorf("a deleted peering is still pushed: A %+v, B %+v", pa.Peerings, pb.Peerings)
	}
	if !slices.Contains(routesOf(pa, main), "10.1.0.0/16 blackhole ") {
		t.Errorf("the route to a deleted peering: %v", routesOf(pa, main))
	}
}

func peeringsEqual(a, b []netpolicy.Peering) bool {
	return slices.EqualFunc(a, b, func(x, y netpolicy.Peering) bool {
		return x.ID == y.ID && x.PeerVPC == y.PeerVPC && slices.Equal(x.PeerCIDRs, y.PeerCIDRs)
	})
}

// A rule may refer to a group of a peered VPC of the same Region (another
// account's here): it holds that group's members, and a new member there is
// pushed to this side.
func TestPolicyGroupOfPeeredVPC(t *testing.T) {
	f := newPolicyFixture(t)
	a := instScope
	b := cloud.Scope{Account: "222233334444", Region: a.Region}
	if err := f.c.EnsureAccount(f.ctx, b.Account, "peer"); err != nil {
		t.Fatal(err)
	}
	vpcB := must(f.c.CreateVPC(f.ctx, b, cloud.VPCRequest{CIDR: "10.1.0.0/16"}))
	subnetB := must(f.c.CreateSubnet(f.ctx, b, cloud.SubnetRequest{VpcID: vpcB.ID, CIDR: "10.1.1.0/24", AvailabilityZone: "us-east-1a"}))
	groupB := must(f.c.CreateSecurityGroup(f.ctx, b, cloud.SecurityGroupRequest{Name: "app", Description: "app", VpcID: vpcB.ID}))
	pcx := must(f.c.CreateVPCPeeringConnection(f.ctx, a, cloud.PeeringRequest{VpcID: f.vpc, PeerVpcID: vpcB.ID, PeerOwnerID: b.Account}))
	must(f.c.AcceptVPCPeeringConnection(f.ctx, b, pcx.ID))
	web := must(f.c.CreateSecurityGroup(f.ctx, a, cloud.SecurityGroupRequest{Name: "web", Description: "web", VpcID: f.vpc}))
	must(f.c.AuthorizeSecurityGroupRules(f.ctx, a, cloud.RuleRequest{Group: cloud.GroupSelector{ID: web.ID},
		Permissions: []cloud.Permission{{Protocol: "tcp", FromPort: ports(443), ToPort: ports(443), Groups: []cloud.PeerGroup{{ID: groupB.ID, UserID: b.Account}}}}}))
	var member cloud.NetworkInterface
	pa := f.pushed(t, f.vpc, func() (err error) {
		member, err = f.c.CreateNetworkInterface(f.ctx, b, "", cloud.InterfaceRequest{SubnetID: subnetB.ID, Groups: []string{groupB.ID}})
		return err
	})
	if !hasRule(groupOf(pa, web.ID).Ingress, netpolicy.ProtocolTCP, 443, 443, pfx(member.PrimaryIP()+"/32")) {
		t.Errorf("the rule referring to the peer's group: %+v", groupOf(pa, web.ID).Ingress)
	}
	// Without the peering the reference is stale and matches nothing.
	pa = f.pushed(t, f.vpc, func() error { return f.c.DeleteVPCPeeringConnection(f.ctx, b, pcx.ID) })
	if len(groupOf(pa, web.ID).Ingress) != 0 {
		t.Errorf("a stale reference still matches: %+v", groupOf(pa, web.ID).Ingress)
	}
}

// DNS: the Region's domain and the Amazon resolver by default, the DHCP options'
// when associated; private names for every address, public names (answering the
// private address) once DNS hostnames are on.
func TestPolicyDNS(t *testing.T) {
	f := newPolicyFixture(t)
	s := instScope
	yes := true
	var inst cloud.InstanceView
	p := f.pushed(t, f.vpc, func() error {
		r, err := f.runErr(cloud.RunRequest{Interfaces: []cloud.LaunchInterface{{DeviceIndex: index(0), SubnetID: f.subnet.ID, AssociatePublicIP: &yes}}})
		if err == nil {
			inst = r.Instances[0]
		}
		return err
	})
	priv := netip.MustParseAddr(inst.PrivateIP)
	if p.DNS.DomainName != "ec2.internal" || !slices.Equal(p.DNS.NameServers, []netip.Addr{netip.MustParseAddr("10.0.0.2")}) {
		t.Errorf("default DNS: %+v", p.DNS)
	}
	private := netpolicy.DNSRecord{Name: "ip-" + dashed(inst.PrivateIP) + ".ec2.internal", Addr: priv}
	if !slices.Equal(p.DNS.Records, []netpolicy.DNSRecord{private}) || p.DNS.Hostnames {
		t.Errorf("records with DNS hostnames off: %+v", p.DNS)
	}
	p = f.pushed(t, f.vpc, func() error { return f.c.SetVPCAttribute(f.ctx, s, f.vpc, cloud.VPCAttrDNSHostnames, true) })
	pub := f.get(t, inst.ID).PublicIP()
	public := netpolicy.DNSRecord{Name: cloud.DefaultPTRRecord(s.Region, pub), Addr: priv}
	if !slices.Contains(p.DNS.Records, public) || !slices.Contains(p.DNS.Records, private) || !p.DNS.Hostnames {
		t.Errorf("records with DNS hostnames on: %+v (want %v)", p.DNS, public)
	}
	opts := must(f.c.CreateDHCPOptions(f.ctx, s, []cloud.DHCPConfiguration{
		{Key: "domain-name", Values: []string{"corp.example"}},
		{Key: "domain-name-servers", Values: []string{"10.0.0.53", cloud.AmazonProvidedDNS}},
	}, nil))
	p = f.pushed(t, f.vpc, func() error { return f.c.AssociateDHCPOptions(f.ctx, s, opts.ID, f.vpc) })
	servers := []netip.Addr{netip.MustParseAddr("10.0.0.53"), netip.MustParseAddr("10.0.0.2")}
	if p.DNS.DomainName != "corp.example" || !slices.Equal(p.DNS.NameServers, servers) {
		t.Errorf("DNS with DHCP options: %+v", p.DNS)
	}
	p = f.pushed(t, f.vpc, func() error { return f.c.SetVPCAttribute(f.ctx, s, f.vpc, cloud.VPCAttrDNSSupport, false) })
	if p.DNS.Support {
		t.Errorf("DNS support still on: %+v", p.DNS)
	}
}

// In another Region the private names are in REGION.compute.internal.
func TestPolicyDNSOutsideUSEast1(t *testing.T) {
	f := newPolicyFixture(t)
	s := cloud.Scope{Account: instScope.Account, Region: "eu-west-1"}
	vpc := must(f.c.CreateVPC(f.ctx, s, cloud.VPCRequest{CIDR: "172.16.0.0/16"}))
	sn := must(f.c.CreateSubnet(f.ctx, s, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: "172.16.5.0/24"}))
	var n cloud.NetworkInterface
	p := f.pushed(t, vpc.ID, func() (err error) {
		n, err = f.c.CreateNetworkInterface(f.ctx, s, "", cloud.InterfaceRequest{SubnetID: sn.ID})
		return err
	})
	want := netpolicy.DNSRecord{Name: "ip-" + dashed(n.PrimaryIP()) + ".eu-west-1.compute.internal", Addr: netip.MustParseAddr(n.PrimaryIP())}
	if p.DNS.DomainName != "eu-west-1.compute.internal" || !slices.Equal(p.DNS.Records, []netpolicy.DNSRecord{want}) ||
		!slices.Equal(p.DNS.NameServers, []netip.Addr{netip.MustParseAddr("172.16.0.2")}) {
		t.Errorf("DNS in eu-west-1: %+v", p.DNS)
	}
	if sub := subnetOf(p, sn.ID); sub.NetworkACL == "" || sub.RouteTable == "" || sub.CIDR != netip.MustParsePrefix("172.16.5.0/24") {
		t.Errorf("a new subnet's default ACL and main table: %+v", sub)
	}
}
