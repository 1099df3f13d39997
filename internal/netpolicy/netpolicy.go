// Package netpolicy is what the control plane tells the dataplane about one VPC: its
// whole network policy (interfaces, security groups, network ACLs, route tables,
// gateways, peerings, public addresses, DNS and flow logs), resolved to addresses.
//
// The control plane (internal/cloud) builds a VPC value from its store after every
// change that commits and hands it to the dataplane (internal/vpcnet), which renders it
// whole: nothing here refers to the store, and nothing in the dataplane looks anything up
// in the control plane. A VPC value describes policy, not wiring: which host an
// interface is plugged into is the driver's business, so the same value can later be
// rendered on every host that carries the VPC.
package netpolicy

import "net/netip"

// VPC is one VPC's whole network policy.
type VPC struct {
	ID        string
	AccountID string
	Region    string
	// CIDRs are the VPC's associated IPv4 blocks, primary first. Traffic to them
	// follows the local route.
	CIDRs []netip.Prefix

	Subnets        []Subnet
	Interfaces     []Interface // every interface of the VPC that has an address
	SecurityGroups []SecurityGroup
	NetworkACLs    []NetworkACL
	RouteTables    []RouteTable

	// InternetGateway is the ID of the attached internet gateway, "" when none.
	InternetGateway string
	NATGateways     []NATGateway // available ones only
	Peerings        []Peering    // active ones only

	// Public maps each public address (auto-assigned or Elastic) to the private
	// address it is NATed to 1:1 at the internet gateway.
	Public map[netip.Addr]netip.Addr

	DNS      DNS
	FlowLogs []FlowLog
}

// Subnet is one subnet and what governs it.
type Subnet struct {
	ID         string
	CIDR       netip.Prefix
	NetworkACL string // the associated network ACL (explicit, or the VPC's default)
	RouteTable string // the associated route table (explicit, or the VPC's main one)
}

// Interface kinds (EC2's InterfaceType, as far as the dataplane cares).
const (
	InterfaceInstance   = "interface"
	InterfaceNATGateway = "nat_gateway"
	InterfaceEndpoint   = "vpc_endpoint"
)

// Interface is one network interface (ENI).
type Interface struct {
	ID       string
	SubnetID string
	Kind     string // InterfaceInstance, InterfaceNATGateway, …
	// Addresses are the private IPv4 addresses, primary first; Prefixes the delegated
	// IPv4 prefixes. Together they are what the interface may send from when
	// SourceDestCheck is on.
	Addresses []netip.Addr
	Prefixes  []netip.Prefix
	// SecurityGroups are the IDs of the interface's groups, in SecurityGroups of
	// this VPC. An interface with none (a NAT gateway's) is not filtered by groups.
	SecurityGroups  []string
	SourceDestCheck bool
	InstanceID      string // the instance it is attached to, "" when none
}

// Protocol numbers (IANA); ProtocolAll matches every protocol.
const (
	ProtocolAll  = -1
	ProtocolICMP = 1
	ProtocolTCP  = 6
	ProtocolUDP  = 17
)

// SecurityGroup is a stateful allow-list. A connection is allowed out of an
// interface when any egress rule of any of its groups matches its first packet, and
// into an interface when any ingress rule matches; replies of an allowed connection
// always pass.
type SecurityGroup struct {
	ID      string
	Ingress []Rule // Peers are sources
	Egress  []Rule // Peers are destinations
}

// Rule allows one protocol (and port range) to or from a set of addresses.
type Rule struct {
	Protocol int // IANA number, or ProtocolAll
	// FromPort and ToPort bound the port range for TCP and UDP. For ICMP, FromPort is
	// the type and ToPort the code, -1 meaning any. Ignored for other protocols.
	FromPort, ToPort int
	// Peers are the rule's addresses with everything resolved: CIDRs, the entries of
	// referenced prefix lists, and the addresses of the interfaces in referenced
	// groups (as /32s) at the time of the push.
	Peers []netip.Prefix
}

// NetworkACL is a stateless, ordered list per direction.
type NetworkACL struct {
	ID string
	// Ingress and Egress are in ascending rule-number order and end with the
	// default rule (number 32767, "*", deny). The first entry that matches decides.
	Ingress []ACLEntry
	Egress  []ACLEntry
}

// DefaultACLRuleNumber is the number given to the "*" rule that ends every list.
const DefaultACLRuleNumber = 32767

// ACLEntry is one numbered rule of a network ACL.
type ACLEntry struct {
	RuleNumber int
	Protocol   int // IANA number, or ProtocolAll
	// FromPort/ToPort as in Rule (TCP/UDP ports; ICMP type and code, -1 any).
	FromPort, ToPort int
	CIDR             netip.Prefix // the other end: source for ingress, destination for egress
	Allow            bool
}

// Route targets.
const (
	TargetInternetGateway = "igw"
	TargetNATGateway      = "nat"
	TargetPeering         = "pcx"
	TargetInterface       = "eni" // an instance target is resolved to its primary interface
	TargetEndpoint        = "vpce"
	TargetBlackhole       = "blackhole"
)

// RouteTable is a route table's routes other than the local ones (the VPC's CIDRs are
// always local, whatever the table says).
type RouteTable struct {
	ID     string
	Routes []Route
}

// Route sends a destination to a target. Routes whose target is gone or not usable
// (a detached internet gateway, a deleted NAT gateway, an inactive peering) come as
// TargetBlackhole, as EC2 reports them; routes to a prefix list come as one route per
// entry.
type Route struct {
	Destination netip.Prefix
	Target      string // Target… constants
	TargetID    string // the gateway's, peering's, interface's or endpoint's ID; "" for blackhole
}

// NATGateway is an available public NAT gateway. Its interface is among the VPC's
// Interfaces (Kind InterfaceNATGateway); its Elastic IP is in Public.
type NATGateway struct {
	ID          string
	SubnetID    string
	InterfaceID string
	PrivateIP   netip.Addr
	PublicIP    netip.Addr
}

// Peering is an active VPC peering connection as seen from this VPC.
type Peering struct {
	ID        string
	PeerVPC   string // the other VPC's ID (maybe in another region or account)
	PeerCIDRs []netip.Prefix
}

// DNS is what the VPC's Amazon-provided resolver (VPC base + 2 and 169.254.169.253)
// answers, and what instances are told to use.
type DNS struct {
	Support   bool // enableDnsSupport: the resolver answers at all
	Hostnames bool // enableDnsHostnames: public names resolve
	// DomainName is the search domain instances get (the DHCP options' domain-name,
	// or the region's default: ec2.internal in us-east-1, REGION.compute.internal
	// elsewhere).
	DomainName string
	// NameServers are the DHCP options' domain-name-servers as addresses; the
	// Amazon-provided resolver is given as the VPC's base + 2.
	NameServers []netip.Addr
	// Records are the names the resolver answers for (A records, and PTR records
	// for the same pairs): the private names of every interface address, and the
	// public names when Hostnames is on (which answer the private address inside
	// the VPC, as on AWS).
	Records []DNSRecord
}

// DNSRecord is one name and its address.
type DNSRecord struct {
	Name string // fully qualified, lower case, without the final dot
	Addr netip.Addr
}

// Flow log traffic types.
const (
	TrafficAccept = "ACCEPT"
	TrafficReject = "REJECT"
	TrafficAll    = "ALL"
)

// FlowLog is an active flow log on the VPC, one of its subnets or one interface.
type FlowLog struct {
	ID          string
	ResourceID  string // vpc-…, subnet-… or eni-…
	TrafficType string // TrafficAccept, TrafficReject or TrafficAll
	// Destination is the file records are appended to.
	Destination string
	// Format is the record format ("${version} ${account-id} …"); "" is AWS's
	// default format.
	Format string
	// AggregationInterval is the longest a flow is aggregated before its record is
	// written, in seconds (60 or 600 on AWS).
	AggregationInterval int
}
