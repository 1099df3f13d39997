package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerVPCEndpoints) }

func (s *Service) registerVPCEndpoints(d *awsapi.EC2) {
	handle(d, "CreateVpcEndpoint", s.createVPCEndpoint)
	handle(d, "ModifyVpcEndpoint", s.modifyVPCEndpoint)
	handle(d, "DeleteVpcEndpoints", s.deleteVPCEndpoints)
	handle(d, "DescribeVpcEndpoints", s.describeVPCEndpoints)
	handle(d, "DescribeVpcEndpointServices", s.describeVPCEndpointServices)
}

func apiVPCEndpoint(e cloud.VPCEndpoint) ec2api.VpcEndpoint {
	return ec2api.VpcEndpoint{
		VpcEndpointId: ptr(e.ID), VpcEndpointType: ptr(e.Type), VpcId: ptr(e.VpcID), ServiceName: ptr(e.ServiceName),
		State: ptr(e.State()), PolicyDocument: ptr(e.PolicyDocument), RouteTableIds: append([]string{}, e.RouteTableIDs...),
		SubnetIds: []string{}, Groups: []ec2api.SecurityGroupIdentifier{}, NetworkInterfaceIds: []string{}, DnsEntries: []ec2api.DnsEntry{},
		IpAddressType: ptr("ipv4"), PrivateDnsEnabled: ptr(false), RequesterManaged: ptr(false),
		CreationTimestamp: ptr(e.CreatedAt), Tags: apiTags(e.Tags), OwnerId: ptr(e.OwnerID),
	}
}

func (s *Service) createVPCEndpoint(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateVpcEndpointRequest) (*ec2api.CreateVpcEndpointResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindVPCEndpoint)
	if err != nil {
		return nil, err
	}
	e, err := s.cloud.CreateVpcEndpoint(ctx, scope(c), cloud.EndpointRequest{
		VpcID: deref(in.VpcId), ServiceName: deref(in.ServiceName), Type: deref(in.VpcEndpointType), PolicyDocument: deref(in.PolicyDocument),
		RouteTableIDs: in.RouteTableIds, SubnetIDs: in.SubnetIds, SecurityGroupIDs: in.SecurityGroupIds,
		Tags: tags[cloud.KindVPCEndpoint], ClientToken: deref(in.ClientToken),
	})
	if err != nil {
		return nil, err
	}
	api := apiVPCEndpoint(e)
	return &ec2api.CreateVpcEndpointResult{VpcEndpoint: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) modifyVPCEndpoint(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyVpcEndpointRequest) (*ec2api.ModifyVpcEndpointResult, error) {
	err := s.cloud.ModifyVpcEndpoint(ctx, scope(c), cloud.EndpointChange{
		ID: deref(in.VpcEndpointId), AddRouteTableIDs: in.AddRouteTableIds, RemoveRouteTableIDs: in.RemoveRouteTableIds,
		ResetPolicy: deref(in.ResetPolicy), PolicyDocument: in.PolicyDocument,
		InterfaceChanges: len(in.AddSubnetIds)+len(in.RemoveSubnetIds)+len(in.AddSecurityGroupIds)+len(in.RemoveSecurityGroupIds)+len(in.SubnetConfigurations) > 0 ||
			in.PrivateDnsEnabled != nil || in.DnsOptions != nil || in.IpAddressType != nil,
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyVpcEndpointResult{Return: ptr(true)}, nil
}

func (s *Service) deleteVPCEndpoints(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteVpcEndpointsRequest) (*ec2api.DeleteVpcEndpointsResult, error) {
	failed, err := s.cloud.DeleteVpcEndpoints(ctx, scope(c), in.VpcEndpointIds)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DeleteVpcEndpointsResult{Unsuccessful: []ec2api.UnsuccessfulItem{}}
	for _, f := range failed {
		e, _ := awsapi.AsError(toAPIError(f.Err))
		out.Unsuccessful = append(out.Unsuccessful, ec2api.UnsuccessfulItem{
			ResourceId: ptr(f.ID), Error: &ec2api.UnsuccessfulItemError{Code: ptr(e.Code), Message: ptr(e.Message)},
		})
	}
	return out, nil
}

func (s *Service) describeVPCEndpoints(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVpcEndpointsRequest) (*ec2api.DescribeVpcEndpointsResult, error) {
	list, next, err := s.cloud.DescribeVpcEndpoints(ctx, scope(c), in.VpcEndpointIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcEndpointsResult{VpcEndpoints: make([]ec2api.VpcEndpoint, len(list))}
	for i, e := range list {
		out.VpcEndpoints[i] = apiVPCEndpoint(e)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) describeVPCEndpointServices(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVpcEndpointServicesRequest) (*ec2api.DescribeVpcEndpointServicesResult, error) {
	list, next, err := s.cloud.DescribeVpcEndpointServices(ctx, scope(c), in.ServiceNames, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcEndpointServicesResult{ServiceNames: []string{}, ServiceDetails: make([]ec2api.ServiceDetail, len(list))}
	for i, svc := range list {
		if len(out.ServiceNames) == 0 || out.ServiceNames[len(out.ServiceNames)-1] != svc.Name {
			out.ServiceNames = append(out.ServiceNames, svc.Name)
		}
		d := ec2api.ServiceDetail{
			ServiceName: ptr(svc.Name), ServiceId: ptr(svc.ID), ServiceType: []ec2api.ServiceTypeDetail{{ServiceType: ptr(svc.Type)}},
			AvailabilityZones: svc.Zones, Owner: ptr("amazon"), BaseEndpointDnsNames: svc.BaseDNSNames,
			VpcEndpointPolicySupported: ptr(true), AcceptanceRequired: ptr(false), ManagesVpcEndpoints: ptr(false),
			SupportedIpAddressTypes: []string{"ipv4"},
		}
		if svc.PrivateDNSName != "" {
			d.PrivateDnsName = ptr(svc.PrivateDNSName)
			d.PrivateDnsNames = []ec2api.PrivateDnsDetails{{PrivateDnsName: ptr(svc.PrivateDNSName)}}
			d.PrivateDnsNameVerificationState = ptr("verified")
		}
		out.ServiceDetails[i] = d
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
