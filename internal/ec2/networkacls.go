package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerNetworkACLs) }

func (s *Service) registerNetworkACLs(d *awsapi.EC2) {
	handle(d, "CreateNetworkAcl", s.createNetworkACL)
	handle(d, "DeleteNetworkAcl", s.deleteNetworkACL)
	handle(d, "DescribeNetworkAcls", s.describeNetworkACLs)
	handle(d, "CreateNetworkAclEntry", s.createNetworkACLEntry)
	handle(d, "ReplaceNetworkAclEntry", s.replaceNetworkACLEntry)
	handle(d, "DeleteNetworkAclEntry", s.deleteNetworkACLEntry)
	handle(d, "ReplaceNetworkAclAssociation", s.replaceNetworkACLAssociation)
}

func apiNetworkACL(a cloud.NetworkACL) ec2api.NetworkAcl {
	out := ec2api.NetworkAcl{
		NetworkAclId: ptr(a.ID), VpcId: ptr(a.VpcID), OwnerId: ptr(a.OwnerID), IsDefault: ptr(a.IsDefault),
		Associations: make([]ec2api.NetworkAclAssociation, len(a.Associations)),
		Entries:      []ec2api.NetworkAclEntry{},
		Tags:         apiTags(a.Tags),
	}
	for i, x := range a.Associations {
		out.Associations[i] = ec2api.NetworkAclAssociation{NetworkAclAssociationId: ptr(x.ID), NetworkAclId: ptr(a.ID), SubnetId: ptr(x.SubnetID)}
	}
	for _, e := range a.Entries() {
		entry := ec2api.NetworkAclEntry{RuleNumber: ptr(e.RuleNumber), Egress: ptr(e.Egress), Protocol: ptr(e.Protocol), RuleAction: ptr(e.RuleAction)}
		if e.CIDR != "" {
			entry.CidrBlock = ptr(e.CIDR)
		}
		if e.IPv6CIDR != "" {
			entry.Ipv6CidrBlock = ptr(e.IPv6CIDR)
		}
		if e.PortRange != nil {
			entry.PortRange = &ec2api.PortRange{From: ptr(e.PortRange.From), To: ptr(e.PortRange.To)}
		}
		if e.ICMP != nil {
			entry.IcmpTypeCode = &ec2api.IcmpTypeCode{Type: ptr(e.ICMP.Type), Code: ptr(e.ICMP.Code)}
		}
		out.Entries = append(out.Entries, entry)
	}
	return out
}

func (s *Service) createNetworkACL(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateNetworkAclRequest) (*ec2api.CreateNetworkAclResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindNetworkACL)
	if err != nil {
		return nil, err
	}
	a, err := s.cloud.CreateNetworkACL(ctx, scope(c), deref(in.VpcId), tags[cloud.KindNetworkACL], deref(in.ClientToken))
	if err != nil {
		return nil, err
	}
	api := apiNetworkACL(a)
	return &ec2api.CreateNetworkAclResult{NetworkAcl: &api, ClientToken: in.ClientToken}, nil
}

func (s *Service) deleteNetworkACL(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteNetworkAclRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteNetworkACL(ctx, scope(c), deref(in.NetworkAclId))
}

func (s *Service) describeNetworkACLs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeNetworkAclsRequest) (*ec2api.DescribeNetworkAclsResult, error) {
	list, next, err := s.cloud.DescribeNetworkACLs(ctx, scope(c), in.NetworkAclIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNetworkAclsResult{NetworkAcls: make([]ec2api.NetworkAcl, len(list))}
	for i, a := range list {
		out.NetworkAcls[i] = apiNetworkACL(a)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// aclEntryRequest gathers the parts of an entry request; the control plane checks them.
func aclEntryRequest(number *int32, egress *bool, protocol, action, cidr, ipv6 *string, ports *ec2api.PortRange, icmp *ec2api.IcmpTypeCode) (cloud.ACLEntryRequest, error) {
	req := cloud.ACLEntryRequest{
		RuleNumber: deref(number), Egress: deref(egress), Protocol: deref(protocol), RuleAction: deref(action),
		CIDR: deref(cidr), IPv6CIDR: deref(ipv6),
	}
	if ports != nil {
		if ports.From == nil {
			return req, missing("PortRange.From")
		}
		if ports.To == nil {
			return req, missing("PortRange.To")
		}
		req.PortRange = &cloud.ACLPortRange{From: *ports.From, To: *ports.To}
	}
	if icmp != nil {
		if icmp.Type == nil {
			return req, missing("Icmp.Type")
		}
		if icmp.Code == nil {
			return req, missing("Icmp.Code")
		}
		req.ICMP = &cloud.ACLICMP{Type: *icmp.Type, Code: *icmp.Code}
	}
	return req, nil
}

func (s *Service) createNetworkACLEntry(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateNetworkAclEntryRequest) (*struct{}, error) {
	req, err := aclEntryRequest(in.RuleNumber, in.Egress, in.Protocol, in.RuleAction, in.CidrBlock, in.Ipv6CidrBlock, in.PortRange, in.IcmpTypeCode)
	if err != nil {
		return nil, err
	}
	return nil, s.cloud.CreateNetworkACLEntry(ctx, scope(c), deref(in.NetworkAclId), req)
}

func (s *Service) replaceNetworkACLEntry(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ReplaceNetworkAclEntryRequest) (*struct{}, error) {
	req, err := aclEntryRequest(in.RuleNumber, in.Egress, in.Protocol, in.RuleAction, in.CidrBlock, in.Ipv6CidrBlock, in.PortRange, in.IcmpTypeCode)
	if err != nil {
		return nil, err
	}
	return nil, s.cloud.ReplaceNetworkACLEntry(ctx, scope(c), deref(in.NetworkAclId), req)
}

func (s *Service) deleteNetworkACLEntry(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteNetworkAclEntryRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteNetworkACLEntry(ctx, scope(c), deref(in.NetworkAclId), deref(in.RuleNumber), deref(in.Egress))
}

func (s *Service) replaceNetworkACLAssociation(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ReplaceNetworkAclAssociationRequest) (*ec2api.ReplaceNetworkAclAssociationResult, error) {
	id, err := s.cloud.ReplaceNetworkACLAssociation(ctx, scope(c), deref(in.AssociationId), deref(in.NetworkAclId))
	if err != nil {
		return nil, err
	}
	return &ec2api.ReplaceNetworkAclAssociationResult{NewAssociationId: &id}, nil
}
