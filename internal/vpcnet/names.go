package vpcnet

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
	"strings"
)

// Names of what strato makes. Only the host link and the namespace files are in shared
// spaces (the host's links, the run directory), so only they carry the Prefix; everything
// else lives inside strato's own namespaces.
const (
	inetHostSide   = "host"   // the inet namespace's end of the host link
	routerUplink   = "uplink" // a router namespace's end of its uplink
	metadataDevice = "lo"     // where a router holds 169.254.169.254
)

var (
	// metadataAddr is the instance metadata service's address.
	metadataAddr = netip.MustParseAddr("169.254.169.254")
	// The two ends of every uplink (inet namespace ↔ VPC router). Both are /32 and the routes
	// through them are "onlink", so every uplink can use the same pair: no connected route
	// of one uplink competes with another's in the inet namespace.
	uplinkInetAddr   = netip.MustParseAddr("169.254.0.1")
	uplinkRouterAddr = netip.MustParseAddr("169.254.0.2")
)

var (
	prefixPattern = regexp.MustCompile(`^[a-z0-9]{1,9}$`)
	idPattern     = regexp.MustCompile(`^[a-z]+-[0-9a-zA-Z]+$`)
)

func validatePrefix(p string) error {
	if !prefixPattern.MatchString(p) {
		// 9 characters at most: the host link "<Prefix>-inet0" must fit in 15.
		return fmt.Errorf("vpcnet: prefix %q must be 1–9 lower-case letters or digits", p)
	}
	return nil
}

// validateID checks that id is a resource ID of the given kind ("vpc", "eni", "i"), so it
// is safe in a file name and cannot be mistaken for another kind's namespace.
func validateID(kind, id string) error {
	if !idPattern.MatchString(id) || !strings.HasPrefix(id, kind+"-") {
		return fmt.Errorf("vpcnet: %q is not a %s- ID", id, kind)
	}
	return nil
}

// idSuffix is the last 12 characters of the part of id after its dash: enough to tell IDs
// apart (48 bits of the 68 an AWS-style ID carries) and short enough for a link name.
func idSuffix(id string) string {
	s := id[strings.LastIndexByte(id, '-')+1:]
	if len(s) > 12 {
		s = s[len(s)-12:]
	}
	return s
}

// eniLink is the router-side link name of a network interface.
// eniLinkPrefix starts the name of every interface's router-side link (and of
// no other link in a router namespace).
const eniLinkPrefix = "e"

func eniLink(interfaceID string) string { return eniLinkPrefix + idSuffix(interfaceID) }

// uplinkLink is the inet-side link name of a VPC's uplink.
func uplinkLink(vpcID string) string { return "u" + idSuffix(vpcID) }

// instanceLink is the name of an interface inside the instance (eth0, eth1 …).
func instanceLink(deviceIndex int) string { return fmt.Sprintf("eth%d", deviceIndex) }

func (n *Network) hostLink() string      { return n.opts.Prefix + "-inet0" }
func (n *Network) inetNamespace() string { return n.nsPath("inet") }
func (n *Network) routerNamespace(vpcID string) string {
	return n.nsPath(vpcID)
}
func (n *Network) instanceNamespace(instanceID string) string {
	return n.nsPath(instanceID)
}
func (n *Network) nsPath(name string) string {
	return n.opts.RunDir + "/" + n.opts.Prefix + "-" + name
}

// vpcTable is the name of a VPC's nftables table (in its router namespace); inetTable the
// inet namespace's.
func (n *Network) vpcTable(vpcID string) string { return n.opts.Prefix + "-" + vpcID }
func (n *Network) inetTable() string            { return n.opts.Prefix + "-inet" }

// hostLinkAddrs are the host's and the inet namespace's addresses on the host link: a /30
// in 169.254.200.0/20 chosen from the Prefix, so that several strato installations (or
// test runs) with different prefixes rarely share one.
func hostLinkAddrs(prefix string) (host, inet netip.Prefix) {
	h := fnv.New32a()
	h.Write([]byte(prefix))
	index := h.Sum32() % 1024
	base := [4]byte{169, 254, byte(200 + index/64), byte(index%64) * 4}
	network := netip.AddrFrom4(base)
	return netip.PrefixFrom(network.Next(), 30), netip.PrefixFrom(network.Next().Next(), 30)
}
