package ec2

import (
	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

// launchInterfaces turns RunInstances' NetworkInterfaces into the control
// plane's, refusing what strato does not carry out.
func launchInterfaces(list []ec2api.InstanceNetworkInterfaceSpecification) ([]cloud.LaunchInterface, error) {
	var out []cloud.LaunchInterface
	for _, n := range list {
		switch {
		case n.Ipv6AddressCount != nil || len(n.Ipv6Addresses) > 0 || n.Ipv6PrefixCount != nil || len(n.Ipv6Prefixes) > 0 || deref(n.PrimaryIpv6):
			return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPv6 addresses yet.")
		case n.InterfaceType != nil && *n.InterfaceType != cloud.InterfaceTypeInterface:
			return nil, awsapi.Errorf("UnsupportedOperation", "strato offers network interfaces of type interface only, not %s.", *n.InterfaceType)
		case deref(n.NetworkCardIndex) != 0 || n.EnaSrdSpecification != nil:
			return nil, awsapi.Errorf("UnsupportedOperation", "strato instances have one network card and no ENA Express.")
		case deref(n.AssociateCarrierIpAddress):
			return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Wavelength Zones, hence no carrier IP addresses.")
		case n.ConnectionTrackingSpecification != nil:
			return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support connection tracking timeouts yet.")
		}
		l := cloud.LaunchInterface{
			NetworkInterfaceID: deref(n.NetworkInterfaceId), SubnetID: deref(n.SubnetId), Description: deref(n.Description),
			PrivateIP: deref(n.PrivateIpAddress), SecondaryCount: int(deref(n.SecondaryPrivateIpAddressCount)),
			PrefixCount: int(deref(n.Ipv4PrefixCount)), Groups: n.Groups, DeleteOnTermination: n.DeleteOnTermination,
			AssociatePublicIP: n.AssociatePublicIpAddress,
		}
		if n.DeviceIndex != nil {
			idx := int(*n.DeviceIndex)
			l.DeviceIndex = &idx
		}
		var err error
		if l.PrivateIP, l.SecondaryIPs, err = splitPrivateIPs(l.PrivateIP, n.PrivateIpAddresses); err != nil {
			return nil, err
		}
		for _, p := range n.Ipv4Prefixes {
			l.Prefixes = append(l.Prefixes, deref(p.Ipv4Prefix))
		}
		out = append(out, l)
	}
	return out, nil
}

// launchBlockDevices turns RunInstances' BlockDeviceMappings into the control
// plane's (NoDevice counts as given whatever its value, as on AWS).
func launchBlockDevices(list []ec2api.BlockDeviceMapping) ([]cloud.LaunchBlockDevice, error) {
	var out []cloud.LaunchBlockDevice
	for _, b := range list {
		d := cloud.LaunchBlockDevice{DeviceName: deref(b.DeviceName), VirtualName: deref(b.VirtualName), NoDevice: b.NoDevice != nil}
		if e := b.Ebs; e != nil {
			if e.OutpostArn != nil {
				return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
			}
			d.EBS = &cloud.LaunchEBS{
				SnapshotID: deref(e.SnapshotId), VolumeSize: deref(e.VolumeSize), VolumeType: deref(e.VolumeType), IOPS: deref(e.Iops),
				Throughput: deref(e.Throughput), Encrypted: e.Encrypted, KMSKeyID: deref(e.KmsKeyId), DeleteOnTermination: e.DeleteOnTermination,
			}
		}
		out = append(out, d)
	}
	return out, nil
}
