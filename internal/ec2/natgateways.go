package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerNATGateways) }

func (s *Service) registerNATGateways(d *awsapi.EC2) {
	handle(d, "CreateNatGateway", s.createNatGateway)
	handle(d, "DeleteNatGateway", s.deleteNatGateway)
	handle(d, "DescribeNatGateways", s.describeNatGateways)
}

func apiNATGateway(g cloud.NATGateway) ec2api.NatGateway {
	out := ec2api.NatGateway{
		NatGatewayId: ptr(g.ID), SubnetId: ptr(g.SubnetID), VpcId: ptr(g.VpcID), State: ptr(g.State),
		ConnectivityType: ptr(g.ConnectivityType), CreateTime: ptr(g.CreatedAt), Tags: apiTags(g.Tags),
		FailureCode: optional(g.FailureCode), FailureMessage: optional(g.FailureMessage),
		NatGatewayAddresses: []ec2api.NatGatewayAddress{},
	}
	if !g.DeletedAt.IsZero() {
		out.DeleteTime = ptr(g.DeletedAt)
	}
	if g.NetworkInterfaceID != "" || g.AllocationID != "" {
		status := "succeeded"
		switch g.State {
		case cloud.NATPending:
			status = "associating"
		case cloud.NATDeleting:
			status = "disassociating"
		}
		out.NatGatewayAddresses = append(out.NatGatewayAddresses, ec2api.NatGatewayAddress{
			AllocationId: optional(g.AllocationID), PublicIp: optional(g.PublicIP), AssociationId: optional(g.AssociationID),
			NetworkInterfaceId: optional(g.NetworkInterfaceID), PrivateIp: optional(g.PrivateIP), IsPrimary: ptr(true), Status: ptr(status),
		})
	}
	return out
}

func (s *Service) createNatGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateNatGatewayRequest) (*ec2api.CreateNatGatewayResult, error) {
	if len(in.SecondaryAllocationIds) > 0 || len(in.SecondaryPrivateIpAddresses) > 0 || in.SecondaryPrivateIpAddressCount != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato's NAT gateways have one address so far (no secondary addresses).")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindNATGateway)
	if err != nil {
		return nil, err
	}
	g, err := s.cloud.CreateNATGateway(ctx, scope(c), deref(in.ClientToken), cloud.NATGatewayRequest{
		SubnetID: deref(in.SubnetId), ConnectivityType: deref(in.ConnectivityType), AllocationID: deref(in.AllocationId),
		PrivateIP: deref(in.PrivateIpAddress), Tags: tags[cloud.KindNATGateway],
	})
	if err != nil {
		return nil, err
	}
	api := apiNATGateway(g)
	return &ec2api.CreateNatGatewayResult{NatGateway: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) deleteNatGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteNatGatewayRequest) (*ec2api.DeleteNatGatewayResult, error) {
	if err := s.cloud.DeleteNATGateway(ctx, scope(c), deref(in.NatGatewayId)); err != nil {
		return nil, err
	}
	return &ec2api.DeleteNatGatewayResult{NatGatewayId: in.NatGatewayId}, nil
}

func (s *Service) describeNatGateways(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeNatGatewaysRequest) (*ec2api.DescribeNatGatewaysResult, error) {
	list, next, err := s.cloud.DescribeNATGateways(ctx, scope(c), in.NatGatewayIds, filters(in.Filter), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNatGatewaysResult{NatGateways: make([]ec2api.NatGateway, len(list))}
	for i, g := range list {
		out.NatGateways[i] = apiNATGateway(g)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
