package ec2

import (
	"context"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerVPCs) }

func (s *Service) registerVPCs(d *awsapi.EC2) {
	handle(d, "CreateVpc", s.createVPC)
	handle(d, "DescribeVpcs", s.describeVPCs)
	handle(d, "DeleteVpc", s.deleteVPC)
	handle(d, "ModifyVpcAttribute", s.modifyVPCAttribute)
	handle(d, "DescribeVpcAttribute", s.describeVPCAttribute)
}

func (s *Service) createVPC(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateVpcRequest) (*ec2api.CreateVpcResult, error) {
	switch {
	case in.Ipv4IpamPoolId != nil || in.Ipv4NetmaskLength != nil || in.Ipv6IpamPoolId != nil || in.Ipv6NetmaskLength != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPAM pools yet; give CreateVpc a CidrBlock.")
	case deref(in.AmazonProvidedIpv6CidrBlock) || in.Ipv6CidrBlock != nil || in.Ipv6Pool != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPv6 CIDR blocks on VPCs yet.")
	case in.CidrBlock == nil:
		return nil, missing("CidrBlock")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindVPC)
	if err != nil {
		return nil, err
	}
	v, err := s.cloud.CreateVPC(ctx, scope(c), *in.CidrBlock, deref(in.InstanceTenancy), tags[cloud.KindVPC])
	if err != nil {
		return nil, err
	}
	api := apiVPC(v)
	// A VPC answers "pending" to its creation, as on AWS, and is available at once.
	api.State = ptr("pending")
	return &ec2api.CreateVpcResult{Vpc: &api}, nil
}

func apiVPC(v cloud.VPC) ec2api.Vpc {
	out := ec2api.Vpc{
		CidrBlock: ptr(v.CIDRBlocks[0].CIDR), DhcpOptionsId: ptr(v.DHCPOptionsID), State: ptr(v.State()),
		VpcId: ptr(v.ID), OwnerId: ptr(v.OwnerID), InstanceTenancy: ptr(v.InstanceTenancy), IsDefault: ptr(v.IsDefault),
		CidrBlockAssociationSet: make([]ec2api.VpcCidrBlockAssociation, len(v.CIDRBlocks)),
		Tags:                    apiTags(v.Tags),
	}
	for i, b := range v.CIDRBlocks {
		out.CidrBlockAssociationSet[i] = ec2api.VpcCidrBlockAssociation{
			AssociationId: ptr(b.AssociationID), CidrBlock: ptr(b.CIDR), CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr(b.State)},
		}
	}
	return out
}

func (s *Service) describeVPCs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVpcsRequest) (*ec2api.DescribeVpcsResult, error) {
	list, next, err := s.cloud.DescribeVPCs(ctx, scope(c), in.VpcIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcsResult{Vpcs: make([]ec2api.Vpc, len(list))}
	for i, v := range list {
		out.Vpcs[i] = apiVPC(v)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) deleteVPC(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteVpcRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteVPC(ctx, scope(c), deref(in.VpcId))
}

func (s *Service) modifyVPCAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyVpcAttributeRequest) (*struct{}, error) {
	type change struct {
		attr  string
		value *ec2api.AttributeBooleanValue
	}
	var set []change
	for _, ch := range []change{
		{cloud.VPCAttrDNSSupport, in.EnableDnsSupport},
		{cloud.VPCAttrDNSHostnames, in.EnableDnsHostnames},
		{cloud.VPCAttrNAUMetrics, in.EnableNetworkAddressUsageMetrics},
	} {
		if ch.value != nil {
			set = append(set, ch)
		}
	}
	switch {
	case len(set) == 0:
		return nil, missing("EnableDnsSupport, EnableDnsHostnames or EnableNetworkAddressUsageMetrics")
	case len(set) > 1:
		return nil, awsapi.Errorf("InvalidParameterCombination", "Fields for multiple attribute types specified: %s, %s", set[0].attr, set[1].attr)
	case set[0].value.Value == nil:
		return nil, missing(strings.ToUpper(set[0].attr[:1]) + set[0].attr[1:] + ".Value")
	}
	return nil, s.cloud.SetVPCAttribute(ctx, scope(c), deref(in.VpcId), set[0].attr, *set[0].value.Value)
}

func (s *Service) describeVPCAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVpcAttributeRequest) (*ec2api.DescribeVpcAttributeResult, error) {
	attr := deref(in.Attribute)
	value, err := s.cloud.VPCAttribute(ctx, scope(c), deref(in.VpcId), attr)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcAttributeResult{VpcId: in.VpcId}
	v := &ec2api.AttributeBooleanValue{Value: &value}
	switch attr {
	case cloud.VPCAttrDNSSupport:
		out.EnableDnsSupport = v
	case cloud.VPCAttrDNSHostnames:
		out.EnableDnsHostnames = v
	case cloud.VPCAttrNAUMetrics:
		out.EnableNetworkAddressUsageMetrics = v
	}
	return out, nil
}
