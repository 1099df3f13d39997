package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerEgressOnlyGateways) }

func (s *Service) registerEgressOnlyGateways(d *awsapi.EC2) {
	handle(d, "CreateEgressOnlyInternetGateway", s.createEgressOnlyGateway)
	handle(d, "DeleteEgressOnlyInternetGateway", s.deleteEgressOnlyGateway)
	handle(d, "DescribeEgressOnlyInternetGateways", s.describeEgressOnlyGateways)
}

func apiEgressOnlyGateway(g cloud.EgressOnlyInternetGateway) ec2api.EgressOnlyInternetGateway {
	return ec2api.EgressOnlyInternetGateway{
		EgressOnlyInternetGatewayId: ptr(g.ID),
		Attachments:                 []ec2api.InternetGatewayAttachment{{State: ptr("attached"), VpcId: ptr(g.VpcID)}},
		Tags:                        apiTags(g.Tags),
	}
}

func (s *Service) createEgressOnlyGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateEgressOnlyInternetGatewayRequest) (*ec2api.CreateEgressOnlyInternetGatewayResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindEgressOnlyInternetGateway)
	if err != nil {
		return nil, err
	}
	g, err := s.cloud.CreateEgressOnlyInternetGateway(ctx, scope(c), deref(in.VpcId), tags[cloud.KindEgressOnlyInternetGateway], deref(in.ClientToken))
	if err != nil {
		return nil, err
	}
	api := apiEgressOnlyGateway(g)
	return &ec2api.CreateEgressOnlyInternetGatewayResult{EgressOnlyInternetGateway: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) deleteEgressOnlyGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteEgressOnlyInternetGatewayRequest) (*ec2api.DeleteEgressOnlyInternetGatewayResult, error) {
	if err := s.cloud.DeleteEgressOnlyInternetGateway(ctx, scope(c), deref(in.EgressOnlyInternetGatewayId)); err != nil {
		return nil, err
	}
	return &ec2api.DeleteEgressOnlyInternetGatewayResult{ReturnCode: ptr(true)}, nil
}

func (s *Service) describeEgressOnlyGateways(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeEgressOnlyInternetGatewaysRequest) (*ec2api.DescribeEgressOnlyInternetGatewaysResult, error) {
	list, next, err := s.cloud.DescribeEgressOnlyInternetGateways(ctx, scope(c), in.EgressOnlyInternetGatewayIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeEgressOnlyInternetGatewaysResult{EgressOnlyInternetGateways: make([]ec2api.EgressOnlyInternetGateway, len(list))}
	for i, g := range list {
		out.EgressOnlyInternetGateways[i] = apiEgressOnlyGateway(g)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
