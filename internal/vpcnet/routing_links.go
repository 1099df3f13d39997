package vpcnet

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// ensureVethPair makes the veth pair between name (in h's namespace) and peerName (in the
// namespace at peerNS) unless it is already there and whole; a half left alone, or a pair
// that leads elsewhere, is replaced. A link called name that another owner's alias names
// is an error: the names are ID suffixes, and two IDs may end alike.
func ensureVethPair(h *netlink.Handle, name, owner, peerNS, peerName string) error {
	link, err := h.LinkByName(name)
	if err == nil {
		if alias := link.Attrs().Alias; alias != "" && alias != owner {
			return fmt.Errorf("link %s belongs to %s", name, alias)
		}
		peered, err := peeredWith(link, peerNS, peerName)
		if err != nil || peered {
			return err
		}
		if err := h.LinkDel(link); err != nil {
			return err
		}
	} else if !isNotFound(err) {
		return err
	}
	if err := deleteLinkIn(peerNS, peerName); err != nil {
		return err
	}
	_, err = addVeth(h, name, peerNS, peerName, nil)
	return err
}
