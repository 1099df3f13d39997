package ec2

import (
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

// apiInstance is an instance as DescribeInstances and RunInstances show it.
func apiInstance(v cloud.InstanceView) ec2api.Instance {
	out := ec2api.Instance{
		InstanceId: ptr(v.ID), ImageId: ptr(v.ImageID), InstanceType: ptr(v.InstanceType), AmiLaunchIndex: ptr(v.LaunchIndex),
		KeyName: optional(v.KeyName), LaunchTime: ptr(v.LaunchTime), State: apiState(v.State),
		StateTransitionReason: ptr(v.StateTransitionReason), PrivateDnsName: ptr(v.PrivateDNSName()),
		PrivateIpAddress: optional(v.PrivateIP), PublicDnsName: ptr(v.PublicDNSName()), PublicIpAddress: optional(v.PublicIP()),
		Architecture:   ptr(v.Architecture),
		RootDeviceName: ptr(v.RootDeviceName), RootDeviceType: ptr(v.RootDeviceType), VirtualizationType: ptr(v.VirtualizationType),
		Hypervisor: ptr("xen"), EnaSupport: ptr(v.ENASupport), EbsOptimized: ptr(v.EbsOptimized), ClientToken: ptr(v.ClientToken),
		Monitoring: &ec2api.Monitoring{State: ptr("disabled")}, Tags: apiTags(v.Tags),
		Placement:       &ec2api.Placement{AvailabilityZone: ptr(v.AvailabilityZone), Tenancy: ptr("default"), GroupName: ptr("")},
		PlatformDetails: ptr("Linux/UNIX"), UsageOperation: ptr("RunInstances"), UsageOperationUpdateTime: ptr(v.LaunchTime),
		BootMode: optional(v.BootMode), SourceDestCheck: ptr(true), ProductCodes: []ec2api.ProductCode{},
		MetadataOptions: &ec2api.InstanceMetadataOptionsResponse{
			State: ptr("applied"), HttpTokens: ptr(v.Metadata.HttpTokens), HttpPutResponseHopLimit: ptr(v.Metadata.HttpPutResponseHopLimit),
			HttpEndpoint: ptr(v.Metadata.HttpEndpoint), HttpProtocolIpv6: ptr(v.Metadata.HttpProtocolIPv6),
			InstanceMetadataTags: ptr(v.Metadata.InstanceMetadataTags),
		},
		SecurityGroups: []ec2api.GroupIdentifier{}, BlockDeviceMappings: []ec2api.InstanceBlockDeviceMapping{},
		NetworkInterfaces: []ec2api.InstanceNetworkInterface{},
	}
	if v.State != cloud.InstanceTerminated {
		out.SubnetId, out.VpcId = ptr(v.SubnetID), ptr(v.VpcID)
		for _, g := range v.Groups {
			out.SecurityGroups = append(out.SecurityGroups, ec2api.GroupIdentifier{GroupId: ptr(g.ID), GroupName: ptr(g.Name)})
		}
	}
	if v.StateReasonCode != "" {
		out.StateReason = &ec2api.StateReason{Code: ptr(v.StateReasonCode), Message: ptr(v.StateReasonMessage)}
	}
	for _, vol := range v.Volumes {
		a := v.Device(&vol)
		out.BlockDeviceMappings = append(out.BlockDeviceMappings, ec2api.InstanceBlockDeviceMapping{
			DeviceName: ptr(a.Device),
			Ebs: &ec2api.EbsInstanceBlockDevice{
				AttachTime: ptr(a.AttachTime), DeleteOnTermination: ptr(a.DeleteOnTermination), Status: ptr(a.State), VolumeId: ptr(vol.ID),
			},
		})
	}
	for _, n := range v.Interfaces {
		out.NetworkInterfaces = append(out.NetworkInterfaces, apiInstanceInterface(n))
		if n.Attachment.DeviceIndex == 0 {
			out.SourceDestCheck = ptr(n.SourceDestCheck)
		}
	}
	return out
}

func apiInstanceAssociation(a *cloud.AddressAssociation) *ec2api.InstanceNetworkInterfaceAssociation {
	if a == nil {
		return nil
	}
	return &ec2api.InstanceNetworkInterfaceAssociation{PublicIp: ptr(a.PublicIP), IpOwnerId: ptr(a.IPOwnerID), PublicDnsName: ptr(a.PublicDNSName)}
}

func apiInstanceInterface(n cloud.NetworkInterface) ec2api.InstanceNetworkInterface {
	out := ec2api.InstanceNetworkInterface{
		NetworkInterfaceId: ptr(n.ID), MacAddress: ptr(n.MACAddress), OwnerId: ptr(n.OwnerID), Description: ptr(n.Description),
		PrivateDnsName: ptr(n.PrivateDNSName()), PrivateIpAddress: ptr(n.PrimaryIP()), SourceDestCheck: ptr(n.SourceDestCheck),
		Status: ptr(n.Status()), SubnetId: ptr(n.SubnetID), VpcId: ptr(n.VpcID), InterfaceType: ptr(n.InterfaceType),
		Groups: []ec2api.GroupIdentifier{}, Ipv6Addresses: []ec2api.InstanceIpv6Address{},
		Attachment: &ec2api.InstanceNetworkInterfaceAttachment{
			AttachTime: ptr(n.Attachment.AttachTime), AttachmentId: ptr(n.Attachment.ID), DeleteOnTermination: ptr(n.Attachment.DeleteOnTermination),
			DeviceIndex: ptr(int32(n.Attachment.DeviceIndex)), Status: ptr(n.Attachment.Status), NetworkCardIndex: ptr(int32(0)),
		},
	}
	for _, g := range n.Groups {
		out.Groups = append(out.Groups, ec2api.GroupIdentifier{GroupId: ptr(g.ID), GroupName: ptr(g.Name)})
	}
	for _, a := range n.PrivateIPs {
		ip := ec2api.InstancePrivateIpAddress{
			Primary: ptr(a.Primary), PrivateIpAddress: ptr(a.Address), PrivateDnsName: ptr(cloud.PrivateDNSName(n.Region, a.Address)),
			Association: apiInstanceAssociation(a.Association),
		}
		if a.Primary {
			out.Association = ip.Association
		}
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, ip)
	}
	for _, p := range n.Prefixes {
		out.Ipv4Prefixes = append(out.Ipv4Prefixes, ec2api.InstanceIpv4Prefix{Ipv4Prefix: ptr(p)})
	}
	return out
}
