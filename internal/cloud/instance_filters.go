package cloud

import (
	"strconv"
	"time"
)

// The DescribeInstances filters on what is attached to an instance: its
// interfaces (network-interface.*, the same as DescribeNetworkInterfaces'
// filters of the interface), its EBS volumes (block-device-mapping.*) and its
// public address.
func init() {
	eachInterface := func(f func(NetworkInterface) []string) func(InstanceView) []string {
		return func(v InstanceView) []string {
			var out []string
			for _, n := range v.Interfaces {
				out = append(out, f(n)...)
			}
			return out
		}
	}
	fromInterfaceFilter := map[string]string{
		"addresses.private-ip-address":          "addresses.private-ip-address",
		"addresses.primary":                     "addresses.primary",
		"addresses.association.public-ip":       "addresses.association.public-ip",
		"addresses.association.ip-owner-id":     "addresses.association.ip-owner-id",
		"association.public-ip":                 "association.public-ip",
		"association.ip-owner-id":               "association.ip-owner-id",
		"association.allocation-id":             "association.allocation-id",
		"association.association-id":            "association.association-id",
		"association.public-dns-name":           "association.public-dns-name",
		"attachment.attachment-id":              "attachment.attachment-id",
		"attachment.instance-id":                "attachment.instance-id",
		"attachment.instance-owner-id":          "attachment.instance-owner-id",
		"attachment.device-index":               "attachment.device-index",
		"attachment.status":                     "attachment.status",
		"attachment.attach-time":                "attachment.attach-time",
		"attachment.delete-on-termination":      "attachment.delete-on-termination",
		"availability-zone":                     "availability-zone",
		"description":                           "description",
		"group-id":                              "group-id",
		"group-name":                            "group-name",
		"ipv4-prefixes.ipv4-prefix":             "ipv4-prefix",
		"mac-address":                           "mac-address",
		"network-interface-id":                  "network-interface-id",
		"owner-id":                              "owner-id",
		"private-dns-name":                      "private-dns-name",
		"requester-id":                          "requester-id",
		"requester-managed":                     "requester-managed",
		"status":                                "status",
		"source-dest-check":                     "source-dest-check",
		"subnet-id":                             "subnet-id",
		"type":                                  "interface-type",
		"vpc-id":                                "vpc-id",
		"ipv6-address":                          "ipv6-addresses.ipv6-address",
		"ipv6-addresses.ipv6-address":           "ipv6-addresses.ipv6-address",
		"public-dns-name":                       "association.public-dns-name",
		"addresses.association.public-dns-name": "association.public-dns-name",
	}
	for name, eniName := range fromInterfaceFilter {
		f, ok := networkInterfaceFields[eniName]
		if !ok {
			panic("instance filter network-interface." + name + ": no interface filter " + eniName)
		}
		instanceFields["network-interface."+name] = eachInterface(f)
	}
	instanceFields["network-interface.attachment.network-card-index"] = eachInterface(func(NetworkInterface) []string { return []string{"0"} })
	instanceFields["network-interface.deny-all-igw-traffic"] = eachInterface(func(NetworkInterface) []string { return []string{"false"} })
	instanceFields["network-interface.ipv6-native"] = eachInterface(func(NetworkInterface) []string { return []string{"false"} })
	// The instance-level association filters are those of its interfaces.
	for _, name := range []string{"association.public-ip", "association.ip-owner-id", "association.allocation-id", "association.association-id"} {
		instanceFields[name] = eachInterface(networkInterfaceFields[name])
	}
	instanceFields["ip-address"] = func(v InstanceView) []string { return one(v.PublicIP()) }
	instanceFields["dns-name"] = func(v InstanceView) []string { return one(v.PublicDNSName()) }

	eachVolume := func(f func(Volume, VolumeAttachment) string) func(InstanceView) []string {
		return func(v InstanceView) []string {
			var out []string
			for _, vol := range v.Volumes {
				out = append(out, f(vol, v.Device(&vol)))
			}
			return out
		}
	}
	instanceFields["block-device-mapping.volume-id"] = eachVolume(func(vol Volume, _ VolumeAttachment) string { return vol.ID })
	instanceFields["block-device-mapping.device-name"] = eachVolume(func(_ Volume, a VolumeAttachment) string { return a.Device })
	instanceFields["block-device-mapping.status"] = eachVolume(func(_ Volume, a VolumeAttachment) string { return a.State })
	instanceFields["block-device-mapping.attach-time"] = eachVolume(func(_ Volume, a VolumeAttachment) string { return a.AttachTime.UTC().Format(time.RFC3339) })
	instanceFields["block-device-mapping.delete-on-termination"] = eachVolume(func(_ Volume, a VolumeAttachment) string {
		return strconv.FormatBool(a.DeleteOnTermination)
	})
}
