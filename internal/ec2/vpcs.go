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
	handle(d, "AssociateVpcCidrBlock", s.associateVPCCIDRBlock)
	handle(d, "DisassociateVpcCidrBlock", s.disassociateVPCCIDRBlock)
}

func (s *Service) createVPC(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateVpcRequest) (*ec2api.CreateVpcResult, error) {
	switch {
	case in.Ipv4IpamPoolId != nil || in.Ipv4NetmaskLength != nil || in.Ipv6IpamPoolId != nil || in.Ipv6NetmaskLength != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPAM pools yet; give CreateVpc a CidrBlock.")
	case in.Ipv6CidrBlock != nil || in.Ipv6Pool != nil:
		return nil, byoipUnsupported
	case in.CidrBlock == nil:
		return nil, missing("CidrBlock")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindVPC)
	if err != nil {
		return nil, err
	}
	v, err := s.cloud.CreateVPC(ctx, scope(c), cloud.VPCRequest{
		CIDR: *in.CidrBlock, Tenancy: deref(in.InstanceTenancy), AmazonIPv6: deref(in.AmazonProvidedIpv6CidrBlock), Tags: tags[cloud.KindVPC],
	})
	if err != nil {
		return nil, err
	}
	api := apiVPC(v, c.Region)
	// A VPC answers "pending" to its creation, as on AWS, and is available at once.
	api.State = ptr("pending")
	return &ec2api.CreateVpcResult{Vpc: &api}, nil
}

// apiVPC shapes a VPC of the region for the wire.
func apiVPC(v cloud.VPC, region string) ec2api.Vpc {
	out := ec2api.Vpc{
		CidrBlock: ptr(v.CIDRBlocks[0].CIDR), DhcpOptionsId: ptr(v.DHCPOptionsID), State: ptr(v.State()),
		VpcId: ptr(v.ID), OwnerId: ptr(v.OwnerID), InstanceTenancy: ptr(v.InstanceTenancy), IsDefault: ptr(v.IsDefault),
		CidrBlockAssociationSet: make([]ec2api.VpcCidrBlockAssociation, len(v.CIDRBlocks)),
		Tags:                    apiTags(v.Tags),
	}
	for i, b := range v.CIDRBlocks {
		out.CidrBlockAssociationSet[i] = apiVPCBlock(b)
	}
	for _, b := range v.IPv6Blocks {
		out.Ipv6CidrBlockAssociationSet = append(out.Ipv6CidrBlockAssociationSet, apiVPCIPv6Block(b, region))
	}
	return out
}

func apiVPCBlock(b cloud.CIDRBlockAssociation) ec2api.VpcCidrBlockAssociation {
	return ec2api.VpcCidrBlockAssociation{
		AssociationId: ptr(b.AssociationID), CidrBlock: ptr(b.CIDR), CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr(b.State)},
	}
}

func apiVPCIPv6Block(b cloud.CIDRBlockAssociation, region string) ec2api.VpcIpv6CidrBlockAssociation {
	return ec2api.VpcIpv6CidrBlockAssociation{
		AssociationId: ptr(b.AssociationID), Ipv6CidrBlock: ptr(b.CIDR), Ipv6CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr(b.State)},
		NetworkBorderGroup: ptr(region), Ipv6Pool: ptr(cloud.AmazonIPv6PoolName),
	}
}

func (s *Service) describeVPCs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVpcsRequest) (*ec2api.DescribeVpcsResult, error) {
	list, next, err := s.cloud.DescribeVPCs(ctx, scope(c), in.VpcIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcsResult{Vpcs: make([]ec2api.Vpc, len(list))}
	for i, v := range list {
		out.Vpcs[i] = apiVPC(v, c.Region)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// byoipUnsupported answers requests for IPv6 blocks of the caller's own (BYOIP) pools.
var byoipUnsupported = awsapi.Errorf("UnsupportedOperation", "strato has no BYOIP IPv6 pools; ask for an Amazon-provided IPv6 CIDR block instead.")

func (s *Service) associateVPCCIDRBlock(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AssociateVpcCidrBlockRequest) (*ec2api.AssociateVpcCidrBlockResult, error) {
	ipv6 := deref(in.AmazonProvidedIpv6CidrBlock)
	switch {
	case in.Ipv4IpamPoolId != nil || in.Ipv4NetmaskLength != nil || in.Ipv6IpamPoolId != nil || in.Ipv6NetmaskLength != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPAM pools yet; give AssociateVpcCidrBlock a CidrBlock.")
	case in.Ipv6CidrBlock != nil || in.Ipv6Pool != nil:
		return nil, byoipUnsupported
	case ipv6 && in.CidrBlock != nil:
		return nil, awsapi.Errorf("InvalidParameterCombination", "Only one of CidrBlock and AmazonProvidedIpv6CidrBlock may be given.")
	case !ipv6 && in.CidrBlock == nil:
		return nil, missing("CidrBlock or AmazonProvidedIpv6CidrBlock")
	case in.Ipv6CidrBlockNetworkBorderGroup != nil && *in.Ipv6CidrBlockNetworkBorderGroup != c.Region:
		return nil, invalidValue("Value (%s) for parameter Ipv6CidrBlockNetworkBorderGroup is invalid: the only network border group of %s is %s.", *in.Ipv6CidrBlockNetworkBorderGroup, c.Region, c.Region)
	}
	out := &ec2api.AssociateVpcCidrBlockResult{VpcId: in.VpcId}
	if ipv6 {
		b, err := s.cloud.AssociateVPCIPv6Block(ctx, scope(c), deref(in.VpcId))
		if err != nil {
			return nil, err
		}
		out.Ipv6CidrBlockAssociation = ptr(apiVPCIPv6Block(b, c.Region))
		return out, nil
	}
	b, err := s.cloud.AssociateVPCCIDRBlock(ctx, scope(c), deref(in.VpcId), *in.CidrBlock)
	if err != nil {
		return nil, err
	}
	out.CidrBlockAssociation = ptr(apiVPCBlock(b))
	return out, nil
}

func (s *Service) disassociateVPCCIDRBlock(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DisassociateVpcCidrBlockRequest) (*ec2api.DisassociateVpcCidrBlockResult, error) {
	b, err := s.cloud.DisassociateVPCCIDRBlock(ctx, scope(c), deref(in.AssociationId))
	if err != nil {
		return nil, err
	}
	out := &ec2api.DisassociateVpcCidrBlockResult{VpcId: &b.VpcID}
	if b.IPv6 {
		out.Ipv6CidrBlockAssociation = ptr(apiVPCIPv6Block(b.CIDRBlockAssociation, c.Region))
	} else {
		out.CidrBlockAssociation = ptr(apiVPCBlock(b.CIDRBlockAssociation))
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
