package ec2

import (
	"context"
	"strconv"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
	"strato/internal/cloud/paging"
)

func init() { areas = append(areas, (*Service).registerSnapshots) }

func (s *Service) registerSnapshots(d *awsapi.EC2) {
	handle(d, "CreateSnapshot", s.createSnapshot)
	handle(d, "CreateSnapshots", s.createSnapshots)
	handle(d, "CopySnapshot", s.copySnapshot)
	handle(d, "DeleteSnapshot", s.deleteSnapshot)
	handle(d, "DescribeSnapshots", s.describeSnapshots)
	handle(d, "DescribeSnapshotAttribute", s.describeSnapshotAttribute)
	handle(d, "ModifySnapshotAttribute", s.modifySnapshotAttribute)
	handle(d, "ResetSnapshotAttribute", s.resetSnapshotAttribute)
}

func apiSnapshot(v cloud.Snapshot) ec2api.Snapshot {
	return ec2api.Snapshot{
		SnapshotId: ptr(v.ID), OwnerId: ptr(v.OwnerID), OwnerAlias: optional(v.OwnerAlias()), VolumeId: ptr(v.VolumeID),
		VolumeSize: ptr(v.VolumeSize), Description: ptr(v.Description), Encrypted: ptr(v.Encrypted), KmsKeyId: optional(v.KMSKeyARN),
		State: ptr(v.State), StateMessage: optional(v.StateMessage), Progress: ptr(strconv.Itoa(v.Progress) + "%"),
		StartTime: ptr(v.StartTime), StorageTier: ptr("standard"), Tags: apiTags(v.Tags),
	}
}

func (s *Service) createSnapshot(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateSnapshotRequest) (*ec2api.Snapshot, error) {
	if in.OutpostArn != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindSnapshot)
	if err != nil {
		return nil, err
	}
	snap, err := s.cloud.CreateSnapshot(ctx, scope(c), deref(in.VolumeId), deref(in.Description), tags[cloud.KindSnapshot])
	if err != nil {
		return nil, err
	}
	out := apiSnapshot(snap)
	out.StorageTier = nil
	return &out, nil
}

func (s *Service) createSnapshots(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateSnapshotsRequest) (*ec2api.CreateSnapshotsResult, error) {
	if in.OutpostArn != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
	}
	spec := in.InstanceSpecification
	if spec == nil || spec.InstanceId == nil {
		return nil, missing("InstanceSpecification.InstanceId")
	}
	if v := deref(in.CopyTagsFromSource); v != "" && v != "volume" {
		return nil, invalidValue("Value (%s) for parameter CopyTagsFromSource is invalid. Valid values: volume", v)
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindSnapshot)
	if err != nil {
		return nil, err
	}
	snaps, err := s.cloud.CreateSnapshots(ctx, scope(c), *spec.InstanceId, deref(spec.ExcludeBootVolume), spec.ExcludeDataVolumeIds,
		deref(in.Description), tags[cloud.KindSnapshot], deref(in.CopyTagsFromSource) == "volume")
	if err != nil {
		return nil, err
	}
	out := &ec2api.CreateSnapshotsResult{Snapshots: make([]ec2api.SnapshotInfo, len(snaps))}
	for i, v := range snaps {
		out.Snapshots[i] = ec2api.SnapshotInfo{
			SnapshotId: ptr(v.ID), OwnerId: ptr(v.OwnerID), VolumeId: ptr(v.VolumeID), VolumeSize: ptr(v.VolumeSize),
			Description: ptr(v.Description), Encrypted: ptr(v.Encrypted), State: ptr(v.State),
			Progress: ptr(strconv.Itoa(v.Progress) + "%"), StartTime: ptr(v.StartTime), Tags: apiTags(v.Tags),
		}
	}
	return out, nil
}

func (s *Service) copySnapshot(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CopySnapshotRequest) (*ec2api.CopySnapshotResult, error) {
	if in.DestinationOutpostArn != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
	}
	// DestinationRegion and PresignedUrl belong to the old cross-Region protocol
	// in which the SDK signed a request for the source Region; the copy is made
	// in the Region the request is sent to, so both are ignored, as AWS does.
	tags, err := specTags(in.TagSpecifications, cloud.KindSnapshot)
	if err != nil {
		return nil, err
	}
	snap, err := s.cloud.CopySnapshot(ctx, scope(c), cloud.CopySnapshotRequest{
		SourceRegion: deref(in.SourceRegion), SourceSnapshotID: deref(in.SourceSnapshotId), Description: deref(in.Description),
		Encrypted: deref(in.Encrypted), KMSKeyID: deref(in.KmsKeyId), Tags: tags[cloud.KindSnapshot],
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CopySnapshotResult{SnapshotId: ptr(snap.ID), Tags: apiTags(snap.Tags)}, nil
}

func (s *Service) deleteSnapshot(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteSnapshotRequest) (*struct{}, error) {
	return nil, s.cloud.DeleteSnapshot(ctx, scope(c), deref(in.SnapshotId))
}

func (s *Service) describeSnapshots(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeSnapshotsRequest) (*ec2api.DescribeSnapshotsResult, error) {
	if err := paging.CheckIDsWithMaxResults("SnapshotId", len(in.SnapshotIds), in.MaxResults); err != nil {
		return nil, err
	}
	list, next, err := s.cloud.DescribeSnapshots(ctx, scope(c), cloud.SnapshotQuery{
		IDs: in.SnapshotIds, OwnerIDs: in.OwnerIds, RestorableBy: in.RestorableByUserIds, Filters: filters(in.Filters),
		Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken},
	})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSnapshotsResult{Snapshots: make([]ec2api.Snapshot, len(list))}
	for i, v := range list {
		out.Snapshots[i] = apiSnapshot(v)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func snapshotAttribute(attr string) error {
	switch attr {
	case cloud.AttrCreateVolumePermission, cloud.AttrProductCodes:
		return nil
	}
	return invalidValue("Value (%s) for parameter attribute is invalid. Valid values: productCodes, createVolumePermission", attr)
}

func (s *Service) describeSnapshotAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeSnapshotAttributeRequest) (*ec2api.DescribeSnapshotAttributeResult, error) {
	attr := deref(in.Attribute)
	if err := snapshotAttribute(attr); err != nil {
		return nil, err
	}
	perms, err := s.cloud.SnapshotPermissions(ctx, scope(c), deref(in.SnapshotId))
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSnapshotAttributeResult{SnapshotId: in.SnapshotId}
	if attr == cloud.AttrProductCodes {
		out.ProductCodes = []ec2api.ProductCode{}
		return out, nil
	}
	out.CreateVolumePermissions = []ec2api.CreateVolumePermission{}
	for _, p := range perms {
		if p == cloud.PublicGroup {
			out.CreateVolumePermissions = append(out.CreateVolumePermissions, ec2api.CreateVolumePermission{Group: ptr(p)})
		} else {
			out.CreateVolumePermissions = append(out.CreateVolumePermissions, ec2api.CreateVolumePermission{UserId: ptr(p)})
		}
	}
	return out, nil
}

// modifySnapshotAttribute takes the permission changes in either of AWS's two
// forms: CreateVolumePermission.Add/Remove, or OperationType with UserId and
// UserGroup.
func (s *Service) modifySnapshotAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifySnapshotAttributeRequest) (*struct{}, error) {
	attr := deref(in.Attribute)
	if attr == "" {
		attr = cloud.AttrCreateVolumePermission
	}
	if err := snapshotAttribute(attr); err != nil {
		return nil, err
	}
	if attr != cloud.AttrCreateVolumePermission {
		return nil, invalidValue("The attribute %s cannot be modified; only createVolumePermission can.", attr)
	}
	var add, remove []string
	entry := func(p ec2api.CreateVolumePermission) (string, error) {
		switch {
		case p.Group != nil && p.UserId != nil:
			return "", awsapi.Errorf("InvalidParameterCombination", "A permission names either a group or a user, not both.")
		case p.Group != nil:
			return groupName(*p.Group)
		case p.UserId != nil:
			return *p.UserId, nil
		}
		return "", missing("UserId or Group")
	}
	if m := in.CreateVolumePermission; m != nil {
		for _, p := range m.Add {
			e, err := entry(p)
			if err != nil {
				return nil, err
			}
			add = append(add, e)
		}
		for _, p := range m.Remove {
			e, err := entry(p)
			if err != nil {
				return nil, err
			}
			remove = append(remove, e)
		}
	}
	if len(in.UserIds) > 0 || len(in.GroupNames) > 0 {
		list := append([]string(nil), in.UserIds...)
		for _, g := range in.GroupNames {
			name, err := groupName(g)
			if err != nil {
				return nil, err
			}
			list = append(list, name)
		}
		switch op := deref(in.OperationType); op {
		case "add":
			add = append(add, list...)
		case "remove":
			remove = append(remove, list...)
		case "":
			return nil, missing("OperationType")
		default:
			return nil, invalidValue("Value (%s) for parameter operationType is invalid. Valid values: add, remove", op)
		}
	}
	if len(add)+len(remove) == 0 {
		return nil, missing("CreateVolumePermission")
	}
	if len(add)+len(remove) > 500 {
		return nil, invalidValue("A request may make at most 500 modifications to a snapshot's permissions.")
	}
	return nil, s.cloud.ModifySnapshotPermissions(ctx, scope(c), deref(in.SnapshotId), add, remove)
}

func groupName(g string) (string, error) {
	if g != cloud.PublicGroup {
		return "", invalidValue("Value (%s) for parameter group is invalid. Valid values: all", g)
	}
	return g, nil
}

func (s *Service) resetSnapshotAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ResetSnapshotAttributeRequest) (*struct{}, error) {
	if attr := deref(in.Attribute); attr != cloud.AttrCreateVolumePermission {
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. Only createVolumePermission can be reset.", attr)
	}
	return nil, s.cloud.ResetSnapshotPermissions(ctx, scope(c), deref(in.SnapshotId))
}
