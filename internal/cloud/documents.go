package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// docKind is typed access to one kind of resource kept as JSON documents in the
// store: every resource kind (key pairs now; VPCs, subnets, gateways … next) reads
// and writes through one of these, so IDs, unique names, tags and not-found errors
// behave the same everywhere.
type docKind[T any] struct {
	kind string
	id   func(*T) string
	// name returns the resource's unique name within its kind, or is nil.
	name func(*T) string
	// parent returns the ID of the resource this one belongs to (indexed, so
	// children are found without reading the whole kind), or is nil.
	parent func(*T) string
	// tags points at where a read resource's tags go.
	tags func(*T) *map[string]string
}

func (k docKind[T]) uniqueName(v *T) string {
	if k.name == nil {
		return ""
	}
	return k.name(v)
}

func (k docKind[T]) parentOf(v *T) string {
	if k.parent == nil {
		return ""
	}
	return k.parent(v)
}

func (k docKind[T]) decode(r store.Resource) (T, error) {
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return v, fmt.Errorf("%s %s: %w", k.kind, r.ID, err)
	}
	return v, nil
}

// insert stores a new resource with its tags; a taken unique name is a DuplicateError.
func (k docKind[T]) insert(tx store.Tx, s Scope, v *T, createdAt time.Time, tags []Tag) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	id := k.id(v)
	err = tx.InsertResource(store.Resource{Scope: s, Kind: k.kind, ID: id, Name: k.uniqueName(v), Parent: k.parentOf(v), CreatedAt: createdAt, Body: body})
	if errors.Is(err, store.ErrConflict) {
		return &DuplicateError{Kind: k.kind, Name: k.uniqueName(v)}
	}
	if err != nil {
		return err
	}
	return putTags(tx, s, id, k.kind, tags)
}

// update replaces a stored resource's document.
func (k docKind[T]) update(tx store.Tx, s Scope, v *T) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	err = tx.UpdateResource(store.Resource{Scope: s, Kind: k.kind, ID: k.id(v), Name: k.uniqueName(v), Parent: k.parentOf(v), Body: body})
	if errors.Is(err, store.ErrNotFound) {
		return &NotFoundError{Kind: k.kind, ID: k.id(v)}
	}
	return err
}

// get reads one resource by ID (without tags).
func (k docKind[T]) get(tx store.Tx, s Scope, id string) (T, error) {
	r, err := tx.GetResource(s, k.kind, id)
	if errors.Is(err, store.ErrNotFound) {
		var zero T
		return zero, &NotFoundError{Kind: k.kind, ID: id}
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return k.decode(r)
}

// getByName reads one resource by its unique name (without tags).
func (k docKind[T]) getByName(tx store.Tx, s Scope, name string) (T, error) {
	r, err := tx.GetResourceByName(s, k.kind, name)
	if errors.Is(err, store.ErrNotFound) {
		var zero T
		return zero, &NotFoundError{Kind: k.kind, ID: name, ByName: true}
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return k.decode(r)
}

// remove deletes a resource and its tags.
func (k docKind[T]) remove(tx store.Tx, s Scope, id string) error {
	err := tx.DeleteResource(s, k.kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return &NotFoundError{Kind: k.kind, ID: id}
	}
	return err
}

// load reads, with their tags, the resources a Describe call names by ID or unique
// name (each must exist), or every resource of the kind when it names none.
func (k docKind[T]) load(tx store.Tx, s Scope, ids, names []string) ([]T, error) {
	all := len(ids) == 0 && len(names) == 0
	var rows []store.Resource
	if all {
		var err error
		if rows, err = tx.ListResources(s, k.kind); err != nil {
			return nil, err
		}
	} else {
		seen := map[string]bool{}
		add := func(r store.Resource, err error, missing *NotFoundError) error {
			if errors.Is(err, store.ErrNotFound) {
				return missing
			}
			if err != nil {
				return err
			}
			if !seen[r.ID] {
				seen[r.ID] = true
				rows = append(rows, r)
			}
			return nil
		}
		for _, name := range names {
			r, err := tx.GetResourceByName(s, k.kind, name)
			if err := add(r, err, &NotFoundError{Kind: k.kind, ID: name, ByName: true}); err != nil {
				return nil, err
			}
		}
		for _, id := range ids {
			r, err := tx.GetResource(s, k.kind, id)
			if err := add(r, err, &NotFoundError{Kind: k.kind, ID: id}); err != nil {
				return nil, err
			}
		}
	}
	return k.withTags(tx, s, rows, all)
}

// children reads, with their tags, the resources of the kind that belong to parent.
func (k docKind[T]) children(tx store.Tx, s Scope, parent string) ([]T, error) {
	rows, err := tx.ListChildren(s, k.kind, parent)
	if err != nil {
		return nil, err
	}
	return k.withTags(tx, s, rows, false)
}

// withTags decodes rows and attaches their tags; all says the rows are the whole kind.
func (k docKind[T]) withTags(tx store.Tx, s Scope, rows []store.Resource, all bool) ([]T, error) {
	tags, err := tagsOf(tx, s, k.kind, rows, all)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		v, err := k.decode(r)
		if err != nil {
			return nil, err
		}
		*k.tags(&v) = tags[r.ID]
		out = append(out, v)
	}
	return out, nil
}

// taggedCandidates narrows a listing by its exact tag:KEY filters through the tag
// index: the IDs that carry every such tag, and true; or false when no filter can
// be looked up (wildcards, or no tag filter), and the whole kind must be read.
func (k docKind[T]) taggedCandidates(tx store.Tx, s Scope, filters []filter.Filter) ([]string, bool, error) {
	var ids []string
	narrowed := false
	for _, f := range filters {
		key, ok := strings.CutPrefix(f.Name, "tag:")
		if !ok || len(f.Values) == 0 {
			continue
		}
		values := make([]string, 0, len(f.Values))
		for _, v := range f.Values {
			lit, exact := filter.Unescape(v)
			if !exact {
				values = nil
				break
			}
			values = append(values, lit)
		}
		if values == nil {
			continue
		}
		found, err := tx.TaggedIDs(s, k.kind, key, values)
		if err != nil {
			return nil, false, err
		}
		if narrowed {
			found = intersectSorted(ids, found)
		}
		ids, narrowed = found, true
	}
	return ids, narrowed, nil
}

// intersectSorted keeps the strings present in both sorted lists.
func intersectSorted(a, b []string) []string {
	var out []string
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// describe is the Describe call of a kind whose resources are listed by ID: the
// named ones (each must exist) or all, filtered with the kind's filters and tags,
// ordered by ID and paginated with MaxResults between min and max.
func describe[T any](ctx context.Context, c *Cloud, s Scope, k docKind[T], op string, fields filter.Fields[T], ids []string, filters []filter.Filter, page Page, min, max int32) ([]T, string, error) {
	m, err := filter.Compile(filters, fields, func(v T) map[string]string { return *k.tags(&v) })
	if err != nil {
		return nil, "", err
	}
	var list []T
	if err := c.view(ctx, func(tx store.Tx) error {
		if len(ids) == 0 {
			// Exact tag filters read only the resources that carry the tags; every
			// filter still applies below, so this only saves work.
			tagged, narrowed, err := k.taggedCandidates(tx, s, filters)
			if err != nil || narrowed && len(tagged) == 0 {
				return err
			}
			if narrowed {
				list, err = k.load(tx, s, tagged, nil)
				return err
			}
		}
		list, err = k.load(tx, s, ids, nil)
		return err
	}); err != nil {
		return nil, "", err
	}
	out := m.Filter(list)
	id := func(v T) string { return k.id(&v) }
	sortByUniqueKey(out, id)
	return PageOf(c, s, op, filters, page, min, max, out, id)
}
