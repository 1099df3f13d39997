package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerSubnets) }

func (s *Service) registerSubnets(d *awsapi.EC2) {
	handle(d, "CreateSubnet", s.createSubnet)
	handle(d, "DescribeSubnets", s.describeSubnets)
	handle(d, "DeleteSubnet", s.deleteSubnet)
	handle(d, "ModifySubnetAttribute", s.modifySubnetAttribute)
	handle(d, "AssociateSubnetCidrBlock", s.associateSubnetCIDRBlock)
	handle(d, "DisassociateSubnetCidrBlock", s.disassociateSubnetCIDRBlock)
}

func (s *Service) createSubnet(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateSubnetRequest) (*ec2api.CreateSubnetResult, error) {
	switch {
	case in.Ipv4IpamPoolId != nil || in.Ipv4NetmaskLength != nil || in.Ipv6IpamPoolId != nil || in.Ipv6NetmaskLength != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPAM pools yet; give CreateSubnet a CidrBlock.")
	case deref(in.Ipv6Native):
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPv6-only subnets yet; give CreateSubnet a CidrBlock.")
	case in.OutpostArn != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
	case in.CidrBlock == nil:
		return nil, missing("CidrBlock")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindSubnet)
	if err != nil {
		return nil, err
	}
	sn, err := s.cloud.CreateSubnet(ctx, scope(c), cloud.SubnetRequest{
		VpcID: deref(in.VpcId), CIDR: *in.CidrBlock, AvailabilityZone: deref(in.AvailabilityZone),
		AvailabilityZoneID: deref(in.AvailabilityZoneId), IPv6CIDR: deref(in.Ipv6CidrBlock), Tags: tags[cloud.KindSubnet],
	})
	if err != nil {
		return nil, err
	}
	api := apiSubnet(sn)
	// A subnet answers "pending" to its creation, as on AWS, and is available at once.
	api.State = ptr("pending")
	return &ec2api.CreateSubnetResult{Subnet: &api}, nil
}

func apiSubnet(sn cloud.Subnet) ec2api.Subnet {
	blocks := []ec2api.SubnetIpv6CidrBlockAssociation{}
	for _, b := range sn.IPv6Blocks {
		blocks = append(blocks, apiSubnetIPv6Block(b))
	}
	return ec2api.Subnet{
		AvailabilityZone: ptr(sn.AvailabilityZone), AvailabilityZoneId: ptr(sn.AvailabilityZoneID),
		AvailableIpAddressCount: ptr(int32(sn.AvailableIPAddressCount())), CidrBlock: ptr(sn.CIDR),
		DefaultForAz: ptr(sn.DefaultForAZ), MapPublicIpOnLaunch: ptr(sn.MapPublicIPOnLaunch), MapCustomerOwnedIpOnLaunch: ptr(false),
		State: ptr(sn.State()), SubnetId: ptr(sn.ID), VpcId: ptr(sn.VpcID), OwnerId: ptr(sn.OwnerID),
		AssignIpv6AddressOnCreation: ptr(sn.AssignIPv6AddressOnCreation), Ipv6CidrBlockAssociationSet: blocks,
		Tags: apiTags(sn.Tags), SubnetArn: ptr(sn.ARN()), EnableDns64: ptr(false), Ipv6Native: ptr(false),
		PrivateDnsNameOptionsOnLaunch: &ec2api.PrivateDnsNameOptionsOnLaunch{
			HostnameType: ptr("ip-name"), EnableResourceNameDnsARecord: ptr(false), EnableResourceNameDnsAAAARecord: ptr(false),
		},
	}
}

func (s *Service) describeSubnets(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeSubnetsRequest) (*ec2api.DescribeSubnetsResult, error) {
	list, next, err := s.cloud.DescribeSubnets(ctx, scope(c), in.SubnetIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSubnetsResult{Subnets: make([]ec2api.Subnet, len(list))}
	for i, sn := range list {
		out.Subnets[i] = apiSubnet(sn)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) deleteSubnet(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteSubnetRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteSubnet(ctx, scope(c), deref(in.SubnetId))
}

func apiSubnetIPv6Block(b cloud.CIDRBlockAssociation) ec2api.SubnetIpv6CidrBlockAssociation {
	return ec2api.SubnetIpv6CidrBlockAssociation{
		AssociationId: ptr(b.AssociationID), Ipv6CidrBlock: ptr(b.CIDR), Ipv6CidrBlockState: &ec2api.SubnetCidrBlockState{State: ptr(b.State)},
	}
}

func (s *Service) modifySubnetAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifySubnetAttributeRequest) (*struct{}, error) {
	// Attributes strato does not model yet keep fixed values (the ones it reports);
	// setting one to that value is a no-op, as on AWS, any other value is refused.
	isFalse := func(v *ec2api.AttributeBooleanValue) bool { return v == nil || !deref(v.Value) }
	fixed := []struct {
		param string
		ok    bool
	}{
		{"EnableDns64", isFalse(in.EnableDns64)},
		{"MapCustomerOwnedIpOnLaunch", isFalse(in.MapCustomerOwnedIpOnLaunch)},
		{"EnableResourceNameDnsARecordOnLaunch", isFalse(in.EnableResourceNameDnsARecordOnLaunch)},
		{"EnableResourceNameDnsAAAARecordOnLaunch", isFalse(in.EnableResourceNameDnsAAAARecordOnLaunch)},
		{"DisableLniAtDeviceIndex", isFalse(in.DisableLniAtDeviceIndex)},
		{"PrivateDnsHostnameTypeOnLaunch", in.PrivateDnsHostnameTypeOnLaunch == nil || *in.PrivateDnsHostnameTypeOnLaunch == "ip-name"},
		{"CustomerOwnedIpv4Pool", in.CustomerOwnedIpv4Pool == nil},
		{"EnableLniAtDeviceIndex", in.EnableLniAtDeviceIndex == nil},
	}
	for _, f := range fixed {
		if !f.ok {
			return nil, awsapi.Errorf("UnsupportedOperation", "strato's ModifySubnetAttribute cannot change %s yet; it changes MapPublicIpOnLaunch and AssignIpv6AddressOnCreation.", f.param)
		}
	}
	noOp := in.EnableDns64 != nil || in.MapCustomerOwnedIpOnLaunch != nil || in.EnableResourceNameDnsARecordOnLaunch != nil ||
		in.EnableResourceNameDnsAAAARecordOnLaunch != nil || in.DisableLniAtDeviceIndex != nil || in.PrivateDnsHostnameTypeOnLaunch != nil
	type change struct {
		attr, param string
		value       *ec2api.AttributeBooleanValue
	}
	var set []change
	for _, ch := range []change{
		{cloud.SubnetAttrMapPublicIPOnLaunch, "MapPublicIpOnLaunch", in.MapPublicIpOnLaunch},
		{cloud.SubnetAttrAssignIPv6OnCreate, "AssignIpv6AddressOnCreation", in.AssignIpv6AddressOnCreation},
	} {
		if ch.value != nil {
			set = append(set, ch)
		}
	}
	switch {
	case len(set) == 0 && noOp:
		// Only fixed attributes, set to what they are: check the subnet exists.
		_, _, err := s.cloud.DescribeSubnets(ctx, scope(c), []string{deref(in.SubnetId)}, nil, cloud.Page{})
		return nil, err
	case len(set) == 0:
		return nil, missing("MapPublicIpOnLaunch or AssignIpv6AddressOnCreation")
	case len(set) > 1:
		return nil, awsapi.Errorf("InvalidParameterCombination", "Fields for multiple attribute types specified: %s, %s", set[0].attr, set[1].attr)
	case set[0].value.Value == nil:
		return nil, missing(set[0].param + ".Value")
	}
	return nil, s.cloud.SetSubnetAttribute(ctx, scope(c), deref(in.SubnetId), set[0].attr, *set[0].value.Value)
}

func (s *Service) associateSubnetCIDRBlock(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AssociateSubnetCidrBlockRequest) (*ec2api.AssociateSubnetCidrBlockResult, error) {
	switch {
	case in.Ipv6IpamPoolId != nil || in.Ipv6NetmaskLength != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPAM pools yet; give AssociateSubnetCidrBlock an Ipv6CidrBlock.")
	case in.Ipv6CidrBlock == nil:
		return nil, missing("Ipv6CidrBlock")
	}
	b, err := s.cloud.AssociateSubnetIPv6Block(ctx, scope(c), deref(in.SubnetId), *in.Ipv6CidrBlock)
	if err != nil {
		return nil, err
	}
	return &ec2api.AssociateSubnetCidrBlockResult{SubnetId: in.SubnetId, Ipv6CidrBlockAssociation: ptr(apiSubnetIPv6Block(b))}, nil
}

func (s *Service) disassociateSubnetCIDRBlock(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DisassociateSubnetCidrBlockRequest) (*ec2api.DisassociateSubnetCidrBlockResult, error) {
	id, b, err := s.cloud.DisassociateSubnetIPv6Block(ctx, scope(c), deref(in.AssociationId))
	if err != nil {
		return nil, err
	}
	return &ec2api.DisassociateSubnetCidrBlockResult{SubnetId: &id, Ipv6CidrBlockAssociation: ptr(apiSubnetIPv6Block(b))}, nil
}
