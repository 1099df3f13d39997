package ipam

import (
	"net/netip"

	"strato/internal/awserr"
)

// AmazonIPv6Pool is where strato's "Amazon-provided" IPv6 blocks come from: the
// documentation prefix 2001:db8::/32 (RFC 3849), which no network routes, so that
// nothing an instance sends to a VPC's IPv6 addresses can leave the host — the
// same rule that puts public IPv4 addresses in 198.18.0.0/15. It holds 2^24 /56s.
var AmazonIPv6Pool = netip.MustParsePrefix("2001:db8::/32")

// VPCIPv6PrefixLen is the size of an Amazon-provided VPC IPv6 block.
const VPCIPv6PrefixLen = 56

// Sizes a subnet's IPv6 block may have (VPC User Guide: /44 to /64).
const (
	MinSubnetIPv6PrefixLen = 44
	MaxSubnetIPv6PrefixLen = 64
)

// AmazonIPv6Block returns the n-th /56 of AmazonIPv6Pool (n < 2^24); the caller
// keeps the counter, so no block is handed out twice.
func AmazonIPv6Block(n uint32) (netip.Prefix, error) {
	if n >= 1<<24 {
		return netip.Prefix{}, awserr.Errorf(CodeInsufficientCidrBlocks, "There are no Amazon-provided IPv6 CIDR blocks left.")
	}
	a := AmazonIPv6Pool.Addr().As16()
	// Bits 32..55 of the address number the /56.
	a[4], a[5], a[6] = byte(n>>16), byte(n>>8), byte(n)
	return netip.PrefixFrom(netip.AddrFrom16(a), VPCIPv6PrefixLen), nil
}

// ParseSubnetIPv6CIDR validates the IPv6 block of a subnet against its VPC's IPv6
// blocks and its siblings' IPv6 blocks: malformed InvalidParameterValue; size
// outside /44–/64 or outside every VPC block InvalidSubnet.Range; overlapping a
// sibling InvalidSubnet.Conflict.
func ParseSubnetIPv6CIDR(s string, vpcBlocks, siblings []netip.Prefix) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidParameterValue,
			"Value (%s) for parameter ipv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.", s)
	}
	p = p.Masked()
	if p.Bits() < MinSubnetIPv6PrefixLen || p.Bits() > MaxSubnetIPv6PrefixLen {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidSubnetRange, "The IPv6 CIDR '%s' is invalid: a subnet's IPv6 block is a /44 to /64.", p)
	}
	if !insideAny(p, vpcBlocks) {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidSubnetRange, "The IPv6 CIDR '%s' is not within the IPv6 CIDR blocks of the VPC.", p)
	}
	if overlapsAny(p, siblings) {
		return netip.Prefix{}, awserr.Errorf(CodeInvalidSubnetConflict, "The CIDR '%s' conflicts with another subnet", p)
	}
	return p, nil
}
