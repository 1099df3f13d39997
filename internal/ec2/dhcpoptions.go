package ec2

import (
	"context"
	"fmt"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerDHCPOptions) }

func (s *Service) registerDHCPOptions(d *awsapi.EC2) {
	handle(d, "CreateDhcpOptions", s.createDHCPOptions)
	handle(d, "AssociateDhcpOptions", s.associateDHCPOptions)
	handle(d, "DeleteDhcpOptions", s.deleteDHCPOptions)
	handle(d, "DescribeDhcpOptions", s.describeDHCPOptions)
}

func apiDHCPOptions(d cloud.DHCPOptions) ec2api.DhcpOptions {
	out := ec2api.DhcpOptions{DhcpOptionsId: ptr(d.ID), OwnerId: ptr(d.OwnerID), Tags: apiTags(d.Tags), DhcpConfigurations: make([]ec2api.DhcpConfiguration, len(d.Configurations))}
	for i, c := range d.Configurations {
		cfg := ec2api.DhcpConfiguration{Key: ptr(c.Key), Values: make([]ec2api.AttributeValue, len(c.Values))}
		for j, v := range c.Values {
			cfg.Values[j] = ec2api.AttributeValue{Value: ptr(v)}
		}
		out.DhcpConfigurations[i] = cfg
	}
	return out
}

func (s *Service) createDHCPOptions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateDhcpOptionsRequest) (*ec2api.CreateDhcpOptionsResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindDHCPOptions)
	if err != nil {
		return nil, err
	}
	configs := make([]cloud.DHCPConfiguration, len(in.DhcpConfigurations))
	for i, cfg := range in.DhcpConfigurations {
		if cfg.Key == nil {
			return nil, missing(fmt.Sprintf("DhcpConfiguration.%d.Key", i+1))
		}
		configs[i] = cloud.DHCPConfiguration{Key: *cfg.Key, Values: cfg.Values}
	}
	d, err := s.cloud.CreateDHCPOptions(ctx, scope(c), configs, tags[cloud.KindDHCPOptions])
	if err != nil {
		return nil, err
	}
	api := apiDHCPOptions(d)
	return &ec2api.CreateDhcpOptionsResult{DhcpOptions: &api}, nil
}

func (s *Service) associateDHCPOptions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AssociateDhcpOptionsRequest) (*struct{}, error) {
	return nil, s.cloud.AssociateDHCPOptions(ctx, scope(c), deref(in.DhcpOptionsId), deref(in.VpcId))
}

func (s *Service) deleteDHCPOptions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteDhcpOptionsRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteDHCPOptions(ctx, scope(c), deref(in.DhcpOptionsId))
}

func (s *Service) describeDHCPOptions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeDhcpOptionsRequest) (*ec2api.DescribeDhcpOptionsResult, error) {
	list, next, err := s.cloud.DescribeDHCPOptions(ctx, scope(c), in.DhcpOptionsIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeDhcpOptionsResult{DhcpOptions: make([]ec2api.DhcpOptions, len(list))}
	for i, d := range list {
		out.DhcpOptions[i] = apiDHCPOptions(d)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
