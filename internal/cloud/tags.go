package cloud

import (
	"context"
	"errors"
	"sort"
	"strings"
	"unicode/utf8"

	"strato/internal/cloud/filter"
	"strato/internal/cloud/paging"
	"strato/internal/store"
)

// Tag is a key/value pair on a resource.
type Tag struct {
	Key, Value string
}

// TagSelector names tags to delete: Value nil deletes the key whatever its value.
type TagSelector struct {
	Key   string
	Value *string
}

// TagDescription is one tag with the resource it is on.
type TagDescription struct {
	ResourceID, ResourceType, Key, Value string
}

// AWS's tag limits.
const (
	MaxTagsPerResource = 50
	MaxTagKeyLength    = 128
	MaxTagValueLength  = 256
	MaxTagResources    = 1000
)

// kindOfID returns the resource type an ID names, or "" when the ID is not well formed.
func kindOfID(id string) string {
	prefix, _, ok := strings.Cut(id, "-")
	if !ok {
		return ""
	}
	kind := resourceKinds[prefix]
	if kind == "" || !ValidID(prefix, id) {
		return ""
	}
	return kind
}

// ValidateTags checks keys and values against AWS's rules.
func ValidateTags(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" {
			return errorf("InvalidParameterValue", "Tag key cannot be empty.")
		}
		if utf8.RuneCountInString(t.Key) > MaxTagKeyLength {
			return errorf("InvalidParameterValue", "Tag key exceeds the maximum length of %d characters.", MaxTagKeyLength)
		}
		if utf8.RuneCountInString(t.Value) > MaxTagValueLength {
			return errorf("InvalidParameterValue", "Tag value exceeds the maximum length of %d characters.", MaxTagValueLength)
		}
		if !utf8.ValidString(t.Key) || !utf8.ValidString(t.Value) {
			return errorf("InvalidParameterValue", "Tag keys and values must be valid UTF-8.")
		}
		if reservedTagKey(t.Key) {
			return errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use.")
		}
		if seen[t.Key] {
			return errorf("InvalidParameterValue", "Duplicate tag key '%s' specified.", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > MaxTagsPerResource {
		return errorf("TagLimitExceeded", "The maximum number of tags for a resource is %d.", MaxTagsPerResource)
	}
	return nil
}

func reservedTagKey(key string) bool {
	return len(key) >= 4 && strings.EqualFold(key[:4], "aws:")
}

// putTags adds tags to a resource inside a transaction, enforcing the per-resource limit.
func putTags(tx store.Tx, s Scope, id, kind string, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	existing, err := tx.ListTags(s, id)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, t := range existing {
		keys[t.Key] = true
	}
	for _, t := range tags {
		keys[t.Key] = true
	}
	if len(keys) > MaxTagsPerResource {
		return errorf("TagLimitExceeded", "The maximum number of tags for resource '%s' has been reached (%d).", id, MaxTagsPerResource)
	}
	for _, t := range tags {
		if err := tx.PutTag(s, store.Tag{ResourceID: id, ResourceKind: kind, Key: t.Key, Value: t.Value}); err != nil {
			return err
		}
	}
	return nil
}

// resolveTagTargets checks every ID names an existing resource of the caller's.
func resolveTagTargets(tx store.Tx, s Scope, ids []string) (map[string]string, error) {
	if len(ids) > MaxTagResources {
		return nil, errorf("InvalidParameterValue", "The request names %d resources; the limit is %d.", len(ids), MaxTagResources)
	}
	kinds := map[string]string{}
	for _, id := range ids {
		kind := kindOfID(id)
		if kind == "" {
			return nil, errorf("InvalidID", "The ID '%s' is not valid", id)
		}
		r, err := tx.GetResource(s, kind, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &NotFoundError{Kind: kind, ID: id}
		}
		if err != nil {
			return nil, err
		}
		kinds[id] = r.Kind
	}
	return kinds, nil
}

// CreateTags adds or overwrites tags on resources.
func (c *Cloud) CreateTags(ctx context.Context, s Scope, ids []string, tags []Tag) error {
	if err := ValidateTags(tags); err != nil {
		return err
	}
	return c.update(ctx, func(tx store.Tx) error {
		kinds, err := resolveTagTargets(tx, s, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := putTags(tx, s, id, kinds[id], tags); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteTags removes tags; no selectors removes every user tag of the resources.
func (c *Cloud) DeleteTags(ctx context.Context, s Scope, ids []string, selectors []TagSelector) error {
	for _, sel := range selectors {
		if reservedTagKey(sel.Key) {
			return errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use.")
		}
	}
	return c.update(ctx, func(tx store.Tx) error {
		if _, err := resolveTagTargets(tx, s, ids); err != nil {
			return err
		}
		for _, id := range ids {
			existing, err := tx.ListTags(s, id)
			if err != nil {
				return err
			}
			for _, t := range existing {
				if reservedTagKey(t.Key) || !selected(t, selectors) {
					continue
				}
				if err := tx.DeleteTag(s, id, t.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func selected(t store.Tag, selectors []TagSelector) bool {
	if len(selectors) == 0 {
		return true
	}
	for _, sel := range selectors {
		if sel.Key == t.Key && (sel.Value == nil || *sel.Value == t.Value) {
			return true
		}
	}
	return false
}

var tagDescriptionFields = filter.Fields[TagDescription]{
	"key":           func(t TagDescription) []string { return []string{t.Key} },
	"value":         func(t TagDescription) []string { return []string{t.Value} },
	"resource-id":   func(t TagDescription) []string { return []string{t.ResourceID} },
	"resource-type": func(t TagDescription) []string { return []string{t.ResourceType} },
}

// Page asks for one page of a listing.
type Page struct {
	MaxResults *int32
	NextToken  *string
}

// DescribeTags lists the tags in scope that match the filters, ordered by resource
// and key, paginated (MaxResults 5..1000).
func (c *Cloud) DescribeTags(ctx context.Context, s Scope, filters []filter.Filter, page Page) ([]TagDescription, string, error) {
	var all []store.Tag
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		all, err = tx.ListTags(s)
		return err
	}); err != nil {
		return nil, "", err
	}
	byResource := map[string]map[string]string{}
	for _, t := range all {
		if byResource[t.ResourceID] == nil {
			byResource[t.ResourceID] = map[string]string{}
		}
		byResource[t.ResourceID][t.Key] = t.Value
	}
	m, err := filter.Compile(filters, tagDescriptionFields, func(t TagDescription) map[string]string { return byResource[t.ResourceID] })
	if err != nil {
		return nil, "", err
	}
	var out []TagDescription
	for _, t := range all {
		d := TagDescription{ResourceID: t.ResourceID, ResourceType: t.ResourceKind, Key: t.Key, Value: t.Value}
		if m.Match(d) {
			out = append(out, d)
		}
	}
	return PageOf(c, s, "DescribeTags", filters, page, 5, 1000, out, func(t TagDescription) string { return t.ResourceID + "\x00" + t.Key })
}

// PageOf cuts one page out of a sorted listing, with a token bound to the caller, the
// operation and its filters.
func PageOf[T any](c *Cloud, s Scope, op string, filters []filter.Filter, p Page, min, max int32, items []T, key func(T) string) ([]T, string, error) {
	req := paging.Request{
		MaxResults: p.MaxResults,
		NextToken:  p.NextToken,
		Min:        min,
		Max:        max,
		Scope:      paging.Scope(op, s.Account, s.Region, filter.Canonical(filters)),
	}
	return paging.Page(c.paging, req, items, key)
}

// tagsOf loads the tags of the given resources of a kind, keyed by resource ID; all
// says the rows are every resource of the kind, which one query by kind serves best.
func tagsOf(tx store.Tx, s Scope, kind string, rows []store.Resource, all bool) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if len(rows) == 0 {
		return out, nil
	}
	var tags []store.Tag
	var err error
	if all {
		tags, err = tx.ListTagsByKind(s, kind)
	} else {
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		tags, err = tx.ListTags(s, ids...)
	}
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if out[t.ResourceID] == nil {
			out[t.ResourceID] = map[string]string{}
		}
		out[t.ResourceID][t.Key] = t.Value
	}
	return out, nil
}

// tagMap turns a tag list into a map.
func tagMap(tags []Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// SortedTags returns a tag map as a list ordered by key.
func SortedTags(m map[string]string) []Tag {
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
