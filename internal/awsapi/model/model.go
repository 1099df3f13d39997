// Package model loads an AWS service model (api-2.json) and states the EC2 protocol's
// naming rules once, so the code generator and the codec tests agree on every wire name.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// API is one service model.
type API struct {
	Metadata   Metadata
	Operations map[string]*Operation
	Shapes     map[string]*Shape
}

// Metadata is the part of the model's metadata the server needs.
type Metadata struct {
	APIVersion   string `json:"apiVersion"`
	Protocol     string `json:"protocol"`
	XMLNamespace string `json:"xmlNamespace"`
	ServiceID    string `json:"serviceId"`
}

// Operation is one API action.
type Operation struct {
	Name   string
	Input  *Ref `json:"input"`
	Output *Ref `json:"output"`
}

// Ref points at a shape, with the serialization traits the pointing member adds.
type Ref struct {
	Shape            string `json:"shape"`
	LocationName     string `json:"locationName"`
	QueryName        string `json:"queryName"`
	Flattened        bool   `json:"flattened"`
	IdempotencyToken bool   `json:"idempotencyToken"`
}

// Member is a named member of a structure, in model order.
type Member struct {
	Name string
	Ref
}

// Shape is a type in the model.
type Shape struct {
	Name      string
	Type      string   `json:"type"`
	Required  []string `json:"required"`
	Enum      []string `json:"enum"`
	Member    *Ref     `json:"member"` // list element
	Key       *Ref     `json:"key"`    // map key
	Value     *Ref     `json:"value"`  // map value
	Flattened bool     `json:"flattened"`
	// Members of a structure, in the order the model lists them.
	Members []Member `json:"-"`
}

// Load reads an api-2.json file.
func Load(path string) (*API, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes a model document (api-2.json, or the "shapes" of a protocol test case
// wrapped as {"shapes": ...}).
func Parse(data []byte) (*API, error) {
	var raw struct {
		Metadata   Metadata                   `json:"metadata"`
		Operations map[string]*Operation      `json:"operations"`
		Shapes     map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing model: %w", err)
	}
	api := &API{Metadata: raw.Metadata, Operations: raw.Operations, Shapes: map[string]*Shape{}}
	if api.Operations == nil {
		api.Operations = map[string]*Operation{}
	}
	for name, op := range api.Operations {
		op.Name = name
	}
	for name, body := range raw.Shapes {
		s, err := parseShape(name, body)
		if err != nil {
			return nil, err
		}
		api.Shapes[name] = s
	}
	return api, nil
}

func parseShape(name string, body json.RawMessage) (*Shape, error) {
	s := &Shape{Name: name}
	if err := json.Unmarshal(body, s); err != nil {
		return nil, fmt.Errorf("shape %s: %w", name, err)
	}
	if s.Type != "structure" {
		return s, nil
	}
	var withMembers struct {
		Members json.RawMessage `json:"members"`
	}
	if err := json.Unmarshal(body, &withMembers); err != nil {
		return nil, fmt.Errorf("shape %s: %w", name, err)
	}
	names, err := objectKeys(withMembers.Members)
	if err != nil {
		return nil, fmt.Errorf("shape %s members: %w", name, err)
	}
	var refs map[string]Ref
	if err := json.Unmarshal(withMembers.Members, &refs); err != nil {
		return nil, fmt.Errorf("shape %s members: %w", name, err)
	}
	for _, n := range names {
		s.Members = append(s.Members, Member{Name: n, Ref: refs[n]})
	}
	return s, nil
}

// objectKeys lists a JSON object's keys in document order (encoding/json's maps lose it,
// and the generated code should follow the model's order).
func objectKeys(obj json.RawMessage) ([]string, error) {
	if len(bytes.TrimSpace(obj)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// OperationNames lists the operations sorted by name.
func (a *API) OperationNames() []string {
	names := make([]string, 0, len(a.Operations))
	for n := range a.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ShapeNames lists the shapes sorted by name.
func (a *API) ShapeNames() []string {
	names := make([]string, 0, len(a.Shapes))
	for n := range a.Shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// IsRequired reports whether a structure lists the member as required.
func (s *Shape) IsRequired(member string) bool {
	for _, r := range s.Required {
		if r == member {
			return true
		}
	}
	return false
}

// QueryName is the name a structure member has in an EC2 query request: the member's
// queryName if set, else its locationName with the first letter upper-cased, else the
// member name. Lists are always flattened on input (Name.1, Name.2, ...).
func QueryName(m Member) string {
	switch {
	case m.QueryName != "":
		return m.QueryName
	case m.LocationName != "":
		return strings.ToUpper(m.LocationName[:1]) + m.LocationName[1:]
	default:
		return m.Name
	}
}

// XMLName is the element name a structure member has in an EC2 XML response: its
// locationName if set, else the member name.
func XMLName(m Member) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

// ListItemName is the element name of each list entry in an EC2 XML response.
func ListItemName(list *Shape) string {
	if list.Member != nil && list.Member.LocationName != "" {
		return list.Member.LocationName
	}
	return "member"
}

// Flattened reports whether a list or map member is written without a wrapping element.
func Flattened(m Member, target *Shape) bool {
	return m.Flattened || target.Flattened
}

// MapNames gives the entry, key and value element names of a map in an XML response.
func MapNames(m *Shape) (entry, key, value string) {
	entry, key, value = "entry", "key", "value"
	if m.Key != nil && m.Key.LocationName != "" {
		key = m.Key.LocationName
	}
	if m.Value != nil && m.Value.LocationName != "" {
		value = m.Value.LocationName
	}
	return entry, key, value
}

// Tag is the Go struct tag that carries a member's wire names to the codec:
// q (query name), x (XML element name), item (list entry element), flat (list or map
// written without a wrapper), req (required on input), key/val (map entry names).
// The generator writes it and the codec reads it, so these rules live only here.
func Tag(api *API, owner *Shape, m Member) string {
	parts := []string{fmt.Sprintf(`q:%q`, QueryName(m)), fmt.Sprintf(`x:%q`, XMLName(m))}
	target := api.Shapes[m.Shape]
	if target != nil {
		switch target.Type {
		case "list":
			parts = append(parts, fmt.Sprintf(`item:%q`, ListItemName(target)))
			if Flattened(m, target) {
				parts = append(parts, `flat:"1"`)
			}
		case "map":
			_, k, v := MapNames(target)
			parts = append(parts, fmt.Sprintf(`key:%q`, k), fmt.Sprintf(`val:%q`, v))
			if Flattened(m, target) {
				parts = append(parts, `flat:"1"`)
			}
		}
	}
	if owner.IsRequired(m.Name) {
		parts = append(parts, `req:"1"`)
	}
	return strings.Join(parts, " ")
}
