// Package filter implements the EC2 "Filter.N" semantics shared by every
// Describe* call.
//
// Semantics (EC2 API Reference, "Filter" data type, and the EC2 User Guide
// section "List and filter using the CLI and API"):
//
//   - Filter names are case-sensitive; an unknown name is answered with
//     InvalidParameterValue "The filter 'NAME' is invalid" (a missing name is
//     reported as 'null', as AWS does).
//   - The values of one filter are OR-ed; separate filters are AND-ed.
//   - Values are case-sensitive globs: '*' matches zero or more characters,
//     '?' exactly one; "\*", "\?" and "\\" stand for the literal characters.
//   - A filter given without any value matches nothing (AWS answers such a
//     request with an empty result, not an error).
//   - Tag filters, when the resource type has tags: "tag:KEY" matches objects
//     that carry tag KEY with a value matching one of the values (KEY itself
//     is taken literally); "tag-key" matches objects having any tag key that
//     matches; "tag-value" matches objects having any tag value that matches.
//   - At most 200 filter values per call in total (FilterLimitExceeded).
package filter

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Filter is one Filter.N entry of a request.
type Filter struct {
	Name   string
	Values []string
}

// Fields describes one resource type's filterable attributes: filter name ->
// the values of that attribute for an object (several values where the
// attribute is multi-valued, e.g. a list of group IDs; none when the
// attribute is absent). Booleans and numbers are rendered as strings by the
// caller ("true"/"false", decimal).
type Fields[T any] map[string]func(T) []string

// Limits caps the size of a request's filter set.
type Limits struct {
	// MaxValues is the maximum total number of filter values in one call
	// (summed over all filters). 0 means no limit.
	MaxValues int
	// MaxFilters is the maximum number of filters in one call. 0 means no
	// limit.
	MaxFilters int
}

// DefaultLimits are the limits Compile applies.
//
// MaxValues = 200 is AWS's documented-by-error figure: EC2 answers
// FilterLimitExceeded "The maximum number of filter values specified on a
// single call is 200". AWS publishes no separate cap on the number of
// filters; since every useful filter carries at least one value, capping
// filters at the same 200 only rejects degenerate requests.
var DefaultLimits = Limits{MaxValues: 200, MaxFilters: 200}

// Reserved names of the tag filters.
const (
	TagPrefix      = "tag:"
	TagKeyFilter   = "tag-key"
	TagValueFilter = "tag-value"
)

type kind uint8

const (
	kindField    kind = iota // a Fields entry
	kindTag                  // tag:KEY
	kindTagKey               // tag-key
	kindTagValue             // tag-value
)

type clause[T any] struct {
	kind   kind
	get    func(T) []string // kindField
	tagKey string           // kindTag
	values valueSet
	none   bool // the filter had no values: matches nothing
}

// Matcher is a compiled filter set. It is immutable and safe for concurrent
// use. A nil Matcher, or one compiled from no filters, matches everything.
type Matcher[T any] struct {
	clauses []clause[T]
	tags    func(T) map[string]string
	never   bool // some clause can never match
}

// Compile validates filters against fields and compiles them, applying
// DefaultLimits. tags returns an object's tags; when tags is nil the tag
// filters are not accepted (they are reported as invalid filters). A name
// present in fields takes precedence over the built-in tag filters.
func Compile[T any](filters []Filter, fields Fields[T], tags func(T) map[string]string) (*Matcher[T], error) {
	return CompileWithLimits(filters, fields, tags, DefaultLimits)
}

// CompileWithLimits is Compile with explicit limits.
func CompileWithLimits[T any](filters []Filter, fields Fields[T], tags func(T) map[string]string, lim Limits) (*Matcher[T], error) {
	if err := lim.check(filters); err != nil {
		return nil, err
	}
	m := &Matcher[T]{tags: tags}
	if len(filters) == 0 {
		return m, nil
	}
	m.clauses = make([]clause[T], 0, len(filters))
	for _, f := range filters {
		c, err := compileClause(f, fields, tags != nil)
		if err != nil {
			return nil, err
		}
		if c.none {
			m.never = true
		}
		m.clauses = append(m.clauses, c)
	}
	return m, nil
}

func (lim Limits) check(filters []Filter) error {
	if lim.MaxFilters > 0 && len(filters) > lim.MaxFilters {
		return newError(CodeFilterLimitExceeded,
			fmt.Sprintf("The maximum number of filters specified on a single call is %d", lim.MaxFilters))
	}
	if lim.MaxValues > 0 {
		n := 0
		for _, f := range filters {
			n += len(f.Values)
		}
		if n > lim.MaxValues {
			return newError(CodeFilterLimitExceeded,
				fmt.Sprintf("The maximum number of filter values specified on a single call is %d", lim.MaxValues))
		}
	}
	return nil
}

// InvalidFilter returns the error AWS gives for an unsupported filter name.
func InvalidFilter(name string) *Error {
	if name == "" {
		name = "null"
	}
	return newError(CodeInvalidParameterValue, fmt.Sprintf("The filter '%s' is invalid", name))
}

func compileClause[T any](f Filter, fields Fields[T], haveTags bool) (clause[T], error) {
	var c clause[T]
	if f.Name == "" {
		return c, InvalidFilter("")
	}
	switch get, ok := fields[f.Name]; {
	case ok && get != nil:
		c.kind, c.get = kindField, get
	case haveTags && f.Name == TagKeyFilter:
		c.kind = kindTagKey
	case haveTags && f.Name == TagValueFilter:
		c.kind = kindTagValue
	case haveTags && strings.HasPrefix(f.Name, TagPrefix) && len(f.Name) > len(TagPrefix):
		c.kind, c.tagKey = kindTag, f.Name[len(TagPrefix):]
	default:
		return c, InvalidFilter(f.Name)
	}
	c.values = compileValues(f.Values)
	c.none = c.values.empty()
	return c, nil
}

// Match reports whether obj satisfies every filter.
func (m *Matcher[T]) Match(obj T) bool {
	if m == nil || len(m.clauses) == 0 {
		return true
	}
	if m.never {
		return false
	}
	var tags map[string]string
	tagsLoaded := false
	for i := range m.clauses {
		c := &m.clauses[i]
		switch c.kind {
		case kindField:
			if !c.matchAny(c.get(obj)) {
				return false
			}
		default:
			if !tagsLoaded {
				tags, tagsLoaded = m.tags(obj), true
			}
			if !c.matchTags(tags) {
				return false
			}
		}
	}
	return true
}

// Filter returns the objects of items that match, preserving order. It
// returns a new slice; items is not modified.
func (m *Matcher[T]) Filter(items []T) []T {
	if m == nil || len(m.clauses) == 0 {
		return append([]T(nil), items...)
	}
	out := make([]T, 0)
	if m.never {
		return out
	}
	for _, it := range items {
		if m.Match(it) {
			out = append(out, it)
		}
	}
	return out
}

// Empty reports whether the matcher has no filters (matches everything).
func (m *Matcher[T]) Empty() bool { return m == nil || len(m.clauses) == 0 }

func (c *clause[T]) matchAny(vals []string) bool {
	for _, v := range vals {
		if c.values.match(v) {
			return true
		}
	}
	return false
}

func (c *clause[T]) matchTags(tags map[string]string) bool {
	switch c.kind {
	case kindTag:
		v, ok := tags[c.tagKey]
		return ok && c.values.match(v)
	case kindTagKey:
		for k := range tags {
			if c.values.match(k) {
				return true
			}
		}
	case kindTagValue:
		for _, v := range tags {
			if c.values.match(v) {
				return true
			}
		}
	}
	return false
}

// Canonical returns a deterministic encoding of a filter set that ignores
// the order of filters (AND is commutative) and of values within a filter
// (OR is commutative). Use it as a part of paging.Scope so that a NextToken
// is only honoured for the same filter set.
func Canonical(filters []Filter) string {
	parts := make([]string, len(filters))
	for i, f := range filters {
		vals := append([]string(nil), f.Values...)
		sort.Strings(vals)
		var b strings.Builder
		writeLP(&b, f.Name)
		for _, v := range vals {
			writeLP(&b, v)
		}
		parts[i] = b.String()
	}
	sort.Strings(parts)
	var b strings.Builder
	for _, p := range parts {
		writeLP(&b, p)
	}
	return b.String()
}

// writeLP writes s prefixed with its length, so concatenations are
// unambiguous.
func writeLP(b *strings.Builder, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}
