package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerTags) }

func (s *Service) registerTags(d *awsapi.EC2) {
	handle(d, "CreateTags", s.createTags)
	handle(d, "DeleteTags", s.deleteTags)
	handle(d, "DescribeTags", s.describeTags)
}

func (s *Service) createTags(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateTagsRequest) (*struct{}, error) {
	if len(in.Resources) == 0 {
		return nil, missing("ResourceId")
	}
	if len(in.Tags) == 0 {
		return nil, missing("Tag")
	}
	tags, err := tagList(in.Tags)
	if err != nil {
		return nil, err
	}
	return nil, s.cloud.CreateTags(ctx, scope(c), in.Resources, tags)
}

func (s *Service) deleteTags(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteTagsRequest) (*struct{}, error) {
	if len(in.Resources) == 0 {
		return nil, missing("ResourceId")
	}
	var sel []cloud.TagSelector
	for i, t := range in.Tags {
		if t.Key == nil {
			return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter Tag.%d.Key", i+1)
		}
		if *t.Key == "" {
			return nil, invalidValue("Tag key cannot be empty.")
		}
		sel = append(sel, cloud.TagSelector{Key: *t.Key, Value: t.Value})
	}
	return nil, s.cloud.DeleteTags(ctx, scope(c), in.Resources, sel)
}

func (s *Service) describeTags(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeTagsRequest) (*ec2api.DescribeTagsResult, error) {
	list, next, err := s.cloud.DescribeTags(ctx, scope(c), filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeTagsResult{Tags: make([]ec2api.TagDescription, len(list))}
	for i, t := range list {
		out.Tags[i] = ec2api.TagDescription{Key: ptr(t.Key), Value: ptr(t.Value), ResourceId: ptr(t.ResourceID), ResourceType: ptr(t.ResourceType)}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// tagList turns request tags into control-plane tags; a missing value is "".
func tagList(in []ec2api.Tag) ([]cloud.Tag, error) {
	out := make([]cloud.Tag, len(in))
	for i, t := range in {
		if t.Key == nil {
			return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter Tag.%d.Key", i+1)
		}
		out[i] = cloud.Tag{Key: *t.Key, Value: deref(t.Value)}
	}
	return out, nil
}

// specTags collects the tags of the TagSpecifications meant for resourceType; a
// specification for a type the operation does not create is refused, as AWS does.
func specTags(specs []ec2api.TagSpecification, allowed ...string) (map[string][]cloud.Tag, error) {
	out := map[string][]cloud.Tag{}
	for i, spec := range specs {
		rt := deref(spec.ResourceType)
		if rt == "" {
			return nil, awsapi.Errorf("MissingParameter", "The request must contain the parameter TagSpecification.%d.ResourceType", i+1)
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == rt
		}
		if !ok {
			return nil, invalidValue("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		if _, dup := out[rt]; dup {
			return nil, invalidValue("The same resource type may not be specified more than once in tag specifications: %s", rt)
		}
		tags, err := tagList(spec.Tags)
		if err != nil {
			return nil, err
		}
		out[rt] = tags
	}
	return out, nil
}

// apiTags renders a tag map for a response, ordered by key; nil when empty, as EC2
// leaves the element out.
func apiTags(m map[string]string) []ec2api.Tag {
	if len(m) == 0 {
		return nil
	}
	sorted := cloud.SortedTags(m)
	out := make([]ec2api.Tag, len(sorted))
	for i, t := range sorted {
		out[i] = ec2api.Tag{Key: ptr(t.Key), Value: ptr(t.Value)}
	}
	return out
}
