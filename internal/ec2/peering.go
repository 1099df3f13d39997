package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerPeering) }

func (s *Service) registerPeering(d *awsapi.EC2) {
	handle(d, "CreateVpcPeeringConnection", s.createPeering)
	handle(d, "AcceptVpcPeeringConnection", s.acceptPeering)
	handle(d, "RejectVpcPeeringConnection", s.rejectPeering)
	handle(d, "DeleteVpcPeeringConnection", s.deletePeering)
	handle(d, "DescribeVpcPeeringConnections", s.describePeerings)
	handle(d, "ModifyVpcPeeringConnectionOptions", s.modifyPeeringOptions)
}

// apiPeering shapes a connection; status overrides the state shown when the answer
// reports a passing state ("" shows the connection's own).
func apiPeering(p cloud.VPCPeeringConnection, status string) ec2api.VpcPeeringConnection {
	if status == "" {
		status = p.Status
	}
	out := ec2api.VpcPeeringConnection{
		VpcPeeringConnectionId: ptr(p.ID),
		RequesterVpcInfo:       apiPeeringSide(p.Requester, p.Status == cloud.PeeringActive),
		AccepterVpcInfo:        apiPeeringSide(p.Accepter, p.Status == cloud.PeeringActive),
		Status:                 &ec2api.VpcPeeringConnectionStateReason{Code: ptr(status), Message: ptr(cloud.PeeringStatusMessage(p, status))},
		Tags:                   apiTags(p.Tags),
	}
	if p.Status == cloud.PeeringPending || p.Status == cloud.PeeringExpired {
		out.ExpirationTime = ptr(p.ExpiresAt)
	}
	return out
}

func apiPeeringSide(side cloud.PeeringSide, active bool) *ec2api.VpcPeeringConnectionVpcInfo {
	out := &ec2api.VpcPeeringConnectionVpcInfo{VpcId: ptr(side.VpcID), OwnerId: ptr(side.OwnerID), Region: ptr(side.Region)}
	if len(side.CIDRs) > 0 {
		out.CidrBlock = ptr(side.CIDRs[0])
		for _, c := range side.CIDRs {
			out.CidrBlockSet = append(out.CidrBlockSet, ec2api.CidrBlock{CidrBlock: ptr(c)})
		}
	}
	if active {
		out.PeeringOptions = apiPeeringOptions(side)
	}
	return out
}

func apiPeeringOptions(side cloud.PeeringSide) *ec2api.VpcPeeringConnectionOptionsDescription {
	return &ec2api.VpcPeeringConnectionOptionsDescription{
		AllowDnsResolutionFromRemoteVpc:            ptr(side.AllowDNSResolution),
		AllowEgressFromLocalClassicLinkToRemoteVpc: ptr(false),
		AllowEgressFromLocalVpcToRemoteClassicLink: ptr(false),
	}
}

func (s *Service) createPeering(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateVpcPeeringConnectionRequest) (*ec2api.CreateVpcPeeringConnectionResult, error) {
	if in.PeerVpcId == nil {
		return nil, missing("PeerVpcId")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindVPCPeeringConnection)
	if err != nil {
		return nil, err
	}
	p, err := s.cloud.CreateVPCPeeringConnection(ctx, scope(c), cloud.PeeringRequest{
		VpcID: deref(in.VpcId), PeerVpcID: *in.PeerVpcId, PeerOwnerID: deref(in.PeerOwnerId), PeerRegion: deref(in.PeerRegion),
		Tags: tags[cloud.KindVPCPeeringConnection],
	})
	if err != nil {
		return nil, err
	}
	// AWS answers the request as being initiated; DescribeVpcPeeringConnections
	// then shows pending-acceptance, or failed.
	api := apiPeering(p, cloud.PeeringInitiating)
	return &ec2api.CreateVpcPeeringConnectionResult{VpcPeeringConnection: &api}, nil
}

func (s *Service) acceptPeering(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AcceptVpcPeeringConnectionRequest) (*ec2api.AcceptVpcPeeringConnectionResult, error) {
	p, err := s.cloud.AcceptVPCPeeringConnection(ctx, scope(c), deref(in.VpcPeeringConnectionId))
	if err != nil {
		return nil, err
	}
	api := apiPeering(p, cloud.PeeringProvisioning)
	return &ec2api.AcceptVpcPeeringConnectionResult{VpcPeeringConnection: &api}, nil
}

func (s *Service) rejectPeering(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RejectVpcPeeringConnectionRequest) (*ec2api.RejectVpcPeeringConnectionResult, error) {
	if err := s.cloud.RejectVPCPeeringConnection(ctx, scope(c), deref(in.VpcPeeringConnectionId)); err != nil {
		return nil, err
	}
	return &ec2api.RejectVpcPeeringConnectionResult{Return: ptr(true)}, nil
}

func (s *Service) deletePeering(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteVpcPeeringConnectionRequest) (*ec2api.DeleteVpcPeeringConnectionResult, error) {
	if err := s.cloud.DeleteVPCPeeringConnection(ctx, scope(c), deref(in.VpcPeeringConnectionId)); err != nil {
		return nil, err
	}
	return &ec2api.DeleteVpcPeeringConnectionResult{Return: ptr(true)}, nil
}

func (s *Service) describePeerings(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVpcPeeringConnectionsRequest) (*ec2api.DescribeVpcPeeringConnectionsResult, error) {
	list, next, err := s.cloud.DescribeVPCPeeringConnections(ctx, scope(c), in.VpcPeeringConnectionIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcPeeringConnectionsResult{VpcPeeringConnections: make([]ec2api.VpcPeeringConnection, len(list))}
	for i, p := range list {
		out.VpcPeeringConnections[i] = apiPeering(p, "")
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// peeringDNSOption takes allowDnsResolutionFromRemoteVpc from one side's options;
// the ClassicLink options went with ClassicLink.
func peeringDNSOption(o *ec2api.PeeringConnectionOptionsRequest, side string) (*bool, error) {
	if o == nil {
		return nil, nil
	}
	if deref(o.AllowEgressFromLocalClassicLinkToRemoteVpc) || deref(o.AllowEgressFromLocalVpcToRemoteClassicLink) {
		return nil, awsapi.Errorf("UnsupportedOperation", "ClassicLink has been retired; %s ClassicLink options cannot be enabled.", side)
	}
	return o.AllowDnsResolutionFromRemoteVpc, nil
}

func (s *Service) modifyPeeringOptions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyVpcPeeringConnectionOptionsRequest) (*ec2api.ModifyVpcPeeringConnectionOptionsResult, error) {
	var change cloud.PeeringOptionsChange
	var err error
	if change.Requester, err = peeringDNSOption(in.RequesterPeeringConnectionOptions, "requester"); err != nil {
		return nil, err
	}
	if change.Accepter, err = peeringDNSOption(in.AccepterPeeringConnectionOptions, "accepter"); err != nil {
		return nil, err
	}
	if in.RequesterPeeringConnectionOptions == nil && in.AccepterPeeringConnectionOptions == nil {
		return nil, missing("RequesterPeeringConnectionOptions or AccepterPeeringConnectionOptions")
	}
	p, err := s.cloud.ModifyVPCPeeringConnectionOptions(ctx, scope(c), deref(in.VpcPeeringConnectionId), change)
	if err != nil {
		return nil, err
	}
	out := &ec2api.ModifyVpcPeeringConnectionOptionsResult{}
	if in.RequesterPeeringConnectionOptions != nil {
		out.RequesterPeeringConnectionOptions = (*ec2api.PeeringConnectionOptions)(apiPeeringOptions(p.Requester))
	}
	if in.AccepterPeeringConnectionOptions != nil {
		out.AccepterPeeringConnectionOptions = (*ec2api.PeeringConnectionOptions)(apiPeeringOptions(p.Accepter))
	}
	return out, nil
}
