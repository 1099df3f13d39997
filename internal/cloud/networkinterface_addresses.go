package cloud

import (
	"context"
	"net/netip"
	"slices"

	"strato/internal/store"
)

// AssignRequest asks for more private addresses or prefixes on an interface: the
// named ones, or a count of any (one of the four).
type AssignRequest struct {
	Addresses   []string
	Count       int
	Prefixes    []string
	PrefixCount int
	// AllowReassignment moves named addresses that are secondary addresses of
	// another interface in the subnet to this one.
	AllowReassignment bool
}

// Assigned is what AssignPrivateIpAddresses answers: what was added.
type Assigned struct {
	Addresses []string
	Prefixes  []string
}

// AssignPrivateIPAddresses adds secondary addresses or /28 prefixes to an
// interface, within MaxInterfaceAddresses.
func (c *Cloud) AssignPrivateIPAddresses(ctx context.Context, s Scope, id string, req AssignRequest) (Assigned, error) {
	check := InterfaceRequest{SecondaryIPs: req.Addresses, SecondaryCount: req.Count, Prefixes: req.Prefixes, PrefixCount: req.PrefixCount}
	if err := check.validate(); err != nil {
		return Assigned{}, err
	}
	if len(req.Addresses)+req.Count+len(req.Prefixes)+req.PrefixCount == 0 {
		return Assigned{}, errorf("MissingParameter", "Either 'secondaryPrivateIpAddressCount', 'privateIpAddress', 'ipv4PrefixCount' or 'ipv4Prefix' must be specified.")
	}
	var out Assigned
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		n, err := userInterface(tx, s, id)
		if err != nil {
			return err
		}
		vpcID = n.VpcID
		if n.addressCount()+len(req.Addresses)+req.Count+len(req.Prefixes)+req.PrefixCount > MaxInterfaceAddresses {
			return addressLimitError()
		}
		sn, err := subnets.get(tx, s, n.SubnetID)
		if err != nil {
			return err
		}
		if req.AllowReassignment {
			if err := takeBackSecondaries(tx, s, &n, &sn, req.Addresses); err != nil {
				return err
			}
		}
		if out.Addresses, err = addAddresses(sn.Addresses, &n, req.Addresses, req.Count); err != nil {
			return err
		}
		if out.Prefixes, err = addPrefixes(sn.Addresses, &n, req.Prefixes, req.PrefixCount); err != nil {
			return err
		}
		if err := subnets.update(tx, s, &sn); err != nil {
			return err
		}
		return networkInterfaces.update(tx, s, &n)
	})
	if err == nil {
		c.networkAndPeersChanged(ctx, s, vpcID)
	}
	return out, err
}

// takeBackSecondaries unassigns the named addresses from the other interfaces of
// the subnet holding them as secondary addresses, so they can be assigned again.
func takeBackSecondaries(tx store.Tx, s Scope, to *NetworkInterface, sn *Subnet, addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	siblings, err := networkInterfaces.children(tx, s, sn.ID)
	if err != nil {
		return err
	}
	for _, other := range siblings {
		if other.ID == to.ID {
			continue
		}
		var moved []string
		for _, a := range other.PrivateIPs[1:] {
			if slices.Contains(addrs, a.Address) {
				moved = append(moved, a.Address)
			}
		}
		if len(moved) == 0 {
			continue
		}
		if err := unassign(tx, s, &other, sn, moved, nil); err != nil {
			return err
		}
		if err := networkInterfaces.update(tx, s, &other); err != nil {
			return err
		}
	}
	return nil
}

// UnassignPrivateIPAddresses removes secondary addresses or prefixes from an
// interface; Elastic IPs mapped to the addresses are disassociated.
func (c *Cloud) UnassignPrivateIPAddresses(ctx context.Context, s Scope, id string, addrs, prefixes []string) error {
	if len(addrs) == 0 && len(prefixes) == 0 {
		return errorf("MissingParameter", "Either 'privateIpAddress' or 'ipv4Prefix' must be specified.")
	}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		n, err := userInterface(tx, s, id)
		if err != nil {
			return err
		}
		sn, err := subnets.get(tx, s, n.SubnetID)
		if err != nil {
			return err
		}
		if err := unassign(tx, s, &n, &sn, addrs, prefixes); err != nil {
			return err
		}
		if err := subnets.update(tx, s, &sn); err != nil {
			return err
		}
		vpcID = n.VpcID
		return networkInterfaces.update(tx, s, &n)
	})
	if err == nil {
		// Elastic IPs mapped to the addresses are unmapped.
		c.networkAndPeersChanged(ctx, s, vpcID)
	}
	return err
}

// unassign drops secondary addresses and prefixes of an interface, returning them
// to the subnet's pool (the caller writes both documents back).
func unassign(tx store.Tx, s Scope, n *NetworkInterface, sn *Subnet, addrs, prefixes []string) error {
	var gone []InterfaceAddress
	for _, a := range addrs {
		i := slices.IndexFunc(n.PrivateIPs, func(x InterfaceAddress) bool { return x.Address == a })
		switch {
		case i < 0:
			return errorf("InvalidParameterValue", "Some of the specified addresses are not assigned to interface %s", n.ID)
		case i == 0:
			return errorf("InvalidParameterValue", "The primary private IP address %s of interface %s cannot be unassigned.", a, n.ID)
		}
		if err := dropAssociation(tx, s, n.PrivateIPs[i].Association); err != nil {
			return err
		}
		gone = append(gone, n.PrivateIPs[i])
		n.PrivateIPs = slices.Delete(n.PrivateIPs, i, i+1)
	}
	var goneP []string
	for _, p := range prefixes {
		pfx, err := netip.ParsePrefix(p)
		i := slices.Index(n.Prefixes, pfx.String())
		if err != nil || i < 0 {
			return errorf("InvalidParameterValue", "Some of the specified prefixes are not assigned to interface %s", n.ID)
		}
		goneP = append(goneP, n.Prefixes[i])
		n.Prefixes = slices.Delete(n.Prefixes, i, i+1)
	}
	return releaseFromPool(sn.Addresses, gone, goneP)
}

// InterfaceChange is one attribute ModifyNetworkInterfaceAttribute changes.
type InterfaceChange struct {
	Description     *string
	SourceDestCheck *bool
	Groups          []string
	// AttachmentID with DeleteOnTermination changes the attachment's setting.
	AttachmentID        string
	DeleteOnTermination *bool
}

// ModifyNetworkInterfaceAttribute changes one attribute of an interface.
func (c *Cloud) ModifyNetworkInterfaceAttribute(ctx context.Context, s Scope, id string, ch InterfaceChange) error {
	given := 0
	for _, set := range []bool{ch.Description != nil, ch.SourceDestCheck != nil, len(ch.Groups) > 0, ch.DeleteOnTermination != nil} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		return errorf("MissingParameter", "No attributes specified.")
	case given > 1:
		return errorf("InvalidParameterCombination", "Fields for multiple attribute types specified: only one attribute can be modified at a time.")
	}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		n, err := userInterface(tx, s, id)
		if err != nil {
			return err
		}
		vpcID = n.VpcID
		switch {
		case ch.Description != nil:
			n.Description = *ch.Description
		case ch.SourceDestCheck != nil:
			n.SourceDestCheck = *ch.SourceDestCheck
		case len(ch.Groups) > 0:
			if n.Groups, err = groupRefs(tx, s, n.VpcID, ch.Groups); err != nil {
				return err
			}
		default:
			if ch.AttachmentID == "" {
				return errorf("MissingParameter", "The request must contain the parameter attachment.attachmentId")
			}
			if n.Attachment == nil || n.Attachment.ID != ch.AttachmentID {
				return errorf("InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", ch.AttachmentID)
			}
			n.Attachment.DeleteOnTermination = *ch.DeleteOnTermination
		}
		return networkInterfaces.update(tx, s, &n)
	})
	if err == nil {
		c.networkAndPeersChanged(ctx, s, vpcID)
	}
	return err
}

// ResetNetworkInterfaceSourceDestCheck returns the check to its default, on.
func (c *Cloud) ResetNetworkInterfaceSourceDestCheck(ctx context.Context, s Scope, id string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		n, err := userInterface(tx, s, id)
		if err != nil {
			return err
		}
		vpcID = n.VpcID
		n.SourceDestCheck = true
		return networkInterfaces.update(tx, s, &n)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// GetNetworkInterface reads one interface with its tags.
func (c *Cloud) GetNetworkInterface(ctx context.Context, s Scope, id string) (NetworkInterface, error) {
	var n NetworkInterface
	err := c.view(ctx, func(tx store.Tx) error {
		list, err := networkInterfaces.load(tx, s, []string{id}, nil)
		if err == nil {
			n = list[0]
		}
		return err
	})
	return n, err
}

// userInterface reads an interface the user may change directly.
func userInterface(tx store.Tx, s Scope, id string) (NetworkInterface, error) {
	n, err := networkInterfaces.get(tx, s, id)
	if err != nil {
		return NetworkInterface{}, err
	}
	return n, n.userChangeable()
}

// userChangeable refuses changes to an interface another resource manages (a NAT
// gateway's, an endpoint's): it is changed through that resource.
func (n *NetworkInterface) userChangeable() error {
	if n.RequesterManaged {
		return errorf("OperationNotPermitted", "Network interface %s is managed by %s; change it through that resource.", n.ID, n.ManagedBy)
	}
	return nil
}
