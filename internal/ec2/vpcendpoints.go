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
	out := ec2api.VpcEndpoint{
		VpcEndpointId: ptr(e.ID), VpcEndpointType: ptr(e.Type), VpcId: ptr(e.VpcID), ServiceName: ptr(e.ServiceName),
		State: ptr(e.State()), PolicyDocument: ptr(e.PolicyDocument), RouteTableIds: append([]string{}, e.RouteTableIDs...),
		SubnetIds: e.SubnetIDs(), Groups: []ec2api.SecurityGroupIdentifier{}, NetworkInterfaceIds: e.NetworkInterfaceIDs(), DnsEntries: []ec2api.DnsEntry{},
		IpAddressType: ptr(e.IPAddressType()), PrivateDnsEnabled: ptr(e.PrivateDNSEnabled), RequesterManaged: ptr(false),
		CreationTimestamp: ptr(e.CreatedAt), Tags: apiTags(e.Tags), OwnerId: ptr(e.OwnerID),
	}
	for _, g := range e.Groups {
		out.Groups = append(out.Groups, ec2api.SecurityGroupIdentifier{GroupId: ptr(g.ID), GroupName: ptr(g.Name)})
	}
	for _, d := range e.DNSEntries() {
		out.DnsEntries = append(out.DnsEntries, ec2api.DnsEntry{DnsName: ptr(d.Name), HostedZoneId: ptr(d.HostedZoneID)})
	}
	if e.Type == cloud.EndpointInterface {
		out.DnsOptions = &ec2api.DnsOptions{DnsRecordIpType: ptr("ipv4"), PrivateDnsOnlyForInboundResolverEndpoint: ptr(e.PrivateDNSOnlyForInboundResolver)}
	}
	return out
}

// subnetIPs takes the IPv4 addresses SubnetConfigurations name per subnet; IPv6
// addresses are refused, as the endpoints are IPv4 only.
func subnetIPs(configs []ec2api.SubnetConfiguration) (map[string]string, error) {
	if len(configs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(configs))
	for _, c := range configs {
		if deref(c.Ipv6) != "" {
			return nil, awsapi.Errorf("InvalidParameter", "The VPC endpoint services strato offers support ipv4 only; SubnetConfiguration.Ipv6 cannot be given.")
		}
		if deref(c.SubnetId) == "" {
			return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter SubnetConfiguration.SubnetId")
		}
		out[deref(c.SubnetId)] = deref(c.Ipv4)
	}
	return out, nil
}

func dnsOptions(in *ec2api.DnsOptionsSpecification) cloud.DNSOptions {
	if in == nil {
		return cloud.DNSOptions{}
	}
	return cloud.DNSOptions{RecordIPType: deref(in.DnsRecordIpType), PrivateDNSOnlyForInboundResolver: in.PrivateDnsOnlyForInboundResolverEndpoint}
}

func (s *Service) createVPCEndpoint(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateVpcEndpointRequest) (*ec2api.CreateVpcEndpointResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindVPCEndpoint)
	if err != nil {
		return nil, err
	}
	ips, err := subnetIPs(in.SubnetConfigurations)
	if err != nil {
		return nil, err
	}
	e, err := s.cloud.CreateVpcEndpoint(ctx, scope(c), cloud.EndpointRequest{
		VpcID: deref(in.VpcId), ServiceName: deref(in.ServiceName), Type: deref(in.VpcEndpointType), PolicyDocument: deref(in.PolicyDocument),
		RouteTableIDs: in.RouteTableIds, SubnetIDs: in.SubnetIds, SecurityGroupIDs: in.SecurityGroupIds, SubnetIPs: ips,
		IPAddressType: deref(in.IpAddressType), DNS: dnsOptions(in.DnsOptions), PrivateDNSEnabled: in.PrivateDnsEnabled,
		Tags: tags[cloud.KindVPCEndpoint], ClientToken: deref(in.ClientToken),
	})
	if err != nil {
		return nil, err
	}
	api := apiVPCEndpoint(e)
	return &ec2api.CreateVpcEndpointResult{VpcEndpoint: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) modifyVPCEndpoint(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyVpcEndpointRequest) (*ec2api.ModifyVpcEndpointResult, error) {
	ips, err := subnetIPs(in.SubnetConfigurations)
	if err != nil {
		return nil, err
	}
	err = s.cloud.ModifyVpcEndpoint(ctx, scope(c), cloud.EndpointChange{
		ID: deref(in.VpcEndpointId), AddRouteTableIDs: in.AddRouteTableIds, RemoveRouteTableIDs: in.RemoveRouteTableIds,
		ResetPolicy: deref(in.ResetPolicy), PolicyDocument: in.PolicyDocument,
		AddSubnetIDs: in.AddSubnetIds, RemoveSubnetIDs: in.RemoveSubnetIds, SubnetIPs: ips,
		AddGroupIDs: in.AddSecurityGroupIds, RemoveGroupIDs: in.RemoveSecurityGroupIds,
		PrivateDNSEnabled: in.PrivateDnsEnabled, IPAddressType: deref(in.IpAddressType), DNS: dnsOptions(in.DnsOptions),
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
