package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerPrefixLists) }

func (s *Service) registerPrefixLists(d *awsapi.EC2) {
	handle(d, "CreateManagedPrefixList", s.createManagedPrefixList)
	handle(d, "ModifyManagedPrefixList", s.modifyManagedPrefixList)
	handle(d, "RestoreManagedPrefixListVersion", s.restoreManagedPrefixListVersion)
	handle(d, "DeleteManagedPrefixList", s.deleteManagedPrefixList)
	handle(d, "DescribeManagedPrefixLists", s.describeManagedPrefixLists)
	handle(d, "DescribePrefixLists", s.describePrefixLists)
	handle(d, "GetManagedPrefixListEntries", s.getManagedPrefixListEntries)
	handle(d, "GetManagedPrefixListAssociations", s.getManagedPrefixListAssociations)
}

func apiManagedPrefixList(p cloud.PrefixList) *ec2api.ManagedPrefixList {
	out := &ec2api.ManagedPrefixList{
		PrefixListId: ptr(p.ID), AddressFamily: ptr(p.AddressFamily), State: ptr(p.State), PrefixListArn: ptr(p.ARN()),
		PrefixListName: ptr(p.Name), OwnerId: ptr(p.OwnerID), Tags: apiTags(p.Tags),
	}
	// AWS-managed lists report neither a maximum size nor a version.
	if !p.AWSManaged() {
		out.MaxEntries = ptr(int32(p.MaxEntries))
		out.Version = ptr(p.Version)
	}
	return out
}

func entriesOf(in []ec2api.AddPrefixListEntry) []cloud.PrefixListEntry {
	out := make([]cloud.PrefixListEntry, len(in))
	for i, e := range in {
		out[i] = cloud.PrefixListEntry{CIDR: deref(e.Cidr), Description: deref(e.Description)}
	}
	return out
}

func (s *Service) createManagedPrefixList(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateManagedPrefixListRequest) (*ec2api.CreateManagedPrefixListResult, error) {
	tags, err := specTags(in.TagSpecifications, cloud.KindPrefixList)
	if err != nil {
		return nil, err
	}
	p, err := s.cloud.CreateManagedPrefixList(ctx, scope(c), cloud.PrefixListRequest{
		Name: deref(in.PrefixListName), AddressFamily: deref(in.AddressFamily), MaxEntries: int(deref(in.MaxEntries)),
		Entries: entriesOf(in.Entries), Tags: tags[cloud.KindPrefixList], ClientToken: deref(in.ClientToken),
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateManagedPrefixListResult{PrefixList: apiManagedPrefixList(p)}, nil
}

func (s *Service) modifyManagedPrefixList(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyManagedPrefixListRequest) (*ec2api.ModifyManagedPrefixListResult, error) {
	ch := cloud.PrefixListChange{ID: deref(in.PrefixListId), CurrentVersion: in.CurrentVersion, Name: in.PrefixListName, Add: entriesOf(in.AddEntries)}
	if in.MaxEntries != nil {
		ch.MaxEntries = ptr(int(*in.MaxEntries))
	}
	for _, e := range in.RemoveEntries {
		ch.Remove = append(ch.Remove, deref(e.Cidr))
	}
	p, err := s.cloud.ModifyManagedPrefixList(ctx, scope(c), ch)
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyManagedPrefixListResult{PrefixList: apiManagedPrefixList(p)}, nil
}

func (s *Service) restoreManagedPrefixListVersion(ctx context.Context, c *awsapi.EC2Call, in *ec2api.RestoreManagedPrefixListVersionRequest) (*ec2api.RestoreManagedPrefixListVersionResult, error) {
	p, err := s.cloud.RestoreManagedPrefixListVersion(ctx, scope(c), deref(in.PrefixListId), deref(in.PreviousVersion), deref(in.CurrentVersion))
	if err != nil {
		return nil, err
	}
	return &ec2api.RestoreManagedPrefixListVersionResult{PrefixList: apiManagedPrefixList(p)}, nil
}

func (s *Service) deleteManagedPrefixList(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteManagedPrefixListRequest) (*ec2api.DeleteManagedPrefixListResult, error) {
	p, err := s.cloud.DeleteManagedPrefixList(ctx, scope(c), deref(in.PrefixListId))
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteManagedPrefixListResult{PrefixList: apiManagedPrefixList(p)}, nil
}

func (s *Service) describeManagedPrefixLists(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeManagedPrefixListsRequest) (*ec2api.DescribeManagedPrefixListsResult, error) {
	list, next, err := s.cloud.DescribeManagedPrefixLists(ctx, scope(c), in.PrefixListIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeManagedPrefixListsResult{PrefixLists: make([]ec2api.ManagedPrefixList, len(list))}
	for i, p := range list {
		out.PrefixLists[i] = *apiManagedPrefixList(p)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) describePrefixLists(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribePrefixListsRequest) (*ec2api.DescribePrefixListsResult, error) {
	list, next, err := s.cloud.DescribePrefixLists(ctx, scope(c), in.PrefixListIds, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribePrefixListsResult{PrefixLists: make([]ec2api.PrefixList, len(list))}
	for i, p := range list {
		api := ec2api.PrefixList{PrefixListId: ptr(p.ID), PrefixListName: ptr(p.Name), Cidrs: []string{}}
		for _, e := range p.Entries() {
			api.Cidrs = append(api.Cidrs, e.CIDR)
		}
		out.PrefixLists[i] = api
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) getManagedPrefixListEntries(ctx context.Context, c *awsapi.EC2Call, in *ec2api.GetManagedPrefixListEntriesRequest) (*ec2api.GetManagedPrefixListEntriesResult, error) {
	list, next, err := s.cloud.ManagedPrefixListEntries(ctx, scope(c), deref(in.PrefixListId), in.TargetVersion, cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.GetManagedPrefixListEntriesResult{Entries: make([]ec2api.PrefixListEntry, len(list))}
	for i, e := range list {
		out.Entries[i] = ec2api.PrefixListEntry{Cidr: ptr(e.CIDR)}
		if e.Description != "" {
			out.Entries[i].Description = ptr(e.Description)
		}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) getManagedPrefixListAssociations(ctx context.Context, c *awsapi.EC2Call, in *ec2api.GetManagedPrefixListAssociationsRequest) (*ec2api.GetManagedPrefixListAssociationsResult, error) {
	list, next, err := s.cloud.ManagedPrefixListAssociations(ctx, scope(c), deref(in.PrefixListId), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.GetManagedPrefixListAssociationsResult{PrefixListAssociations: make([]ec2api.PrefixListAssociation, len(list))}
	for i, a := range list {
		out.PrefixListAssociations[i] = ec2api.PrefixListAssociation{ResourceId: ptr(a.ResourceID), ResourceOwner: ptr(a.ResourceOwner)}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}
