package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerStaleSecurityGroups) }

func (s *Service) registerStaleSecurityGroups(d *awsapi.EC2) {
	handle(d, "DescribeStaleSecurityGroups", s.describeStaleSecurityGroups)
}

func (s *Service) describeStaleSecurityGroups(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeStaleSecurityGroupsRequest) (*ec2api.DescribeStaleSecurityGroupsResult, error) {
	if deref(in.VpcId) == "" {
		return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter vpcId")
	}
	list, next, err := s.cloud.StaleSecurityGroups(ctx, scope(c), deref(in.VpcId), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeStaleSecurityGroupsResult{StaleSecurityGroupSet: make([]ec2api.StaleSecurityGroup, len(list))}
	for i, g := range list {
		out.StaleSecurityGroupSet[i] = ec2api.StaleSecurityGroup{
			GroupId: ptr(g.ID), GroupName: ptr(g.Name), Description: ptr(g.Description), VpcId: ptr(g.VpcID),
			StaleIpPermissions: stalePermissions(g.Ingress), StaleIpPermissionsEgress: stalePermissions(g.Egress),
		}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// stalePermissions shows stale rules as AWS does: grouped like IpPermissions, the
// peer groups without a peering status (the peering is what went away).
func stalePermissions(rules []cloud.SecurityGroupRule) []ec2api.StaleIpPermission {
	var out []ec2api.StaleIpPermission
	for _, p := range apiPermissions(rules) {
		pairs := p.UserIdGroupPairs
		for i := range pairs {
			pairs[i].PeeringStatus = nil
		}
		out = append(out, ec2api.StaleIpPermission{FromPort: p.FromPort, ToPort: p.ToPort, IpProtocol: p.IpProtocol, UserIdGroupPairs: pairs})
	}
	return out
}
