package cloud

import (
	"context"
	"strconv"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// attachInterface attaches an available interface to an instance inside the
// caller's transaction (the instances' file checks the instance, its zone and its
// device indexes) and returns the attachment ID.
func attachInterface(tx store.Tx, s Scope, now time.Time, eniID, instanceID string, deviceIndex int, deleteOnTermination bool) (string, error) {
	n, err := networkInterfaces.get(tx, s, eniID)
	if err != nil {
		return "", err
	}
	if n.Status() == "in-use" {
		return "", errorf("InvalidNetworkInterface.InUse", "Interface: %s in use.", eniID)
	}
	n.Attachment = &Attachment{
		ID: NewID("eni-attach"), InstanceID: instanceID, InstanceOwnerID: s.Account, DeviceIndex: deviceIndex,
		Status: AttachAttaching, DeleteOnTermination: deleteOnTermination, AttachTime: now,
	}
	return n.Attachment.ID, networkInterfaces.update(tx, s, &n)
}

// interfaceByAttachment finds the interface with an attachment ID.
func interfaceByAttachment(tx store.Tx, s Scope, attachmentID string) (NetworkInterface, error) {
	all, err := networkInterfaces.load(tx, s, nil, nil)
	if err != nil {
		return NetworkInterface{}, err
	}
	for _, n := range all {
		if n.Attachment != nil && n.Attachment.ID == attachmentID {
			return n, nil
		}
	}
	return NetworkInterface{}, errorf("InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", attachmentID)
}

// detachInterface detaches an interface inside the caller's transaction; the
// primary interface (device index 0) stays unless the instance is going away.
func detachInterface(tx store.Tx, s Scope, attachmentID string, primaryToo bool) error {
	n, err := interfaceByAttachment(tx, s, attachmentID)
	if err != nil {
		return err
	}
	if n.Attachment.DeviceIndex == 0 && !primaryToo {
		return errorf("OperationNotPermitted", "The network interface at device index 0 cannot be detached.")
	}
	n.Attachment = nil
	return networkInterfaces.update(tx, s, &n)
}

// AttachNetworkInterface attaches an interface to a running or stopped
// instance of the same zone: attaching until the driver has plugged it
// (instance_attach.go).
func (c *Cloud) AttachNetworkInterface(ctx context.Context, s Scope, eniID, instanceID string, deviceIndex int) (string, error) {
	if deviceIndex < 0 {
		return "", errorf("InvalidParameterValue", "Value (%d) for parameter deviceIndex is invalid.", deviceIndex)
	}
	var id, vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		n, err := networkInterfaces.get(tx, s, eniID)
		if err != nil {
			return err
		}
		vpcID = n.VpcID
		in, err := attachTarget(tx, s, instanceID)
		if err != nil {
			return err
		}
		if in.AvailabilityZone != n.AvailabilityZone {
			return errorf("InvalidParameterValue", "The network interface %s and instance %s are in different availability zones.", eniID, instanceID)
		}
		if n.Status() != "in-use" {
			if err := checkInterfaceSlot(tx, s, &in, deviceIndex); err != nil {
				return err
			}
		}
		if id, err = attachInterface(tx, s, c.clock.Now(), eniID, instanceID, deviceIndex, false); err != nil {
			return err
		}
		return setAddressesInstance(tx, s, &n, instanceID)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
		c.attachInterfaceWork(s, eniID, instanceID, id)
	}
	return id, err
}

// DetachNetworkInterface detaches an interface by its attachment ID: detaching
// until the driver has unplugged it. The primary interface stays; force
// detaches even when the driver fails.
func (c *Cloud) DetachNetworkInterface(ctx context.Context, s Scope, attachmentID string, force bool) error {
	var eniID, target, vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		target = ""
		n, err := interfaceByAttachment(tx, s, attachmentID)
		if err != nil {
			return err
		}
		vpcID = n.VpcID
		if n.Attachment.DeviceIndex == 0 {
			return errorf("OperationNotPermitted", "The network interface at device index 0 cannot be detached.")
		}
		in, err := instances.get(tx, s, n.Attachment.InstanceID)
		if ignoreNotFound(err, nil) != nil {
			return err
		}
		if err != nil || in.State == InstanceTerminated {
			// No instance to unplug it from: it is detached.
			return endInterfaceAttachment(tx, s, &n)
		}
		if _, err := attachTarget(tx, s, in.ID); err != nil {
			return err
		}
		if n.Attachment.Status == AttachAttaching && !force {
			return errorf("IncorrectState", "Interface %s is still attaching to %s.", n.ID, in.ID)
		}
		n.Attachment.Status = AttachDetaching
		eniID, target = n.ID, in.ID
		return networkInterfaces.update(tx, s, &n)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	if err == nil && target != "" {
		c.detachInterfaceWork(s, eniID, target, attachmentID, force)
	}
	return err
}

func eachAddress(n NetworkInterface, f func(InterfaceAddress) string) []string {
	var out []string
	for _, a := range n.PrivateIPs {
		if v := f(a); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func association(f func(*AddressAssociation) string) func(NetworkInterface) []string {
	return func(n NetworkInterface) []string {
		return eachAddress(n, func(a InterfaceAddress) string {
			if a.Association == nil {
				return ""
			}
			return f(a.Association)
		})
	}
}

func attachment(f func(*Attachment) string) func(NetworkInterface) []string {
	return func(n NetworkInterface) []string {
		if n.Attachment == nil {
			return nil
		}
		return stringValue(f(n.Attachment))
	}
}

var networkInterfaceFields = func() filter.Fields[NetworkInterface] {
	addrs := func(n NetworkInterface) []string {
		return eachAddress(n, func(a InterfaceAddress) string { return a.Address })
	}
	f := filter.Fields[NetworkInterface]{
		"addresses.private-ip-address": addrs,
		"addresses.primary": func(n NetworkInterface) []string {
			return eachAddress(n, func(a InterfaceAddress) string { return strconv.FormatBool(a.Primary) })
		},
		"addresses.association.public-ip": association(func(a *AddressAssociation) string { return a.PublicIP }),
		"addresses.association.owner-id":  association(func(a *AddressAssociation) string { return a.IPOwnerID }),
		"association.association-id":      association(func(a *AddressAssociation) string { return a.AssociationID }),
		"association.allocation-id":       association(func(a *AddressAssociation) string { return a.AllocationID }),
		"association.ip-owner-id":         association(func(a *AddressAssociation) string { return a.IPOwnerID }),
		"association.public-ip":           association(func(a *AddressAssociation) string { return a.PublicIP }),
		"association.public-dns-name":     association(func(a *AddressAssociation) string { return a.PublicDNSName }),
		"attachment.attachment-id":        attachment(func(a *Attachment) string { return a.ID }),
		"attachment.attach-time":          attachment(func(a *Attachment) string { return a.AttachTime.Format(time.RFC3339) }),
		"attachment.delete-on-termination": attachment(func(a *Attachment) string {
			return strconv.FormatBool(a.DeleteOnTermination)
		}),
		"attachment.device-index":      attachment(func(a *Attachment) string { return strconv.Itoa(a.DeviceIndex) }),
		"attachment.instance-id":       attachment(func(a *Attachment) string { return a.InstanceID }),
		"attachment.instance-owner-id": attachment(func(a *Attachment) string { return a.InstanceOwnerID }),
		"attachment.status":            attachment(func(a *Attachment) string { return a.Status }),
		"attachment.nat-gateway-id": func(n NetworkInterface) []string {
			if n.InterfaceType != InterfaceTypeNATGateway {
				return nil
			}
			return stringValue(n.ManagedBy)
		},
		"availability-zone": func(n NetworkInterface) []string { return []string{n.AvailabilityZone} },
		"description":       func(n NetworkInterface) []string { return []string{n.Description} },
		"group-id": func(n NetworkInterface) []string {
			var out []string
			for _, g := range n.Groups {
				out = append(out, g.ID)
			}
			return out
		},
		"group-name": func(n NetworkInterface) []string {
			var out []string
			for _, g := range n.Groups {
				out = append(out, g.Name)
			}
			return out
		},
		"interface-type":              func(n NetworkInterface) []string { return []string{n.InterfaceType} },
		"ipv4-prefix":                 func(n NetworkInterface) []string { return n.Prefixes },
		"ipv6-addresses.ipv6-address": func(NetworkInterface) []string { return nil },
		"mac-address":                 func(n NetworkInterface) []string { return []string{n.MACAddress} },
		"network-interface-id":        func(n NetworkInterface) []string { return []string{n.ID} },
		"owner-id":                    func(n NetworkInterface) []string { return []string{n.OwnerID} },
		"private-ip-address":          addrs,
		"private-dns-name":            func(n NetworkInterface) []string { return []string{n.PrivateDNSName()} },
		"requester-id":                func(NetworkInterface) []string { return nil },
		"requester-managed":           func(n NetworkInterface) []string { return boolValue(n.RequesterManaged) },
		"source-dest-check":           func(n NetworkInterface) []string { return boolValue(n.SourceDestCheck) },
		"status":                      func(n NetworkInterface) []string { return []string{n.Status()} },
		"subnet-id":                   func(n NetworkInterface) []string { return []string{n.SubnetID} },
		"vpc-id":                      func(n NetworkInterface) []string { return []string{n.VpcID} },
	}
	// The older spellings AWS still accepts.
	f["private-ip-addresses.private-ip-address"] = addrs
	f["addresses.association.ip-owner-id"] = f["addresses.association.owner-id"]
	return f
}()

// DescribeNetworkInterfaces lists interfaces by ID or all, filtered and paginated
// (MaxResults 5..1000).
func (c *Cloud) DescribeNetworkInterfaces(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]NetworkInterface, string, error) {
	return describe(ctx, c, s, networkInterfaces, "DescribeNetworkInterfaces", networkInterfaceFields, ids, filters, page, 5, 1000)
}
