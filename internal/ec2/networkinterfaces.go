package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerNetworkInterfaces) }

func (s *Service) registerNetworkInterfaces(d *awsapi.EC2) {
	handle(d, "CreateNetworkInterface", s.createNetworkInterface)
	handle(d, "DeleteNetworkInterface", s.deleteNetworkInterface)
	handle(d, "DescribeNetworkInterfaces", s.describeNetworkInterfaces)
	handle(d, "AssignPrivateIpAddresses", s.assignPrivateIPAddresses)
	handle(d, "UnassignPrivateIpAddresses", s.unassignPrivateIPAddresses)
	handle(d, "ModifyNetworkInterfaceAttribute", s.modifyNetworkInterfaceAttribute)
	handle(d, "DescribeNetworkInterfaceAttribute", s.describeNetworkInterfaceAttribute)
	handle(d, "ResetNetworkInterfaceAttribute", s.resetNetworkInterfaceAttribute)
	handle(d, "AttachNetworkInterface", s.attachNetworkInterface)
	handle(d, "DetachNetworkInterface", s.detachNetworkInterface)
}

func apiAssociation(a *cloud.AddressAssociation) *ec2api.NetworkInterfaceAssociation {
	if a == nil {
		return nil
	}
	// A public address assigned with an instance has no allocation.
	return &ec2api.NetworkInterfaceAssociation{
		PublicIp: ptr(a.PublicIP), IpOwnerId: ptr(a.IPOwnerID), AllocationId: optional(a.AllocationID),
		AssociationId: optional(a.AssociationID), PublicDnsName: ptr(a.PublicDNSName),
	}
}

// splitPrivateIPs sorts PrivateIpAddresses into the primary address (one at
// most, agreeing with the PrivateIpAddress given, if any) and the secondary ones.
func splitPrivateIPs(primary string, list []ec2api.PrivateIpAddressSpecification) (string, []string, error) {
	var secondary []string
	for _, p := range list {
		addr := deref(p.PrivateIpAddress)
		if !deref(p.Primary) {
			secondary = append(secondary, addr)
			continue
		}
		if primary != "" && primary != addr {
			return "", nil, invalidValue("Only one primary private IP address may be specified (%s and %s given).", primary, addr)
		}
		primary = addr
	}
	return primary, secondary, nil
}

func apiGroups(groups []cloud.InterfaceGroup) []ec2api.GroupIdentifier {
	out := make([]ec2api.GroupIdentifier, len(groups))
	for i, g := range groups {
		out[i] = ec2api.GroupIdentifier{GroupId: ptr(g.ID)}
		if g.Name != "" {
			out[i].GroupName = ptr(g.Name)
		}
	}
	return out
}

func apiAttachment(a *cloud.Attachment) *ec2api.NetworkInterfaceAttachment {
	if a == nil {
		return nil
	}
	return &ec2api.NetworkInterfaceAttachment{
		AttachmentId: ptr(a.ID), InstanceId: ptr(a.InstanceID), InstanceOwnerId: ptr(a.InstanceOwnerID),
		DeviceIndex: ptr(int32(a.DeviceIndex)), NetworkCardIndex: ptr(int32(0)), Status: ptr(a.Status),
		DeleteOnTermination: ptr(a.DeleteOnTermination), AttachTime: ptr(a.AttachTime),
	}
}

func apiNetworkInterface(n cloud.NetworkInterface) ec2api.NetworkInterface {
	out := ec2api.NetworkInterface{
		NetworkInterfaceId: ptr(n.ID), OwnerId: ptr(n.OwnerID), SubnetId: ptr(n.SubnetID), VpcId: ptr(n.VpcID),
		AvailabilityZone: ptr(n.AvailabilityZone), Description: ptr(n.Description), InterfaceType: ptr(n.InterfaceType),
		MacAddress: ptr(n.MACAddress), PrivateIpAddress: ptr(n.PrimaryIP()), PrivateDnsName: ptr(n.PrivateDNSName()),
		RequesterManaged: ptr(n.RequesterManaged), SourceDestCheck: ptr(n.SourceDestCheck), Status: ptr(n.Status()),
		Groups: apiGroups(n.Groups), Association: apiAssociation(n.PrivateIPs[0].Association), Attachment: apiAttachment(n.Attachment),
		Ipv6Addresses: []ec2api.NetworkInterfaceIpv6Address{}, TagSet: apiTags(n.Tags), DenyAllIgwTraffic: ptr(false), Ipv6Native: ptr(false),
	}
	if out.TagSet == nil {
		// DescribeNetworkInterfaces always lists tagSet, empty or not.
		out.TagSet = []ec2api.Tag{}
	}
	for _, a := range n.PrivateIPs {
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, ec2api.NetworkInterfacePrivateIpAddress{
			PrivateIpAddress: ptr(a.Address), Primary: ptr(a.Primary), PrivateDnsName: ptr(cloud.PrivateDNSName(n.Region, a.Address)),
			Association: apiAssociation(a.Association),
		})
	}
	for _, p := range n.Prefixes {
		out.Ipv4Prefixes = append(out.Ipv4Prefixes, ec2api.Ipv4PrefixSpecification{Ipv4Prefix: ptr(p)})
	}
	return out
}

func (s *Service) createNetworkInterface(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateNetworkInterfaceRequest) (*ec2api.CreateNetworkInterfaceResult, error) {
	switch {
	case in.SubnetId == nil:
		return nil, missing("SubnetId")
	case in.Ipv6AddressCount != nil || len(in.Ipv6Addresses) > 0 || in.Ipv6PrefixCount != nil || len(in.Ipv6Prefixes) > 0 || deref(in.EnablePrimaryIpv6):
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPv6 addresses yet.")
	case in.ConnectionTrackingSpecification != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support connection tracking timeouts yet.")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindNetworkInterface)
	if err != nil {
		return nil, err
	}
	req := cloud.InterfaceRequest{
		SubnetID: *in.SubnetId, Description: deref(in.Description), PrimaryIP: deref(in.PrivateIpAddress),
		SecondaryCount: int(deref(in.SecondaryPrivateIpAddressCount)), PrefixCount: int(deref(in.Ipv4PrefixCount)),
		Groups: in.Groups, InterfaceType: deref(in.InterfaceType), Tags: tags[cloud.KindNetworkInterface],
	}
	if req.PrimaryIP, req.SecondaryIPs, err = splitPrivateIPs(req.PrimaryIP, in.PrivateIpAddresses); err != nil {
		return nil, err
	}
	for _, p := range in.Ipv4Prefixes {
		req.Prefixes = append(req.Prefixes, deref(p.Ipv4Prefix))
	}
	n, err := s.cloud.CreateNetworkInterface(ctx, scope(c), deref(in.ClientToken), req)
	if err != nil {
		return nil, err
	}
	api := apiNetworkInterface(n)
	// A new interface answers "pending", as on AWS, and is available at once.
	api.Status = ptr("pending")
	return &ec2api.CreateNetworkInterfaceResult{NetworkInterface: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) deleteNetworkInterface(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteNetworkInterfaceRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteNetworkInterface(ctx, scope(c), deref(in.NetworkInterfaceId))
}

func (s *Service) describeNetworkInterfaces(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeNetworkInterfacesRequest) (*ec2api.DescribeNetworkInterfacesResult, error) {
	list, next, err := s.cloud.DescribeNetworkInterfaces(ctx, scope(c), in.NetworkInterfaceIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNetworkInterfacesResult{NetworkInterfaces: make([]ec2api.NetworkInterface, len(list))}
	for i, n := range list {
		out.NetworkInterfaces[i] = apiNetworkInterface(n)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) assignPrivateIPAddresses(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AssignPrivateIpAddressesRequest) (*ec2api.AssignPrivateIpAddressesResult, error) {
	got, err := s.cloud.AssignPrivateIPAddresses(ctx, scope(c), deref(in.NetworkInterfaceId), cloud.AssignRequest{
		Addresses: in.PrivateIpAddresses, Count: int(deref(in.SecondaryPrivateIpAddressCount)),
		Prefixes: in.Ipv4Prefixes, PrefixCount: int(deref(in.Ipv4PrefixCount)), AllowReassignment: deref(in.AllowReassignment),
	})
	if err != nil {
		return nil, err
	}
	out := &ec2api.AssignPrivateIpAddressesResult{NetworkInterfaceId: in.NetworkInterfaceId}
	for _, a := range got.Addresses {
		out.AssignedPrivateIpAddresses = append(out.AssignedPrivateIpAddresses, ec2api.AssignedPrivateIpAddress{PrivateIpAddress: ptr(a)})
	}
	for _, p := range got.Prefixes {
		out.AssignedIpv4Prefixes = append(out.AssignedIpv4Prefixes, ec2api.Ipv4PrefixSpecification{Ipv4Prefix: ptr(p)})
	}
	return out, nil
}

func (s *Service) unassignPrivateIPAddresses(ctx context.Context, c *awsapi.EC2Call, in *ec2api.UnassignPrivateIpAddressesRequest) (*struct{}, error) {
	return nil, s.cloud.UnassignPrivateIPAddresses(ctx, scope(c), deref(in.NetworkInterfaceId), in.PrivateIpAddresses, in.Ipv4Prefixes)
}

func (s *Service) modifyNetworkInterfaceAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyNetworkInterfaceAttributeRequest) (*struct{}, error) {
	if in.EnaSrdSpecification != nil || in.EnablePrimaryIpv6 != nil || in.ConnectionTrackingSpecification != nil || in.AssociatePublicIpAddress != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato's ModifyNetworkInterfaceAttribute changes Description, SourceDestCheck, SecurityGroupId and Attachment only so far.")
	}
	ch := cloud.InterfaceChange{Groups: in.Groups}
	if in.Description != nil {
		ch.Description = ptr(deref(in.Description.Value))
	}
	if in.SourceDestCheck != nil {
		if in.SourceDestCheck.Value == nil {
			return nil, missing("SourceDestCheck.Value")
		}
		ch.SourceDestCheck = in.SourceDestCheck.Value
	}
	if in.Attachment != nil {
		if in.Attachment.DeleteOnTermination == nil {
			return nil, missing("Attachment.DeleteOnTermination")
		}
		ch.AttachmentID, ch.DeleteOnTermination = deref(in.Attachment.AttachmentId), in.Attachment.DeleteOnTermination
	}
	return nil, s.cloud.ModifyNetworkInterfaceAttribute(ctx, scope(c), deref(in.NetworkInterfaceId), ch)
}

func (s *Service) describeNetworkInterfaceAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeNetworkInterfaceAttributeRequest) (*ec2api.DescribeNetworkInterfaceAttributeResult, error) {
	n, err := s.cloud.GetNetworkInterface(ctx, scope(c), deref(in.NetworkInterfaceId))
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNetworkInterfaceAttributeResult{NetworkInterfaceId: ptr(n.ID)}
	switch deref(in.Attribute) {
	case "description":
		out.Description = &ec2api.AttributeValue{Value: ptr(n.Description)}
	case "groupSet":
		out.Groups = apiGroups(n.Groups)
	case "sourceDestCheck":
		out.SourceDestCheck = &ec2api.AttributeBooleanValue{Value: ptr(n.SourceDestCheck)}
	case "attachment":
		out.Attachment = apiAttachment(n.Attachment)
	case "associatePublicIpAddress":
		out.AssociatePublicIpAddress = ptr(false)
	case "":
		return nil, missing("Attribute")
	default:
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. Valid values: description, groupSet, sourceDestCheck, attachment, associatePublicIpAddress", *in.Attribute)
	}
	return out, nil
}

func (s *Service) resetNetworkInterfaceAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ResetNetworkInterfaceAttributeRequest) (*struct{}, error) {
	if in.SourceDestCheck == nil {
		return nil, missing("SourceDestCheck")
	}
	return nil, s.cloud.ResetNetworkInterfaceSourceDestCheck(ctx, scope(c), deref(in.NetworkInterfaceId))
}

func (s *Service) attachNetworkInterface(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AttachNetworkInterfaceRequest) (*ec2api.AttachNetworkInterfaceResult, error) {
	if deref(in.NetworkCardIndex) != 0 || in.EnaSrdSpecification != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato instances have one network card and no ENA Express.")
	}
	id, err := s.cloud.AttachNetworkInterface(ctx, scope(c), deref(in.NetworkInterfaceId), deref(in.InstanceId), int(deref(in.DeviceIndex)))
	if err != nil {
		return nil, err
	}
	return &ec2api.AttachNetworkInterfaceResult{AttachmentId: ptr(id), NetworkCardIndex: ptr(int32(0))}, nil
}

func (s *Service) detachNetworkInterface(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DetachNetworkInterfaceRequest) (*struct{}, error) {
	return nil, s.cloud.DetachNetworkInterface(ctx, scope(c), deref(in.AttachmentId), deref(in.Force))
}
