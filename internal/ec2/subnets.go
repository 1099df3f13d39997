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
}

func (s *Service) createSubnet(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateSubnetRequest) (*ec2api.CreateSubnetResult, error) {
	switch {
	case in.Ipv4IpamPoolId != nil || in.Ipv4NetmaskLength != nil || in.Ipv6IpamPoolId != nil || in.Ipv6NetmaskLength != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPAM pools yet; give CreateSubnet a CidrBlock.")
	case in.Ipv6CidrBlock != nil || deref(in.Ipv6Native):
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPv6 subnets yet.")
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
		AvailabilityZoneID: deref(in.AvailabilityZoneId), Tags: tags[cloud.KindSubnet],
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
	return ec2api.Subnet{
		AvailabilityZone: ptr(sn.AvailabilityZone), AvailabilityZoneId: ptr(sn.AvailabilityZoneID),
		AvailableIpAddressCount: ptr(int32(sn.AvailableIPAddressCount())), CidrBlock: ptr(sn.CIDR),
		DefaultForAz: ptr(sn.DefaultForAZ), MapPublicIpOnLaunch: ptr(sn.MapPublicIPOnLaunch), MapCustomerOwnedIpOnLaunch: ptr(false),
		State: ptr(sn.State()), SubnetId: ptr(sn.ID), VpcId: ptr(sn.VpcID), OwnerId: ptr(sn.OwnerID),
		AssignIpv6AddressOnCreation: ptr(sn.AssignIPv6AddressOnCreation), Ipv6CidrBlockAssociationSet: []ec2api.SubnetIpv6CidrBlockAssociation{},
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

func (s *Service) modifySubnetAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifySubnetAttributeRequest) (*struct{}, error) {
	switch {
	case in.AssignIpv6AddressOnCreation != nil || in.EnableDns64 != nil || in.MapCustomerOwnedIpOnLaunch != nil ||
		in.CustomerOwnedIpv4Pool != nil || in.PrivateDnsHostnameTypeOnLaunch != nil || in.EnableResourceNameDnsARecordOnLaunch != nil ||
		in.EnableResourceNameDnsAAAARecordOnLaunch != nil || in.EnableLniAtDeviceIndex != nil || in.DisableLniAtDeviceIndex != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato's ModifySubnetAttribute changes MapPublicIpOnLaunch only so far.")
	case in.MapPublicIpOnLaunch == nil:
		return nil, missing("MapPublicIpOnLaunch")
	case in.MapPublicIpOnLaunch.Value == nil:
		return nil, missing("MapPublicIpOnLaunch.Value")
	}
	return nil, s.cloud.SetSubnetMapPublicIPOnLaunch(ctx, scope(c), deref(in.SubnetId), *in.MapPublicIpOnLaunch.Value)
}
