package vpcnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// A VPC peering connection is a veth pair between the two VPCs' routers, named
// "p" + the last 12 characters of the peering's ID on both sides (alias: the full ID).
// Whichever side's policy comes first makes it; a side whose policy no longer lists it
// deletes it (both ends go together). Routes through it exist only where that side's
// route tables point at the peering, so it carries traffic only when both sides route.
//
// Each router holds one link-local address on all its peering links, chosen from its
// VPC's ID in peeringAddrs; a route to the peer goes via the peer router's address on
// the link (onlink). One address per router, rather than one per link, because a next
// hop must never be one of the router's own addresses: with per-peering pairs a router
// in two peerings could hold its peer's address of the other one.

const peeringLinkPrefix = "p"

// peeringAddrs is where routers' peering addresses come from: clear of the uplink pair
// (169.254.0.x), the host link (169.254.200.0/20) and 169.254.169.x.
var peeringAddrs = netip.MustParsePrefix("169.254.64.0/18")

func peeringLink(pcxID string) string { return peeringLinkPrefix + idSuffix(pcxID) }

// peeringAddr is a VPC router's address on its peering links.
func peeringAddr(vpcID string) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(vpcID))
	size := uint32(1) << (32 - peeringAddrs.Bits())
	base := peeringAddrs.Addr().As4()
	v := binary.BigEndian.Uint32(base[:]) + 1 + h.Sum32()%(size-2)
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], v)
	return netip.AddrFrom4(out)
}

// peerAddrs are the next hops of a policy's peerings, by peering ID.
func (n *Network) peerAddrs(policy *netpolicy.VPC) map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for _, pc := range policy.Peerings {
		out[pc.ID] = peeringAddr(pc.PeerVPC)
	}
	return out
}

// ensurePeerings makes (or checks) the link of every peering in the policy, making the
// peer's router if it has none yet.
func (n *Network) ensurePeerings(router string, policy *netpolicy.VPC) error {
	for _, pc := range policy.Peerings {
		if err := validateID("pcx", pc.ID); err != nil {
			return err
		}
		if err := validateID("vpc", pc.PeerVPC); err != nil {
			return err
		}
		if pc.PeerVPC == policy.ID {
			return fmt.Errorf("%s peers %s with itself", pc.ID, pc.PeerVPC)
		}
		local, remote := peeringAddr(policy.ID), peeringAddr(pc.PeerVPC)
		if local == remote {
			return fmt.Errorf("%s: %s and %s would have the same peering address %v", pc.ID, policy.ID, pc.PeerVPC, local)
		}
		peerRouter, err := n.ensureRouter(pc.PeerVPC)
		if err != nil {
			return fmt.Errorf("router of %s: %w", pc.PeerVPC, err)
		}
		if err := ensurePeeringLink(router, peerRouter, pc.ID); err != nil {
			return fmt.Errorf("%s: %w", pc.ID, err)
		}
		if err := configurePeeringEnd(router, pc.ID, local); err != nil {
			return err
		}
		if err := configurePeeringEnd(peerRouter, pc.ID, remote); err != nil {
			return err
		}
	}
	return nil
}

func ensurePeeringLink(router, peerRouter, pcxID string) error {
	name := peeringLink(pcxID)
	return withHandle(router, func(h *netlink.Handle) error {
		return ensureVethPair(h, name, pcxID, peerRouter, name)
	})
}

func configurePeeringEnd(router, pcxID string, addr netip.Addr) error {
	return withHandle(router, func(h *netlink.Handle) error {
		link, err := h.LinkByName(peeringLink(pcxID))
		if err != nil {
			return err
		}
		if err := h.LinkSetAlias(link, pcxID); err != nil {
			return err
		}
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(addr, 32))}); err != nil {
			return err
		}
		return h.LinkSetUp(link)
	})
}

// removeStalePeerings deletes the router's peering links the policy no longer lists
// (with their other ends in the peers' routers).
func (n *Network) removeStalePeerings(router string, policy *netpolicy.VPC) error {
	keep := map[string]bool{}
	for _, pc := range policy.Peerings {
		keep[pc.ID] = true
	}
	return withHandle(router, func(h *netlink.Handle) error {
		links, err := linkList(h)
		if err != nil {
			return err
		}
		var errs []error
		for _, l := range links {
			if _, ok := l.(*netlink.Veth); !ok || !strings.HasPrefix(l.Attrs().Name, peeringLinkPrefix) {
				continue
			}
			if keep[l.Attrs().Alias] {
				continue
			}
			if err := h.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}
