package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerSecurityGroups) }

func (s *Service) registerSecurityGroups(d *awsapi.EC2) {
	handle(d, "CreateSecurityGroup", s.createSecurityGroup)
	handle(d, "DeleteSecurityGroup", s.deleteSecurityGroup)
	handle(d, "DescribeSecurityGroups", s.describeSecurityGroups)
	handle(d, "AuthorizeSecurityGroupIngress", s.authorizeSecurityGroupIngress)
	handle(d, "AuthorizeSecurityGroupEgress", s.authorizeSecurityGroupEgress)
	handle(d, "RevokeSecurityGroupIngress", s.revokeSecurityGroupIngress)
	handle(d, "RevokeSecurityGroupEgress", s.revokeSecurityGroupEgress)
	handle(d, "DescribeSecurityGroupRules", s.describeSecurityGroupRules)
	handle(d, "ModifySecurityGroupRules", s.modifySecurityGroupRules)
	handle(d, "UpdateSecurityGroupRuleDescriptionsIngress", s.updateRuleDescriptionsIngress)
	handle(d, "UpdateSecurityGroupRuleDescriptionsEgress", s.updateRuleDescriptionsEgress)
	handle(d, "DescribeSecurityGroupReferences", s.describeSecurityGroupReferences)
	handle(d, "GetSecurityGroupsForVpc", s.getSecurityGroupsForVpc)
}

func groupSelector(id, name *string) cloud.GroupSelector {
	return cloud.GroupSelector{ID: deref(id), Name: deref(name)}
}

func (s *Service) createSecurityGroup(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateSecurityGroupRequest) (*ec2api.CreateSecurityGroupResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindSecurityGroup)
	if err != nil {
		return nil, err
	}
	g, err := s.cloud.CreateSecurityGroup(ctx, scope(c), cloud.SecurityGroupRequest{
		Name: deref(in.GroupName), Description: deref(in.Description), VpcID: deref(in.VpcId), Tags: tags[cloud.KindSecurityGroup],
	})
	if err != nil {
		return nil, err
	}
	// The model's result has no SecurityGroupArn member yet; the ARN is g.ARN().
	return &ec2api.CreateSecurityGroupResult{GroupId: ptr(g.ID), Tags: apiTags(g.Tags)}, nil
}

func (s *Service) deleteSecurityGroup(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteSecurityGroupRequest) (*struct{}, error) {
	_, err := s.cloud.DeleteSecurityGroup(ctx, scope(c), groupSelector(in.GroupId, in.GroupName))
	return nil, err
}

func (s *Service) describeSecurityGroups(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeSecurityGroupsRequest) (*ec2api.DescribeSecurityGroupsResult, error) {
	list, next, err := s.cloud.DescribeSecurityGroups(ctx, scope(c), in.GroupIds, in.GroupNames, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSecurityGroupsResult{SecurityGroups: make([]ec2api.SecurityGroup, len(list))}
	for i, g := range list {
		out.SecurityGroups[i] = apiSecurityGroup(g)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) authorize(ctx context.Context, c *awsapi.EC2Call, req cloud.RuleRequest, specs []ec2api.TagSpecification) ([]ec2api.SecurityGroupRule, error) {
	tags, err := specTags(specs, cloud.KindSecurityGroupRule)
	if err != nil {
		return nil, err
	}
	req.Tags = tags[cloud.KindSecurityGroupRule]
	added, err := s.cloud.AuthorizeSecurityGroupRules(ctx, scope(c), req)
	if err != nil {
		return nil, err
	}
	return apiSecurityGroupRules(added), nil
}

func (s *Service) authorizeSecurityGroupIngress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AuthorizeSecurityGroupIngressRequest) (*ec2api.AuthorizeSecurityGroupIngressResult, error) {
	legacy, err := legacyPermission{in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId}.permissions()
	if err != nil {
		return nil, err
	}
	rules, err := s.authorize(ctx, c, cloud.RuleRequest{Group: groupSelector(in.GroupId, in.GroupName), Permissions: append(permissions(in.IpPermissions), legacy...)}, in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	return &ec2api.AuthorizeSecurityGroupIngressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

// noLegacyEgress refuses the flat parameters, which AWS documents as not supported
// for egress rules ("Use IP permissions instead").
func noLegacyEgress(l legacyPermission) error {
	if l.given() {
		return awsapi.Errorf("InvalidParameterCombination", "The flat parameters (CidrIp, IpProtocol, FromPort, ToPort, SourceSecurityGroupName, SourceSecurityGroupOwnerId) are not supported for egress rules; use IpPermissions.")
	}
	return nil
}

func (s *Service) authorizeSecurityGroupEgress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AuthorizeSecurityGroupEgressRequest) (*ec2api.AuthorizeSecurityGroupEgressResult, error) {
	if err := noLegacyEgress(legacyPermission{in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId}); err != nil {
		return nil, err
	}
	rules, err := s.authorize(ctx, c, cloud.RuleRequest{Group: groupSelector(in.GroupId, nil), Egress: true, Permissions: permissions(in.IpPermissions)}, in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	return &ec2api.AuthorizeSecurityGroupEgressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

func (s *Service) revokeSecurityGroupIngress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RevokeSecurityGroupIngressRequest) (*ec2api.RevokeSecurityGroupIngressResult, error) {
	legacy, err := legacyPermission{in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId}.permissions()
	if err != nil {
		return nil, err
	}
	res, err := s.cloud.RevokeSecurityGroupRules(ctx, scope(c), cloud.RuleRequest{
		Group: groupSelector(in.GroupId, in.GroupName), Permissions: append(permissions(in.IpPermissions), legacy...), RuleIDs: in.SecurityGroupRuleIds,
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.RevokeSecurityGroupIngressResult{Return: ptr(true), UnknownIpPermissions: apiPermissions(res.Unknown)}, nil
}

func (s *Service) revokeSecurityGroupEgress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RevokeSecurityGroupEgressRequest) (*ec2api.RevokeSecurityGroupEgressResult, error) {
	if err := noLegacyEgress(legacyPermission{in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId}); err != nil {
		return nil, err
	}
	res, err := s.cloud.RevokeSecurityGroupRules(ctx, scope(c), cloud.RuleRequest{
		Group: groupSelector(in.GroupId, nil), Egress: true, Permissions: permissions(in.IpPermissions), RuleIDs: in.SecurityGroupRuleIds,
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.RevokeSecurityGroupEgressResult{Return: ptr(true), UnknownIpPermissions: apiPermissions(res.Unknown)}, nil
}

func (s *Service) describeSecurityGroupRules(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeSecurityGroupRulesRequest) (*ec2api.DescribeSecurityGroupRulesResult, error) {
	list, next, err := s.cloud.DescribeSecurityGroupRules(ctx, scope(c), in.SecurityGroupRuleIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSecurityGroupRulesResult{SecurityGroupRules: apiSecurityGroupRules(list)}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) modifySecurityGroupRules(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifySecurityGroupRulesRequest) (*ec2api.ModifySecurityGroupRulesResult, error) {
	updates := make([]cloud.RuleUpdate, len(in.SecurityGroupRules))
	for i, u := range in.SecurityGroupRules {
		if u.SecurityGroupRule == nil {
			return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter SecurityGroupRule.%d.SecurityGroupRule", i+1)
		}
		r := u.SecurityGroupRule
		updates[i] = cloud.RuleUpdate{
			RuleID: deref(u.SecurityGroupRuleId), Protocol: deref(r.IpProtocol), FromPort: r.FromPort, ToPort: r.ToPort,
			CIDRv4: deref(r.CidrIpv4), CIDRv6: deref(r.CidrIpv6), PrefixListID: deref(r.PrefixListId), ReferencedGroupID: deref(r.ReferencedGroupId), Description: deref(r.Description),
		}
	}
	if err := s.cloud.ModifySecurityGroupRules(ctx, scope(c), deref(in.GroupId), updates); err != nil {
		return nil, err
	}
	return &ec2api.ModifySecurityGroupRulesResult{Return: ptr(true)}, nil
}

func (s *Service) updateRuleDescriptions(ctx context.Context, c *awsapi.EC2Call, sel cloud.GroupSelector, egress bool, perms []ec2api.IpPermission, byID []ec2api.SecurityGroupRuleDescription) error {
	descriptions := map[string]string{}
	for i, d := range byID {
		if d.SecurityGroupRuleId == nil {
			return awsapi.Errorf("MissingParameter", "The request must contain the parameter SecurityGroupRuleDescription.%d.SecurityGroupRuleId", i+1)
		}
		descriptions[*d.SecurityGroupRuleId] = deref(d.Description)
	}
	return s.cloud.UpdateSecurityGroupRuleDescriptions(ctx, scope(c), sel, egress, permissions(perms), descriptions)
}

func (s *Service) updateRuleDescriptionsIngress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.UpdateSecurityGroupRuleDescriptionsIngressRequest) (*ec2api.UpdateSecurityGroupRuleDescriptionsIngressResult, error) {
	if err := s.updateRuleDescriptions(ctx, c, groupSelector(in.GroupId, in.GroupName), false, in.IpPermissions, in.SecurityGroupRuleDescriptions); err != nil {
		return nil, err
	}
	return &ec2api.UpdateSecurityGroupRuleDescriptionsIngressResult{Return: ptr(true)}, nil
}

func (s *Service) updateRuleDescriptionsEgress(ctx context.Context, c *awsapi.EC2Call, in *ec2api.UpdateSecurityGroupRuleDescriptionsEgressRequest) (*ec2api.UpdateSecurityGroupRuleDescriptionsEgressResult, error) {
	if err := s.updateRuleDescriptions(ctx, c, groupSelector(in.GroupId, in.GroupName), true, in.IpPermissions, in.SecurityGroupRuleDescriptions); err != nil {
		return nil, err
	}
	return &ec2api.UpdateSecurityGroupRuleDescriptionsEgressResult{Return: ptr(true)}, nil
}

func (s *Service) describeSecurityGroupReferences(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeSecurityGroupReferencesRequest) (*ec2api.DescribeSecurityGroupReferencesResult, error) {
	refs, err := s.cloud.DescribeSecurityGroupReferences(ctx, scope(c), in.GroupId)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSecurityGroupReferencesResult{SecurityGroupReferenceSet: make([]ec2api.SecurityGroupReference, len(refs))}
	for i, r := range refs {
		out.SecurityGroupReferenceSet[i] = ec2api.SecurityGroupReference{GroupId: ptr(r.GroupID), ReferencingVpcId: ptr(r.ReferencingVpcID)}
	}
	return out, nil
}

func (s *Service) getSecurityGroupsForVpc(ctx context.Context, c *awsapi.EC2Call, in *ec2api.GetSecurityGroupsForVpcRequest) (*ec2api.GetSecurityGroupsForVpcResult, error) {
	list, next, err := s.cloud.SecurityGroupsForVPC(ctx, scope(c), deref(in.VpcId), filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.GetSecurityGroupsForVpcResult{SecurityGroupForVpcs: make([]ec2api.SecurityGroupForVpc, len(list))}
	for i, g := range list {
		out.SecurityGroupForVpcs[i] = ec2api.SecurityGroupForVpc{
			GroupId: ptr(g.ID), GroupName: ptr(g.Name), Description: ptr(g.Description), OwnerId: ptr(g.OwnerID), PrimaryVpcId: ptr(g.VpcID), Tags: apiTags(g.Tags),
		}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
