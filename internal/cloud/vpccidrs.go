package cloud

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"

	"strato/internal/cloud/ipam"
	"strato/internal/store"
)

// AmazonIPv6PoolName is how AWS names the pool of the IPv6 blocks it provides.
const AmazonIPv6PoolName = "Amazon"

// Quota names for VPC CIDR blocks.
const (
	QuotaIPv4BlocksPerVPC = "ipv4-cidr-blocks-per-vpc"
	QuotaIPv6BlocksPerVPC = "ipv6-cidr-blocks-per-vpc"
)

func init() {
	quotaDefs[QuotaIPv4BlocksPerVPC] = QuotaDef{
		Name:        QuotaIPv4BlocksPerVPC,
		Description: "IPv4 CIDR blocks per VPC",
		Default:     ipam.DefaultVPCCIDRLimit,
		Code:        ipam.CodeCidrLimitExceeded,
		Message:     "This network has met its maximum number of allowed CIDRs: %d",
	}
	quotaDefs[QuotaIPv6BlocksPerVPC] = QuotaDef{
		Name:        QuotaIPv6BlocksPerVPC,
		Description: "IPv6 CIDR blocks per VPC",
		Default:     5,
		Code:        ipam.CodeCidrLimitExceeded,
		Message:     "This network has met its maximum number of allowed IPv6 CIDRs: %d",
	}
}

// vpcBlockHook runs inside the transaction that adds or removes a block of a VPC
// (the main route table keeps a local route per block).
type vpcBlockHook func(tx store.Tx, s Scope, v *VPC, block netip.Prefix) error

var (
	vpcBlockAdded   []vpcBlockHook
	vpcBlockRemoved []vpcBlockHook
)

func runBlockHooks(hooks []vpcBlockHook, tx store.Tx, s Scope, v *VPC, block netip.Prefix) error {
	for _, h := range hooks {
		if err := h(tx, s, v, block); err != nil {
			return err
		}
	}
	return nil
}

// ipv6BlockCounter is the setting that numbers the Amazon-provided IPv6 blocks
// handed out on this strato; blocks are never handed out twice.
const ipv6BlockCounter = "ipv6-blocks-handed-out"

// takeAmazonIPv6Block hands out the next Amazon-provided /56.
func takeAmazonIPv6Block(tx store.Tx) (netip.Prefix, error) {
	var n uint32
	raw, err := tx.GetSetting(ipv6BlockCounter)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return netip.Prefix{}, err
	case len(raw) == 4:
		n = binary.BigEndian.Uint32(raw)
	}
	block, err := ipam.AmazonIPv6Block(n)
	if err != nil {
		return netip.Prefix{}, err
	}
	return block, tx.PutSetting(ipv6BlockCounter, binary.BigEndian.AppendUint32(nil, n+1))
}

// AssociateVPCCIDRBlock adds an IPv4 block to a VPC, by AWS's association rules.
func (c *Cloud) AssociateVPCCIDRBlock(ctx context.Context, s Scope, vpcID, cidr string) (CIDRBlockAssociation, error) {
	add, err := netip.ParsePrefix(cidr)
	if err != nil || !add.Addr().Is4() {
		return CIDRBlockAssociation{}, errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", cidr)
	}
	add = add.Masked()
	var assoc CIDRBlockAssociation
	err = c.update(ctx, func(tx store.Tx) error {
		v, err := vpcs.get(tx, s, vpcID)
		if err != nil {
			return err
		}
		limit, err := quota(tx, s.Account, QuotaIPv4BlocksPerVPC)
		if err != nil {
			return err
		}
		if err := ipam.CheckVPCCIDRCount(v.ID, len(v.CIDRBlocks), int(limit)); err != nil {
			return err
		}
		var existing []netip.Prefix
		for _, b := range v.CIDRBlocks[1:] {
			existing = append(existing, netip.MustParsePrefix(b.CIDR))
		}
		if err := ipam.CheckSecondaryVPCCIDR(netip.MustParsePrefix(v.CIDRBlocks[0].CIDR), existing, add); err != nil {
			return err
		}
		assoc = CIDRBlockAssociation{AssociationID: NewID("vpc-cidr-assoc"), CIDR: add.String(), State: "associated"}
		v.CIDRBlocks = append(v.CIDRBlocks, assoc)
		if err := vpcs.update(tx, s, &v); err != nil {
			return err
		}
		return runBlockHooks(vpcBlockAdded, tx, s, &v, add)
	})
	// The answer shows the block on its way, as AWS's does; it is usable at once.
	assoc.State = "associating"
	if err == nil {
		c.networkAndPeersChanged(ctx, s, vpcID)
	}
	return assoc, err
}

// AssociateVPCIPv6Block adds an Amazon-provided IPv6 /56 to a VPC.
func (c *Cloud) AssociateVPCIPv6Block(ctx context.Context, s Scope, vpcID string) (CIDRBlockAssociation, error) {
	var assoc CIDRBlockAssociation
	err := c.update(ctx, func(tx store.Tx) error {
		v, err := vpcs.get(tx, s, vpcID)
		if err != nil {
			return err
		}
		if err := checkQuota(tx, s.Account, QuotaIPv6BlocksPerVPC, len(v.IPv6Blocks)); err != nil {
			return err
		}
		block, err := takeAmazonIPv6Block(tx)
		if err != nil {
			return err
		}
		assoc = CIDRBlockAssociation{AssociationID: NewID("vpc-cidr-assoc"), CIDR: block.String(), State: "associated"}
		v.IPv6Blocks = append(v.IPv6Blocks, assoc)
		if err := vpcs.update(tx, s, &v); err != nil {
			return err
		}
		return runBlockHooks(vpcBlockAdded, tx, s, &v, block)
	})
	assoc.State = "associating"
	return assoc, err
}

// DisassociatedBlock is what DisassociateVpcCidrBlock answers.
type DisassociatedBlock struct {
	VpcID string
	IPv6  bool
	CIDRBlockAssociation
}

// DisassociateVPCCIDRBlock removes a secondary IPv4 block or an IPv6 block of a
// VPC by its association ID. The primary block stays, and a block that subnets
// use stays until they are gone.
func (c *Cloud) DisassociateVPCCIDRBlock(ctx context.Context, s Scope, associationID string) (DisassociatedBlock, error) {
	var out DisassociatedBlock
	err := c.update(ctx, func(tx store.Tx) error {
		all, err := vpcs.load(tx, s, nil, nil)
		if err != nil {
			return err
		}
		for _, v := range all {
			for family, blocks := range [][]CIDRBlockAssociation{v.CIDRBlocks, v.IPv6Blocks} {
				for i, b := range blocks {
					if b.AssociationID != associationID {
						continue
					}
					if family == 0 && i == 0 {
						return errorf("OperationNotPermitted", "The vpc CIDR block with association ID %s may not be disassociated. It is the primary IPv4 CIDR block of the VPC", associationID)
					}
					block := netip.MustParsePrefix(b.CIDR)
					if err := checkBlockUnused(tx, s, v.ID, block); err != nil {
						return err
					}
					blocks = append(blocks[:i:i], blocks[i+1:]...)
					if family == 0 {
						v.CIDRBlocks = blocks
					} else {
						v.IPv6Blocks = blocks
					}
					if err := vpcs.update(tx, s, &v); err != nil {
						return err
					}
					out = DisassociatedBlock{VpcID: v.ID, IPv6: family == 1, CIDRBlockAssociation: b}
					out.State = "disassociating"
					return runBlockHooks(vpcBlockRemoved, tx, s, &v, block)
				}
			}
		}
		return errorf("InvalidVpcCidrBlockAssociationID.NotFound", "The vpc CIDR block association ID '%s' does not exist", associationID)
	})
	if err == nil {
		c.networkAndPeersChanged(ctx, s, out.VpcID)
	}
	return out, err
}

// checkBlockUnused refuses to take a block from a VPC while a subnet lies in it.
func checkBlockUnused(tx store.Tx, s Scope, vpcID string, block netip.Prefix) error {
	in, err := subnetsOfVPC(tx, s, vpcID)
	if err != nil {
		return err
	}
	for _, sn := range in {
		cidrs := []string{sn.CIDR}
		for _, b := range sn.IPv6Blocks {
			cidrs = append(cidrs, b.CIDR)
		}
		for _, cidr := range cidrs {
			if block.Overlaps(netip.MustParsePrefix(cidr)) {
				return errorf("InvalidCidrBlock.InUse", "The vpc '%s' currently has a subnet within CIDR block '%s'", vpcID, block)
			}
		}
	}
	return nil
}
