package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerSubnetReservations) }

func (s *Service) registerSubnetReservations(d *awsapi.EC2) {
	handle(d, "CreateSubnetCidrReservation", s.createSubnetCidrReservation)
	handle(d, "GetSubnetCidrReservations", s.getSubnetCidrReservations)
	handle(d, "DeleteSubnetCidrReservation", s.deleteSubnetCidrReservation)
}

func apiSubnetReservation(r cloud.SubnetReservation) *ec2api.SubnetCidrReservation {
	return &ec2api.SubnetCidrReservation{
		SubnetCidrReservationId: ptr(r.ID), SubnetId: ptr(r.SubnetID), Cidr: ptr(r.CIDR), ReservationType: ptr(r.Type),
		OwnerId: ptr(r.OwnerID), Description: ptr(r.Description), Tags: apiTags(r.Tags),
	}
}

func (s *Service) createSubnetCidrReservation(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateSubnetCidrReservationRequest) (*ec2api.CreateSubnetCidrReservationResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindSubnetCIDRReservation)
	if err != nil {
		return nil, err
	}
	r, err := s.cloud.CreateSubnetReservation(ctx, scope(c), deref(in.SubnetId), deref(in.Cidr), deref(in.ReservationType), deref(in.Description), tags[cloud.KindSubnetCIDRReservation])
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateSubnetCidrReservationResult{SubnetCidrReservation: apiSubnetReservation(r)}, nil
}

func (s *Service) getSubnetCidrReservations(ctx context.Context, c *awsapi.EC2Call, in *ec2api.GetSubnetCidrReservationsRequest) (*ec2api.GetSubnetCidrReservationsResult, error) {
	list, next, err := s.cloud.SubnetReservations(ctx, scope(c), deref(in.SubnetId), filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.GetSubnetCidrReservationsResult{SubnetIpv4CidrReservations: []ec2api.SubnetCidrReservation{}, SubnetIpv6CidrReservations: []ec2api.SubnetCidrReservation{}}
	for _, r := range list {
		out.SubnetIpv4CidrReservations = append(out.SubnetIpv4CidrReservations, *apiSubnetReservation(r))
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) deleteSubnetCidrReservation(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteSubnetCidrReservationRequest) (*ec2api.DeleteSubnetCidrReservationResult, error) {
	r, err := s.cloud.DeleteSubnetReservation(ctx, scope(c), deref(in.SubnetCidrReservationId))
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteSubnetCidrReservationResult{DeletedSubnetCidrReservation: apiSubnetReservation(r)}, nil
}
