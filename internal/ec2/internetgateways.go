package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerInternetGateways) }

func (s *Service) registerInternetGateways(d *awsapi.EC2) {
	handle(d, "CreateInternetGateway", s.createInternetGateway)
	handle(d, "AttachInternetGateway", s.attachInternetGateway)
	handle(d, "DetachInternetGateway", s.detachInternetGateway)
	handle(d, "DeleteInternetGateway", s.deleteInternetGateway)
	handle(d, "DescribeInternetGateways", s.describeInternetGateways)
}

func apiInternetGateway(g cloud.InternetGateway) ec2api.InternetGateway {
	out := ec2api.InternetGateway{InternetGatewayId: ptr(g.ID), OwnerId: ptr(g.OwnerID), Attachments: []ec2api.InternetGatewayAttachment{}, Tags: apiTags(g.Tags)}
	if g.VpcID != "" {
		// DescribeInternetGateways reports an attached gateway as "available".
		out.Attachments = append(out.Attachments, ec2api.InternetGatewayAttachment{State: ptr("available"), VpcId: ptr(g.VpcID)})
	}
	return out
}

func (s *Service) createInternetGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateInternetGatewayRequest) (*ec2api.CreateInternetGatewayResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindInternetGateway)
	if err != nil {
		return nil, err
	}
	g, err := s.cloud.CreateInternetGateway(ctx, scope(c), tags[cloud.KindInternetGateway])
	if err != nil {
		return nil, err
	}
	api := apiInternetGateway(g)
	return &ec2api.CreateInternetGatewayResult{InternetGateway: &api}, nil
}

func (s *Service) attachInternetGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AttachInternetGatewayRequest) (*struct{}, error) {
	return nil, s.cloud.AttachInternetGateway(ctx, scope(c), deref(in.InternetGatewayId), deref(in.VpcId))
}

func (s *Service) detachInternetGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DetachInternetGatewayRequest) (*struct{}, error) {
	return nil, s.cloud.DetachInternetGateway(ctx, scope(c), deref(in.InternetGatewayId), deref(in.VpcId))
}

func (s *Service) deleteInternetGateway(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteInternetGatewayRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteInternetGateway(ctx, scope(c), deref(in.InternetGatewayId))
}

func (s *Service) describeInternetGateways(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeInternetGatewaysRequest) (*ec2api.DescribeInternetGatewaysResult, error) {
	list, next, err := s.cloud.DescribeInternetGateways(ctx, scope(c), in.InternetGatewayIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInternetGatewaysResult{InternetGateways: make([]ec2api.InternetGateway, len(list))}
	for i, g := range list {
		out.InternetGateways[i] = apiInternetGateway(g)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
