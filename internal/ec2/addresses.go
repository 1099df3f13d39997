package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerAddresses) }

func (s *Service) registerAddresses(d *awsapi.EC2) {
	handle(d, "AllocateAddress", s.allocateAddress)
	handle(d, "AssociateAddress", s.associateAddress)
	handle(d, "DisassociateAddress", s.disassociateAddress)
	handle(d, "ReleaseAddress", s.releaseAddress)
	handle(d, "DescribeAddresses", s.describeAddresses)
	handle(d, "DescribeAddressesAttribute", s.describeAddressesAttribute)
	handle(d, "ModifyAddressAttribute", s.modifyAddressAttribute)
	handle(d, "ResetAddressAttribute", s.resetAddressAttribute)
}

func apiAddress(a cloud.Address) ec2api.Address {
	return ec2api.Address{
		AllocationId: ptr(a.AllocationID), PublicIp: ptr(a.PublicIP), Domain: ptr(a.Domain()),
		PublicIpv4Pool: ptr(a.PublicIPv4Pool()), NetworkBorderGroup: ptr(a.NetworkBorderGroup),
		AssociationId: optional(a.AssociationID), NetworkInterfaceId: optional(a.NetworkInterfaceID),
		NetworkInterfaceOwnerId: optional(a.NetworkInterfaceOwnerID), PrivateIpAddress: optional(a.PrivateIP),
		InstanceId: optional(a.InstanceID), Tags: apiTags(a.Tags),
	}
}

func (s *Service) allocateAddress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AllocateAddressRequest) (*ec2api.AllocateAddressResult, error) {
	switch deref(in.Domain) {
	case "", "vpc":
	case "standard":
		return nil, awsapi.Errorf("InvalidParameterValue", "EC2-Classic is retired: Elastic IP addresses are allocated for use in a VPC (Domain vpc).")
	default:
		return nil, invalidValue("Value (%s) for parameter domain is invalid. Valid values: vpc, standard", *in.Domain)
	}
	switch {
	case in.CustomerOwnedIpv4Pool != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts or customer-owned address pools.")
	case in.PublicIpv4Pool != nil && *in.PublicIpv4Pool != "amazon":
		return nil, awsapi.Errorf("InvalidPublicIpv4PoolID.NotFound", "The public IPv4 pool ID '%s' does not exist", *in.PublicIpv4Pool)
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindElasticIP)
	if err != nil {
		return nil, err
	}
	a, err := s.cloud.AllocateAddress(ctx, scope(c), cloud.AllocateRequest{
		Address: deref(in.Address), NetworkBorderGroup: deref(in.NetworkBorderGroup), Tags: tags[cloud.KindElasticIP],
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.AllocateAddressResult{
		PublicIp: ptr(a.PublicIP), AllocationId: ptr(a.AllocationID), PublicIpv4Pool: ptr(a.PublicIPv4Pool()),
		NetworkBorderGroup: ptr(a.NetworkBorderGroup), Domain: ptr(a.Domain()),
	}, nil
}

func (s *Service) associateAddress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AssociateAddressRequest) (*ec2api.AssociateAddressResult, error) {
	id, err := s.cloud.AssociateAddress(ctx, scope(c), cloud.AssociateRequest{
		AllocationID: deref(in.AllocationId), PublicIP: deref(in.PublicIp), InstanceID: deref(in.InstanceId),
		NetworkInterfaceID: deref(in.NetworkInterfaceId), PrivateIP: deref(in.PrivateIpAddress), AllowReassociation: deref(in.AllowReassociation),
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.AssociateAddressResult{AssociationId: ptr(id)}, nil
}

func (s *Service) disassociateAddress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DisassociateAddressRequest) (*struct{}, error) {
	if in.AssociationId == nil && in.PublicIp == nil {
		return nil, missing("AssociationId")
	}
	return nil, s.cloud.DisassociateAddress(ctx, scope(c), deref(in.AssociationId), deref(in.PublicIp))
}

func (s *Service) releaseAddress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ReleaseAddressRequest) (*struct{}, error) {
	return nil, s.cloud.ReleaseAddress(ctx, scope(c), deref(in.AllocationId), deref(in.PublicIp), deref(in.NetworkBorderGroup))
}

func (s *Service) describeAddresses(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeAddressesRequest) (*ec2api.DescribeAddressesResult, error) {
	list, err := s.cloud.DescribeAddresses(ctx, scope(c), in.AllocationIds, in.PublicIps, filters(in.Filters))
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeAddressesResult{Addresses: make([]ec2api.Address, len(list))}
	for i, a := range list {
		out.Addresses[i] = apiAddress(a)
	}
	return out, nil
}

func apiAddressAttribute(a cloud.Address) *ec2api.AddressAttribute {
	return &ec2api.AddressAttribute{AllocationId: ptr(a.AllocationID), PublicIp: ptr(a.PublicIP), PtrRecord: ptr(a.PTR())}
}

func (s *Service) describeAddressesAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeAddressesAttributeRequest) (*ec2api.DescribeAddressesAttributeResult, error) {
	if attr := deref(in.Attribute); attr != "domain-name" {
		if attr == "" {
			return nil, missing("Attribute")
		}
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. Valid values: domain-name", attr)
	}
	list, next, err := s.cloud.DescribeAddressesAttribute(ctx, scope(c), in.AllocationIds, cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeAddressesAttributeResult{Addresses: make([]ec2api.AddressAttribute, len(list))}
	for i, a := range list {
		out.Addresses[i] = *apiAddressAttribute(a)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) modifyAddressAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyAddressAttributeRequest) (*ec2api.ModifyAddressAttributeResult, error) {
	if deref(in.DomainName) == "" {
		return nil, missing("DomainName")
	}
	a, err := s.cloud.SetAddressDomainName(ctx, scope(c), deref(in.AllocationId), *in.DomainName)
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyAddressAttributeResult{Address: apiAddressAttribute(a)}, nil
}

func (s *Service) resetAddressAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ResetAddressAttributeRequest) (*ec2api.ResetAddressAttributeResult, error) {
	if attr := deref(in.Attribute); attr != "domain-name" {
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. Valid values: domain-name", attr)
	}
	a, err := s.cloud.SetAddressDomainName(ctx, scope(c), deref(in.AllocationId), "")
	if err != nil {
		return nil, err
	}
	return &ec2api.ResetAddressAttributeResult{Address: apiAddressAttribute(a)}, nil
}
