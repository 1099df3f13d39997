package cloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"strato/internal/cloud/ipam"
	"strato/internal/store"
)

// NetworkInterface is an elastic network interface: private addresses of one
// subnet, security groups, and at most one attachment.
type NetworkInterface struct {
	ID               string `json:"id"`
	OwnerID          string `json:"ownerId"`
	Region           string `json:"region"`
	SubnetID         string `json:"subnetId"`
	VpcID            string `json:"vpcId"`
	AvailabilityZone string `json:"availabilityZone"`
	Description      string `json:"description,omitempty"`
	// InterfaceType is "interface", or the type of the service that made it
	// ("nat_gateway", "vpc_endpoint").
	InterfaceType string `json:"interfaceType"`
	MACAddress    string `json:"macAddress"`
	// PrivateIPs are the interface's addresses; the first is the primary.
	PrivateIPs []InterfaceAddress `json:"privateIps"`
	// Prefixes are the /28 IPv4 prefixes delegated to the interface.
	Prefixes         []string         `json:"prefixes,omitempty"`
	Groups           []InterfaceGroup `json:"groups"`
	SourceDestCheck  bool             `json:"sourceDestCheck"`
	RequesterManaged bool             `json:"requesterManaged"`
	Attachment       *Attachment      `json:"attachment,omitempty"`
	// ManagedBy is the ID of the resource a requester-managed interface serves
	// (a NAT gateway, an endpoint); such an interface is in use while it lives.
	ManagedBy string `json:"managedBy,omitempty"`
	// AutoPublicIP is set on the primary interface of an instance launched with
	// a public IPv4 address: it holds an Amazon-owned public address while the
	// instance runs (instance_publicip.go).
	AutoPublicIP bool      `json:"autoPublicIp,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// InterfaceAddress is one private IPv4 address of an interface, with the Elastic
// IP mapped to it, if any.
type InterfaceAddress struct {
	Address     string              `json:"address"`
	Primary     bool                `json:"primary,omitempty"`
	Association *AddressAssociation `json:"association,omitempty"`
}

// AddressAssociation is a public address mapped to a private one: an Elastic
// IP (with its allocation and association IDs) or a public address assigned
// with an instance (IPOwnerID "amazon", no IDs).
type AddressAssociation struct {
	PublicIP      string `json:"publicIp"`
	IPOwnerID     string `json:"ipOwnerId"`
	AllocationID  string `json:"allocationId,omitempty"`
	AssociationID string `json:"associationId,omitempty"`
	// PublicDNSName is the address's public host name, when the VPC had DNS
	// hostnames on as the address was mapped.
	PublicDNSName string `json:"publicDnsName,omitempty"`
}

// InterfaceGroup is a security group as an interface lists it.
type InterfaceGroup struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Attachment ties an interface to an instance.
type Attachment struct {
	ID                  string    `json:"id"`
	InstanceID          string    `json:"instanceId"`
	InstanceOwnerID     string    `json:"instanceOwnerId"`
	DeviceIndex         int       `json:"deviceIndex"`
	Status              string    `json:"status"`
	DeleteOnTermination bool      `json:"deleteOnTermination"`
	AttachTime          time.Time `json:"attachTime"`
}

// Interface types.
const (
	InterfaceTypeInterface   = "interface"
	InterfaceTypeNATGateway  = "nat_gateway"
	InterfaceTypeVPCEndpoint = "vpc_endpoint"
)

// MaxInterfaceAddresses is strato's limit of IPv4 addresses per interface, the
// primary, secondary addresses and delegated /28 prefixes (each counting one), until
// the limits of instance types apply to attached interfaces: 50, the largest
// per-interface figure of AWS's instance types.
const MaxInterfaceAddresses = 50

// Status is "in-use" while attached or serving the resource that made it.
func (n *NetworkInterface) Status() string {
	if n.Attachment != nil || n.ManagedBy != "" {
		return "in-use"
	}
	return "available"
}

// PrimaryIP is the interface's primary private address.
func (n *NetworkInterface) PrimaryIP() string { return n.PrivateIPs[0].Address }

// addressCount is what counts against MaxInterfaceAddresses.
func (n *NetworkInterface) addressCount() int { return len(n.PrivateIPs) + len(n.Prefixes) }

// PrivateDNSName is the interface's internal host name for an address.
func PrivateDNSName(region, addr string) string {
	return "ip-" + strings.ReplaceAll(addr, ".", "-") + "." + regionDomain(region)
}

// regionDomain is the Region's default internal domain: the one private host names
// are in, and the default DHCP options' domain-name.
func regionDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// PrivateDNSName is the primary address's internal host name.
func (n *NetworkInterface) PrivateDNSName() string {
	return PrivateDNSName(n.Region, n.PrimaryIP())
}

var networkInterfaces = docKind[NetworkInterface]{
	kind: KindNetworkInterface,
	id:   func(n *NetworkInterface) string { return n.ID },
	// The MAC address is unique among the scope's interfaces (the store's unique
	// name enforces it).
	name:   func(n *NetworkInterface) string { return n.MACAddress },
	parent: func(n *NetworkInterface) string { return n.SubnetID },
	tags:   func(n *NetworkInterface) *map[string]string { return &n.Tags },
}

// Quota names for network interfaces.
const QuotaNetworkInterfaces = "network-interfaces-per-region"

func init() {
	quotaDefs[QuotaNetworkInterfaces] = QuotaDef{
		Name:        QuotaNetworkInterfaces,
		Description: "Network interfaces per Region",
		Default:     5000,
		Code:        "NetworkInterfaceLimitExceeded",
		Message:     "You have reached the limit of %d network interfaces in this Region.",
	}
	securityGroupUsers = append(securityGroupUsers, func(tx store.Tx, s Scope, groupID string) (bool, error) {
		all, err := networkInterfaces.load(tx, s, nil, nil)
		for _, n := range all {
			for _, g := range n.Groups {
				if g.ID == groupID {
					return true, err
				}
			}
		}
		return false, err
	})
	// A route to an interface carries traffic while the interface is in use
	// (attached, or serving its NAT gateway or endpoint); to a detached one it is
	// a blackhole, as on AWS.
	routeTargets[KindNetworkInterface] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		n, err := networkInterfaces.get(tx, s, id)
		if err != nil {
			return RouteTarget{}, err
		}
		return RouteTarget{VpcIDs: []string{n.VpcID}, Active: n.Status() == "in-use"}, nil
	}
}

// securityGroupNames gives the names of security groups by ID (an interface
// lists both). Names never change, so they are kept with the interface.
func securityGroupNames(tx store.Tx, s Scope, ids []string) (map[string]string, error) {
	names := make(map[string]string, len(ids))
	for _, id := range ids {
		g, err := securityGroups.get(tx, s, id)
		if err != nil {
			return nil, err
		}
		names[id] = g.Name
	}
	return names, nil
}

// InterfaceRequest is what CreateNetworkInterface asks for, and what other kinds
// (NAT gateways, endpoints, instances) ask for inside their own transaction.
type InterfaceRequest struct {
	SubnetID    string
	Description string
	// PrimaryIP is the primary address wanted ("" for any).
	PrimaryIP string
	// SecondaryIPs are further addresses wanted; SecondaryCount asks for that
	// many of any. Prefixes and PrefixCount are the same for /28 prefixes. At
	// most one of the four may be given.
	SecondaryIPs   []string
	SecondaryCount int
	Prefixes       []string
	PrefixCount    int
	Groups         []string
	// InterfaceType is "" or "interface" for users; services pass their own.
	InterfaceType    string
	RequesterManaged bool
	ManagedBy        string
	Tags             []Tag
}

func (r *InterfaceRequest) validate() error {
	given := 0
	for _, set := range []bool{len(r.SecondaryIPs) > 0, r.SecondaryCount != 0, len(r.Prefixes) > 0, r.PrefixCount != 0} {
		if set {
			given++
		}
	}
	switch {
	case r.SecondaryCount < 0:
		return errorf("InvalidParameterValue", "Value (%d) for parameter secondaryPrivateIpAddressCount is invalid. Expected a non-negative number.", r.SecondaryCount)
	case r.PrefixCount < 0:
		return errorf("InvalidParameterValue", "Value (%d) for parameter ipv4PrefixCount is invalid. Expected a non-negative number.", r.PrefixCount)
	case given > 1:
		return errorf("InvalidParameterCombination", "Only one of specific private IPv4 addresses, a count of private IPv4 addresses, specific IPv4 prefixes or a count of IPv4 prefixes may be given.")
	case 1+len(r.SecondaryIPs)+r.SecondaryCount+len(r.Prefixes)+r.PrefixCount > MaxInterfaceAddresses:
		return addressLimitError()
	}
	return ValidateTags(r.Tags)
}

func addressLimitError() error {
	return errorf("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit of %d per network interface.", MaxInterfaceAddresses)
}

// createInterface makes a network interface in a subnet inside the caller's
// transaction: it takes the addresses from the subnet's pool (writing the subnet
// back, so its available count stays exact) and checks the Region's quota.
func createInterface(tx store.Tx, s Scope, now time.Time, req InterfaceRequest) (NetworkInterface, error) {
	if err := req.validate(); err != nil {
		return NetworkInterface{}, err
	}
	sn, err := subnets.get(tx, s, req.SubnetID)
	if err != nil {
		return NetworkInterface{}, err
	}
	if err := checkCount(tx, s, KindNetworkInterface, QuotaNetworkInterfaces); err != nil {
		return NetworkInterface{}, err
	}
	groups, err := groupRefs(tx, s, sn.VpcID, req.Groups)
	if err != nil {
		return NetworkInterface{}, err
	}
	typ := req.InterfaceType
	if typ == "" {
		typ = InterfaceTypeInterface
	}
	n := NetworkInterface{
		ID: NewID("eni"), OwnerID: s.Account, Region: s.Region, SubnetID: sn.ID, VpcID: sn.VpcID,
		AvailabilityZone: sn.AvailabilityZone, Description: req.Description, InterfaceType: typ,
		Groups: groups, SourceDestCheck: true, RequesterManaged: req.RequesterManaged, ManagedBy: req.ManagedBy,
		CreatedAt: now,
	}
	pool := sn.Addresses
	// Named addresses first, so that addresses chosen for the rest avoid them.
	if req.PrimaryIP != "" {
		if err := takeAddress(pool, req.PrimaryIP); err != nil {
			return NetworkInterface{}, err
		}
		n.PrivateIPs = append(n.PrivateIPs, InterfaceAddress{Address: req.PrimaryIP, Primary: true})
	}
	var secondary []string
	for _, a := range req.SecondaryIPs {
		if err := takeAddress(pool, a); err != nil {
			return NetworkInterface{}, err
		}
		secondary = append(secondary, a)
	}
	if req.PrimaryIP == "" {
		a, err := pool.TakeAny()
		if err != nil {
			return NetworkInterface{}, err
		}
		n.PrivateIPs = append(n.PrivateIPs, InterfaceAddress{Address: a.String(), Primary: true})
	}
	for _, a := range secondary {
		n.PrivateIPs = append(n.PrivateIPs, InterfaceAddress{Address: a})
	}
	if _, err := addAddresses(pool, &n, nil, req.SecondaryCount); err != nil {
		return NetworkInterface{}, err
	}
	if _, err := addPrefixes(pool, &n, req.Prefixes, req.PrefixCount); err != nil {
		return NetworkInterface{}, err
	}
	if err := subnets.update(tx, s, &sn); err != nil {
		return NetworkInterface{}, err
	}
	if err := insertWithMAC(tx, s, &n, req.Tags); err != nil {
		return NetworkInterface{}, err
	}
	n.Tags = tagMap(req.Tags)
	return n, nil
}

// takeAddress assigns a named address from a subnet's pool.
func takeAddress(pool *ipam.Pool, addr string) error {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return errorf("InvalidParameterValue", "Value (%s) for parameter privateIpAddress is invalid. Expected a valid IPv4 address.", addr)
	}
	return pool.Take(a)
}

// addAddresses assigns the named addresses and count more to an interface
// (secondary addresses) and returns the ones added.
func addAddresses(pool *ipam.Pool, n *NetworkInterface, named []string, count int) ([]string, error) {
	var added []string
	for _, a := range named {
		if err := takeAddress(pool, a); err != nil {
			return nil, err
		}
		added = append(added, a)
	}
	for range count {
		a, err := pool.TakeAny()
		if err != nil {
			return nil, err
		}
		added = append(added, a.String())
	}
	for _, a := range added {
		n.PrivateIPs = append(n.PrivateIPs, InterfaceAddress{Address: a})
	}
	return added, nil
}

// addPrefixes delegates the named /28 prefixes and count more to an interface and
// returns the ones added; prefixes of any are taken from the subnet's prefix
// reservations first, as AWS does.
func addPrefixes(pool *ipam.Pool, n *NetworkInterface, named []string, count int) ([]string, error) {
	var added []string
	for _, p := range named {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, errorf("InvalidParameterValue", "Value (%s) for parameter ipv4Prefix is invalid. Expected a valid IPv4 /28 prefix.", p)
		}
		if err := pool.TakePrefix(pfx); err != nil {
			return nil, err
		}
		added = append(added, pfx.String())
	}
	for range count {
		pfx, err := pool.TakeAnyPrefix()
		if err != nil {
			return nil, err
		}
		added = append(added, pfx.String())
	}
	n.Prefixes = append(n.Prefixes, added...)
	return added, nil
}

// insertWithMAC gives the interface an AWS-style locally administered MAC
// address (0e:…) unused in the scope, and stores it.
func insertWithMAC(tx store.Tx, s Scope, n *NetworkInterface, tags []Tag) error {
	for range 8 {
		var b [5]byte
		rand.Read(b[:])
		n.MACAddress = fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4])
		err := networkInterfaces.insert(tx, s, n, n.CreatedAt, tags)
		var dup *DuplicateError
		if !errors.As(err, &dup) {
			return err
		}
	}
	return errors.New("no unused MAC address found")
}

// groupRefs checks the groups given to an interface in a VPC (the VPC's default
// group when none) and pairs them with their names.
func groupRefs(tx store.Tx, s Scope, vpcID string, ids []string) ([]InterfaceGroup, error) {
	ids, err := securityGroupsFor(tx, s, vpcID, ids)
	if err != nil {
		return nil, err
	}
	names, err := securityGroupNames(tx, s, ids)
	if err != nil {
		return nil, err
	}
	out := make([]InterfaceGroup, 0, len(ids))
	for _, id := range ids {
		out = append(out, InterfaceGroup{ID: id, Name: names[id]})
	}
	return out, nil
}

// deleteInterface deletes an interface inside the caller's transaction: its
// addresses return to the subnet and the Elastic IPs mapped to it are
// disassociated (they stay allocated). The caller checks it may be deleted.
func deleteInterface(tx store.Tx, s Scope, id string) error {
	n, err := networkInterfaces.get(tx, s, id)
	if err != nil {
		return err
	}
	for _, a := range n.PrivateIPs {
		if err := dropAssociation(tx, s, a.Association); err != nil {
			return err
		}
	}
	sn, err := subnets.get(tx, s, n.SubnetID)
	if err != nil {
		return err
	}
	if err := releaseFromPool(sn.Addresses, n.PrivateIPs, n.Prefixes); err != nil {
		return fmt.Errorf("interface %s: %w", n.ID, err)
	}
	if err := subnets.update(tx, s, &sn); err != nil {
		return err
	}
	return networkInterfaces.remove(tx, s, id)
}

// releaseFromPool returns addresses and prefixes to a subnet's pool.
func releaseFromPool(pool *ipam.Pool, addrs []InterfaceAddress, prefixes []string) error {
	for _, a := range addrs {
		if err := pool.Release(netip.MustParseAddr(a.Address)); err != nil {
			return err
		}
	}
	for _, p := range prefixes {
		if err := pool.ReleasePrefix(netip.MustParsePrefix(p)); err != nil {
			return err
		}
	}
	return nil
}

// CreateNetworkInterface makes an interface in a subnet; a repeated client token
// returns the first result.
func (c *Cloud) CreateNetworkInterface(ctx context.Context, s Scope, token string, req InterfaceRequest) (NetworkInterface, error) {
	switch req.InterfaceType {
	case "", InterfaceTypeInterface:
	case "efa", "efa-only", "trunk", "branch":
		return NetworkInterface{}, errorf("UnsupportedOperation", "strato does not offer network interfaces of type %s; use interface.", req.InterfaceType)
	default:
		return NetworkInterface{}, errorf("InvalidParameterValue", "Value (%s) for parameter interfaceType is invalid. Valid values: interface, efa, efa-only, trunk.", req.InterfaceType)
	}
	req.RequesterManaged, req.ManagedBy = false, ""
	n, err := Idempotent(ctx, c, s, "CreateNetworkInterface", token, req, func(tx store.Tx) (NetworkInterface, error) {
		return createInterface(tx, s, c.clock.Now(), req)
	})
	if err == nil && n.Tags == nil {
		n.Tags = tagMap(req.Tags)
	}
	if err == nil {
		c.networkAndPeersChanged(ctx, s, n.VpcID)
	}
	return n, err
}

// DeleteNetworkInterface deletes an interface that is not in use.
func (c *Cloud) DeleteNetworkInterface(ctx context.Context, s Scope, id string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		n, err := networkInterfaces.get(tx, s, id)
		if err != nil {
			return err
		}
		if n.Status() == "in-use" {
			return errorf("InvalidNetworkInterface.InUse", "Interface: %s in use.", id)
		}
		vpcID = n.VpcID
		return deleteInterface(tx, s, id)
	})
	if err == nil {
		// Elastic IPs mapped to it are unmapped.
		c.networkAndPeersChanged(ctx, s, vpcID)
	}
	return err
}

// interfacesOfVPC reads the interfaces in every subnet of a VPC.
func interfacesOfVPC(tx store.Tx, s Scope, vpcID string) ([]NetworkInterface, error) {
	sns, err := subnetsOfVPC(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	var out []NetworkInterface
	for _, sn := range sns {
		in, err := networkInterfaces.children(tx, s, sn.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, in...)
	}
	return out, nil
}
