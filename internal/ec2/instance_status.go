package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
	"strato/internal/cloud/paging"
)

func init() { areas = append(areas, (*Service).registerInstanceStatus) }

func (s *Service) registerInstanceStatus(d *awsapi.EC2) {
	handle(d, "DescribeInstanceStatus", s.describeInstanceStatus)
}

// maxStatusInstanceIDs is AWS's limit on InstanceId in DescribeInstanceStatus.
const maxStatusInstanceIDs = 100

func (s *Service) describeInstanceStatus(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeInstanceStatusRequest) (*ec2api.DescribeInstanceStatusResult, error) {
	if err := paging.CheckIDsWithMaxResults("InstanceId", len(in.InstanceIds), in.MaxResults); err != nil {
		return nil, err
	}
	if len(in.InstanceIds) > maxStatusInstanceIDs {
		return nil, invalidValue("The request names %d instance IDs; at most %d are allowed.", len(in.InstanceIds), maxStatusInstanceIDs)
	}
	list, next, err := s.cloud.DescribeInstanceStatus(ctx, scope(c), in.InstanceIds, deref(in.IncludeAllInstances), filters(in.Filters),
		cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInstanceStatusResult{InstanceStatuses: make([]ec2api.InstanceStatus, len(list))}
	for i, v := range list {
		out.InstanceStatuses[i] = ec2api.InstanceStatus{
			AvailabilityZone: ptr(v.AvailabilityZone), InstanceId: ptr(v.InstanceID),
			InstanceState: &ec2api.InstanceState{Code: ptr(cloud.InstanceStateCode(v.State)), Name: ptr(v.State)},
			SystemStatus:  apiStatusCheck(v.System), InstanceStatus: apiStatusCheck(v.Instance),
		}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// apiStatusCheck is a status check with its reachability detail (none when
// the check does not apply, as AWS shows a stopped instance).
func apiStatusCheck(ch cloud.StatusCheck) *ec2api.InstanceStatusSummary {
	out := &ec2api.InstanceStatusSummary{Status: ptr(ch.Status)}
	if ch.Reachability != "" {
		d := ec2api.InstanceStatusDetails{Name: ptr("reachability"), Status: ptr(ch.Reachability)}
		if !ch.ImpairedSince.IsZero() {
			d.ImpairedSince = ptr(ch.ImpairedSince)
		}
		out.Details = []ec2api.InstanceStatusDetails{d}
	}
	return out
}
