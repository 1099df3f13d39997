package imds

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// node is one entry of the metadata tree: a leaf with a value or a directory.
type node struct {
	value    string
	children map[string]*node
	// listing replaces the generated directory listing where AWS shows names that are not
	// the paths (public-keys/ lists "0=name" while the key lives at public-keys/0/).
	listing []string
}

func newDir() *node { return &node{children: map[string]*node{}} }

func (n *node) isDir() bool { return n.children != nil }

// set adds a leaf; an empty value adds nothing, as AWS leaves out what an instance lacks.
func (n *node) set(name, value string) {
	if value == "" {
		return
	}
	n.children[name] = &node{value: value}
}

// dir returns the subdirectory name, creating it.
func (n *node) dir(name string) *node {
	if c, ok := n.children[name]; ok {
		return c
	}
	c := newDir()
	n.children[name] = c
	return c
}

// lookup walks path segments; empty segments (a trailing or doubled slash) are skipped.
func (n *node) lookup(segments []string) *node {
	cur := n
	for _, s := range segments {
		if s == "" {
			continue
		}
		if !cur.isDir() {
			return nil
		}
		next, ok := cur.children[s]
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// list renders a directory: one name per line, sorted, directories ending with "/".
func (n *node) list() string {
	if n.listing != nil {
		return strings.Join(n.listing, "\n")
	}
	names := make([]string, 0, len(n.children))
	for name, c := range n.children {
		if c.isDir() {
			name += "/"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, "\n")
}

func lines(items ...string) string { return strings.Join(items, "\n") }

func addrs(as []netip.Addr) string {
	s := make([]string, 0, len(as))
	for _, a := range as {
		if a.IsValid() {
			s = append(s, a.String())
		}
	}
	return lines(s...)
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.IsValid() {
			s = append(s, p.String())
		}
	}
	return lines(s...)
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// metadataTagKey is what AWS allows as a tag key shown in the metadata (a key is a path
// segment there); tags with other keys are left out of tags/instance/.
var metadataTagKey = regexp.MustCompile(`^[A-Za-z0-9+\-=._:@]+$`)

// metaData builds meta-data/ for inst.
func metaData(inst *Instance) *node {
	md := newDir()
	md.set("ami-id", inst.ImageID)
	md.set("ami-launch-index", strconv.Itoa(inst.LaunchIndex))
	md.set("ami-manifest-path", "(unknown)")
	md.set("hostname", inst.PrivateHostname)
	md.set("local-hostname", inst.PrivateHostname)
	md.set("instance-action", "none")
	md.set("instance-id", inst.InstanceID)
	md.set("instance-life-cycle", "on-demand")
	md.set("instance-type", inst.InstanceType)
	md.set("kernel-id", inst.KernelID)
	md.set("ramdisk-id", inst.RamdiskID)
	md.set("local-ipv4", addr(inst.PrivateIPv4))
	md.set("public-ipv4", addr(inst.PublicIPv4))
	md.set("public-hostname", inst.PublicHostname)
	md.set("reservation-id", inst.ReservationID)
	md.set("security-groups", lines(inst.SecurityGroups...))

	if len(inst.BlockDevices) > 0 {
		bdm := md.dir("block-device-mapping")
		for name, device := range inst.BlockDevices {
			bdm.set(name, device)
		}
	}

	maintenance := md.dir("events").dir("maintenance")
	maintenance.set("history", "[]")
	maintenance.set("scheduled", "[]")

	placement := md.dir("placement")
	placement.set("availability-zone", inst.AvailabilityZone)
	placement.set("availability-zone-id", inst.AvailabilityZoneID)
	placement.set("region", inst.Region)

	if inst.PublicKey != "" {
		keys := md.dir("public-keys")
		keys.dir("0").set("openssh-key", inst.PublicKey)
		keys.listing = []string{"0=" + inst.KeyName}
	}

	services := md.dir("services")
	services.set("domain", "amazonaws.com")
	services.set("partition", "aws")

	if len(inst.Interfaces) > 0 {
		macs := md.dir("network").dir("interfaces").dir("macs")
		for i := range inst.Interfaces {
			ifc := &inst.Interfaces[i]
			if ifc.DeviceIndex == 0 {
				md.set("mac", ifc.MAC)
			}
			macDir(macs.dir(ifc.MAC), ifc)
		}
	}

	if inst.Options.InstanceMetadataTags == "enabled" {
		tags := md.dir("tags").dir("instance")
		for k, v := range inst.Tags {
			if metadataTagKey.MatchString(k) {
				// An empty tag value is still a tag: keep the key listed.
				tags.children[k] = &node{value: v}
			}
		}
	}
	return md
}

func macDir(d *node, ifc *Interface) {
	d.set("device-number", strconv.Itoa(ifc.DeviceIndex))
	d.set("interface-id", ifc.InterfaceID)
	d.set("mac", ifc.MAC)
	d.set("owner-id", ifc.OwnerID)
	d.set("local-hostname", ifc.PrivateHostname)
	d.set("local-ipv4s", addrs(ifc.PrivateIPv4s))
	d.set("public-ipv4s", addrs(ifc.PublicIPv4s))
	d.set("public-hostname", ifc.PublicHostname)
	d.set("ipv4-prefix", prefixes(ifc.IPv4Prefixes))
	d.set("security-group-ids", lines(ifc.SecurityGroupIDs...))
	d.set("security-groups", lines(ifc.SecurityGroupNames...))
	d.set("subnet-id", ifc.SubnetID)
	if ifc.SubnetCIDR.IsValid() {
		d.set("subnet-ipv4-cidr-block", ifc.SubnetCIDR.String())
	}
	d.set("vpc-id", ifc.VpcID)
	if len(ifc.VpcCIDRs) > 0 {
		d.set("vpc-ipv4-cidr-block", ifc.VpcCIDRs[0].String())
		d.set("vpc-ipv4-cidr-blocks", prefixes(ifc.VpcCIDRs))
	}
	if len(ifc.PublicIPv4For) > 0 {
		assoc := d.dir("ipv4-associations")
		for public, private := range ifc.PublicIPv4For {
			assoc.set(public.String(), private.String())
		}
	}
}
