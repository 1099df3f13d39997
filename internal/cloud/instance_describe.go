package cloud

import (
	"context"
	"slices"
	"strings"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// InstanceView is an instance as DescribeInstances shows it: the document with
// its volumes and interfaces.
type InstanceView struct {
	Instance
	Volumes    []Volume           `json:"volumes,omitempty"`
	Interfaces []NetworkInterface `json:"interfaces,omitempty"`
}

// Device is the attachment of a volume to the viewed instance.
func (v *InstanceView) Device(vol *Volume) VolumeAttachment {
	for _, a := range vol.Attachments {
		if a.InstanceID == v.ID {
			return a
		}
	}
	return VolumeAttachment{}
}

// primaryAssociation is the public address mapped to the instance's primary
// private address, if any.
func (v InstanceView) primaryAssociation() *AddressAssociation {
	for _, n := range v.Interfaces {
		if n.Attachment != nil && n.Attachment.DeviceIndex == 0 {
			return n.PrivateIPs[0].Association
		}
	}
	return nil
}

// PublicIP is the instance's public IPv4 address (assigned or Elastic), or "".
func (v InstanceView) PublicIP() string {
	if a := v.primaryAssociation(); a != nil {
		return a.PublicIP
	}
	return ""
}

// PublicDNSName is the public host name of that address, or "".
func (v InstanceView) PublicDNSName() string {
	if a := v.primaryAssociation(); a != nil {
		return a.PublicDNSName
	}
	return ""
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

var instanceFields = filter.Fields[InstanceView]{
	"instance-id":         func(v InstanceView) []string { return one(v.ID) },
	"reservation-id":      func(v InstanceView) []string { return one(v.ReservationID) },
	"instance-state-name": func(v InstanceView) []string { return one(v.State) },
	"instance-state-code": func(v InstanceView) []string { return intValue(int(InstanceStateCode(v.State))) },
	"instance-type":       func(v InstanceView) []string { return one(v.InstanceType) },
	"image-id":            func(v InstanceView) []string { return one(v.ImageID) },
	"subnet-id":           func(v InstanceView) []string { return one(v.SubnetID) },
	"vpc-id":              func(v InstanceView) []string { return one(v.VpcID) },
	"private-ip-address":  func(v InstanceView) []string { return one(v.PrivateIP) },
	"private-dns-name":    func(v InstanceView) []string { return one(v.PrivateDNSName()) },
	"key-name":            func(v InstanceView) []string { return one(v.KeyName) },
	"availability-zone":   func(v InstanceView) []string { return one(v.AvailabilityZone) },
	"architecture":        func(v InstanceView) []string { return one(v.Architecture) },
	"root-device-type":    func(v InstanceView) []string { return one(v.RootDeviceType) },
	"root-device-name":    func(v InstanceView) []string { return one(v.RootDeviceName) },
	"owner-id":            func(v InstanceView) []string { return one(v.OwnerID) },
	"client-token":        func(v InstanceView) []string { return one(v.ClientToken) },
	"launch-index":        func(v InstanceView) []string { return intValue(int(v.LaunchIndex)) },
	"instance.group-id": func(v InstanceView) []string {
		var out []string
		for _, g := range v.Groups {
			out = append(out, g.ID)
		}
		return out
	},
	"instance.group-name": func(v InstanceView) []string {
		var out []string
		for _, g := range v.Groups {
			out = append(out, g.Name)
		}
		return out
	},
}

// DescribeInstances lists the scope's instances (by ID, each must exist, or
// all), terminated ones for an hour after termination, filtered and paginated
// (MaxResults 5..1000, not with IDs).
func (c *Cloud) DescribeInstances(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]InstanceView, string, error) {
	m, err := filter.Compile(filters, instanceFields, func(v InstanceView) map[string]string { return v.Tags })
	if err != nil {
		return nil, "", err
	}
	var views []InstanceView
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err := instances.load(tx, s, ids, nil)
		if err != nil {
			return err
		}
		ix, err := loadAttachments(tx, s)
		if err != nil {
			return err
		}
		now := txNow(tx)
		for _, in := range list {
			if in.goneAt(now) {
				if len(ids) > 0 {
					return &NotFoundError{Kind: KindInstance, ID: in.ID}
				}
				continue
			}
			views = append(views, ix.view(in))
		}
		return nil
	}); err != nil {
		return nil, "", err
	}
	return PageOf(c, s, "DescribeInstances", filters, page, 5, 1000, m.Filter(views), func(v InstanceView) string { return v.ID })
}

func viewInstance(tx store.Tx, s Scope, in Instance) (InstanceView, error) {
	ix, err := loadAttachments(tx, s)
	return ix.view(in), err
}

// attachments are a scope's volumes and interfaces grouped by the instance they
// are attached to: read once, they give the views of many instances (a
// DescribeInstances of N instances reads each volume and interface once, not N
// times).
type attachments struct {
	volumes    map[string][]Volume
	interfaces map[string][]NetworkInterface
}

func loadAttachments(tx store.Tx, s Scope) (attachments, error) {
	ix := attachments{volumes: map[string][]Volume{}, interfaces: map[string][]NetworkInterface{}}
	vols, err := volumes.load(tx, s, nil, nil)
	if err != nil {
		return ix, err
	}
	for _, v := range vols {
		seen := map[string]bool{}
		for _, a := range v.Attachments {
			if !seen[a.InstanceID] {
				seen[a.InstanceID] = true
				ix.volumes[a.InstanceID] = append(ix.volumes[a.InstanceID], v)
			}
		}
	}
	enis, err := networkInterfaces.load(tx, s, nil, nil)
	if err != nil {
		return ix, err
	}
	for _, n := range enis {
		if n.Attachment != nil {
			ix.interfaces[n.Attachment.InstanceID] = append(ix.interfaces[n.Attachment.InstanceID], n)
		}
	}
	for _, list := range ix.interfaces {
		slices.SortStableFunc(list, byDeviceIndex)
	}
	return ix, nil
}

// view is an instance with its volumes (the root device first, then the others
// by device name) and its interfaces (by device index); a terminated instance
// has none.
func (ix attachments) view(in Instance) InstanceView {
	v := InstanceView{Instance: in}
	if in.State == InstanceTerminated {
		return v
	}
	v.Volumes = slices.Clone(ix.volumes[in.ID])
	slices.SortStableFunc(v.Volumes, func(a, b Volume) int {
		da, db := v.Device(&a).Device, v.Device(&b).Device
		switch {
		case da == in.RootDeviceName:
			return -1
		case db == in.RootDeviceName:
			return 1
		}
		return strings.Compare(da, db)
	})
	v.Interfaces = slices.Clone(ix.interfaces[in.ID])
	return v
}
