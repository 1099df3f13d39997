package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"strato/internal/catalog"
	"strato/internal/cloud/ipam"
	"strato/internal/store"
)

// The default VPC's block and its subnets' size, as on AWS.
const (
	DefaultVPCCIDR         = "172.31.0.0/16"
	defaultSubnetPrefixLen = 20
)

// defaultVPCs remembers the scopes whose default VPC has been made (or deliberately
// not made), so the check costs a map lookup after the first request of a scope.
type defaultVPCs struct {
	disabled bool
	made     sync.Map // Scope → struct{}
}

// DisableDefaultVPCs stops the lazy creation of default VPCs (unit tests that count
// resources use it); CreateDefaultVpc still works.
func (c *Cloud) DisableDefaultVPCs() { c.defaults.disabled = true }

// defaultVPCMade is the setting that records that a scope's default VPC was made
// once: after the user deletes it, it stays deleted until CreateDefaultVpc.
func defaultVPCMade(s Scope) string { return "default-vpc-made/" + s.Account + "/" + s.Region }

// EnsureDefaultVPC makes the scope's default VPC on first use of the region: the
// VPC, one default subnet per zone, an attached internet gateway with the main
// route table's default route to it, and (through the VPC hooks) the default
// network ACL and security group — all in one transaction.
func (c *Cloud) EnsureDefaultVPC(ctx context.Context, s Scope) error {
	if c.defaults.disabled {
		return nil
	}
	if _, ok := c.defaults.made.Load(s); ok {
		return nil
	}
	// Not c.update: a dry run's first request still makes the default VPC.
	err := c.store.Update(ctx, func(tx store.Tx) error {
		tx = c.clocked(tx)
		if _, err := tx.GetSetting(defaultVPCMade(s)); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := c.createDefaultVPC(tx, s); err != nil {
			return err
		}
		return tx.PutSetting(defaultVPCMade(s), []byte("yes"))
	})
	if err != nil {
		return fmt.Errorf("default VPC of %s in %s: %w", s.Account, s.Region, err)
	}
	c.defaults.made.Store(s, struct{}{})
	return nil
}

// createDefaultVPC makes a default VPC with all it comes with. The VPC quota is the
// caller's to check.
func (c *Cloud) createDefaultVPC(tx store.Tx, s Scope) (VPC, error) {
	now := c.clock.Now()
	opts, err := defaultDHCPOptions(tx, s, now)
	if err != nil {
		return VPC{}, err
	}
	v := VPC{
		ID: NewID("vpc"), OwnerID: s.Account,
		CIDRBlocks:      []CIDRBlockAssociation{{AssociationID: NewID("vpc-cidr-assoc"), CIDR: DefaultVPCCIDR, State: "associated"}},
		InstanceTenancy: "default", IsDefault: true, DHCPOptionsID: opts.ID,
		EnableDNSSupport: true, EnableDNSHostnames: true, CreatedAt: now,
	}
	if err := vpcs.insert(tx, s, &v, now, nil); err != nil {
		return VPC{}, err
	}
	if err := runHooks(vpcCreated, tx, s, &v); err != nil {
		return VPC{}, err
	}
	g := InternetGateway{ID: NewID("igw"), OwnerID: s.Account, VpcID: v.ID, CreatedAt: now}
	if err := internetGateways.insert(tx, s, &g, now, nil); err != nil {
		return VPC{}, err
	}
	if err := runDefaultVPCHooks(tx, s, &v, &g); err != nil {
		return VPC{}, err
	}
	region, _ := catalog.LookupRegion(s.Region)
	for _, z := range region.Zones {
		if _, err := c.createDefaultSubnet(tx, s, v, z); err != nil {
			return VPC{}, err
		}
	}
	return v, nil
}

// defaultVPCCreated hooks finish a default VPC: the main route table's route to its
// internet gateway, the Region's default DHCP options.
var defaultVPCCreated []func(tx store.Tx, s Scope, v *VPC, g *InternetGateway) error

func runDefaultVPCHooks(tx store.Tx, s Scope, v *VPC, g *InternetGateway) error {
	for _, h := range defaultVPCCreated {
		if err := h(tx, s, v, g); err != nil {
			return err
		}
	}
	return nil
}

// createDefaultSubnet makes the default subnet of a zone in the default VPC: the
// first free /20 of the VPC's block, public IPs on launch.
func (c *Cloud) createDefaultSubnet(tx store.Tx, s Scope, v VPC, z catalog.Zone) (Subnet, error) {
	siblings, err := subnetsOfVPC(tx, s, v.ID)
	if err != nil {
		return Subnet{}, err
	}
	for _, sib := range siblings {
		if sib.DefaultForAZ && sib.AvailabilityZone == z.ZoneName {
			return Subnet{}, errorf("DefaultSubnetAlreadyExistsInAvailabilityZone", "A default subnet already exists in availability zone %s.", z.ZoneName)
		}
	}
	if err := checkQuota(tx, s.Account, QuotaSubnets, len(siblings)); err != nil {
		return Subnet{}, err
	}
	prefix, ok := firstFreeBlock(netip.MustParsePrefix(v.CIDRBlocks[0].CIDR), defaultSubnetPrefixLen, subnetBlocks(siblings, false))
	if !ok {
		return Subnet{}, errorf("InsufficientCidrBlocks", "The default VPC %s has no free /%d block left for a default subnet.", v.ID, defaultSubnetPrefixLen)
	}
	sn := Subnet{
		ID: NewID("subnet"), VpcID: v.ID, OwnerID: s.Account, Region: s.Region, CIDR: prefix.String(),
		AvailabilityZone: z.ZoneName, AvailabilityZoneID: z.ZoneId, MapPublicIPOnLaunch: true, DefaultForAZ: true,
		CreatedAt: c.clock.Now(), Addresses: ipam.NewPool(prefix),
	}
	if err := subnets.insert(tx, s, &sn, sn.CreatedAt, nil); err != nil {
		return Subnet{}, err
	}
	return sn, runHooks(subnetCreated, tx, s, &sn)
}

// firstFreeBlock returns the lowest block of the given size inside within that
// overlaps none of taken.
func firstFreeBlock(within netip.Prefix, bits int, taken []netip.Prefix) (netip.Prefix, bool) {
	step := uint32(1) << (32 - bits)
	base := within.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	for off := uint64(0); off < uint64(1)<<(32-within.Bits()); off += uint64(step) {
		n := start + uint32(off)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), bits)
		free := true
		for _, t := range taken {
			if t.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// defaultVPCOf returns the scope's default VPC, if it has one.
func defaultVPCOf(tx store.Tx, s Scope) (*VPC, error) {
	all, err := vpcs.load(tx, s, nil, nil)
	if err != nil {
		return nil, err
	}
	for _, v := range all {
		if v.IsDefault {
			return &v, nil
		}
	}
	return nil, nil
}

// DefaultVPCID returns the ID of the scope's default VPC, or "" when it has none.
func (c *Cloud) DefaultVPCID(ctx context.Context, s Scope) (string, error) {
	var id string
	err := c.view(ctx, func(tx store.Tx) error {
		v, err := defaultVPCOf(tx, s)
		if v != nil {
			id = v.ID
		}
		return err
	})
	return id, err
}

// CreateDefaultVPC makes a new default VPC after the old one was deleted.
func (c *Cloud) CreateDefaultVPC(ctx context.Context, s Scope) (VPC, error) {
	var v VPC
	err := c.update(ctx, func(tx store.Tx) error {
		old, err := defaultVPCOf(tx, s)
		if err != nil {
			return err
		}
		if old != nil {
			return errorf("DefaultVpcAlreadyExists", "A Default VPC already exists for this account in this region.")
		}
		if err := checkCount(tx, s, KindVPC, QuotaVPCs); err != nil {
			return err
		}
		if v, err = c.createDefaultVPC(tx, s); err != nil {
			return err
		}
		return tx.PutSetting(defaultVPCMade(s), []byte("yes"))
	})
	return v, err
}

// CreateDefaultSubnet makes the default subnet of a zone in the default VPC.
func (c *Cloud) CreateDefaultSubnet(ctx context.Context, s Scope, zoneName, zoneID string) (Subnet, error) {
	if zoneName == "" && zoneID == "" {
		return Subnet{}, errorf("MissingParameter", "Either availabilityZone or availabilityZoneId must be given.")
	}
	z, err := subnetZone(s.Region, zoneName, zoneID)
	if err != nil {
		return Subnet{}, err
	}
	var sn Subnet
	err = c.update(ctx, func(tx store.Tx) error {
		v, err := defaultVPCOf(tx, s)
		if err != nil {
			return err
		}
		if v == nil {
			return errorf("DefaultVpcDoesNotExist", "No default VPC for this user. Create one with CreateDefaultVpc first.")
		}
		sn, err = c.createDefaultSubnet(tx, s, *v, z)
		return err
	})
	return sn, err
}
