// Package query is the EC2 query-protocol codec: it decodes form parameters
// (Name.1.Member=value) into generated request structs and encodes response structs as
// EC2 XML. It works on any struct whose fields carry the tags internal/awsapi/model
// writes, so it knows nothing about particular operations.
package query

import (
	"reflect"
	"sync"
	"time"
)

type kind int

const (
	kindString kind = iota
	kindInt32
	kindInt64
	kindBool
	kindFloat
	kindTime
	kindBlob
	kindStruct
	kindList
	kindMap
)

var (
	timeType  = reflect.TypeOf(time.Time{})
	bytesType = reflect.TypeOf([]byte(nil))
)

// field is one struct member's codec plan.
type field struct {
	index     int
	goName    string
	queryName string
	xmlName   string
	itemName  string
	keyName   string
	valName   string
	flat      bool
	required  bool
	t         typePlan
}

// typePlan says how to handle a value of one Go type.
type typePlan struct {
	kind kind
	ptr  bool      // scalar or struct behind a pointer
	elem *typePlan // list element / map value
	st   *structPlan
	goT  reflect.Type // the type without the pointer
}

type structPlan struct {
	fields  []field
	byQuery map[string]*field
}

var plans sync.Map // reflect.Type (struct) -> *structPlan

var planMu sync.Mutex

// planFor returns the plan of a struct type, building it once. Recursive shapes are
// handled by registering the plan before its fields are filled.
func planFor(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*structPlan)
	}
	planMu.Lock()
	defer planMu.Unlock()
	building := map[reflect.Type]*structPlan{}
	p := buildStruct(t, building)
	for bt, bp := range building {
		plans.LoadOrStore(bt, bp)
	}
	return p
}

func buildStruct(t reflect.Type, building map[reflect.Type]*structPlan) *structPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*structPlan)
	}
	if p, ok := building[t]; ok {
		return p
	}
	p := &structPlan{byQuery: map[string]*field{}}
	building[t] = p
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag
		f := field{
			index:     i,
			goName:    sf.Name,
			queryName: tag.Get("q"),
			xmlName:   tag.Get("x"),
			itemName:  tag.Get("item"),
			keyName:   tag.Get("key"),
			valName:   tag.Get("val"),
			flat:      tag.Get("flat") != "",
			required:  tag.Get("req") != "",
			t:         buildType(sf.Type, building),
		}
		if f.queryName == "" {
			f.queryName = sf.Name
		}
		if f.xmlName == "" {
			f.xmlName = sf.Name
		}
		if f.itemName == "" {
			f.itemName = "member"
		}
		if f.keyName == "" {
			f.keyName = "key"
		}
		if f.valName == "" {
			f.valName = "value"
		}
		p.fields = append(p.fields, f)
	}
	for i := range p.fields {
		p.byQuery[p.fields[i].queryName] = &p.fields[i]
	}
	return p
}

func buildType(t reflect.Type, building map[reflect.Type]*structPlan) typePlan {
	tp := typePlan{}
	if t.Kind() == reflect.Pointer {
		tp.ptr = true
		t = t.Elem()
	}
	tp.goT = t
	switch {
	case t == timeType:
		tp.kind = kindTime
	case t == bytesType:
		tp.kind = kindBlob
	case t.Kind() == reflect.String:
		tp.kind = kindString
	case t.Kind() == reflect.Int32:
		tp.kind = kindInt32
	case t.Kind() == reflect.Int64:
		tp.kind = kindInt64
	case t.Kind() == reflect.Bool:
		tp.kind = kindBool
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32:
		tp.kind = kindFloat
	case t.Kind() == reflect.Struct:
		tp.kind = kindStruct
		tp.st = buildStruct(t, building)
	case t.Kind() == reflect.Slice:
		tp.kind = kindList
		e := buildType(t.Elem(), building)
		tp.elem = &e
	case t.Kind() == reflect.Map:
		tp.kind = kindMap
		e := buildType(t.Elem(), building)
		tp.elem = &e
	default:
		panic("query: unsupported Go type " + t.String())
	}
	return tp
}
