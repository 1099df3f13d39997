package cloud

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"strato/internal/catalog"
	"strato/internal/imds"
	"strato/internal/store"
)

// MetadataResolver answers the instance metadata service's question "who is
// asking": the dataplane names the network interface a request arrived on, and
// the resolver describes the instance that interface is attached to. The
// caller's source address must be one of that interface's own addresses, so an
// interface cannot speak for another.
type MetadataResolver struct {
	c *Cloud
	// scopes remembers which account and Region each interface belongs to
	// (interface IDs are unique and never reused), so a request costs one lookup.
	mu     sync.Mutex
	scopes map[string]Scope
}

// MetadataResolver is the control plane's answer to the metadata service.
func (c *Cloud) MetadataResolver() *MetadataResolver {
	return &MetadataResolver{c: c, scopes: map[string]Scope{}}
}

var _ imds.Resolver = (*MetadataResolver)(nil)

// InstanceFor implements imds.Resolver.
func (r *MetadataResolver) InstanceFor(remote netip.Addr, interfaceID string) (*imds.Instance, error) {
	if interfaceID == "" {
		return nil, imds.ErrUnknownCaller
	}
	ctx := context.Background()
	s, err := r.interfaceScope(ctx, interfaceID)
	if err != nil {
		return nil, err
	}
	var out *imds.Instance
	err = r.c.view(ctx, func(tx store.Tx) error {
		eni, err := networkInterfaces.get(tx, s, interfaceID)
		if err != nil {
			return err
		}
		if eni.Attachment == nil || !strings.HasPrefix(eni.Attachment.InstanceID, "i-") || !interfaceOwns(eni, remote.Unmap()) {
			return imds.ErrUnknownCaller
		}
		in, err := liveInstance(tx, s, eni.Attachment.InstanceID)
		if err != nil {
			return err
		}
		out, err = metadataInstance(tx, s, in)
		return err
	})
	if isNotFound(err) {
		return nil, imds.ErrUnknownCaller
	}
	return out, err
}

// interfaceScope finds the account and Region of an interface, searching every account's
// Regions the first time an interface asks.
func (r *MetadataResolver) interfaceScope(ctx context.Context, interfaceID string) (Scope, error) {
	r.mu.Lock()
	s, ok := r.scopes[interfaceID]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	err := r.c.view(ctx, func(tx store.Tx) error {
		var err error
		s, err = scopeOf(tx, KindNetworkInterface, interfaceID)
		return err
	})
	if isNotFound(err) {
		return Scope{}, imds.ErrUnknownCaller
	}
	if err != nil {
		return Scope{}, err
	}
	r.mu.Lock()
	r.scopes[interfaceID] = s
	r.mu.Unlock()
	return s, nil
}

func interfaceOwns(eni NetworkInterface, addr netip.Addr) bool {
	for _, a := range eni.PrivateIPs {
		if a.Address == addr.String() {
			return true
		}
	}
	for _, p := range eni.Prefixes {
		if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// metadataInstance is the metadata tree's view of an instance, read in one
// transaction.
func metadataInstance(tx store.Tx, s Scope, in Instance) (*imds.Instance, error) {
	zone, _ := catalog.LookupZone(in.AvailabilityZone)
	m := &imds.Instance{
		AccountID: in.OwnerID, InstanceID: in.ID, ImageID: in.ImageID, LaunchIndex: int(in.LaunchIndex),
		InstanceType: in.InstanceType, ReservationID: in.ReservationID, Architecture: in.Architecture,
		PendingTime: in.LaunchTime, Region: in.Region, AvailabilityZone: in.AvailabilityZone, AvailabilityZoneID: zone.ZoneId,
		PrivateHostname: in.PrivateDNSName(), KeyName: in.KeyName,
		BlockDevices: map[string]string{},
		Options: imds.Options{
			HttpTokens: in.Metadata.HttpTokens, HttpEndpoint: in.Metadata.HttpEndpoint,
			HttpPutResponseHopLimit: int(in.Metadata.HttpPutResponseHopLimit), InstanceMetadataTags: in.Metadata.InstanceMetadataTags,
		},
	}
	if ip, err := netip.ParseAddr(in.PrivateIP); err == nil {
		m.PrivateIPv4 = ip
	}
	if in.UserData != "" {
		raw, err := base64.StdEncoding.DecodeString(in.UserData)
		if err != nil {
			return nil, fmt.Errorf("user data of %s: %w", in.ID, err)
		}
		m.UserData = raw
	}
	m.PublicKey = in.PublicKey
	if m.PublicKey == "" && in.KeyName != "" {
		// Instances launched before the key was recorded with them.
		if kp, err := keyPairs.getByName(tx, s, in.KeyName); err == nil {
			m.PublicKey = kp.PublicKey
		}
	}
	if in.Metadata.InstanceMetadataTags == "enabled" {
		tags, err := tx.ListTags(s, in.ID)
		if err != nil {
			return nil, err
		}
		m.Tags = map[string]string{}
		for _, t := range tags {
			m.Tags[t.Key] = t.Value
		}
	}
	vpc, err := vpcs.get(tx, s, in.VpcID)
	if err != nil {
		return nil, err
	}
	enis, err := interfacesOfInstance(tx, s, in.ID)
	if err != nil {
		return nil, err
	}
	for _, eni := range enis {
		ifc, err := metadataInterface(tx, s, vpc, eni)
		if err != nil {
			return nil, err
		}
		m.Interfaces = append(m.Interfaces, ifc)
		if ifc.DeviceIndex == 0 {
			for _, g := range ifc.SecurityGroupNames {
				m.SecurityGroups = append(m.SecurityGroups, g)
			}
			if len(ifc.PublicIPv4s) > 0 {
				m.PublicIPv4 = ifc.PublicIPv4s[0]
				m.PublicHostname = ifc.PublicHostname
			}
		}
	}
	slices.SortFunc(m.Interfaces, func(a, b imds.Interface) int { return a.DeviceIndex - b.DeviceIndex })
	if err := metadataBlockDevices(tx, s, in, m.BlockDevices); err != nil {
		return nil, err
	}
	return m, nil
}

func metadataInterface(tx store.Tx, s Scope, vpc VPC, eni NetworkInterface) (imds.Interface, error) {
	ifc := imds.Interface{
		MAC: eni.MACAddress, InterfaceID: eni.ID, OwnerID: eni.OwnerID, SubnetID: eni.SubnetID, VpcID: eni.VpcID,
		PublicIPv4For: map[netip.Addr]netip.Addr{},
	}
	if eni.Attachment != nil {
		ifc.DeviceIndex = int(eni.Attachment.DeviceIndex)
	}
	for _, a := range eni.PrivateIPs {
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		ifc.PrivateIPv4s = append(ifc.PrivateIPv4s, ip)
		if a.Association != nil {
			if pub, err := netip.ParseAddr(a.Association.PublicIP); err == nil {
				ifc.PublicIPv4s = append(ifc.PublicIPv4s, pub)
				ifc.PublicIPv4For[pub] = ip
				if a.Primary && vpc.EnableDNSHostnames {
					ifc.PublicHostname = DefaultPTRRecord(eni.Region, pub.String())
				}
			}
		}
	}
	if len(ifc.PrivateIPv4s) > 0 {
		ifc.PrivateHostname = PrivateDNSName(eni.Region, ifc.PrivateIPv4s[0].String())
	}
	for _, p := range eni.Prefixes {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			ifc.IPv4Prefixes = append(ifc.IPv4Prefixes, pfx)
		}
	}
	for _, g := range eni.Groups {
		ifc.SecurityGroupIDs = append(ifc.SecurityGroupIDs, g.ID)
		name := g.Name
		if name == "" {
			if sg, err := securityGroups.get(tx, s, g.ID); err == nil {
				name = sg.Name
			}
		}
		ifc.SecurityGroupNames = append(ifc.SecurityGroupNames, name)
	}
	sn, err := subnets.get(tx, s, eni.SubnetID)
	if err != nil {
		return ifc, err
	}
	ifc.SubnetCIDR, _ = netip.ParsePrefix(sn.CIDR)
	for _, b := range vpc.CIDRBlocks {
		if b.State != "" && b.State != "associated" {
			continue
		}
		if p, err := netip.ParsePrefix(b.CIDR); err == nil {
			ifc.VpcCIDRs = append(ifc.VpcCIDRs, p)
		}
	}
	return ifc, nil
}

// metadataBlockDevices fills block-device-mapping/: ami and root name the root
// device, ebsN the other EBS volumes in attachment order, ephemeralN the
// instance store, as EC2 shows them (device names without /dev/ except root).
func metadataBlockDevices(tx store.Tx, s Scope, in Instance, into map[string]string) error {
	into["ami"] = strings.TrimPrefix(in.RootDeviceName, "/dev/")
	into["root"] = in.RootDeviceName
	vols, err := volumesOfInstance(tx, s, in.ID)
	if err != nil {
		return err
	}
	n := 0
	for _, v := range vols {
		for _, a := range v.Attachments {
			if a.InstanceID != in.ID || a.Device == in.RootDeviceName {
				continue
			}
			n++
			into["ebs"+strconv.Itoa(n)] = strings.TrimPrefix(a.Device, "/dev/")
		}
	}
	return nil
}

// identityCertificateEpoch is when the identity certificate's validity begins:
// fixed, so the certificate made from the installation's key is the same at
// every start but for its serial number.
var identityCertificateEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// IdentitySigner signs the instance identity documents of the metadata service
// with the installation's Ed25519 key, made on first use and kept in the store,
// so signatures verify across restarts.
func (c *Cloud) IdentitySigner(ctx context.Context) (*imds.Ed25519Signer, error) {
	seed, err := installationSecret(ctx, c.store, "instance-identity-key")
	if err != nil {
		return nil, err
	}
	return imds.NewEd25519Signer(ed25519.NewKeyFromSeed(seed), identityCertificateEpoch)
}
