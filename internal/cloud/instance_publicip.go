package cloud

import (
	"net/netip"

	"strato/internal/store"
)

// Public IPv4 addresses assigned with instances. An instance launched with a
// public address (AssociatePublicIpAddress, or a subnet with
// MapPublicIpOnLaunch) has one from the installation's public pool, the pool
// Elastic IPs come from, mapped to its primary private address, as AWS does:
//   - released when the instance stops, a new one assigned when it starts;
//   - released when an Elastic IP is mapped to that private address; a new one
//     assigned when the Elastic IP goes, unless the instance has more than one
//     interface or an Elastic IP on a secondary address (AWS's rules);
//   - released when the instance terminates.
//
// It is kept as the address's AddressAssociation with IPOwnerID "amazon" and no
// allocation: DescribeAddresses does not list it, the interface and the
// instance show it.

// AutoPublicIPOwner is the IpOwnerId AWS shows for the public addresses it
// assigns (not Elastic IPs).
const AutoPublicIPOwner = "amazon"

// IsAutoAssigned reports whether the association is a public address assigned
// with an instance rather than an Elastic IP.
func (a *AddressAssociation) IsAutoAssigned() bool { return a != nil && a.AllocationID == "" }

// publicDNSName is the public host name of a public address mapped into a
// VPC: AWS gives one only when the VPC has DNS support and DNS hostnames on.
func publicDNSName(tx store.Tx, s Scope, vpcID, ip string) (string, error) {
	v, err := vpcs.get(tx, s, vpcID)
	if err != nil {
		return "", err
	}
	if !v.EnableDNSSupport || !v.EnableDNSHostnames {
		return "", nil
	}
	return DefaultPTRRecord(s.Region, ip), nil
}

// assignAutoPublicIP maps a new public address from the pool to the
// interface's primary private address, unless one is mapped there already;
// the caller writes the interface.
func assignAutoPublicIP(tx store.Tx, s Scope, n *NetworkInterface) error {
	if n.PrivateIPs[0].Association != nil {
		return nil
	}
	pp, err := loadPublicPool(tx)
	if err != nil {
		return err
	}
	ip, err := pp.TakeAny()
	if err != nil {
		return err
	}
	if err := savePublicPool(tx, pp); err != nil {
		return err
	}
	dns, err := publicDNSName(tx, s, n.VpcID, ip.String())
	if err != nil {
		return err
	}
	n.PrivateIPs[0].Association = &AddressAssociation{PublicIP: ip.String(), IPOwnerID: AutoPublicIPOwner, PublicDNSName: dns}
	return nil
}

// releaseAutoPublicIPs returns an interface's assigned public addresses to the
// pool (Elastic IPs stay); the caller writes the interface when it reports a
// change.
func releaseAutoPublicIPs(tx store.Tx, n *NetworkInterface) (bool, error) {
	changed := false
	for i := range n.PrivateIPs {
		if as := n.PrivateIPs[i].Association; as.IsAutoAssigned() {
			if err := releasePublicIP(tx, as.PublicIP); err != nil {
				return false, err
			}
			n.PrivateIPs[i].Association, changed = nil, true
		}
	}
	return changed, nil
}

// releasePublicIP returns an assigned public address to the pool.
func releasePublicIP(tx store.Tx, ip string) error {
	pp, err := loadPublicPool(tx)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return err
	}
	// An address already back in the pool (a repeated release) is no error.
	if err := pp.Release(addr); err != nil && errCodeOf(err) != "InvalidAddress.NotFound" {
		return err
	}
	return savePublicPool(tx, pp)
}

// instancePublicIPs assigns (on start) or releases (on stop, terminate) the
// public addresses of an instance's interfaces and returns the VPCs whose
// mappings changed.
func instancePublicIPs(tx store.Tx, s Scope, instanceID string, assign bool) ([]string, error) {
	enis, err := interfacesOfInstance(tx, s, instanceID)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, n := range enis {
		var did bool
		switch {
		case assign && n.AutoPublicIP && n.PrivateIPs[0].Association == nil:
			if err := assignAutoPublicIP(tx, s, &n); err != nil {
				return nil, err
			}
			did = true
		case !assign:
			if did, err = releaseAutoPublicIPs(tx, &n); err != nil {
				return nil, err
			}
		}
		if did {
			if err := networkInterfaces.update(tx, s, &n); err != nil {
				return nil, err
			}
			changed = append(changed, n.VpcID)
		}
	}
	return changed, nil
}

// reassignAfterElasticIP gives an instance's primary interface a new public
// address after the Elastic IP that replaced its own went away, as AWS does:
// only while the instance runs (a stopped one gets it on start), only when it
// has one interface and no Elastic IP on a secondary address. The caller
// writes the interface.
func reassignAfterElasticIP(tx store.Tx, s Scope, n *NetworkInterface) error {
	if !n.AutoPublicIP || n.Attachment == nil || n.PrivateIPs[0].Association != nil {
		return nil
	}
	in, err := instances.get(tx, s, n.Attachment.InstanceID)
	if err != nil {
		return ignoreNotFound(err, nil)
	}
	if in.State != InstanceRunning && in.State != InstancePending {
		return nil
	}
	enis, err := interfacesOfInstance(tx, s, in.ID)
	if err != nil || len(enis) > 1 {
		return err
	}
	for _, a := range n.PrivateIPs[1:] {
		if a.Association != nil {
			return nil
		}
	}
	return assignAutoPublicIP(tx, s, n)
}

func init() {
	// An internet gateway stays attached while instances of its VPC hold
	// public addresses (DependencyViolation), as with Elastic IPs.
	publicAddressUsers = append(publicAddressUsers, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		enis, err := interfacesOfVPC(tx, s, vpcID)
		for _, n := range enis {
			for _, a := range n.PrivateIPs {
				if a.Association.IsAutoAssigned() {
					return true, err
				}
			}
		}
		return false, err
	})
}

// setAddressesInstance records, on the Elastic IPs mapped to an interface, the
// instance the interface is attached to now ("" for none), as
// DescribeAddresses shows it.
func setAddressesInstance(tx store.Tx, s Scope, n *NetworkInterface, instanceID string) error {
	for _, x := range n.PrivateIPs {
		if x.Association == nil || x.Association.IsAutoAssigned() {
			continue
		}
		a, err := addresses.get(tx, s, x.Association.AllocationID)
		if err != nil {
			if ignoreNotFound(err, nil) == nil {
				continue
			}
			return err
		}
		a.InstanceID = instanceID
		if err := addresses.update(tx, s, &a); err != nil {
			return err
		}
	}
	return nil
}
