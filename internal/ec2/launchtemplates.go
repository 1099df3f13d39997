package ec2

import (
	"context"
	"reflect"
	"slices"
	"strconv"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerLaunchTemplates) }

func (s *Service) registerLaunchTemplates(d *awsapi.EC2) {
	handle(d, "CreateLaunchTemplate", s.createLaunchTemplate)
	handle(d, "CreateLaunchTemplateVersion", s.createLaunchTemplateVersion)
	handle(d, "DescribeLaunchTemplates", s.describeLaunchTemplates)
	handle(d, "DescribeLaunchTemplateVersions", s.describeLaunchTemplateVersions)
	handle(d, "ModifyLaunchTemplate", s.modifyLaunchTemplate)
	handle(d, "DeleteLaunchTemplate", s.deleteLaunchTemplate)
	handle(d, "DeleteLaunchTemplateVersions", s.deleteLaunchTemplateVersions)
	handle(d, "GetLaunchTemplateData", s.getLaunchTemplateData)
}

// callerARN is who CreatedBy names: the account's root, as strato has no IAM users yet.
func callerARN(c *awsapi.EC2Call) string { return "arn:aws:iam::" + c.AccountID + ":root" }

func templateRef(id, name *string) cloud.LaunchTemplateRef {
	return cloud.LaunchTemplateRef{ID: deref(id), Name: deref(name)}
}

func apiLaunchTemplate(t cloud.LaunchTemplate) *ec2api.LaunchTemplate {
	return &ec2api.LaunchTemplate{
		LaunchTemplateId: ptr(t.ID), LaunchTemplateName: ptr(t.Name), CreateTime: ptr(t.CreateTime), CreatedBy: ptr(t.CreatedBy),
		DefaultVersionNumber: ptr(t.DefaultVersion), LatestVersionNumber: ptr(t.LatestVersion), Tags: apiTags(t.Tags),
	}
}

func apiLaunchTemplateVersion(v cloud.LaunchTemplateVersion) (*ec2api.LaunchTemplateVersion, error) {
	data, err := responseTemplateData(v.Data)
	if err != nil {
		return nil, err
	}
	return &ec2api.LaunchTemplateVersion{
		LaunchTemplateId: ptr(v.TemplateID), LaunchTemplateName: ptr(v.TemplateName), VersionNumber: ptr(v.Number),
		VersionDescription: optional(v.Description), CreateTime: ptr(v.CreateTime), CreatedBy: ptr(v.CreatedBy),
		DefaultVersion: ptr(v.Default), LaunchTemplateData: data,
	}, nil
}

func (s *Service) createLaunchTemplate(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateLaunchTemplateRequest) (*ec2api.CreateLaunchTemplateResult, error) {
	if in.LaunchTemplateData == nil {
		return nil, missing("LaunchTemplateData")
	}
	for _, spec := range in.TagSpecifications {
		if rt := deref(spec.ResourceType); rt != "" && rt != cloud.KindLaunchTemplate {
			return nil, invalidValue("The value for the ResourceType member of the TagSpecification request parameter must be 'launch-template'. Verify the ResourceType and try again.")
		}
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindLaunchTemplate)
	if err != nil {
		return nil, err
	}
	data, err := storedTemplateData(in.LaunchTemplateData)
	if err != nil {
		return nil, err
	}
	t, err := s.cloud.CreateLaunchTemplate(ctx, scope(c), deref(in.ClientToken), cloud.LaunchTemplateRequest{
		Name: deref(in.LaunchTemplateName), Description: deref(in.VersionDescription), CreatedBy: callerARN(c),
		Data: data, Tags: tags[cloud.KindLaunchTemplate],
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateLaunchTemplateResult{LaunchTemplate: apiLaunchTemplate(t)}, nil
}

func (s *Service) createLaunchTemplateVersion(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateLaunchTemplateVersionRequest) (*ec2api.CreateLaunchTemplateVersionResult, error) {
	if in.LaunchTemplateData == nil {
		return nil, missing("LaunchTemplateData")
	}
	ref := templateRef(in.LaunchTemplateId, in.LaunchTemplateName)
	data := *in.LaunchTemplateData
	if in.SourceVersion != nil {
		// The new version inherits the source version's parameters; those the
		// request gives replace them.
		src, err := s.cloud.GetLaunchTemplateVersion(ctx, scope(c), ref, *in.SourceVersion)
		if err != nil {
			return nil, err
		}
		base, err := requestTemplateData(src.Data)
		if err != nil {
			return nil, err
		}
		data = mergeTemplateData(base, data)
	}
	stored, err := storedTemplateData(&data)
	if err != nil {
		return nil, err
	}
	v, err := s.cloud.CreateLaunchTemplateVersion(ctx, scope(c), deref(in.ClientToken), cloud.LaunchTemplateVersionRequest{
		Template: ref, Description: deref(in.VersionDescription), CreatedBy: callerARN(c), Data: stored,
	})
	if err != nil {
		return nil, err
	}
	api, err := apiLaunchTemplateVersion(v)
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateLaunchTemplateVersionResult{LaunchTemplateVersion: api}, nil
}

func (s *Service) describeLaunchTemplates(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeLaunchTemplatesRequest) (*ec2api.DescribeLaunchTemplatesResult, error) {
	list, next, err := s.cloud.DescribeLaunchTemplates(ctx, scope(c), in.LaunchTemplateIds, in.LaunchTemplateNames, filters(in.Filters),
		cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeLaunchTemplatesResult{LaunchTemplates: make([]ec2api.LaunchTemplate, len(list))}
	for i, t := range list {
		out.LaunchTemplates[i] = *apiLaunchTemplate(t)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) describeLaunchTemplateVersions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeLaunchTemplateVersionsRequest) (*ec2api.DescribeLaunchTemplateVersionsResult, error) {
	q := cloud.VersionQuery{
		Template: templateRef(in.LaunchTemplateId, in.LaunchTemplateName), Versions: in.Versions,
		MinVersion: deref(in.MinVersion), MaxVersion: deref(in.MaxVersion),
	}
	list, next, err := s.cloud.DescribeLaunchTemplateVersions(ctx, scope(c), q, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeLaunchTemplateVersionsResult{LaunchTemplateVersions: make([]ec2api.LaunchTemplateVersion, len(list))}
	for i, v := range list {
		api, err := apiLaunchTemplateVersion(v)
		if err != nil {
			return nil, err
		}
		out.LaunchTemplateVersions[i] = *api
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) modifyLaunchTemplate(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyLaunchTemplateRequest) (*ec2api.ModifyLaunchTemplateResult, error) {
	t, err := s.cloud.ModifyLaunchTemplate(ctx, scope(c), templateRef(in.LaunchTemplateId, in.LaunchTemplateName), deref(in.DefaultVersion))
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyLaunchTemplateResult{LaunchTemplate: apiLaunchTemplate(t)}, nil
}

func (s *Service) deleteLaunchTemplate(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteLaunchTemplateRequest) (*ec2api.DeleteLaunchTemplateResult, error) {
	t, err := s.cloud.DeleteLaunchTemplate(ctx, scope(c), templateRef(in.LaunchTemplateId, in.LaunchTemplateName))
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteLaunchTemplateResult{LaunchTemplate: apiLaunchTemplate(t)}, nil
}

func (s *Service) deleteLaunchTemplateVersions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteLaunchTemplateVersionsRequest) (*ec2api.DeleteLaunchTemplateVersionsResult, error) {
	list, err := s.cloud.DeleteLaunchTemplateVersions(ctx, scope(c), templateRef(in.LaunchTemplateId, in.LaunchTemplateName), in.Versions)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DeleteLaunchTemplateVersionsResult{
		SuccessfullyDeletedLaunchTemplateVersions:   []ec2api.DeleteLaunchTemplateVersionsResponseSuccessItem{},
		UnsuccessfullyDeletedLaunchTemplateVersions: []ec2api.DeleteLaunchTemplateVersionsResponseErrorItem{},
	}
	for _, d := range list {
		var number *int64
		if d.Number > 0 {
			number = ptr(d.Number)
		}
		if d.Code == "" {
			out.SuccessfullyDeletedLaunchTemplateVersions = append(out.SuccessfullyDeletedLaunchTemplateVersions, ec2api.DeleteLaunchTemplateVersionsResponseSuccessItem{
				LaunchTemplateId: optional(d.TemplateID), LaunchTemplateName: optional(d.TemplateName), VersionNumber: number,
			})
			continue
		}
		out.UnsuccessfullyDeletedLaunchTemplateVersions = append(out.UnsuccessfullyDeletedLaunchTemplateVersions, ec2api.DeleteLaunchTemplateVersionsResponseErrorItem{
			LaunchTemplateId: optional(d.TemplateID), LaunchTemplateName: optional(d.TemplateName), VersionNumber: number,
			ResponseError: &ec2api.ResponseError{Code: ptr(d.Code), Message: ptr(d.Message)},
		})
	}
	return out, nil
}

func (s *Service) getLaunchTemplateData(ctx context.Context, c *awsapi.EC2Call, in *ec2api.GetLaunchTemplateDataRequest) (*ec2api.GetLaunchTemplateDataResult, error) {
	if in.InstanceId == nil {
		return nil, missing("InstanceId")
	}
	list, _, err := s.cloud.DescribeInstances(ctx, scope(c), []string{*in.InstanceId}, nil, cloud.Page{})
	if err != nil {
		return nil, err
	}
	data, err := convertJSON[ec2api.ResponseLaunchTemplateData](instanceTemplateData(list[0]))
	if err != nil {
		return nil, err
	}
	return &ec2api.GetLaunchTemplateDataResult{LaunchTemplateData: data}, nil
}

// applyLaunchTemplate resolves the launch template a RunInstances request
// names (by ID or name; version number, $Latest or $Default, the default
// when none) and fills in every parameter the request leaves unset from the
// version's data, as AWS merges: what the request gives wins; block device
// mappings are merged by device name and network interfaces by device index
// (the request's entry replaces the template's); tag specifications are
// merged by resource type, the request's value winning for the same key;
// Placement and MetadataOptions member by member; the security groups (by ID
// or name) are one parameter. It then clears in.LaunchTemplate.
func (s *Service) applyLaunchTemplate(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RunInstancesRequest) error {
	spec := in.LaunchTemplate
	if spec == nil {
		return nil
	}
	v, err := s.cloud.GetLaunchTemplateVersion(ctx, scope(c), templateRef(spec.LaunchTemplateId, spec.LaunchTemplateName), deref(spec.Version))
	if err != nil {
		return err
	}
	data, err := requestTemplateData(v.Data)
	if err != nil {
		return err
	}
	tmpl, err := convertJSON[ec2api.RunInstancesRequest](data)
	if err != nil {
		return err
	}
	// The one member whose name differs between the two shapes.
	tmpl.ElasticGpuSpecification = data.ElasticGpuSpecifications
	mergeRunRequest(in, tmpl)
	in.LaunchTemplate = nil
	return nil
}

// mergeRunRequest fills a RunInstances request from a template's parameters.
func mergeRunRequest(in, tmpl *ec2api.RunInstancesRequest) {
	in.BlockDeviceMappings = mergeByKey(tmpl.BlockDeviceMappings, in.BlockDeviceMappings, func(m ec2api.BlockDeviceMapping) string { return deref(m.DeviceName) })
	in.NetworkInterfaces = mergeByKey(tmpl.NetworkInterfaces, in.NetworkInterfaces, func(n ec2api.InstanceNetworkInterfaceSpecification) string {
		if n.DeviceIndex == nil {
			return ""
		}
		return strconv.Itoa(int(*n.DeviceIndex))
	})
	// A template may tag what strato never makes at launch (Spot requests,
	// elastic GPUs); those specifications have nothing to apply to.
	made := slices.DeleteFunc(slices.Clone(tmpl.TagSpecifications), func(spec ec2api.TagSpecification) bool {
		rt := deref(spec.ResourceType)
		return rt != cloud.KindInstance && rt != cloud.KindVolume && rt != cloud.KindNetworkInterface
	})
	in.TagSpecifications = mergeTagSpecifications(made, in.TagSpecifications)
	if in.Placement != nil && tmpl.Placement != nil {
		fillUnset(reflect.ValueOf(in.Placement).Elem(), reflect.ValueOf(tmpl.Placement).Elem())
	}
	if in.MetadataOptions != nil && tmpl.MetadataOptions != nil {
		fillUnset(reflect.ValueOf(in.MetadataOptions).Elem(), reflect.ValueOf(tmpl.MetadataOptions).Elem())
	}
	if len(in.SecurityGroupIds) > 0 || len(in.SecurityGroups) > 0 {
		tmpl.SecurityGroupIds, tmpl.SecurityGroups = nil, nil
	}
	fillUnset(reflect.ValueOf(in).Elem(), reflect.ValueOf(tmpl).Elem())
}

// fillUnset sets each unset field of dst to src's.
func fillUnset(dst, src reflect.Value) {
	for i := range dst.NumField() {
		if f := dst.Field(i); unset(f) {
			f.Set(src.Field(i))
		}
	}
}

// mergeByKey is base with over's entries replacing those of the same key and
// the others added; entries without a key are added.
func mergeByKey[T any](base, over []T, key func(T) string) []T {
	if len(base) == 0 {
		return over
	}
	out := slices.Clone(base)
	for _, o := range over {
		k := key(o)
		if i := slices.IndexFunc(out, func(b T) bool { return k != "" && key(b) == k }); i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

// mergeTagSpecifications merges tags per resource type, over's value winning
// for a key both give.
func mergeTagSpecifications(base, over []ec2api.TagSpecification) []ec2api.TagSpecification {
	out := slices.Clone(base)
	for _, o := range over {
		i := slices.IndexFunc(out, func(b ec2api.TagSpecification) bool { return deref(b.ResourceType) == deref(o.ResourceType) })
		if i < 0 {
			out = append(out, o)
			continue
		}
		tags := slices.Clone(out[i].Tags)
		for _, t := range o.Tags {
			if j := slices.IndexFunc(tags, func(b ec2api.Tag) bool { return deref(b.Key) == deref(t.Key) }); j >= 0 {
				tags[j] = t
			} else {
				tags = append(tags, t)
			}
		}
		out[i] = ec2api.TagSpecification{ResourceType: o.ResourceType, Tags: tags}
	}
	return out
}
