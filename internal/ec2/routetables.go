package ec2

import (
	"context"
	"reflect"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerRouteTables) }

func (s *Service) registerRouteTables(d *awsapi.EC2) {
	handle(d, "CreateRouteTable", s.createRouteTable)
	handle(d, "DeleteRouteTable", s.deleteRouteTable)
	handle(d, "DescribeRouteTables", s.describeRouteTables)
	handle(d, "CreateRoute", s.createRoute)
	handle(d, "ReplaceRoute", s.replaceRoute)
	handle(d, "DeleteRoute", s.deleteRoute)
	handle(d, "AssociateRouteTable", s.associateRouteTable)
	handle(d, "DisassociateRouteTable", s.disassociateRouteTable)
	handle(d, "ReplaceRouteTableAssociation", s.replaceRouteTableAssociation)
}

func apiAssociationState() *ec2api.RouteTableAssociationState {
	return &ec2api.RouteTableAssociationState{State: ptr("associated")}
}

func apiRoute(r cloud.Route) ec2api.Route {
	out := ec2api.Route{Origin: ptr(r.Origin), State: ptr(r.State)}
	if r.DestinationCIDR != "" {
		out.DestinationCidrBlock = ptr(r.DestinationCIDR)
	}
	if r.DestinationIPv6CIDR != "" {
		out.DestinationIpv6CidrBlock = ptr(r.DestinationIPv6CIDR)
	}
	if r.DestinationPrefixListID != "" {
		out.DestinationPrefixListId = ptr(r.DestinationPrefixListID)
	}
	switch r.TargetKind() {
	case cloud.KindNATGateway:
		out.NatGatewayId = ptr(r.Target)
	case cloud.KindNetworkInterface:
		out.NetworkInterfaceId = ptr(r.Target)
	case cloud.KindInstance:
		out.InstanceId = ptr(r.Target)
	case cloud.KindVPCPeeringConnection:
		out.VpcPeeringConnectionId = ptr(r.Target)
	case cloud.KindEgressOnlyInternetGateway:
		out.EgressOnlyInternetGatewayId = ptr(r.Target)
	default: // local, internet and VPN gateways, gateway endpoints
		out.GatewayId = ptr(r.Target)
	}
	return out
}

func apiRouteTable(t cloud.RouteTable) ec2api.RouteTable {
	out := ec2api.RouteTable{
		RouteTableId: ptr(t.ID), VpcId: ptr(t.VpcID), OwnerId: ptr(t.OwnerID), Tags: apiTags(t.Tags),
		Associations: []ec2api.RouteTableAssociation{}, PropagatingVgws: []ec2api.PropagatingVgw{},
		Routes: make([]ec2api.Route, len(t.Routes)),
	}
	for i, r := range t.Routes {
		out.Routes[i] = apiRoute(r)
	}
	for _, a := range t.Associations {
		api := ec2api.RouteTableAssociation{
			Main: ptr(a.Main), RouteTableAssociationId: ptr(a.ID), RouteTableId: ptr(t.ID), AssociationState: apiAssociationState(),
		}
		if a.SubnetID != "" {
			api.SubnetId = ptr(a.SubnetID)
		}
		if a.GatewayID != "" {
			api.GatewayId = ptr(a.GatewayID)
		}
		out.Associations = append(out.Associations, api)
	}
	return out
}

func (s *Service) createRouteTable(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateRouteTableRequest) (*ec2api.CreateRouteTableResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindRouteTable)
	if err != nil {
		return nil, err
	}
	t, err := s.cloud.CreateRouteTable(ctx, scope(c), deref(in.VpcId), deref(in.ClientToken), tags[cloud.KindRouteTable])
	if err != nil {
		return nil, err
	}
	// A new table's local routes are active.
	for i := range t.Routes {
		t.Routes[i].State = cloud.RouteActive
	}
	api := apiRouteTable(t)
	return &ec2api.CreateRouteTableResult{RouteTable: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) deleteRouteTable(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteRouteTableRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteRouteTable(ctx, scope(c), deref(in.RouteTableId))
}

func (s *Service) describeRouteTables(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeRouteTablesRequest) (*ec2api.DescribeRouteTablesResult, error) {
	list, next, err := s.cloud.DescribeRouteTables(ctx, scope(c), in.RouteTableIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeRouteTablesResult{RouteTables: make([]ec2api.RouteTable, len(list))}
	for i, t := range list {
		out.RouteTables[i] = apiRouteTable(t)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// routeTargetParams are the target parameters of CreateRoute and ReplaceRoute.
var routeTargetParams = []string{
	"GatewayId", "EgressOnlyInternetGatewayId", "NatGatewayId", "NetworkInterfaceId", "InstanceId",
	"VpcPeeringConnectionId", "VpcEndpointId", "TransitGatewayId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn",
}

// routeRequest reads a CreateRoute or ReplaceRoute request, whose destination and
// target parameters are the same fields.
func routeRequest(in any) cloud.RouteRequest {
	v := reflect.ValueOf(in).Elem()
	field := func(name string) *string { return v.FieldByName(name).Interface().(*string) }
	req := cloud.RouteRequest{
		TableID: deref(field("RouteTableId")), DestinationCIDR: deref(field("DestinationCidrBlock")),
		DestinationIPv6CIDR: deref(field("DestinationIpv6CidrBlock")), DestinationPrefixListID: deref(field("DestinationPrefixListId")),
		Targets: map[string]string{},
	}
	for _, name := range routeTargetParams {
		if p := field(name); p != nil {
			req.Targets[name] = *p
		}
	}
	return req
}

func (s *Service) createRoute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateRouteRequest) (*ec2api.CreateRouteResult, error) {
	if err := s.cloud.CreateRoute(ctx, scope(c), routeRequest(in)); err != nil {
		return nil, err
	}
	return &ec2api.CreateRouteResult{Return: ptr(true)}, nil
}

func (s *Service) replaceRoute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ReplaceRouteRequest) (*struct{}, error) {
	req := routeRequest(in)
	req.LocalTarget = deref(in.LocalTarget)
	return nil, s.cloud.ReplaceRoute(ctx, scope(c), req)
}

func (s *Service) deleteRoute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteRouteRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteRoute(ctx, scope(c), deref(in.RouteTableId), deref(in.DestinationCidrBlock), deref(in.DestinationIpv6CidrBlock), deref(in.DestinationPrefixListId))
}

func (s *Service) associateRouteTable(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AssociateRouteTableRequest) (*ec2api.AssociateRouteTableResult, error) {
	a, err := s.cloud.AssociateRouteTable(ctx, scope(c), deref(in.RouteTableId), deref(in.SubnetId), deref(in.GatewayId))
	if err != nil {
		return nil, err
	}
	return &ec2api.AssociateRouteTableResult{AssociationId: ptr(a.ID), AssociationState: apiAssociationState()}, nil
}

func (s *Service) disassociateRouteTable(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DisassociateRouteTableRequest) (*struct{}, error) {
	return nil, s.cloud.DisassociateRouteTable(ctx, scope(c), deref(in.AssociationId))
}

func (s *Service) replaceRouteTableAssociation(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ReplaceRouteTableAssociationRequest) (*ec2api.ReplaceRouteTableAssociationResult, error) {
	a, err := s.cloud.ReplaceRouteTableAssociation(ctx, scope(c), deref(in.AssociationId), deref(in.RouteTableId))
	if err != nil {
		return nil, err
	}
	return &ec2api.ReplaceRouteTableAssociationResult{NewAssociationId: ptr(a.ID), AssociationState: apiAssociationState()}, nil
}
