package vpcnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The inet namespace stands for the internet: the public side of every VPC. The host
// reaches it through the host link and routes only the public pool there; it has no
// default route and forwards only traffic between public addresses and the host link, so
// nothing reaches the host's uplink through it.

func (n *Network) ensureInet() error {
	inet := n.inetNamespace()
	if err := ensureNamespace(inet); err != nil {
		return err
	}
	if err := setSysctls(inet, map[string]string{"ipv4.ip_forward": "1"}); err != nil {
		return err
	}
	hostAddr, inetAddr := hostLinkAddrs(n.opts.Prefix)
	hostIndex, err := n.ensureHostLink(inet)
	if err != nil {
		return err
	}
	if err := withHandle(inet, func(h *netlink.Handle) error {
		peer, err := h.LinkByName(inetHostSide)
		if err != nil {
			return err
		}
		if err := h.AddrReplace(peer, &netlink.Addr{IPNet: ipNet(inetAddr)}); err != nil {
			return fmt.Errorf("address of %s: %w", inetHostSide, err)
		}
		return h.LinkSetUp(peer)
	}); err != nil {
		return err
	}
	if err := withHostHandle(func(h *netlink.Handle) error {
		link, err := h.LinkByIndex(hostIndex)
		if err != nil {
			return err
		}
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(hostAddr)}); err != nil {
			return fmt.Errorf("address of %s: %w", n.hostLink(), err)
		}
		if err := h.LinkSetUp(link); err != nil {
			return err
		}
		return n.ensurePoolRoute(h, link, hostAddr.Addr(), inetAddr.Addr())
	}); err != nil {
		return err
	}
	if err := n.writeInetTable(); err != nil {
		return err
	}
	n.refreshFastPath()
	return nil
}

// ensureHostLink makes the veth pair between the host and the inet namespace, or checks
// the one there is whole, and returns the host end's index.
func (n *Network) ensureHostLink(inet string) (int, error) {
	var index int
	err := withHostHandle(func(h *netlink.Handle) error {
		name := n.hostLink()
		if link, err := h.LinkByName(name); err == nil {
			peered, err := peeredWith(link, inet, inetHostSide)
			if err != nil {
				return err
			}
			if peered {
				index = link.Attrs().Index
				return nil
			}
			if err := h.LinkDel(link); err != nil {
				return fmt.Errorf("replacing %s: %w", name, err)
			}
		} else if !isNotFound(err) {
			return err
		}
		if err := deleteLinkIn(inet, inetHostSide); err != nil {
			return err
		}
		link, err := addVeth(h, name, inet, inetHostSide, nil)
		if err != nil {
			return err
		}
		index = link.Attrs().Index
		return nil
	})
	return index, err
}

// ensurePoolRoute routes the public pool from the host into the inet namespace. A route for
// the pool through another link is someone else's: it is reported, never replaced.
func (n *Network) ensurePoolRoute(h *netlink.Handle, link netlink.Link, src, via netip.Addr) error {
	pool := ipNet(n.opts.PublicPool)
	existing, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: pool}, netlink.RT_FILTER_DST)
	if err != nil {
		return err
	}
	for _, r := range existing {
		if r.LinkIndex != link.Attrs().Index {
			other := fmt.Sprint(r.LinkIndex)
			if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
				other = l.Attrs().Name
			}
			return fmt.Errorf("the public pool %s is already routed through %s", n.opts.PublicPool, other)
		}
	}
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       pool,
		Gw:        net.IP(via.AsSlice()),
		Src:       net.IP(src.AsSlice()),
	}
	if err := h.RouteReplace(route); err != nil {
		return fmt.Errorf("routing %s through %s: %w", n.opts.PublicPool, n.hostLink(), err)
	}
	return nil
}

func (n *Network) removeHostLink() error {
	return withHostHandle(func(h *netlink.Handle) error {
		link, err := h.LinkByName(n.hostLink())
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		// The pool route goes with the link.
		return h.LinkDel(link)
	})
}

// ensureUplink makes the veth pair between the inet namespace and a VPC's router (or
// checks the one there) and addresses both ends: the only way out of a VPC, and a dead end
// but for the public pool. Routes through it are the route tables' (routing.go).
func (n *Network) ensureUplink(vpcID, router string) error {
	inet := n.inetNamespace()
	name := uplinkLink(vpcID)
	added := false
	err := withHandle(inet, func(h *netlink.Handle) error {
		link, err := h.LinkByName(name)
		if err == nil {
			if alias := link.Attrs().Alias; alias != vpcID {
				return fmt.Errorf("link %s in the inet namespace belongs to %q, not %s", name, alias, vpcID)
			}
			peered, err := peeredWith(link, router, routerUplink)
			if err != nil {
				return err
			}
			if !peered {
				if err := h.LinkDel(link); err != nil {
					return err
				}
				link = nil
			}
		} else if isNotFound(err) {
			link = nil
		} else {
			return err
		}
		if link == nil {
			if err := deleteLinkIn(router, routerUplink); err != nil {
				return err
			}
			if link, err = addVeth(h, name, router, routerUplink, nil); err != nil {
				return err
			}
			added = true
		}
		if err := h.LinkSetAlias(link, vpcID); err != nil {
			return err
		}
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(uplinkInetAddr, 32))}); err != nil {
			return err
		}
		return h.LinkSetUp(link)
	})
	if err != nil {
		return err
	}
	if added {
		n.refreshFastPath()
	}
	return withHandle(router, func(h *netlink.Handle) error {
		link, err := h.LinkByName(routerUplink)
		if err != nil {
			return err
		}
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(uplinkRouterAddr, 32))}); err != nil {
			return err
		}
		if err := h.LinkSetUp(link); err != nil {
			return err
		}
		// No default route in the main table: only a route table with a route to an
		// attached internet gateway leads to the uplink (routing.go). A router made by
		// an earlier version had one; it goes.
		err = h.RouteDel(&netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       ipNet(netip.MustParsePrefix("0.0.0.0/0")),
			Table:     unix.RT_TABLE_MAIN,
		})
		if err != nil && !isNotFound(err) {
			return err
		}
		return nil
	})
}

// removeUplink deletes a VPC's uplink (and with it the routes of its public addresses).
func (n *Network) removeUplink(vpcID string) error {
	inet := n.inetNamespace()
	if ok, err := isNamespaceFile(inet); err != nil || !ok {
		return err
	}
	return withHandle(inet, func(h *netlink.Handle) error {
		link, err := h.LinkByName(uplinkLink(vpcID))
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if link.Attrs().Alias != vpcID {
			return nil // another VPC's, whose ID ends the same way
		}
		if err := h.LinkDel(link); err != nil {
			return err
		}
		n.refreshFastPath()
		return nil
	})
}

// addVeth makes a veth pair: name in h's namespace, peerName (with MAC peerMAC, if given)
// in the namespace at peerNS. It returns the near end.
func addVeth(h *netlink.Handle, name, peerNS, peerName string, peerMAC net.HardwareAddr) (netlink.Link, error) {
	ns, err := netns.GetFromPath(peerNS)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: name},
		PeerName:         peerName,
		PeerHardwareAddr: peerMAC,
		PeerNamespace:    netlink.NsFd(ns),
	}
	if err := h.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("creating %s: %w", name, err)
	}
	return h.LinkByName(name)
}

// peeredWith reports whether the veth link's peer is the link named peerName in the
// namespace at peerNS: each end names the other as its parent (IFLA_LINK).
func peeredWith(link netlink.Link, peerNS, peerName string) (bool, error) {
	if _, ok := link.(*netlink.Veth); !ok {
		return false, nil
	}
	peered := false
	err := withHandle(peerNS, func(h *netlink.Handle) error {
		peer, err := h.LinkByName(peerName)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		peered = peer.Attrs().ParentIndex == link.Attrs().Index &&
			link.Attrs().ParentIndex == peer.Attrs().Index
		return nil
	})
	return peered, err
}

// deleteLinkIn deletes the link named name in the namespace at path, if there is one.
func deleteLinkIn(path, name string) error {
	return withHandle(path, func(h *netlink.Handle) error {
		link, err := h.LinkByName(name)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return h.LinkDel(link)
	})
}

// withHostHandle runs fn with a netlink handle in strato's own namespace (the host's).
func withHostHandle(fn func(*netlink.Handle) error) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h)
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var notFound netlink.LinkNotFoundError
	return errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.ESRCH)
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 128
	if p.Addr().Is4() {
		bits = 32
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}
