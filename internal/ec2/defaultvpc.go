package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
)

func init() { areas = append(areas, (*Service).registerDefaultVPC) }

func (s *Service) registerDefaultVPC(d *awsapi.EC2) {
	handle(d, "CreateDefaultVpc", s.createDefaultVPC)
	handle(d, "CreateDefaultSubnet", s.createDefaultSubnet)
}

func (s *Service) createDefaultVPC(ctx context.Context, c *awsapi.EC2Call, _ *ec2api.CreateDefaultVpcRequest) (*ec2api.CreateDefaultVpcResult, error) {
	v, err := s.cloud.CreateDefaultVPC(ctx, scope(c))
	if err != nil {
		return nil, err
	}
	api := apiVPC(v, c.Region)
	api.State = ptr("pending")
	return &ec2api.CreateDefaultVpcResult{Vpc: &api}, nil
}

func (s *Service) createDefaultSubnet(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateDefaultSubnetRequest) (*ec2api.CreateDefaultSubnetResult, error) {
	if deref(in.Ipv6Native) {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not support IPv6-only subnets yet.")
	}
	sn, err := s.cloud.CreateDefaultSubnet(ctx, scope(c), deref(in.AvailabilityZone), "")
	if err != nil {
		return nil, err
	}
	api := apiSubnet(sn)
	api.State = ptr("pending")
	return &ec2api.CreateDefaultSubnetResult{Subnet: &api}, nil
}
