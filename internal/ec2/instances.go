package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
	"strato/internal/cloud/paging"
)

func init() { areas = append(areas, (*Service).registerInstances) }

func (s *Service) registerInstances(d *awsapi.EC2) {
	handle(d, "RunInstances", s.runInstances)
	handle(d, "DescribeInstances", s.describeInstances)
	handle(d, "StopInstances", s.stopInstances)
	handle(d, "StartInstances", s.startInstances)
	handle(d, "RebootInstances", s.rebootInstances)
	handle(d, "TerminateInstances", s.terminateInstances)
}

func (s *Service) runInstances(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RunInstancesRequest) (*ec2api.Reservation, error) {
	if err := s.applyLaunchTemplate(ctx, c, in); err != nil {
		return nil, err
	}
	if err := refuseUnsupportedLaunchOptions(in); err != nil {
		return nil, err
	}
	nics, err := launchInterfaces(in.NetworkInterfaces)
	if err != nil {
		return nil, err
	}
	bdms, err := launchBlockDevices(in.BlockDeviceMappings)
	if err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindInstance, cloud.KindVolume, cloud.KindNetworkInterface)
	if err != nil {
		return nil, err
	}
	req := cloud.RunRequest{
		ImageID: deref(in.ImageId), InstanceType: deref(in.InstanceType), MinCount: deref(in.MinCount), MaxCount: deref(in.MaxCount),
		KeyName: deref(in.KeyName), SubnetID: deref(in.SubnetId), SecurityGroupIDs: in.SecurityGroupIds, SecurityGroupNames: in.SecurityGroups,
		PrivateIP: deref(in.PrivateIpAddress), UserData: deref(in.UserData), DisableAPITermination: deref(in.DisableApiTermination),
		DisableAPIStop: deref(in.DisableApiStop), InstanceInitiatedShutdownBehavior: deref(in.InstanceInitiatedShutdownBehavior),
		EbsOptimized: deref(in.EbsOptimized), InstanceTags: tags[cloud.KindInstance], VolumeTags: tags[cloud.KindVolume],
		InterfaceTags: tags[cloud.KindNetworkInterface], Interfaces: nics, BlockDevices: bdms,
	}
	if in.Placement != nil {
		req.AvailabilityZone = deref(in.Placement.AvailabilityZone)
	}
	if m := in.MetadataOptions; m != nil {
		req.Metadata = cloud.MetadataOptions{
			HttpTokens: deref(m.HttpTokens), HttpPutResponseHopLimit: deref(m.HttpPutResponseHopLimit), HttpEndpoint: deref(m.HttpEndpoint),
			HttpProtocolIPv6: deref(m.HttpProtocolIpv6), InstanceMetadataTags: deref(m.InstanceMetadataTags),
		}
	}
	r, err := s.cloud.RunInstances(ctx, scope(c), deref(in.ClientToken), req)
	if err != nil {
		return nil, err
	}
	out := &ec2api.Reservation{ReservationId: ptr(r.ID), OwnerId: ptr(r.OwnerID), Groups: []ec2api.GroupIdentifier{}}
	for _, i := range r.Instances {
		out.Instances = append(out.Instances, apiInstance(i))
	}
	return out, nil
}

func (s *Service) describeInstances(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeInstancesRequest) (*ec2api.DescribeInstancesResult, error) {
	if err := paging.CheckIDsWithMaxResults("InstanceId", len(in.InstanceIds), in.MaxResults); err != nil {
		return nil, err
	}
	list, next, err := s.cloud.DescribeInstances(ctx, scope(c), in.InstanceIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInstancesResult{Reservations: []ec2api.Reservation{}}
	// Instances of one reservation are listed together, in the order the page
	// first met each reservation.
	index := map[string]int{}
	for _, v := range list {
		i, ok := index[v.ReservationID]
		if !ok {
			i = len(out.Reservations)
			index[v.ReservationID] = i
			out.Reservations = append(out.Reservations, ec2api.Reservation{
				ReservationId: ptr(v.ReservationID), OwnerId: ptr(v.OwnerID), Groups: []ec2api.GroupIdentifier{},
			})
		}
		out.Reservations[i].Instances = append(out.Reservations[i].Instances, apiInstance(v))
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func apiStateChanges(list []cloud.StateChange) []ec2api.InstanceStateChange {
	out := make([]ec2api.InstanceStateChange, len(list))
	for i, ch := range list {
		out[i] = ec2api.InstanceStateChange{InstanceId: ptr(ch.InstanceID), PreviousState: apiState(ch.PreviousState), CurrentState: apiState(ch.Current)}
	}
	return out
}

func apiState(name string) *ec2api.InstanceState {
	return &ec2api.InstanceState{Code: ptr(cloud.InstanceStateCode(name)), Name: ptr(name)}
}

func (s *Service) stopInstances(ctx context.Context, c *awsapi.EC2Call, in *ec2api.StopInstancesRequest) (*ec2api.StopInstancesResult, error) {
	if deref(in.Hibernate) {
		return nil, awsapi.Errorf("UnsupportedHibernationConfiguration", "For hibernation, the instance must have been launched with hibernation enabled, which strato does not support.")
	}
	list, err := s.cloud.StopInstances(ctx, scope(c), in.InstanceIds, deref(in.Force))
	if err != nil {
		return nil, err
	}
	return &ec2api.StopInstancesResult{StoppingInstances: apiStateChanges(list)}, nil
}

func (s *Service) startInstances(ctx context.Context, c *awsapi.EC2Call, in *ec2api.StartInstancesRequest) (*ec2api.StartInstancesResult, error) {
	list, err := s.cloud.StartInstances(ctx, scope(c), in.InstanceIds)
	if err != nil {
		return nil, err
	}
	return &ec2api.StartInstancesResult{StartingInstances: apiStateChanges(list)}, nil
}

func (s *Service) rebootInstances(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RebootInstancesRequest) (*struct{}, error) {
	return nil, s.cloud.RebootInstances(ctx, scope(c), in.InstanceIds)
}

func (s *Service) terminateInstances(ctx context.Context, c *awsapi.EC2Call, in *ec2api.TerminateInstancesRequest) (*ec2api.TerminateInstancesResult, error) {
	list, err := s.cloud.TerminateInstances(ctx, scope(c), in.InstanceIds)
	if err != nil {
		return nil, err
	}
	return &ec2api.TerminateInstancesResult{TerminatingInstances: apiStateChanges(list)}, nil
}
