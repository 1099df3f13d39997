package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// result holds what an SDK call returned, so that one expression can call and check:
// answer(c.CreateVpc(…)).must(t).
type result[T any] struct {
	v   T
	err error
}

func answer[T any](v T, err error) result[T] { return result[T]{v, err} }

// must fails the test on an error and returns the value.
func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// noErr fails the test on an error.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func nameTag(kind types.ResourceType, name string) []types.TagSpecification {
	return []types.TagSpecification{{ResourceType: kind, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}
}

// threeTier is the VPC of a classic three-tier design and what hangs off it.
type threeTier struct {
	vpc, peerVPC, igw, nat, natAlloc, eipAlloc string
	publicRT, privateRT, dbACL, peering        string
	webSG, appSG, dbSG                         string
	appENI, webENI                             string
	subnets                                    map[string]string // name → ID
}

// TestThreeTierVPC builds the VPC of a three-tier design — public, app and db subnets in
// two zones, an internet gateway, a NAT gateway, a custom network ACL for the db tier,
// security groups referring to each other, an interface with a /28 prefix, an Elastic
// IP and a peering to a second VPC — then tears it down, and checks that every wrong
// deletion order is refused with DependencyViolation (or AWS's own code for the case).
func TestThreeTierVPC(t *testing.T) {
	s := startServer(t, "")
	c := s.ec2("default")
	var n threeTier
	n.subnets = map[string]string{}

	vpc := answer(c.CreateVpc(ctx(t), &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), TagSpecifications: nameTag(types.ResourceTypeVpc, "three-tier")})).must(t)
	n.vpc = *vpc.Vpc.VpcId
	answer(c.ModifyVpcAttribute(ctx(t), &ec2.ModifyVpcAttributeInput{VpcId: &n.vpc, EnableDnsHostnames: &types.AttributeBooleanValue{Value: aws.Bool(true)}})).must(t)

	for _, sn := range []struct{ name, cidr, zone string }{
		{"public-a", "10.0.0.0/24", "us-east-1a"}, {"public-b", "10.0.1.0/24", "us-east-1b"},
		{"app-a", "10.0.10.0/24", "us-east-1a"}, {"app-b", "10.0.11.0/24", "us-east-1b"},
		{"db-a", "10.0.20.0/24", "us-east-1a"}, {"db-b", "10.0.21.0/24", "us-east-1b"},
	} {
		out := answer(c.CreateSubnet(ctx(t), &ec2.CreateSubnetInput{VpcId: &n.vpc, CidrBlock: aws.String(sn.cidr), AvailabilityZone: aws.String(sn.zone), TagSpecifications: nameTag(types.ResourceTypeSubnet, sn.name)})).must(t)
		n.subnets[sn.name] = *out.Subnet.SubnetId
		if strings.HasPrefix(sn.name, "public") {
			answer(c.ModifySubnetAttribute(ctx(t), &ec2.ModifySubnetAttributeInput{SubnetId: out.Subnet.SubnetId, MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}})).must(t)
		}
	}

	// Internet gateway and the public route table.
	igw := answer(c.CreateInternetGateway(ctx(t), &ec2.CreateInternetGatewayInput{TagSpecifications: nameTag(types.ResourceTypeInternetGateway, "three-tier")})).must(t)
	n.igw = *igw.InternetGateway.InternetGatewayId
	answer(c.AttachInternetGateway(ctx(t), &ec2.AttachInternetGatewayInput{InternetGatewayId: &n.igw, VpcId: &n.vpc})).must(t)
	rt := answer(c.CreateRouteTable(ctx(t), &ec2.CreateRouteTableInput{VpcId: &n.vpc, TagSpecifications: nameTag(types.ResourceTypeRouteTable, "public")})).must(t)
	n.publicRT = *rt.RouteTable.RouteTableId
	answer(c.CreateRoute(ctx(t), &ec2.CreateRouteInput{RouteTableId: &n.publicRT, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: &n.igw})).must(t)
	_, err := c.CreateRoute(ctx(t), &ec2.CreateRouteInput{RouteTableId: &n.publicRT, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: &n.igw})
	wantCode(t, err, "RouteAlreadyExists")
	for _, name := range []string{"public-a", "public-b"} {
		answer(c.AssociateRouteTable(ctx(t), &ec2.AssociateRouteTableInput{RouteTableId: &n.publicRT, SubnetId: aws.String(n.subnets[name])})).must(t)
	}

	// NAT gateway with its Elastic IP, and the private route table through it.
	alloc := answer(c.AllocateAddress(ctx(t), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})).must(t)
	n.natAlloc = *alloc.AllocationId
	if !strings.HasPrefix(*alloc.PublicIp, "198.1") {
		t.Errorf("Elastic IP %s is not from the unrouted pool", *alloc.PublicIp)
	}
	nat := answer(c.CreateNatGateway(ctx(t), &ec2.CreateNatGatewayInput{SubnetId: aws.String(n.subnets["public-a"]), AllocationId: &n.natAlloc, TagSpecifications: nameTag(types.ResourceTypeNatgateway, "three-tier")})).must(t)
	n.nat = *nat.NatGateway.NatGatewayId
	waitNAT(t, c, n.nat, types.NatGatewayStateAvailable)
	rt = answer(c.CreateRouteTable(ctx(t), &ec2.CreateRouteTableInput{VpcId: &n.vpc, TagSpecifications: nameTag(types.ResourceTypeRouteTable, "private")})).must(t)
	n.privateRT = *rt.RouteTable.RouteTableId
	answer(c.CreateRoute(ctx(t), &ec2.CreateRouteInput{RouteTableId: &n.privateRT, DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: &n.nat})).must(t)
	for _, name := range []string{"app-a", "app-b", "db-a", "db-b"} {
		answer(c.AssociateRouteTable(ctx(t), &ec2.AssociateRouteTableInput{RouteTableId: &n.privateRT, SubnetId: aws.String(n.subnets[name])})).must(t)
	}

	// Security groups that refer to each other: web from anywhere on 443, app from
	// web on 8080, db from app on 5432.
	sg := func(name string) string {
		out := answer(c.CreateSecurityGroup(ctx(t), &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name + " tier"), VpcId: &n.vpc})).must(t)
		return *out.GroupId
	}
	n.webSG, n.appSG, n.dbSG = sg("web"), sg("app"), sg("db")
	_, err = c.CreateSecurityGroup(ctx(t), &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("again"), VpcId: &n.vpc})
	wantCode(t, err, "InvalidGroup.Duplicate")
	tcp := func(port int32) types.IpPermission {
		return types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
	}
	web := tcp(443)
	web.IpRanges = []types.IpRange{{CidrIp: aws.String("0.0.0.0/0"), Description: aws.String("HTTPS from anywhere")}}
	app := tcp(8080)
	app.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: &n.webSG}}
	db := tcp(5432)
	db.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: &n.appSG}}
	for group, perm := range map[string]types.IpPermission{n.webSG: web, n.appSG: app, n.dbSG: db} {
		out := answer(c.AuthorizeSecurityGroupIngress(ctx(t), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: []types.IpPermission{perm}})).must(t)
		if len(out.SecurityGroupRules) != 1 || !strings.HasPrefix(*out.SecurityGroupRules[0].SecurityGroupRuleId, "sgr-") {
			t.Fatalf("authorize answered rules %+v", out.SecurityGroupRules)
		}
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx(t), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &n.dbSG, IpPermissions: []types.IpPermission{db}})
	wantCode(t, err, "InvalidPermission.Duplicate")
	rules := answer(c.DescribeSecurityGroupRules(ctx(t), &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{n.dbSG}}}})).must(t)
	if len(rules.SecurityGroupRules) != 2 { // the 5432 rule and the default egress rule
		t.Fatalf("db group has %d rules, want 2: %+v", len(rules.SecurityGroupRules), rules.SecurityGroupRules)
	}

	// The db tier's own network ACL: only PostgreSQL from the app subnets in, only
	// replies to them out (stateless, so the ephemeral ports need their own rule).
	acl := answer(c.CreateNetworkAcl(ctx(t), &ec2.CreateNetworkAclInput{VpcId: &n.vpc, TagSpecifications: nameTag(types.ResourceTypeNetworkAcl, "db")})).must(t)
	n.dbACL = *acl.NetworkAcl.NetworkAclId
	answer(c.CreateNetworkAclEntry(ctx(t), &ec2.CreateNetworkAclEntryInput{NetworkAclId: &n.dbACL, RuleNumber: aws.Int32(100), Egress: aws.Bool(false), Protocol: aws.String("6"), RuleAction: types.RuleActionAllow, CidrBlock: aws.String("10.0.10.0/23"), PortRange: &types.PortRange{From: aws.Int32(5432), To: aws.Int32(5432)}})).must(t)
	answer(c.CreateNetworkAclEntry(ctx(t), &ec2.CreateNetworkAclEntryInput{NetworkAclId: &n.dbACL, RuleNumber: aws.Int32(100), Egress: aws.Bool(true), Protocol: aws.String("6"), RuleAction: types.RuleActionAllow, CidrBlock: aws.String("10.0.10.0/23"), PortRange: &types.PortRange{From: aws.Int32(1024), To: aws.Int32(65535)}})).must(t)
	_, err = c.CreateNetworkAclEntry(ctx(t), &ec2.CreateNetworkAclEntryInput{NetworkAclId: &n.dbACL, RuleNumber: aws.Int32(100), Egress: aws.Bool(true), Protocol: aws.String("-1"), RuleAction: types.RuleActionDeny, CidrBlock: aws.String("0.0.0.0/0")})
	wantCode(t, err, "NetworkAclEntryAlreadyExists")
	for _, name := range []string{"db-a", "db-b"} {
		acls := answer(c.DescribeNetworkAcls(ctx(t), &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{n.subnets[name]}}}})).must(t)
		if len(acls.NetworkAcls) != 1 || !*acls.NetworkAcls[0].IsDefault {
			t.Fatalf("subnet %s is not in exactly the default ACL: %+v", name, acls.NetworkAcls)
		}
		for _, a := range acls.NetworkAcls[0].Associations {
			if *a.SubnetId == n.subnets[name] {
				answer(c.ReplaceNetworkAclAssociation(ctx(t), &ec2.ReplaceNetworkAclAssociationInput{AssociationId: a.NetworkAclAssociationId, NetworkAclId: &n.dbACL})).must(t)
			}
		}
	}

	// An app-tier interface with a /28 prefix, and a web interface with an Elastic IP.
	before := answer(c.DescribeSubnets(ctx(t), &ec2.DescribeSubnetsInput{SubnetIds: []string{n.subnets["app-a"]}})).must(t)
	eni := answer(c.CreateNetworkInterface(ctx(t), &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(n.subnets["app-a"]), Groups: []string{n.appSG}, Ipv4PrefixCount: aws.Int32(1), Description: aws.String("app with a /28 for containers")})).must(t)
	n.appENI = *eni.NetworkInterface.NetworkInterfaceId
	if len(eni.NetworkInterface.Ipv4Prefixes) != 1 || !strings.HasSuffix(*eni.NetworkInterface.Ipv4Prefixes[0].Ipv4Prefix, "/28") {
		t.Fatalf("interface prefixes %+v", eni.NetworkInterface.Ipv4Prefixes)
	}
	after := answer(c.DescribeSubnets(ctx(t), &ec2.DescribeSubnetsInput{SubnetIds: []string{n.subnets["app-a"]}})).must(t)
	if got, want := *after.Subnets[0].AvailableIpAddressCount, *before.Subnets[0].AvailableIpAddressCount-17; got != want {
		t.Errorf("app-a has %d free addresses after a primary IP and a /28, want %d", got, want)
	}
	eni = answer(c.CreateNetworkInterface(ctx(t), &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(n.subnets["public-a"]), Groups: []string{n.webSG}})).must(t)
	n.webENI = *eni.NetworkInterface.NetworkInterfaceId
	alloc = answer(c.AllocateAddress(ctx(t), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})).must(t)
	n.eipAlloc = *alloc.AllocationId
	answer(c.AssociateAddress(ctx(t), &ec2.AssociateAddressInput{AllocationId: &n.eipAlloc, NetworkInterfaceId: &n.webENI})).must(t)

	// A peering to a second VPC (an overlapping one is refused), routed from the
	// private table.
	peer := answer(c.CreateVpc(ctx(t), &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})).must(t)
	n.peerVPC = *peer.Vpc.VpcId
	pcx := answer(c.CreateVpcPeeringConnection(ctx(t), &ec2.CreateVpcPeeringConnectionInput{VpcId: &n.vpc, PeerVpcId: &n.peerVPC})).must(t)
	n.peering = *pcx.VpcPeeringConnection.VpcPeeringConnectionId
	answer(c.AcceptVpcPeeringConnection(ctx(t), &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: &n.peering})).must(t)
	answer(c.CreateRoute(ctx(t), &ec2.CreateRouteInput{RouteTableId: &n.privateRT, DestinationCidrBlock: aws.String("10.1.0.0/16"), VpcPeeringConnectionId: &n.peering})).must(t)
	pcxs := answer(c.DescribeVpcPeeringConnections(ctx(t), &ec2.DescribeVpcPeeringConnectionsInput{VpcPeeringConnectionIds: []string{n.peering}})).must(t)
	if pcxs.VpcPeeringConnections[0].Status.Code != types.VpcPeeringConnectionStateReasonCodeActive {
		t.Fatalf("peering is %s", pcxs.VpcPeeringConnections[0].Status.Code)
	}

	n.tearDown(t, c)
}

// waitNAT polls a NAT gateway until it reaches the state.
func waitNAT(t *testing.T, c *ec2.Client, id string, want types.NatGatewayState) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := answer(c.DescribeNatGateways(ctx(t), &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})).must(t)
		if out.NatGateways[0].State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("NAT gateway %s is %s after 20s, want %s", id, out.NatGateways[0].State, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tearDown deletes the three-tier VPC, trying each deletion too early first.
func (n *threeTier) tearDown(t *testing.T, c *ec2.Client) {
	refused := func(code string, calls ...func() error) {
		t.Helper()
		for _, call := range calls {
			wantCode(t, call(), code)
		}
	}
	deleteVPC := func() error { _, err := c.DeleteVpc(ctx(t), &ec2.DeleteVpcInput{VpcId: &n.vpc}); return err }
	deleteSubnet := func(name string) func() error {
		return func() error {
			_, err := c.DeleteSubnet(ctx(t), &ec2.DeleteSubnetInput{SubnetId: aws.String(n.subnets[name])})
			return err
		}
	}
	deleteSG := func(id string) func() error {
		return func() error {
			_, err := c.DeleteSecurityGroup(ctx(t), &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
			return err
		}
	}
	deleteRT := func(id string) func() error {
		return func() error {
			_, err := c.DeleteRouteTable(ctx(t), &ec2.DeleteRouteTableInput{RouteTableId: aws.String(id)})
			return err
		}
	}
	detachIGW := func() error {
		_, err := c.DetachInternetGateway(ctx(t), &ec2.DetachInternetGatewayInput{InternetGatewayId: &n.igw, VpcId: &n.vpc})
		return err
	}

	refused("DependencyViolation",
		deleteVPC,
		detachIGW,                // an Elastic IP is mapped in the VPC
		deleteSubnet("app-a"),    // the app interface lives there
		deleteSubnet("public-a"), // the NAT gateway and the web interface live there
		deleteSG(n.appSG),        // the db group refers to it, the app interface uses it
		deleteSG(n.webSG),        // the app group refers to it, the web interface uses it
		deleteRT(n.publicRT),     // associated with subnets
		deleteRT(n.privateRT),
		func() error {
			_, err := c.DeleteNetworkAcl(ctx(t), &ec2.DeleteNetworkAclInput{NetworkAclId: &n.dbACL})
			return err
		},
		func() error {
			_, err := c.DeleteInternetGateway(ctx(t), &ec2.DeleteInternetGatewayInput{InternetGatewayId: &n.igw})
			return err
		},
	)
	_, err := c.ReleaseAddress(ctx(t), &ec2.ReleaseAddressInput{AllocationId: &n.eipAlloc})
	wantCode(t, err, "InvalidIPAddress.InUse")

	// The right order. Deleting the web interface takes its Elastic IP off it, as on
	// AWS; the address stays allocated.
	answer(c.DeleteNetworkInterface(ctx(t), &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: &n.webENI})).must(t)
	addrs := answer(c.DescribeAddresses(ctx(t), &ec2.DescribeAddressesInput{AllocationIds: []string{n.eipAlloc}})).must(t)
	if addrs.Addresses[0].AssociationId != nil {
		t.Errorf("the address is still associated (%s) after its interface was deleted", *addrs.Addresses[0].AssociationId)
	}
	answer(c.ReleaseAddress(ctx(t), &ec2.ReleaseAddressInput{AllocationId: &n.eipAlloc})).must(t)
	answer(c.DeleteNetworkInterface(ctx(t), &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: &n.appENI})).must(t)
	answer(c.DeleteVpcPeeringConnection(ctx(t), &ec2.DeleteVpcPeeringConnectionInput{VpcPeeringConnectionId: &n.peering})).must(t)
	routes := answer(c.DescribeRouteTables(ctx(t), &ec2.DescribeRouteTablesInput{RouteTableIds: []string{n.privateRT}})).must(t)
	for _, r := range routes.RouteTables[0].Routes {
		if r.VpcPeeringConnectionId != nil && r.State != types.RouteStateBlackhole {
			t.Errorf("route to the deleted peering is %s, want blackhole", r.State)
		}
	}
	answer(c.DeleteNatGateway(ctx(t), &ec2.DeleteNatGatewayInput{NatGatewayId: &n.nat})).must(t)
	waitNAT(t, c, n.nat, types.NatGatewayStateDeleted)
	answer(c.ReleaseAddress(ctx(t), &ec2.ReleaseAddressInput{AllocationId: &n.natAlloc})).must(t)
	// The db group's rule refers to app, app's to web: revoke by deleting from the
	// referring end.
	refused("DependencyViolation", deleteSG(n.appSG))
	for _, id := range []string{n.dbSG, n.appSG, n.webSG} {
		noErr(t, deleteSG(id)())
	}
	for name := range n.subnets {
		noErr(t, deleteSubnet(name)())
	}
	for _, id := range []string{n.publicRT, n.privateRT} {
		noErr(t, deleteRT(id)())
	}
	answer(c.DeleteNetworkAcl(ctx(t), &ec2.DeleteNetworkAclInput{NetworkAclId: &n.dbACL})).must(t)
	noErr(t, detachIGW())
	answer(c.DeleteInternetGateway(ctx(t), &ec2.DeleteInternetGatewayInput{InternetGatewayId: &n.igw})).must(t)
	noErr(t, deleteVPC())
	answer(c.DeleteVpc(ctx(t), &ec2.DeleteVpcInput{VpcId: &n.peerVPC})).must(t)
	left := answer(c.DescribeVpcs(ctx(t), &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"false"}}}})).must(t)
	if len(left.Vpcs) != 0 {
		t.Fatalf("VPCs left: %+v", left.Vpcs)
	}
}
