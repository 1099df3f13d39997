// Package ipam is the address arithmetic of the VPC control plane: which IPv4 CIDR
// blocks a VPC and its subnets may use, and which private or public addresses and
// /28 prefixes are free. It knows nothing of storage or of the EC2 wire types; its
// state is plain values the control plane keeps as JSON in its own documents.
//
// Every error is an *awserr.Error carrying the code AWS answers with.
package ipam

import (
	"net/netip"

	"strato/internal/awserr"
)

// AWS error codes used by this package.
const (
	CodeInvalidParameterValue     = "InvalidParameterValue"
	CodeInvalidVpcRange           = "InvalidVpc.Range"
	CodeInvalidSubnetRange        = "InvalidSubnet.Range"
	CodeInvalidSubnetConflict     = "InvalidSubnet.Conflict"
	CodeCidrLimitExceeded         = "CidrLimitExceeded"
	CodeInsufficientFreeAddresses = "InsufficientFreeAddressesInSubnet"
	CodeInsufficientCidrBlocks    = "InsufficientCidrBlocks"
	CodeInvalidIPAddressInUse     = "InvalidIPAddress.InUse"
	CodeInsufficientAddressCap    = "InsufficientAddressCapacity"
	CodeInvalidAddressNotFound    = "InvalidAddress.NotFound"
)

// Size limits of IPv4 VPC and subnet CIDR blocks (VPC User Guide, "VPC CIDR blocks"
// and "Subnet CIDR blocks": between a /16 and a /28 netmask).
const (
	MinPrefixLen = 16
	MaxPrefixLen = 28
)

// DefaultVPCCIDRLimit is AWS's default quota of IPv4 CIDR blocks per VPC,
// the primary included.
const DefaultVPCCIDRLimit = 5

// Well-known ranges of the association restriction table.
var (
	rfc1918A      = netip.MustParsePrefix("10.0.0.0/8")
	rfc1918B      = netip.MustParsePrefix("172.16.0.0/12")
	rfc1918C      = netip.MustParsePrefix("192.168.0.0/16")
	linkLocal     = netip.MustParsePrefix("169.254.0.0/16")
	range198_19   = netip.MustParsePrefix("198.19.0.0/16")
	range10_0_15  = netip.MustParsePrefix("10.0.0.0/15")
	range10_0_16  = netip.MustParsePrefix("10.0.0.0/16")
	range172_31   = netip.MustParsePrefix("172.31.0.0/16")
	rfc1918Ranges = []netip.Prefix{rfc1918A, rfc1918B, rfc1918C}
)

// parseIPv4Prefix parses s as an IPv4 CIDR block in its canonical form (host bits
// cleared: AWS turns 100.68.0.18/18 into 100.68.0.0/18 rather than refusing it).
func parseIPv4Prefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidParameterValue,
			"Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", s)
	}
	return p.Masked(), nil
}

func sizeOK(p netip.Prefix) bool {
	return p.Bits() >= MinPrefixLen && p.Bits() <= MaxPrefixLen
}

// ParseVPCCIDR validates the IPv4 CIDR block of CreateVpc and returns it in
// canonical form. A malformed or non-IPv4 block is InvalidParameterValue; a size
// outside /16–/28 is InvalidVpc.Range.
func ParseVPCCIDR(s string) (netip.Prefix, error) {
	p, err := parseIPv4Prefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !sizeOK(p) {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidVpcRange, "The CIDR '%s' is invalid.", p)
	}
	return p, nil
}

// Overlaps reports whether a and b share at least one address.
func Overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// contains reports whether inner lies entirely inside outer.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// insideAny reports whether p lies inside one of blocks.
func insideAny(p netip.Prefix, blocks []netip.Prefix) bool {
	for _, b := range blocks {
		if contains(b, p) {
			return true
		}
	}
	return false
}

func overlapsAny(p netip.Prefix, set []netip.Prefix) bool {
	for _, q := range set {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}

// CheckVPCCIDRCount enforces the per-VPC quota of IPv4 CIDR blocks before an
// association: blocks is how many the VPC has now (primary included), limit the
// quota in force (DefaultVPCCIDRLimit unless the operator changed it).
func CheckVPCCIDRCount(vpcID string, blocks, limit int) error {
	if blocks >= limit {
		return awserr.Errorf(CodeCidrLimitExceeded,
			"This network '%s' has met its maximum number of allowed CIDRs: %d", vpcID, limit)
	}
	return nil
}

// CheckSecondaryVPCCIDR applies AWS's rules for AssociateVpcCidrBlock with an IPv4
// block: size /16–/28, no overlap with the VPC's blocks (primary and existing),
// and the "IPv4 CIDR block association restrictions" table of the VPC User Guide,
// whose row is chosen by the range the primary block is in. add must be canonical
// (as returned by ParseVPCCIDR or netip.Prefix.Masked). The quota is checked
// separately with CheckVPCCIDRCount; route-table conflicts are the caller's.
func CheckSecondaryVPCCIDR(primary netip.Prefix, existing []netip.Prefix, add netip.Prefix) error {
	if !add.IsValid() || !add.Addr().Is4() {
		return awserr.Errorf(CodeInvalidParameterValue,
			"Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", add)
	}
	add = add.Masked()
	if !sizeOK(add) {
		return awserr.Errorf(CodeInvalidVpcRange, "The CIDR '%s' is invalid.", add)
	}
	all := append([]netip.Prefix{primary}, existing...)
	for _, b := range all {
		if b.Overlaps(add) {
			return awserr.Errorf(CodeInvalidVpcRange,
				"The CIDR '%s' overlaps with CIDR '%s' already associated with the VPC.", add, b)
		}
	}
	if restricted(primary, all, add) {
		return awserr.Errorf(CodeInvalidVpcRange,
			"The CIDR '%s' is restricted. Use a CIDR from the same private address range as the current VPC CIDR, "+
				"or use a publicly-routable CIDR. For additional restrictions, see "+
				"https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html", add)
	}
	return nil
}

// restricted encodes the restriction table row by row.
func restricted(primary netip.Prefix, all []netip.Prefix, add netip.Prefix) bool {
	// 169.254.0.0/16: link-local, reserved (RFC 5735), never assignable to a VPC.
	if add.Overlaps(linkLocal) {
		return true
	}
	switch {
	case primary.Overlaps(rfc1918A):
		// 10.0.0.0/8: no other RFC 1918 range; no 198.19.0.0/16; and when any block
		// of the VPC is in 10.0.0.0/15, nothing from 10.0.0.0/16.
		if add.Overlaps(rfc1918B) || add.Overlaps(rfc1918C) || add.Overlaps(range198_19) {
			return true
		}
		if add.Overlaps(range10_0_16) && overlapsAny(range10_0_15, all) {
			return true
		}
		return false
	case primary.Overlaps(rfc1918B):
		// 172.16.0.0/12: no other RFC 1918 range; no 172.31.0.0/16; no 198.19.0.0/16.
		return add.Overlaps(rfc1918A) || add.Overlaps(rfc1918C) ||
			add.Overlaps(range172_31) || add.Overlaps(range198_19)
	case primary.Overlaps(rfc1918C):
		// 192.168.0.0/16: no other RFC 1918 range; no 198.19.0.0/16.
		return add.Overlaps(rfc1918A) || add.Overlaps(rfc1918B) || add.Overlaps(range198_19)
	case primary.Overlaps(range198_19):
		// 198.19.0.0/16: no RFC 1918 range.
		return overlapsAny(add, rfc1918Ranges)
	default:
		// Publicly routable or 100.64.0.0/10: no RFC 1918 range; no 198.19.0.0/16.
		return overlapsAny(add, rfc1918Ranges) || add.Overlaps(range198_19)
	}
}

// ParseSubnetCIDR validates the IPv4 CIDR block of CreateSubnet against the VPC's
// IPv4 blocks and the VPC's other subnets, returning it in canonical form.
// Malformed: InvalidParameterValue; size outside /16–/28 or not inside a single VPC
// block: InvalidSubnet.Range; overlapping a sibling: InvalidSubnet.Conflict.
func ParseSubnetCIDR(s string, vpcBlocks []netip.Prefix, siblings []netip.Prefix) (netip.Prefix, error) {
	p, err := parseIPv4Prefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !sizeOK(p) {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidSubnetRange, "The CIDR '%s' is invalid.", p)
	}
	if !insideAny(p, vpcBlocks) {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidSubnetRange, "The CIDR '%s' is invalid.", p)
	}
	if overlapsAny(p, siblings) {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidSubnetConflict, "The CIDR '%s' conflicts with another subnet", p)
	}
	return p, nil
}

// Reserved returns the five addresses AWS keeps in every IPv4 subnet: the network
// address, +1 (VPC router), +2 (Amazon DNS), +3 (future use) and the broadcast
// address. The subnet must be an IPv4 prefix of /28 or larger.
func Reserved(subnet netip.Prefix) []netip.Addr {
	subnet = subnet.Masked()
	base := v4(subnet.Addr())
	last := base + uint32(prefixSize(subnet)) - 1
	return []netip.Addr{addr4(base), addr4(base + 1), addr4(base + 2), addr4(base + 3), addr4(last)}
}

// v4 returns an IPv4 address as a number.
func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// addr4 is the inverse of v4.
func addr4(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// prefixSize is the number of addresses in an IPv4 prefix.
func prefixSize(p netip.Prefix) uint64 { return 1 << (32 - p.Bits()) }
