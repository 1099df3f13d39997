package cloud

import (
	"context"
	"fmt"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/cloud/ipam"
	"strato/internal/store"
)

// VPC is a virtual private cloud.
type VPC struct {
	ID              string                 `json:"id"`
	OwnerID         string                 `json:"ownerId"`
	CIDRBlocks      []CIDRBlockAssociation `json:"cidrBlocks"` // the first is the primary
	IPv6Blocks      []CIDRBlockAssociation `json:"ipv6Blocks,omitempty"`
	InstanceTenancy string                 `json:"instanceTenancy"`
	IsDefault       bool                   `json:"isDefault"`
	// DHCPOptionsID is the VPC's DHCP options set, or "default" for none.
	DHCPOptionsID      string `json:"dhcpOptionsId"`
	EnableDNSSupport   bool   `json:"enableDnsSupport"`
	EnableDNSHostnames bool   `json:"enableDnsHostnames"`
	// EnableNAUMetrics is enableNetworkAddressUsageMetrics.
	EnableNAUMetrics bool      `json:"enableNauMetrics"`
	CreatedAt        time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// CIDRBlockAssociation is one IPv4 or IPv6 block of a VPC or subnet.
type CIDRBlockAssociation struct {
	AssociationID string `json:"associationId"`
	CIDR          string `json:"cidr"`
	State         string `json:"state"`
}

// State is always "available": creation is synchronous in strato.
func (v *VPC) State() string { return "available" }

var vpcs = docKind[VPC]{
	kind: KindVPC,
	id:   func(v *VPC) string { return v.ID },
	tags: func(v *VPC) *map[string]string { return &v.Tags },
}

// Quota names for VPCs.
const QuotaVPCs = "vpcs-per-region"

func init() {
	quotaDefs[QuotaVPCs] = QuotaDef{
		Name:        QuotaVPCs,
		Description: "VPCs per Region",
		Default:     5,
		Code:        "VpcLimitExceeded",
		Message:     "The maximum number of VPCs has been reached (%d).",
	}
}

// Instance tenancies a VPC can have.
var vpcTenancies = map[string]bool{"default": true, "dedicated": true}

// VPCRequest is what CreateVpc asks for.
type VPCRequest struct {
	CIDR    string
	Tenancy string
	// AmazonIPv6 asks for an Amazon-provided IPv6 /56 as well.
	AmazonIPv6 bool
	Tags       []Tag
}

// CreateVPC makes a VPC with one IPv4 block and the defaults every VPC comes with.
func (c *Cloud) CreateVPC(ctx context.Context, s Scope, req VPCRequest) (VPC, error) {
	block, err := ipam.ParseVPCCIDR(req.CIDR)
	if err != nil {
		return VPC{}, err
	}
	tenancy := req.Tenancy
	if tenancy == "" {
		tenancy = "default"
	}
	if !vpcTenancies[tenancy] {
		return VPC{}, errorf("InvalidParameterValue", "Value (%s) for parameter instanceTenancy is invalid. Valid values are: default, dedicated", tenancy)
	}
	if err := ValidateTags(req.Tags); err != nil {
		return VPC{}, err
	}
	v := VPC{
		ID:              NewID("vpc"),
		OwnerID:         s.Account,
		CIDRBlocks:      []CIDRBlockAssociation{{AssociationID: NewID("vpc-cidr-assoc"), CIDR: block.String(), State: "associated"}},
		InstanceTenancy: tenancy,
		// AWS's defaults for a VPC that is not the default VPC.
		EnableDNSSupport: true,
		CreatedAt:        c.clock.Now(),
	}
	err = c.update(ctx, func(tx store.Tx) error {
		if err := checkCount(tx, s, KindVPC, QuotaVPCs); err != nil {
			return err
		}
		if req.AmazonIPv6 {
			b, err := takeAmazonIPv6Block(tx)
			if err != nil {
				return err
			}
			v.IPv6Blocks = []CIDRBlockAssociation{{AssociationID: NewID("vpc-cidr-assoc"), CIDR: b.String(), State: "associated"}}
		}
		// A new VPC gets the Region's default DHCP options set, as on AWS.
		opts, err := defaultDHCPOptions(tx, s, v.CreatedAt)
		if err != nil {
			return err
		}
		v.DHCPOptionsID = opts.ID
		if err := vpcs.insert(tx, s, &v, v.CreatedAt, req.Tags); err != nil {
			return err
		}
		return runHooks(vpcCreated, tx, s, &v)
	})
	v.Tags = tagMap(req.Tags)
	return v, err
}

var vpcFields = filter.Fields[VPC]{
	"cidr": func(v VPC) []string { return []string{v.CIDRBlocks[0].CIDR} },
	"cidr-block-association.cidr-block": func(v VPC) []string {
		return blockValues(v.CIDRBlocks, func(b CIDRBlockAssociation) string { return b.CIDR })
	},
	"cidr-block-association.association-id": func(v VPC) []string {
		return blockValues(v.CIDRBlocks, func(b CIDRBlockAssociation) string { return b.AssociationID })
	},
	"cidr-block-association.state": func(v VPC) []string {
		return blockValues(v.CIDRBlocks, func(b CIDRBlockAssociation) string { return b.State })
	},
	"dhcp-options-id": func(v VPC) []string { return []string{v.DHCPOptionsID} },
	"ipv6-cidr-block-association.ipv6-cidr-block": func(v VPC) []string {
		return blockValues(v.IPv6Blocks, func(b CIDRBlockAssociation) string { return b.CIDR })
	},
	"ipv6-cidr-block-association.ipv6-pool": func(v VPC) []string {
		return blockValues(v.IPv6Blocks, func(CIDRBlockAssociation) string { return AmazonIPv6PoolName })
	},
	"ipv6-cidr-block-association.association-id": func(v VPC) []string {
		return blockValues(v.IPv6Blocks, func(b CIDRBlockAssociation) string { return b.AssociationID })
	},
	"ipv6-cidr-block-association.state": func(v VPC) []string {
		return blockValues(v.IPv6Blocks, func(b CIDRBlockAssociation) string { return b.State })
	},
	"is-default": func(v VPC) []string { return boolValue(v.IsDefault) },
	// The older spelling, which Terraform's aws_default_vpc and aws_vpc data source send.
	"isDefault": func(v VPC) []string { return boolValue(v.IsDefault) },
	"owner-id":  func(v VPC) []string { return []string{v.OwnerID} },
	"state":     func(v VPC) []string { return []string{v.State()} },
	"vpc-id":    func(v VPC) []string { return []string{v.ID} },
}

func blockValues(blocks []CIDRBlockAssociation, field func(CIDRBlockAssociation) string) []string {
	out := make([]string, len(blocks))
	for i, b := range blocks {
		out[i] = field(b)
	}
	return out
}

// DescribeVPCs lists VPCs by ID (each must exist) or all of them, filtered and
// paginated (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeVPCs(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]VPC, string, error) {
	return describe(ctx, c, s, vpcs, "DescribeVpcs", vpcFields, ids, filters, page, 5, 1000)
}

// DeleteVPC deletes an empty VPC.
func (c *Cloud) DeleteVPC(ctx context.Context, s Scope, id string) error {
	var peers []vpcRef
	err := c.update(ctx, func(tx store.Tx) error {
		v, err := vpcs.get(tx, s, id)
		if err != nil {
			return err
		}
		if peers, err = activePeers(tx, s, id); err != nil {
			return err
		}
		busy, err := anyInUse(vpcDependents, tx, s, id)
		if err != nil {
			return err
		}
		if busy {
			return errorf("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted.", id)
		}
		if err := runHooks(vpcDeleted, tx, s, &v); err != nil {
			return err
		}
		return vpcs.remove(tx, s, id)
	})
	if err == nil {
		c.networkChanged(s, id) // the dataplane removes the VPC
		c.refsChanged(peers)    // whose peerings are deleted with it
	}
	return err
}

// VPC attribute names, as DescribeVpcAttribute spells them.
const (
	VPCAttrDNSSupport   = "enableDnsSupport"
	VPCAttrDNSHostnames = "enableDnsHostnames"
	VPCAttrNAUMetrics   = "enableNetworkAddressUsageMetrics"
)

// VPCAttribute reads one VPC attribute.
func (c *Cloud) VPCAttribute(ctx context.Context, s Scope, id, attr string) (bool, error) {
	var v VPC
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		v, err = vpcs.get(tx, s, id)
		return err
	})
	if err != nil {
		return false, err
	}
	switch attr {
	case VPCAttrDNSSupport:
		return v.EnableDNSSupport, nil
	case VPCAttrDNSHostnames:
		return v.EnableDNSHostnames, nil
	case VPCAttrNAUMetrics:
		return v.EnableNAUMetrics, nil
	}
	return false, errorf("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. Valid values are: %s, %s, %s", attr, VPCAttrDNSSupport, VPCAttrDNSHostnames, VPCAttrNAUMetrics)
}

// SetVPCAttribute changes one VPC attribute. DNS hostnames can only be turned on
// while DNS support is on, as AWS documents (AWS does not refuse the reverse
// order, so neither does strato).
func (c *Cloud) SetVPCAttribute(ctx context.Context, s Scope, id, attr string, value bool) error {
	err := c.update(ctx, func(tx store.Tx) error {
		v, err := vpcs.get(tx, s, id)
		if err != nil {
			return err
		}
		switch attr {
		case VPCAttrDNSSupport:
			v.EnableDNSSupport = value
		case VPCAttrDNSHostnames:
			if value && !v.EnableDNSSupport {
				return errorf("InvalidParameterValue", "Cannot enable DNS hostnames for VPC %s while DNS support is disabled.", id)
			}
			v.EnableDNSHostnames = value
		case VPCAttrNAUMetrics:
			v.EnableNAUMetrics = value
		default:
			return fmt.Errorf("unknown VPC attribute %q", attr)
		}
		return vpcs.update(tx, s, &v)
	})
	if err == nil {
		c.networkChanged(s, id)
	}
	return err
}
