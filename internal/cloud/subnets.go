package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"strato/internal/catalog"
	"strato/internal/cloud/filter"
	"strato/internal/cloud/ipam"
	"strato/internal/store"
)

// Subnet is a range of a VPC's addresses in one availability zone.
type Subnet struct {
	ID                          string `json:"id"`
	VpcID                       string `json:"vpcId"`
	OwnerID                     string `json:"ownerId"`
	Region                      string `json:"region"`
	CIDR                        string `json:"cidr"`
	AvailabilityZone            string `json:"availabilityZone"`
	AvailabilityZoneID          string `json:"availabilityZoneId"`
	MapPublicIPOnLaunch         bool   `json:"mapPublicIpOnLaunch"`
	DefaultForAZ                bool   `json:"defaultForAz"`
	AssignIPv6AddressOnCreation bool   `json:"assignIpv6AddressOnCreation"`
	// IPv6Blocks holds the subnet's IPv6 block, if it has one.
	IPv6Blocks []CIDRBlockAssociation `json:"ipv6Blocks,omitempty"`
	CreatedAt  time.Time              `json:"createdAt"`
	// Addresses are the subnet's private addresses: the five AWS reserves are never
	// handed out, and AvailableIPAddressCount is exact.
	Addresses *ipam.Pool `json:"addresses"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// State is always "available": creation is synchronous in strato.
func (s *Subnet) State() string { return "available" }

// ARN is the subnet's Amazon Resource Name.
func (s *Subnet) ARN() string {
	return "arn:aws:ec2:" + s.Region + ":" + s.OwnerID + ":subnet/" + s.ID
}

// AvailableIPAddressCount is what DescribeSubnets reports.
func (s *Subnet) AvailableIPAddressCount() int { return s.Addresses.Available() }

var subnets = docKind[Subnet]{
	kind:   KindSubnet,
	id:     func(s *Subnet) string { return s.ID },
	parent: func(s *Subnet) string { return s.VpcID },
	tags:   func(s *Subnet) *map[string]string { return &s.Tags },
}

// Quota names for subnets.
const QuotaSubnets = "subnets-per-vpc"

func init() {
	quotaDefs[QuotaSubnets] = QuotaDef{
		Name:        QuotaSubnets,
		Description: "Subnets per VPC",
		Default:     200,
		Code:        "SubnetLimitExceeded",
		Message:     "The maximum number of subnets per VPC has been reached (%d).",
	}
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		in, err := subnetsOfVPC(tx, s, vpcID)
		return len(in) > 0, err
	})
}

// subnetsOfVPC reads the subnets of one VPC.
func subnetsOfVPC(tx store.Tx, s Scope, vpcID string) ([]Subnet, error) {
	return subnets.children(tx, s, vpcID)
}

// SubnetRequest is what CreateSubnet asks for.
type SubnetRequest struct {
	VpcID              string
	CIDR               string
	AvailabilityZone   string
	AvailabilityZoneID string
	// IPv6CIDR is an IPv6 block from one of the VPC's, or empty.
	IPv6CIDR string
	Tags     []Tag
}

// CreateSubnet makes a subnet inside one of a VPC's blocks, in one zone of the region.
func (c *Cloud) CreateSubnet(ctx context.Context, s Scope, req SubnetRequest) (Subnet, error) {
	if err := ValidateTags(req.Tags); err != nil {
		return Subnet{}, err
	}
	zone, err := subnetZone(s.Region, req.AvailabilityZone, req.AvailabilityZoneID)
	if err != nil {
		return Subnet{}, err
	}
	var sn Subnet
	err = c.update(ctx, func(tx store.Tx) error {
		vpc, err := vpcs.get(tx, s, req.VpcID)
		if err != nil {
			return err
		}
		siblings, err := subnetsOfVPC(tx, s, vpc.ID)
		if err != nil {
			return err
		}
		if err := checkQuota(tx, s.Account, QuotaSubnets, len(siblings)); err != nil {
			return err
		}
		prefix, err := ipam.ParseSubnetCIDR(req.CIDR, prefixes(vpc.CIDRBlocks), subnetBlocks(siblings, false))
		if err != nil {
			return err
		}
		sn = Subnet{
			ID: NewID("subnet"), VpcID: vpc.ID, OwnerID: s.Account, Region: s.Region, CIDR: prefix.String(),
			AvailabilityZone: zone.ZoneName, AvailabilityZoneID: zone.ZoneId,
			CreatedAt: c.clock.Now(), Addresses: ipam.NewPool(prefix),
		}
		if req.IPv6CIDR != "" {
			assoc, err := newSubnetIPv6Block(vpc, siblings, req.IPv6CIDR)
			if err != nil {
				return err
			}
			sn.IPv6Blocks = []CIDRBlockAssociation{assoc}
		}
		if err := subnets.insert(tx, s, &sn, sn.CreatedAt, req.Tags); err != nil {
			return err
		}
		return runHooks(subnetCreated, tx, s, &sn)
	})
	sn.Tags = tagMap(req.Tags)
	if err == nil {
		c.networkChanged(s, sn.VpcID)
	}
	return sn, err
}

// subnetZone resolves the zone a subnet goes in: the one named (by name or ID, not
// both), or the region's first zone.
func subnetZone(region, name, id string) (catalog.Zone, error) {
	r, _ := catalog.LookupRegion(region)
	if name != "" && id != "" {
		return catalog.Zone{}, errorf("InvalidParameterCombination", "Only one of availabilityZone and availabilityZoneId may be given.")
	}
	if name == "" && id == "" {
		return r.Zones[0], nil
	}
	var names []string
	for _, z := range r.Zones {
		if z.ZoneName == name || z.ZoneId == id {
			return z, nil
		}
		names = append(names, z.ZoneName)
	}
	param, value := "availabilityZone", name
	if id != "" {
		param, value = "availabilityZoneId", id
	}
	return catalog.Zone{}, errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Subnets can currently only be created in the following availability zones: %s.", value, param, strings.Join(names, ", "))
}

var subnetFields = func() filter.Fields[Subnet] {
	f := filter.Fields[Subnet]{
		"availability-zone":          func(s Subnet) []string { return []string{s.AvailabilityZone} },
		"availability-zone-id":       func(s Subnet) []string { return []string{s.AvailabilityZoneID} },
		"available-ip-address-count": func(s Subnet) []string { return []string{strconv.Itoa(s.AvailableIPAddressCount())} },
		"cidr-block":                 func(s Subnet) []string { return []string{s.CIDR} },
		"default-for-az":             func(s Subnet) []string { return boolValue(s.DefaultForAZ) },
		"map-public-ip-on-launch":    func(s Subnet) []string { return boolValue(s.MapPublicIPOnLaunch) },
		"owner-id":                   func(s Subnet) []string { return []string{s.OwnerID} },
		"state":                      func(s Subnet) []string { return []string{s.State()} },
		"subnet-arn":                 func(s Subnet) []string { return []string{s.ARN()} },
		"subnet-id":                  func(s Subnet) []string { return []string{s.ID} },
		"vpc-id":                     func(s Subnet) []string { return []string{s.VpcID} },
		"ipv6-native":                func(s Subnet) []string { return boolValue(false) },
		"enable-dns64":               func(s Subnet) []string { return boolValue(false) },
		"ipv6-cidr-block-association.ipv6-cidr-block": func(s Subnet) []string {
			return blockValues(s.IPv6Blocks, func(b CIDRBlockAssociation) string { return b.CIDR })
		},
		"ipv6-cidr-block-association.association-id": func(s Subnet) []string {
			return blockValues(s.IPv6Blocks, func(b CIDRBlockAssociation) string { return b.AssociationID })
		},
		"ipv6-cidr-block-association.state": func(s Subnet) []string {
			return blockValues(s.IPv6Blocks, func(b CIDRBlockAssociation) string { return b.State })
		},
		"assign-ipv6-address-on-creation": func(s Subnet) []string { return boolValue(s.AssignIPv6AddressOnCreation) },
		// Not modelled yet (Outposts, customer-owned pools, local network
		// interfaces): these match nothing.
		"customer-owned-ipv4-pool":        func(Subnet) []string { return nil },
		"enable-lni-at-device-index":      func(Subnet) []string { return nil },
		"map-customer-owned-ip-on-launch": func(Subnet) []string { return boolValue(false) },
		"outpost-arn":                     func(Subnet) []string { return nil },
	}
	// The older spellings AWS still accepts.
	f["availabilityZone"] = f["availability-zone"]
	f["availabilityZoneId"] = f["availability-zone-id"]
	f["cidr"] = f["cidr-block"]
	f["cidrBlock"] = f["cidr-block"]
	f["defaultForAz"] = f["default-for-az"]
	return f
}()

// DescribeSubnets lists subnets by ID (each must exist) or all of them, filtered and
// paginated (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeSubnets(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]Subnet, string, error) {
	return describe(ctx, c, s, subnets, "DescribeSubnets", subnetFields, ids, filters, page, 5, 1000)
}

// DeleteSubnet deletes a subnet that holds no network interfaces.
func (c *Cloud) DeleteSubnet(ctx context.Context, s Scope, id string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		sn, err := subnets.get(tx, s, id)
		if err != nil {
			return err
		}
		vpcID = sn.VpcID
		if sn.Addresses.Assigned() > 0 {
			return errorf("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted.", id)
		}
		if err := runHooks(subnetDeleted, tx, s, &sn); err != nil {
			return err
		}
		return subnets.remove(tx, s, id)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// Subnet attributes ModifySubnetAttribute changes.
const (
	SubnetAttrMapPublicIPOnLaunch = "mapPublicIpOnLaunch"
	SubnetAttrAssignIPv6OnCreate  = "assignIpv6AddressOnCreation"
)

// SetSubnetAttribute changes whether instances launched in the subnet get a public
// IPv4 address, or an IPv6 address (which needs the subnet to have an IPv6 block).
func (c *Cloud) SetSubnetAttribute(ctx context.Context, s Scope, id, attr string, value bool) error {
	return c.update(ctx, func(tx store.Tx) error {
		sn, err := subnets.get(tx, s, id)
		if err != nil {
			return err
		}
		switch attr {
		case SubnetAttrMapPublicIPOnLaunch:
			sn.MapPublicIPOnLaunch = value
		case SubnetAttrAssignIPv6OnCreate:
			if value && len(sn.IPv6Blocks) == 0 {
				return errorf("InvalidParameterValue", "Invalid value 'true' for assignIpv6AddressOnCreation: subnet %s has no IPv6 CIDR block.", id)
			}
			sn.AssignIPv6AddressOnCreation = value
		default:
			return fmt.Errorf("unknown subnet attribute %q", attr)
		}
		return subnets.update(tx, s, &sn)
	})
}

// prefixes parses the blocks of associations.
func prefixes(blocks []CIDRBlockAssociation) []netip.Prefix {
	out := make([]netip.Prefix, len(blocks))
	for i, b := range blocks {
		out[i] = netip.MustParsePrefix(b.CIDR)
	}
	return out
}

// subnetBlocks lists the IPv4 (or IPv6) blocks of subnets.
func subnetBlocks(list []Subnet, ipv6 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, sn := range list {
		if ipv6 {
			out = append(out, prefixes(sn.IPv6Blocks)...)
		} else {
			out = append(out, netip.MustParsePrefix(sn.CIDR))
		}
	}
	return out
}

// newSubnetIPv6Block checks an IPv6 block for a subnet of vpc against the VPC's
// IPv6 blocks and the other subnets'.
func newSubnetIPv6Block(vpc VPC, siblings []Subnet, cidr string) (CIDRBlockAssociation, error) {
	if len(vpc.IPv6Blocks) == 0 {
		return CIDRBlockAssociation{}, errorf("InvalidSubnet.Range", "The IPv6 CIDR '%s' is invalid: VPC %s has no IPv6 CIDR block.", cidr, vpc.ID)
	}
	p, err := ipam.ParseSubnetIPv6CIDR(cidr, prefixes(vpc.IPv6Blocks), subnetBlocks(siblings, true))
	if err != nil {
		return CIDRBlockAssociation{}, err
	}
	return CIDRBlockAssociation{AssociationID: NewID("subnet-cidr-assoc"), CIDR: p.String(), State: "associated"}, nil
}

// AssociateSubnetIPv6Block gives a subnet an IPv6 block from its VPC's; a subnet
// has at most one.
func (c *Cloud) AssociateSubnetIPv6Block(ctx context.Context, s Scope, subnetID, cidr string) (CIDRBlockAssociation, error) {
	var assoc CIDRBlockAssociation
	err := c.update(ctx, func(tx store.Tx) error {
		sn, err := subnets.get(tx, s, subnetID)
		if err != nil {
			return err
		}
		if len(sn.IPv6Blocks) > 0 {
			return errorf("CidrLimitExceeded", "Subnet %s already has an IPv6 CIDR block (%s); a subnet can have only one.", sn.ID, sn.IPv6Blocks[0].CIDR)
		}
		vpc, err := vpcs.get(tx, s, sn.VpcID)
		if err != nil {
			return err
		}
		siblings, err := subnetsOfVPC(tx, s, vpc.ID)
		if err != nil {
			return err
		}
		if assoc, err = newSubnetIPv6Block(vpc, siblings, cidr); err != nil {
			return err
		}
		sn.IPv6Blocks = []CIDRBlockAssociation{assoc}
		return subnets.update(tx, s, &sn)
	})
	assoc.State = "associating"
	return assoc, err
}

// DisassociateSubnetIPv6Block removes a subnet's IPv6 block by its association ID.
func (c *Cloud) DisassociateSubnetIPv6Block(ctx context.Context, s Scope, associationID string) (string, CIDRBlockAssociation, error) {
	var subnetID string
	var assoc CIDRBlockAssociation
	err := c.update(ctx, func(tx store.Tx) error {
		all, err := subnets.load(tx, s, nil, nil)
		if err != nil {
			return err
		}
		for _, sn := range all {
			if len(sn.IPv6Blocks) == 0 || sn.IPv6Blocks[0].AssociationID != associationID {
				continue
			}
			subnetID, assoc = sn.ID, sn.IPv6Blocks[0]
			sn.IPv6Blocks, sn.AssignIPv6AddressOnCreation = nil, false
			return subnets.update(tx, s, &sn)
		}
		return errorf("InvalidSubnetCidrBlockAssociationID.NotFound", "The subnet CIDR block with association ID '%s' does not exist", associationID)
	})
	assoc.State = "disassociating"
	return subnetID, assoc, err
}
