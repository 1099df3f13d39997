package ec2

import (
	"context"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerImages) }

func (s *Service) registerImages(d *awsapi.EC2) {
	handle(d, "RegisterImage", s.registerImage)
	handle(d, "DeregisterImage", s.deregisterImage)
	handle(d, "DescribeImages", s.describeImages)
	handle(d, "DescribeImageAttribute", s.describeImageAttribute)
	handle(d, "ModifyImageAttribute", s.modifyImageAttribute)
	handle(d, "ResetImageAttribute", s.resetImageAttribute)
	handle(d, "CopyImage", s.copyImage)
	handle(d, "CreateImage", s.createImage)
}

// EBS volume types a block device mapping may name.
var volumeTypes = map[string]bool{"gp2": true, "gp3": true, "io1": true, "io2": true, "st1": true, "sc1": true, "standard": true}

func imageBlockDevices(in []ec2api.BlockDeviceMapping) ([]cloud.ImageBlockDevice, error) {
	out := make([]cloud.ImageBlockDevice, 0, len(in))
	for i, m := range in {
		if m.DeviceName == nil {
			return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter BlockDeviceMapping.%d.DeviceName", i+1)
		}
		b := cloud.ImageBlockDevice{DeviceName: *m.DeviceName, VirtualName: deref(m.VirtualName), NoDevice: m.NoDevice != nil}
		if e := m.Ebs; e != nil {
			if e.OutpostArn != nil {
				return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
			}
			if e.VolumeType != nil && !volumeTypes[*e.VolumeType] {
				return nil, invalidValue("Value (%s) for parameter volumeType is invalid. Valid values are: gp2, gp3, io1, io2, st1, sc1, standard.", *e.VolumeType)
			}
			b.EBS = &cloud.ImageEBS{
				SnapshotID: deref(e.SnapshotId), VolumeSize: deref(e.VolumeSize), VolumeType: deref(e.VolumeType),
				IOPS: deref(e.Iops), Throughput: deref(e.Throughput),
				// AWS's default for a mapping of a registered image.
				DeleteOnTermination: e.DeleteOnTermination == nil || *e.DeleteOnTermination,
			}
		}
		out = append(out, b)
	}
	return out, nil
}

func (s *Service) registerImage(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RegisterImageRequest) (*ec2api.RegisterImageResult, error) {
	switch {
	case in.ImageLocation != nil && len(in.BlockDeviceMappings) == 0:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no S3 bundles to register instance-store images from; instance-store images come from `strato image import`.")
	case len(in.BillingProducts) > 0:
		return nil, awsapi.Errorf("InvalidParameter", "Billing products are not available on strato.")
	case in.UefiData != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato does not keep UEFI variable stores yet.")
	}
	devices, err := imageBlockDevices(in.BlockDeviceMappings)
	if err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindImage, cloud.KindSnapshot)
	if err != nil {
		return nil, err
	}
	img, err := s.cloud.RegisterImage(ctx, scope(c), cloud.ImageRequest{
		Name: deref(in.Name), Description: deref(in.Description), Architecture: deref(in.Architecture),
		VirtualizationType: deref(in.VirtualizationType), RootDeviceName: deref(in.RootDeviceName),
		BlockDevices: devices, BootMode: deref(in.BootMode), TPMSupport: deref(in.TpmSupport),
		IMDSSupport: deref(in.ImdsSupport), SriovNetSupport: deref(in.SriovNetSupport), ENASupport: deref(in.EnaSupport),
		KernelID: deref(in.KernelId), RamdiskID: deref(in.RamdiskId), Tags: tags[cloud.KindImage],
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.RegisterImageResult{ImageId: &img.ID}, nil
}

func (s *Service) deregisterImage(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeregisterImageRequest) (*struct{}, error) {
	id := deref(in.ImageId)
	if err := checkImageID(id); err != nil {
		return nil, err
	}
	return nil, s.cloud.DeregisterImage(ctx, scope(c), id)
}

// checkImageID refuses IDs that cannot be image IDs, as AWS does.
func checkImageID(id string) error {
	if !cloud.ValidID("ami", id) && !cloud.ValidID("aki", id) && !cloud.ValidID("ari", id) {
		return awsapi.Errorf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
	}
	return nil
}

func apiImage(img cloud.Image) ec2api.Image {
	out := ec2api.Image{
		Architecture: ptr(img.Architecture), CreationDate: ptr(img.CreationDate()), ImageId: ptr(img.ID),
		ImageLocation: ptr(img.Location()), ImageType: ptr("machine"), Public: ptr(img.Public),
		KernelId: optional(img.KernelID), RamdiskId: optional(img.RamdiskID), OwnerId: ptr(img.OwnerID),
		PlatformDetails: ptr("Linux/UNIX"), UsageOperation: ptr("RunInstances"), State: ptr(img.State),
		Description: optional(img.Description), EnaSupport: ptr(img.ENASupport), Hypervisor: ptr("xen"),
		ImageOwnerAlias: optional(img.OwnerAlias), Name: ptr(img.Name), RootDeviceName: ptr(img.RootDeviceName),
		RootDeviceType: ptr(img.RootDeviceType), SriovNetSupport: optional(img.SriovNetSupport),
		VirtualizationType: ptr(img.VirtualizationType), BootMode: optional(img.BootMode),
		TpmSupport: optional(img.TPMSupport), ImdsSupport: optional(img.IMDSSupport),
		SourceInstanceId: optional(img.SourceInstanceID), DeregistrationProtection: ptr("disabled"),
		BlockDeviceMappings: apiImageBlockDevices(img.BlockDevices), Tags: apiTags(img.Tags),
	}
	return out
}

func apiImageBlockDevices(in []cloud.ImageBlockDevice) []ec2api.BlockDeviceMapping {
	out := make([]ec2api.BlockDeviceMapping, len(in))
	for i, b := range in {
		m := ec2api.BlockDeviceMapping{DeviceName: ptr(b.DeviceName), VirtualName: optional(b.VirtualName)}
		if b.NoDevice {
			m.NoDevice = ptr("")
		}
		if e := b.EBS; e != nil {
			m.Ebs = &ec2api.EbsBlockDevice{
				DeleteOnTermination: ptr(e.DeleteOnTermination), SnapshotId: optional(e.SnapshotID),
				VolumeSize: ptr(e.VolumeSize), VolumeType: ptr(e.VolumeType), Encrypted: ptr(e.Encrypted),
			}
			if e.IOPS > 0 {
				m.Ebs.Iops = ptr(e.IOPS)
			}
			if e.Throughput > 0 {
				m.Ebs.Throughput = ptr(e.Throughput)
			}
		}
		out[i] = m
	}
	return out
}

func (s *Service) describeImages(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeImagesRequest) (*ec2api.DescribeImagesResult, error) {
	for _, id := range in.ImageIds {
		if err := checkImageID(id); err != nil {
			return nil, err
		}
	}
	list, next, err := s.cloud.DescribeImages(ctx, scope(c), cloud.ImageQuery{
		ImageIDs: in.ImageIds, Owners: in.Owners, ExecutableUsers: in.ExecutableUsers, Filters: filters(in.Filters),
		Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken},
	})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeImagesResult{Images: make([]ec2api.Image, len(list))}
	for i, img := range list {
		out.Images[i] = apiImage(img)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// Image attributes DescribeImageAttribute answers.
var imageAttributes = []string{"description", "kernel", "ramdisk", "launchPermission", "productCodes", "blockDeviceMapping",
	"sriovNetSupport", "bootMode", "tpmSupport", "uefiData", "lastLaunchedTime", "imdsSupport", "deregistrationProtection"}

func (s *Service) describeImageAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeImageAttributeRequest) (*ec2api.ImageAttribute, error) {
	attr, id := deref(in.Attribute), deref(in.ImageId)
	known := false
	for _, a := range imageAttributes {
		known = known || a == attr
	}
	if !known {
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. Valid values are: %s", attr, strings.Join(imageAttributes, ", "))
	}
	if err := checkImageID(id); err != nil {
		return nil, err
	}
	img, err := s.cloud.GetImage(ctx, scope(c), id)
	if err != nil {
		return nil, err
	}
	if attr == "launchPermission" && img.OwnerID != c.AccountID {
		return nil, awsapi.Errorf("AuthFailure", "Not authorized for image:%s", id)
	}
	out := &ec2api.ImageAttribute{ImageId: &img.ID}
	value := func(v string) *ec2api.AttributeValue {
		if v == "" {
			return &ec2api.AttributeValue{}
		}
		return &ec2api.AttributeValue{Value: &v}
	}
	switch attr {
	case "description":
		out.Description = value(img.Description)
	case "kernel":
		out.KernelId = value(img.KernelID)
	case "ramdisk":
		out.RamdiskId = value(img.RamdiskID)
	case "launchPermission":
		out.LaunchPermissions = []ec2api.LaunchPermission{}
		if img.Public {
			out.LaunchPermissions = append(out.LaunchPermissions, ec2api.LaunchPermission{Group: ptr("all")})
		}
		for _, u := range img.LaunchPermissions {
			out.LaunchPermissions = append(out.LaunchPermissions, ec2api.LaunchPermission{UserId: ptr(u)})
		}
	case "productCodes":
		out.ProductCodes = []ec2api.ProductCode{}
	case "blockDeviceMapping":
		out.BlockDeviceMappings = apiImageBlockDevices(img.BlockDevices)
	case "sriovNetSupport":
		out.SriovNetSupport = value(img.SriovNetSupport)
	case "bootMode":
		out.BootMode = value(img.BootMode)
	case "tpmSupport":
		out.TpmSupport = value(img.TPMSupport)
	case "uefiData":
		out.UefiData = value("")
	case "lastLaunchedTime":
		out.LastLaunchedTime = value("")
	case "imdsSupport":
		out.ImdsSupport = value(img.IMDSSupport)
	case "deregistrationProtection":
		out.DeregistrationProtection = value("disabled")
	}
	return out, nil
}

func (s *Service) modifyImageAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyImageAttributeRequest) (*struct{}, error) {
	id := deref(in.ImageId)
	if err := checkImageID(id); err != nil {
		return nil, err
	}
	switch {
	case len(in.ProductCodes) > 0:
		return nil, awsapi.Errorf("InvalidParameter", "Product codes are not available on strato.")
	case len(in.OrganizationArns) > 0 || len(in.OrganizationalUnitArns) > 0:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no AWS Organizations; share images with account IDs or all.")
	case in.ImdsSupport != nil:
		return nil, awsapi.Errorf("UnsupportedOperation", "strato cannot change an image's IMDS support after registration yet.")
	}
	attr := deref(in.Attribute)
	if in.Description != nil || attr == "description" {
		v := deref(in.Value)
		if in.Description != nil {
			v = deref(in.Description.Value)
		}
		return nil, s.cloud.SetImageDescription(ctx, scope(c), id, v)
	}
	var ch cloud.LaunchPermissionChange
	add := func(p ec2api.LaunchPermission, adding bool) error {
		switch {
		case p.Group != nil && *p.Group != "all":
			return invalidValue("Value (%s) for parameter group is invalid. Valid values are: all.", *p.Group)
		case p.Group != nil && adding:
			ch.AddAll = true
		case p.Group != nil:
			ch.RemoveAll = true
		case p.UserId != nil && adding:
			ch.AddUsers = append(ch.AddUsers, *p.UserId)
		case p.UserId != nil:
			ch.RemoveUsers = append(ch.RemoveUsers, *p.UserId)
		case p.OrganizationArn != nil || p.OrganizationalUnitArn != nil:
			return awsapi.Errorf("UnsupportedOperation", "strato has no AWS Organizations; share images with account IDs or all.")
		}
		return nil
	}
	if lp := in.LaunchPermission; lp != nil {
		for _, p := range lp.Add {
			if err := add(p, true); err != nil {
				return nil, err
			}
		}
		for _, p := range lp.Remove {
			if err := add(p, false); err != nil {
				return nil, err
			}
		}
	}
	if len(in.UserIds) > 0 || len(in.UserGroups) > 0 {
		if attr != "" && attr != "launchPermission" {
			return nil, awsapi.Errorf("InvalidParameterCombination", "UserId and UserGroup go with the launchPermission attribute.")
		}
		op := deref(in.OperationType)
		if op != "add" && op != "remove" {
			return nil, invalidValue("Value (%s) for parameter operationType is invalid. Valid values are: add, remove.", op)
		}
		for _, u := range in.UserIds {
			if err := add(ec2api.LaunchPermission{UserId: ptr(u)}, op == "add"); err != nil {
				return nil, err
			}
		}
		for _, g := range in.UserGroups {
			if err := add(ec2api.LaunchPermission{Group: ptr(g)}, op == "add"); err != nil {
				return nil, err
			}
		}
	}
	if !ch.AddAll && !ch.RemoveAll && len(ch.AddUsers) == 0 && len(ch.RemoveUsers) == 0 {
		return nil, missing("LaunchPermission or Description")
	}
	return nil, s.cloud.ModifyImageLaunchPermission(ctx, scope(c), id, ch)
}

func (s *Service) resetImageAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ResetImageAttributeRequest) (*struct{}, error) {
	if attr := deref(in.Attribute); attr != "launchPermission" {
		return nil, invalidValue("Value (%s) for parameter attribute is invalid. The only attribute that can be reset is launchPermission.", attr)
	}
	id := deref(in.ImageId)
	if err := checkImageID(id); err != nil {
		return nil, err
	}
	return nil, s.cloud.ResetImageLaunchPermission(ctx, scope(c), id)
}

func (s *Service) copyImage(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CopyImageRequest) (*ec2api.CopyImageResult, error) {
	if in.DestinationOutpostArn != nil {
		return nil, awsapi.Errorf("UnsupportedOperation", "strato has no Outposts.")
	}
	if err := checkImageID(deref(in.SourceImageId)); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindImage, cloud.KindSnapshot)
	if err != nil {
		return nil, err
	}
	img, err := s.cloud.CopyImage(ctx, scope(c), cloud.CopyImageRequest{
		SourceRegion: deref(in.SourceRegion), SourceImageID: deref(in.SourceImageId), Name: deref(in.Name),
		Description: deref(in.Description), Encrypted: deref(in.Encrypted), KMSKeyID: deref(in.KmsKeyId),
		CopyTags: deref(in.CopyImageTags), Tags: tags[cloud.KindImage], ClientToken: deref(in.ClientToken),
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CopyImageResult{ImageId: &img.ID}, nil
}

func (s *Service) createImage(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateImageRequest) (*ec2api.CreateImageResult, error) {
	devices, err := imageBlockDevices(in.BlockDeviceMappings)
	if err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindImage, cloud.KindSnapshot)
	if err != nil {
		return nil, err
	}
	img, err := s.cloud.CreateImage(ctx, scope(c), cloud.CreateImageRequest{
		InstanceID: deref(in.InstanceId), Name: deref(in.Name), Description: deref(in.Description),
		NoReboot: deref(in.NoReboot), BlockDevices: devices, Tags: tags[cloud.KindImage],
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateImageResult{ImageId: &img.ID}, nil
}
