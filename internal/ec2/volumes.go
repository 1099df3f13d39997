package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
	"strato/internal/cloud/paging"
)

func init() { areas = append(areas, (*Service).registerVolumes) }

func (s *Service) registerVolumes(d *awsapi.EC2) {
	handle(d, "CreateVolume", s.createVolume)
	handle(d, "DeleteVolume", s.deleteVolume)
	handle(d, "DescribeVolumes", s.describeVolumes)
	handle(d, "DescribeVolumeStatus", s.describeVolumeStatus)
	handle(d, "DescribeVolumeAttribute", s.describeVolumeAttribute)
	handle(d, "ModifyVolumeAttribute", s.modifyVolumeAttribute)
	handle(d, "ModifyVolume", s.modifyVolume)
	handle(d, "DescribeVolumesModifications", s.describeVolumesModifications)
	handle(d, "AttachVolume", s.attachVolume)
	handle(d, "DetachVolume", s.detachVolume)
}

func apiVolume(v cloud.Volume) ec2api.Volume {
	out := ec2api.Volume{
		VolumeId: ptr(v.ID), AvailabilityZone: ptr(v.AvailabilityZone), CreateTime: ptr(v.CreatedAt), Encrypted: ptr(v.Encrypted),
		KmsKeyId: optional(v.KMSKeyARN), Size: ptr(v.Size), SnapshotId: ptr(v.SnapshotID), State: ptr(v.State),
		VolumeType: ptr(v.VolumeType), Tags: apiTags(v.Tags), FastRestored: ptr(false), MultiAttachEnabled: ptr(v.MultiAttach),
		Attachments: []ec2api.VolumeAttachment{},
	}
	if iops := v.ReportedIOPS(); iops != 0 {
		out.Iops = &iops
	}
	if v.Throughput != 0 {
		out.Throughput = ptr(v.Throughput)
	}
	for _, a := range v.Attachments {
		out.Attachments = append(out.Attachments, apiVolumeAttachment(v.ID, a))
	}
	return out
}

func apiVolumeAttachment(volumeID string, a cloud.VolumeAttachment) ec2api.VolumeAttachment {
	return ec2api.VolumeAttachment{
		VolumeId: ptr(volumeID), InstanceId: ptr(a.InstanceID), Device: ptr(a.Device), State: ptr(a.State),
		AttachTime: ptr(a.AttachTime), DeleteOnTermination: ptr(a.DeleteOnTermination),
	}
}

func (s *Service) createVolume(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateVolumeRequest) (*ec2api.Volume, error) {
	if in.OutpostArn != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindVolume)
	if err != nil {
		return nil, err
	}
	v, err := s.cloud.CreateVolume(ctx, scope(c), deref(in.ClientToken), cloud.VolumeRequest{
		AvailabilityZone: deref(in.AvailabilityZone), Size: deref(in.Size), SnapshotID: deref(in.SnapshotId),
		VolumeType: deref(in.VolumeType), IOPS: deref(in.Iops), Throughput: deref(in.Throughput), Encrypted: deref(in.Encrypted),
		KMSKeyID: deref(in.KmsKeyId), MultiAttach: deref(in.MultiAttachEnabled), Tags: tags[cloud.KindVolume],
	})
	if err != nil {
		return nil, err
	}
	out := apiVolume(v)
	out.Attachments = nil
	return &out, nil
}

func (s *Service) deleteVolume(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteVolumeRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteVolume(ctx, scope(c), deref(in.VolumeId))
}

func (s *Service) describeVolumes(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVolumesRequest) (*ec2api.DescribeVolumesResult, error) {
	if err := paging.CheckIDsWithMaxResults("VolumeId", len(in.VolumeIds), in.MaxResults); err != nil {
		return nil, err
	}
	list, next, err := s.cloud.DescribeVolumes(ctx, scope(c), in.VolumeIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVolumesResult{Volumes: make([]ec2api.Volume, len(list))}
	for i, v := range list {
		out.Volumes[i] = apiVolume(v)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) describeVolumeStatus(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVolumeStatusRequest) (*ec2api.DescribeVolumeStatusResult, error) {
	if err := paging.CheckIDsWithMaxResults("VolumeId", len(in.VolumeIds), in.MaxResults); err != nil {
		return nil, err
	}
	list, next, err := s.cloud.DescribeVolumeStatus(ctx, scope(c), in.VolumeIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVolumeStatusResult{VolumeStatuses: make([]ec2api.VolumeStatusItem, len(list))}
	for i, v := range list {
		ioEnabled, perf := v.IOEnabled, "normal"
		if ioEnabled == "" {
			ioEnabled, perf = "insufficient-data", "insufficient-data"
		}
		out.VolumeStatuses[i] = ec2api.VolumeStatusItem{
			VolumeId: ptr(v.VolumeID), AvailabilityZone: ptr(v.AvailabilityZone),
			VolumeStatus: &ec2api.VolumeStatusInfo{Status: ptr(v.Status), Details: []ec2api.VolumeStatusDetails{
				{Name: ptr("io-enabled"), Status: ptr(ioEnabled)}, {Name: ptr("io-performance"), Status: ptr(perf)},
			}},
			Actions: []ec2api.VolumeStatusAction{}, Events: []ec2api.VolumeStatusEvent{},
		}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) describeVolumeAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVolumeAttributeRequest) (*ec2api.DescribeVolumeAttributeResult, error) {
	v, err := s.cloud.GetVolume(ctx, scope(c), deref(in.VolumeId))
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVolumeAttributeResult{VolumeId: ptr(v.ID)}
	switch attr := deref(in.Attribute); attr {
	case "autoEnableIO":
		out.AutoEnableIO = &ec2api.AttributeBooleanValue{Value: ptr(v.AutoEnableIO)}
	case "productCodes":
		out.ProductCodes = []ec2api.ProductCode{}
	default:
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. Valid values: autoEnableIO, productCodes", attr)
	}
	return out, nil
}

func (s *Service) modifyVolumeAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyVolumeAttributeRequest) (*struct{}, error) {
	if in.AutoEnableIO == nil || in.AutoEnableIO.Value == nil {
		return nil, missing("AutoEnableIO")
	}
	return nil, s.cloud.SetVolumeAutoEnableIO(ctx, scope(c), deref(in.VolumeId), *in.AutoEnableIO.Value)
}

func apiModification(volumeID string, m cloud.VolumeModification) ec2api.VolumeModification {
	out := ec2api.VolumeModification{
		VolumeId: ptr(volumeID), ModificationState: ptr(m.State), StatusMessage: optional(m.StatusMessage),
		TargetSize: ptr(m.Target.Size), TargetVolumeType: ptr(m.Target.VolumeType), TargetMultiAttachEnabled: ptr(m.Target.MultiAttach),
		OriginalSize: ptr(m.Original.Size), OriginalVolumeType: ptr(m.Original.VolumeType), OriginalMultiAttachEnabled: ptr(m.Original.MultiAttach),
		Progress: ptr(m.Progress), StartTime: ptr(m.StartTime),
	}
	original := cloud.Volume{Size: m.Original.Size, VolumeType: m.Original.VolumeType, IOPS: m.Original.IOPS}
	target := cloud.Volume{Size: m.Target.Size, VolumeType: m.Target.VolumeType, IOPS: m.Target.IOPS}
	if iops := original.ReportedIOPS(); iops != 0 {
		out.OriginalIops = &iops
	}
	if iops := target.ReportedIOPS(); iops != 0 {
		out.TargetIops = &iops
	}
	if m.Original.Throughput != 0 {
		out.OriginalThroughput = ptr(m.Original.Throughput)
	}
	if m.Target.Throughput != 0 {
		out.TargetThroughput = ptr(m.Target.Throughput)
	}
	if !m.EndTime.IsZero() {
		out.EndTime = ptr(m.EndTime)
	}
	return out
}

func (s *Service) modifyVolume(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyVolumeRequest) (*ec2api.ModifyVolumeResult, error) {
	m, err := s.cloud.ModifyVolume(ctx, scope(c), deref(in.VolumeId), cloud.ModifyVolumeRequest{
		Size: deref(in.Size), VolumeType: deref(in.VolumeType), IOPS: deref(in.Iops), Throughput: deref(in.Throughput), MultiAttach: in.MultiAttachEnabled,
	})
	if err != nil {
		return nil, err
	}
	api := apiModification(deref(in.VolumeId), m)
	return &ec2api.ModifyVolumeResult{VolumeModification: &api}, nil
}

func (s *Service) describeVolumesModifications(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeVolumesModificationsRequest) (*ec2api.DescribeVolumesModificationsResult, error) {
	list, next, err := s.cloud.DescribeVolumesModifications(ctx, scope(c), in.VolumeIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVolumesModificationsResult{VolumesModifications: make([]ec2api.VolumeModification, len(list))}
	for i, m := range list {
		out.VolumesModifications[i] = apiModification(m.VolumeID, m.VolumeModification)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) attachVolume(ctx context.Context, c *awsapi.EC2Call, in *ec2api.AttachVolumeRequest) (*ec2api.VolumeAttachment, error) {
	a, err := s.cloud.AttachVolume(ctx, scope(c), deref(in.VolumeId), deref(in.InstanceId), deref(in.Device))
	if err != nil {
		return nil, err
	}
	out := apiVolumeAttachment(deref(in.VolumeId), a)
	out.DeleteOnTermination = nil
	return &out, nil
}

func (s *Service) detachVolume(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DetachVolumeRequest) (*ec2api.VolumeAttachment, error) {
	a, err := s.cloud.DetachVolume(ctx, scope(c), deref(in.VolumeId), deref(in.InstanceId), deref(in.Device), deref(in.Force))
	if err != nil {
		return nil, err
	}
	out := apiVolumeAttachment(deref(in.VolumeId), a)
	out.DeleteOnTermination = nil
	return &out, nil
}
