package cloud

import (
	"context"
	"slices"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

var prefixListFields = filter.Fields[PrefixList]{
	"owner-id":         func(p PrefixList) []string { return []string{p.OwnerID} },
	"prefix-list-id":   func(p PrefixList) []string { return []string{p.ID} },
	"prefix-list-name": func(p PrefixList) []string { return []string{p.Name} },
}

// visiblePrefixLists reads the lists named (each must exist, AWS-managed or the
// caller's) or, when none is named, the Region's AWS-managed lists and, unless
// awsOnly, all of the caller's.
func visiblePrefixLists(tx store.Tx, s Scope, ids []string, awsOnly bool) ([]PrefixList, error) {
	managed := awsManagedPrefixLists(s.Region)
	if len(ids) == 0 {
		if awsOnly {
			return managed, nil
		}
		own, err := prefixLists.load(tx, s, nil, nil)
		return append(managed, own...), err
	}
	var out, stored []PrefixList
	var storedIDs []string
	for _, id := range ids {
		if p, ok := awsManagedPrefixList(s.Region, id); ok {
			out = append(out, p)
		} else if awsOnly {
			return nil, &NotFoundError{Kind: KindPrefixList, ID: id}
		} else {
			storedIDs = append(storedIDs, id)
		}
	}
	if len(storedIDs) > 0 {
		var err error
		if stored, err = prefixLists.load(tx, s, storedIDs, nil); err != nil {
			return nil, err
		}
	}
	out = append(out, stored...)
	id := func(p PrefixList) string { return p.ID }
	sortByUniqueKey(out, id)
	return slices.CompactFunc(out, func(a, b PrefixList) bool { return a.ID == b.ID }), nil
}

func describePrefixLists(ctx context.Context, c *Cloud, s Scope, op string, ids []string, filters []filter.Filter, page Page, awsOnly bool, min, max int32) ([]PrefixList, string, error) {
	tags := func(p PrefixList) map[string]string { return p.Tags }
	if awsOnly {
		tags = nil // AWS-managed lists carry no tags, and DescribePrefixLists takes no tag filters
	}
	m, err := filter.Compile(filters, prefixListFields, tags)
	if err != nil {
		return nil, "", err
	}
	var list []PrefixList
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err = visiblePrefixLists(tx, s, ids, awsOnly)
		return err
	}); err != nil {
		return nil, "", err
	}
	out := m.Filter(list)
	id := func(p PrefixList) string { return p.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, op, filters, page, min, max, out, id)
}

// DescribeManagedPrefixLists lists the AWS-managed lists of the Region and the
// caller's lists, by ID or all, filtered and paginated (MaxResults 1..100).
func (c *Cloud) DescribeManagedPrefixLists(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]PrefixList, string, error) {
	return describePrefixLists(ctx, c, s, "DescribeManagedPrefixLists", ids, filters, page, false, 1, 100)
}

// DescribePrefixLists lists the AWS-managed lists of the Region (the older call,
// which knows nothing of customer-managed lists), paginated (MaxResults 5..1000).
func (c *Cloud) DescribePrefixLists(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]PrefixList, string, error) {
	return describePrefixLists(ctx, c, s, "DescribePrefixLists", ids, filters, page, true, 5, 1000)
}

// ManagedPrefixListEntries lists the entries of a version of a list (the current
// one when version is nil), ordered by CIDR and paginated (MaxResults 1..100).
func (c *Cloud) ManagedPrefixListEntries(ctx context.Context, s Scope, id string, version *int64, page Page) ([]PrefixListEntry, string, error) {
	var p PrefixList
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		p, err = prefixListByID(tx, s, id)
		return err
	}); err != nil {
		return nil, "", err
	}
	entries := p.Entries()
	if version != nil && !p.AWSManaged() {
		if *version < 1 || *version > p.Version {
			return nil, "", errorf("InvalidParameterValue", "The version %d of prefix list %s does not exist (current version %d).", *version, id, p.Version)
		}
		entries = p.Versions[*version-1]
	}
	entries = slices.Clone(entries)
	key := func(e PrefixListEntry) string { return e.CIDR }
	sortByUniqueKey(entries, key)
	return PageOf(c, s, "GetManagedPrefixListEntries:"+id, nil, page, 1, 100, entries, key)
}

// PrefixListAssociation is a resource that refers to a prefix list.
type PrefixListAssociation struct{ ResourceID, ResourceOwner string }

// ManagedPrefixListAssociations lists the resources of the caller that refer to a
// list, paginated (MaxResults 5..255).
func (c *Cloud) ManagedPrefixListAssociations(ctx context.Context, s Scope, id string, page Page) ([]PrefixListAssociation, string, error) {
	var out []PrefixListAssociation
	if err := c.view(ctx, func(tx store.Tx) error {
		if _, err := prefixListByID(tx, s, id); err != nil {
			return err
		}
		ids, err := referrers(tx, s, id)
		for _, r := range ids {
			out = append(out, PrefixListAssociation{ResourceID: r, ResourceOwner: s.Account})
		}
		return err
	}); err != nil {
		return nil, "", err
	}
	return PageOf(c, s, "GetManagedPrefixListAssociations:"+id, nil, page, 5, 255, out, func(a PrefixListAssociation) string { return a.ResourceID })
}
