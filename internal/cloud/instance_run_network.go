package cloud

import (
	"slices"
	"strings"
	"time"

	"strato/internal/catalog"
	"strato/internal/store"
)

// LaunchInterface is one of RunInstances' NetworkInterfaces: an existing
// interface (NetworkInterfaceID) or the description of a new one.
type LaunchInterface struct {
	// DeviceIndex is required: 0 is the primary interface.
	DeviceIndex        *int
	NetworkInterfaceID string
	SubnetID           string
	Description        string
	PrivateIP          string
	SecondaryIPs       []string
	SecondaryCount     int
	Prefixes           []string
	PrefixCount        int
	Groups             []string
	// DeleteOnTermination defaults to true for a new interface; an existing
	// one is never deleted with the instance.
	DeleteOnTermination *bool
	// AssociatePublicIP overrides the subnet's MapPublicIpOnLaunch; only for a
	// single new interface at device index 0.
	AssociatePublicIP *bool
}

func (l *LaunchInterface) isNew() bool { return l.NetworkInterfaceID == "" }

// createsParts reports whether it describes parts of a new interface.
func (l *LaunchInterface) createsParts() bool {
	return l.SubnetID != "" || l.Description != "" || l.PrivateIP != "" || len(l.SecondaryIPs) > 0 || l.SecondaryCount != 0 ||
		len(l.Prefixes) > 0 || l.PrefixCount != 0 || len(l.Groups) > 0
}

// validateInterfaces checks the NetworkInterfaces of a request against each
// other and the instance-level parameters, with AWS's codes.
func (r *RunRequest) validateInterfaces() error {
	if len(r.Interfaces) == 0 {
		return nil
	}
	switch {
	case r.SubnetID != "":
		return errorf("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID may not be specified on the same request")
	case len(r.SecurityGroupIDs) > 0 || len(r.SecurityGroupNames) > 0:
		return errorf("InvalidParameterCombination", "Network interfaces and an instance-level security groups may not be specified on the same request")
	case r.PrivateIP != "":
		return errorf("InvalidParameterCombination", "Network interfaces and an instance-level private IP address may not be specified on the same request")
	}
	seen := map[int]bool{}
	for _, l := range r.Interfaces {
		if l.DeviceIndex == nil {
			return errorf("MissingParameter", "The request must contain the parameter networkInterface.deviceIndex")
		}
		idx := *l.DeviceIndex
		switch {
		case idx < 0:
			return errorf("InvalidParameterValue", "Value (%d) for parameter deviceIndex is invalid.", idx)
		case seen[idx]:
			return errorf("InvalidParameterValue", "Each network interface requires a unique device index.")
		case l.AssociatePublicIP != nil && *l.AssociatePublicIP && idx != 0:
			return errorf("InvalidParameterCombination", "The associatePublicIPAddress parameter can only be specified for the network interface with DeviceIndex 0.")
		case l.AssociatePublicIP != nil && *l.AssociatePublicIP && len(r.Interfaces) > 1:
			return errorf("InvalidParameterCombination", "The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.")
		case l.AssociatePublicIP != nil && *l.AssociatePublicIP && !l.isNew():
			return errorf("InvalidParameterCombination", "The associatePublicIPAddress parameter cannot be specified for an existing network interface.")
		case !l.isNew() && l.createsParts():
			return errorf("InvalidParameterCombination", "A network interface ID (%s) may not be specified with parameters for a new network interface.", l.NetworkInterfaceID)
		case !l.isNew() && l.DeleteOnTermination != nil && *l.DeleteOnTermination:
			return errorf("InvalidParameterCombination", "DeleteOnTermination can be true only for a network interface created at launch, not for %s.", l.NetworkInterfaceID)
		case !l.isNew() && r.MaxCount > 1:
			return errorf("InvalidParameterCombination", "An existing network interface (%s) can be attached to one instance only; MaxCount must be 1.", l.NetworkInterfaceID)
		case (l.PrivateIP != "" || len(l.SecondaryIPs) > 0) && r.MaxCount > 1:
			return errorf("InvalidParameterCombination", "Cannot specify a private IP address when launching more than one instance.")
		}
		seen[idx] = true
		check := InterfaceRequest{SecondaryIPs: l.SecondaryIPs, SecondaryCount: l.SecondaryCount, Prefixes: l.Prefixes, PrefixCount: l.PrefixCount}
		if err := check.validate(); err != nil {
			return err
		}
	}
	if !seen[0] {
		return errorf("InvalidParameterValue", "A network interface at device index 0 is required.")
	}
	return nil
}

// needsDefaultSubnet reports whether a new interface of the launch has no
// subnet: it goes to the default VPC, which may have to be made first.
func (r *RunRequest) needsDefaultSubnet() bool {
	if len(r.Interfaces) == 0 {
		return r.SubnetID == ""
	}
	for _, l := range r.Interfaces {
		if l.isNew() && l.SubnetID == "" {
			return true
		}
	}
	return false
}

// interfacePlan is one interface every instance of a launch gets.
type interfacePlan struct {
	deviceIndex int
	// existing is the interface to attach, or nil to make one from req.
	existing            *NetworkInterface
	req                 InterfaceRequest
	subnet              Subnet
	deleteOnTermination bool
	publicIP            bool
}

// planInterfaces resolves a launch's interfaces: the single one the
// instance-level parameters describe, or NetworkInterfaces, by device index.
func planInterfaces(tx store.Tx, s Scope, req *RunRequest, it catalog.InstanceType) ([]interfacePlan, error) {
	if len(req.Interfaces) == 0 {
		sn, err := launchSubnet(tx, s, req.SubnetID, req.AvailabilityZone)
		if err != nil {
			return nil, err
		}
		groups := slices.Clone(req.SecurityGroupIDs)
		for _, name := range req.SecurityGroupNames {
			g, err := resolveGroup(tx, s, GroupSelector{Name: name})
			if err != nil {
				return nil, err
			}
			groups = append(groups, g.ID)
		}
		return []interfacePlan{{
			req: InterfaceRequest{SubnetID: sn.ID, PrimaryIP: req.PrivateIP, Groups: groups}, subnet: sn,
			deleteOnTermination: true, publicIP: sn.MapPublicIPOnLaunch,
		}}, nil
	}
	if max := it.NetworkInfo.MaximumNetworkInterfaces; len(req.Interfaces) > max {
		return nil, errorf("AttachmentLimitExceeded", "Interface count %d exceeds the limit for %s", len(req.Interfaces), it.InstanceType)
	}
	list := slices.Clone(req.Interfaces)
	slices.SortFunc(list, func(a, b LaunchInterface) int { return *a.DeviceIndex - *b.DeviceIndex })
	var out []interfacePlan
	zone := req.AvailabilityZone
	for _, l := range list {
		p := interfacePlan{deviceIndex: *l.DeviceIndex}
		if l.isNew() {
			sn, err := launchSubnet(tx, s, l.SubnetID, zone)
			if err != nil {
				return nil, err
			}
			p.subnet = sn
			p.req = InterfaceRequest{
				SubnetID: sn.ID, Description: l.Description, PrimaryIP: l.PrivateIP, SecondaryIPs: l.SecondaryIPs,
				SecondaryCount: l.SecondaryCount, Prefixes: l.Prefixes, PrefixCount: l.PrefixCount, Groups: l.Groups,
			}
			if n := 1 + len(l.SecondaryIPs) + l.SecondaryCount + len(l.Prefixes) + l.PrefixCount; n > it.NetworkInfo.Ipv4AddressesPerInterface {
				return nil, errorf("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit of %d per network interface for %s.", it.NetworkInfo.Ipv4AddressesPerInterface, it.InstanceType)
			}
			p.deleteOnTermination = l.DeleteOnTermination == nil || *l.DeleteOnTermination
			// Only a single new primary interface gets a public address.
			p.publicIP = len(list) == 1 && sn.MapPublicIPOnLaunch
			if l.AssociatePublicIP != nil {
				p.publicIP = *l.AssociatePublicIP
			}
		} else {
			n, err := networkInterfaces.get(tx, s, l.NetworkInterfaceID)
			if err != nil {
				return nil, err
			}
			if n.Status() == "in-use" {
				return nil, errorf("InvalidNetworkInterface.InUse", "Interface: %s in use.", n.ID)
			}
			if p.subnet, err = subnets.get(tx, s, n.SubnetID); err != nil {
				return nil, err
			}
			p.existing = &n
		}
		if zone == "" {
			zone = p.subnet.AvailabilityZone
		}
		if !strings.EqualFold(zone, p.subnet.AvailabilityZone) {
			return nil, errorf("InvalidParameterValue", "The network interfaces of an instance must be in one availability zone (%s); the interface at device index %d is in %s.", zone, p.deviceIndex, p.subnet.AvailabilityZone)
		}
		out = append(out, p)
	}
	return out, nil
}

// launchInterfaces makes or attaches an instance's interfaces (attaching until
// the instance runs), gives the primary one its public address, and fills the
// instance's network fields from the primary interface.
func (c *Cloud) launchInterfaces(tx store.Tx, s Scope, now time.Time, tags []Tag, plans []interfacePlan, in *Instance, undo *revert) error {
	for _, p := range plans {
		var n NetworkInterface
		if p.existing != nil {
			n = *p.existing
		} else {
			r := p.req
			r.Tags = tags
			var err error
			if n, err = createInterface(tx, s, now, r); err != nil {
				return err
			}
			// Deleting it returns its addresses, public one included.
			undo.add(func(tx store.Tx) error { return deleteInterface(tx, s, n.ID) })
		}
		if _, err := attachInterface(tx, s, now, n.ID, in.ID, p.deviceIndex, p.deleteOnTermination); err != nil {
			return err
		}
		if p.existing != nil {
			undo.add(func(tx store.Tx) error {
				n, err := networkInterfaces.get(tx, s, n.ID)
				if err != nil {
					return err
				}
				n.Attachment = nil
				return networkInterfaces.update(tx, s, &n)
			})
		}
		if p.publicIP {
			fresh, err := networkInterfaces.get(tx, s, n.ID)
			if err != nil {
				return err
			}
			fresh.AutoPublicIP = true
			if err := assignAutoPublicIP(tx, s, &fresh); err != nil {
				return err
			}
			if err := networkInterfaces.update(tx, s, &fresh); err != nil {
				return err
			}
			n = fresh
		}
		if p.deviceIndex == 0 {
			in.InterfaceID, in.PrivateIP, in.Groups = n.ID, n.PrimaryIP(), n.Groups
			in.SubnetID, in.VpcID, in.AvailabilityZone = n.SubnetID, n.VpcID, n.AvailabilityZone
		}
	}
	return nil
}
