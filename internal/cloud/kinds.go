package cloud

// Resource types, spelled as AWS names them in tags and TagSpecifications. Each is
// also the store's kind for resources of that type.
const (
	KindKeyPair                   = "key-pair"
	KindVPC                       = "vpc"
	KindSubnet                    = "subnet"
	KindInternetGateway           = "internet-gateway"
	KindEgressOnlyInternetGateway = "egress-only-internet-gateway"
	KindRouteTable                = "route-table"
	KindNetworkACL                = "network-acl"
	KindSecurityGroup             = "security-group"
	KindSecurityGroupRule         = "security-group-rule"
	KindNetworkInterface          = "network-interface"
	KindElasticIP                 = "elastic-ip"
	KindNATGateway                = "natgateway"
	KindVPCPeeringConnection      = "vpc-peering-connection"
	KindDHCPOptions               = "dhcp-options"
	KindVPCEndpoint               = "vpc-endpoint"
	KindPrefixList                = "prefix-list"
	KindSubnetCIDRReservation     = "subnet-cidr-reservation"
	KindInstance                  = "instance"
	KindVolume                    = "volume"
	KindSnapshot                  = "snapshot"
	KindImage                     = "image"
	KindLaunchTemplate            = "launch-template"
)

// resourceKinds maps an ID prefix to the resource type AWS names in tags and
// TagSpecifications. Kinds strato does not store yet are listed too, so that a
// well-formed ID of one is "not found" with that kind's code, as on AWS, rather than
// "not valid".
var resourceKinds = map[string]string{
	"key":      KindKeyPair,
	"i":        KindInstance,
	"vol":      KindVolume,
	"snap":     KindSnapshot,
	"ami":      KindImage,
	"vpc":      KindVPC,
	"subnet":   KindSubnet,
	"sg":       KindSecurityGroup,
	"sgr":      KindSecurityGroupRule,
	"igw":      KindInternetGateway,
	"eigw":     KindEgressOnlyInternetGateway,
	"rtb":      KindRouteTable,
	"acl":      KindNetworkACL,
	"eni":      KindNetworkInterface,
	"eipalloc": KindElasticIP,
	"nat":      KindNATGateway,
	"pcx":      KindVPCPeeringConnection,
	"dopt":     KindDHCPOptions,
	"vpce":     KindVPCEndpoint,
	"pl":       KindPrefixList,
	"scr":      KindSubnetCIDRReservation,
	"lt":       "launch-template",
	"cgw":      "customer-gateway",
	"vgw":      "vpn-gateway",
	"vpn":      "vpn-connection",
	"sir":      "spot-instances-request",
	"tgw":      "transit-gateway",
}
