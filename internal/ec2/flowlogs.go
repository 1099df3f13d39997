package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerFlowLogs) }

func (s *Service) registerFlowLogs(d *awsapi.EC2) {
	handle(d, "CreateFlowLogs", s.createFlowLogs)
	handle(d, "DeleteFlowLogs", s.deleteFlowLogs)
	handle(d, "DescribeFlowLogs", s.describeFlowLogs)
}

func apiFlowLog(f cloud.FlowLog) ec2api.FlowLog {
	return ec2api.FlowLog{
		FlowLogId: ptr(f.ID), ResourceId: ptr(f.ResourceID), TrafficType: ptr(f.TrafficType), CreationTime: ptr(f.CreatedAt),
		FlowLogStatus: ptr(cloud.FlowLogActive), DeliverLogsStatus: ptr(cloud.FlowLogDeliverSuccess),
		LogDestinationType: ptr(f.DestinationType), LogDestination: ptr(f.Destination), LogGroupName: optional(f.LogGroupName),
		DeliverLogsPermissionArn: optional(f.DeliverLogsPermissionArn), DeliverCrossAccountRole: optional(f.DeliverCrossAccountRole),
		LogFormat: ptr(f.Format), MaxAggregationInterval: ptr(int32(f.MaxAggregationInterval)), Tags: apiTags(f.Tags),
	}
}

// unsuccessful is how AWS reports the items of a request it could not act on.
func unsuccessful(failed []cloud.FlowLogFailure) []ec2api.UnsuccessfulItem {
	out := []ec2api.UnsuccessfulItem{}
	for _, f := range failed {
		e, _ := awsapi.AsError(toAPIError(f.Err()))
		out = append(out, ec2api.UnsuccessfulItem{
			ResourceId: ptr(f.ID), Error: &ec2api.UnsuccessfulItemError{Code: ptr(e.Code), Message: ptr(e.Message)},
		})
	}
	return out
}

func (s *Service) createFlowLogs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateFlowLogsRequest) (*ec2api.CreateFlowLogsResult, error) {
	if in.DestinationOptions != nil && deref(in.LogDestinationType) != cloud.FlowLogDestinationS3 {
		return nil, awsapi.Errorf("InvalidParameter", "DestinationOptions apply only to flow logs published to Amazon S3.")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindFlowLog)
	if err != nil {
		return nil, err
	}
	out, err := s.cloud.CreateFlowLogs(ctx, scope(c), deref(in.ClientToken), cloud.FlowLogRequest{
		ResourceType: deref(in.ResourceType), ResourceIDs: in.ResourceIds, TrafficType: deref(in.TrafficType),
		DestinationType: deref(in.LogDestinationType), Destination: deref(in.LogDestination), LogGroupName: deref(in.LogGroupName),
		DeliverLogsPermissionArn: deref(in.DeliverLogsPermissionArn), DeliverCrossAccountRole: deref(in.DeliverCrossAccountRole),
		Format: deref(in.LogFormat), MaxAggregationInterval: int(deref(in.MaxAggregationInterval)), Tags: tags[cloud.KindFlowLog],
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateFlowLogsResult{ClientToken: in.ClientToken, FlowLogIds: out.IDs, Unsuccessful: unsuccessful(out.Unsuccessful)}, nil
}

func (s *Service) deleteFlowLogs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteFlowLogsRequest) (*ec2api.DeleteFlowLogsResult, error) {
	failed, err := s.cloud.DeleteFlowLogs(ctx, scope(c), in.FlowLogIds)
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteFlowLogsResult{Unsuccessful: unsuccessful(failed)}, nil
}

func (s *Service) describeFlowLogs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeFlowLogsRequest) (*ec2api.DescribeFlowLogsResult, error) {
	list, next, err := s.cloud.DescribeFlowLogs(ctx, scope(c), in.FlowLogIds, filters(in.Filter), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeFlowLogsResult{FlowLogs: make([]ec2api.FlowLog, len(list))}
	for i, f := range list {
		out.FlowLogs[i] = apiFlowLog(f)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
