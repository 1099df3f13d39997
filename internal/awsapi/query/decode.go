package query

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"strato/internal/awserr"
)

// Error is a decoding failure with the AWS error code the client must see
// (UnknownParameter, MissingParameter, InvalidParameterValue).
type Error = awserr.Error

var errorf = awserr.Errorf

// node is one level of the dotted parameter tree: Filter.1.Value.2=x becomes
// root -> Filter -> 1 -> Value -> 2 (value x).
type node struct {
	value    string
	hasValue bool
	kids     map[string]*node
}

func (n *node) child(name string) *node {
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	c := n.kids[name]
	if c == nil {
		c = &node{}
		n.kids[name] = c
	}
	return c
}

// Decode fills the struct dst points to from query parameters. Parameters that are not
// part of the request (Action, Version, authentication) must be removed first.
func Decode(params map[string][]string, dst any) error {
	root := &node{}
	for key, vals := range params {
		if len(vals) == 0 {
			continue
		}
		n := root
		for _, part := range strings.Split(key, ".") {
			n = n.child(part)
		}
		n.value, n.hasValue = vals[0], true
	}
	v := reflect.ValueOf(dst).Elem()
	return decodeStruct(root, v, planFor(v.Type()), "")
}

func decodeStruct(n *node, v reflect.Value, p *structPlan, prefix string) error {
	// Visit names in a fixed order so the first error reported is deterministic.
	names := make([]string, 0, len(n.kids))
	for name := range n.kids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := p.byQuery[name]
		if f == nil {
			return errorf("UnknownParameter", "The parameter %s%s is not recognized", prefix, name)
		}
		if err := decodeValue(n.kids[name], v.Field(f.index), f.t, prefix+name); err != nil {
			return err
		}
	}
	for i := range p.fields {
		f := &p.fields[i]
		if f.required && n.kids[f.queryName] == nil {
			return errorf("MissingParameter", "The request must contain the parameter %s%s", prefix, f.queryName)
		}
	}
	return nil
}

func decodeValue(n *node, v reflect.Value, t typePlan, name string) error {
	switch t.kind {
	case kindStruct:
		if n.hasValue && len(n.kids) == 0 {
			return errorf("InvalidParameterValue", "The parameter %s must name one of its members, as in %s.Name", name, name)
		}
		target := v
		if t.ptr {
			target = reflect.New(t.goT)
			v.Set(target)
			target = target.Elem()
		}
		return decodeStruct(n, target, t.st, name+".")
	case kindList:
		if n.hasValue || len(n.kids) == 0 {
			return errorf("UnknownParameter", "The parameter %s is not recognized; lists are written %s.1, %s.2, ...", name, name, name)
		}
		type entry struct {
			index int
			n     *node
		}
		entries := make([]entry, 0, len(n.kids))
		for k, c := range n.kids {
			i, err := strconv.Atoi(k)
			if err != nil || i < 1 {
				return errorf("UnknownParameter", "The parameter %s.%s is not recognized", name, k)
			}
			entries = append(entries, entry{i, c})
		}
		sort.Slice(entries, func(a, b int) bool { return entries[a].index < entries[b].index })
		s := reflect.MakeSlice(v.Type(), len(entries), len(entries))
		for i, e := range entries {
			if err := decodeValue(e.n, s.Index(i), *t.elem, fmt.Sprintf("%s.%d", name, e.index)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case kindMap:
		// Maps do not occur in EC2 requests; answer clearly rather than guess a layout.
		return errorf("UnknownParameter", "The parameter %s is not recognized", name)
	}
	if len(n.kids) > 0 {
		return errorf("UnknownParameter", "The parameter %s.%s is not recognized", name, firstKey(n.kids))
	}
	return decodeScalar(n.value, v, t, name)
}

func firstKey(m map[string]*node) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}

func decodeScalar(s string, v reflect.Value, t typePlan, name string) error {
	var val reflect.Value
	switch t.kind {
	case kindString:
		val = reflect.ValueOf(s).Convert(t.goT)
	case kindInt32, kindInt64:
		bits := 32
		if t.kind == kindInt64 {
			bits = 64
		}
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected an integer.", s, name)
		}
		val = reflect.ValueOf(i).Convert(t.goT)
	case kindBool:
		switch strings.ToLower(s) {
		case "true":
			val = reflect.ValueOf(true)
		case "false":
			val = reflect.ValueOf(false)
		default:
			return errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected 'true' or 'false'.", s, name)
		}
	case kindFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected a number.", s, name)
		}
		val = reflect.ValueOf(f).Convert(t.goT)
	case kindTime:
		tm, err := parseTime(s)
		if err != nil {
			return errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected an ISO 8601 timestamp such as 2026-01-02T15:04:05Z.", s, name)
		}
		val = reflect.ValueOf(tm)
	case kindBlob:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return errorf("InvalidParameterValue", "Value for parameter %s is invalid. Expected base64-encoded data.", name)
		}
		v.SetBytes(b)
		return nil
	}
	if t.ptr {
		p := reflect.New(t.goT)
		p.Elem().Set(val)
		v.Set(p)
	} else {
		v.Set(val)
	}
	return nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// parseTime accepts the ISO 8601 forms clients send (with or without fraction and
// zone; a missing zone means UTC) and epoch seconds.
func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}
