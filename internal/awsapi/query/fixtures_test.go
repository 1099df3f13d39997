package query

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"strato/internal/awsapi/model"
)

// The EC2 protocol tests shipped with the model module are the codec's fixtures. Each
// case brings its own shapes; the test turns them into Go struct types with the same
// tags the generator writes (model.Tag), so generator rules and codec are tested together.

type fixtureSuite struct {
	Description string          `json:"description"`
	Shapes      json.RawMessage `json:"shapes"`
	Cases       []struct {
		Given struct {
			Input  *model.Ref `json:"input"`
			Output *model.Ref `json:"output"`
			Name   string     `json:"name"`
		} `json:"given"`
		Params     map[string]any `json:"params"`
		Result     map[string]any `json:"result"`
		Serialized struct {
			Body string `json:"body"`
		} `json:"serialized"`
		Response struct {
			Body string `json:"body"`
		} `json:"response"`
	} `json:"cases"`
}

func loadFixtures(t *testing.T, name string) []fixtureSuite {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/aws/aws-sdk-go@v1.55.8").Output()
	if err != nil {
		t.Fatalf("locating the model module: %v", err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(info.Dir, "models/protocol_tests", name, "ec2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var suites []fixtureSuite
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	return suites
}

// typeBuilder turns model shapes into Go types with reflect.StructOf.
type typeBuilder struct {
	api  *model.API
	done map[string]reflect.Type
}

func (b *typeBuilder) goType(shape string, elem bool) reflect.Type {
	s := b.api.Shapes[shape]
	wrap := func(t reflect.Type) reflect.Type {
		if elem {
			return t
		}
		return reflect.PointerTo(t)
	}
	switch s.Type {
	case "structure":
		return wrap(b.structType(s))
	case "list":
		return reflect.SliceOf(b.goType(s.Member.Shape, true))
	case "map":
		return reflect.MapOf(reflect.TypeOf(""), b.goType(s.Value.Shape, true))
	case "string", "character":
		return wrap(reflect.TypeOf(""))
	case "integer":
		return wrap(reflect.TypeOf(int32(0)))
	case "long":
		return wrap(reflect.TypeOf(int64(0)))
	case "boolean":
		return wrap(reflect.TypeOf(false))
	case "double", "float":
		return wrap(reflect.TypeOf(float64(0)))
	case "timestamp":
		return wrap(reflect.TypeOf(time.Time{}))
	case "blob":
		return reflect.TypeOf([]byte(nil))
	}
	panic("shape type " + s.Type)
}

func (b *typeBuilder) structType(s *model.Shape) reflect.Type {
	if t, ok := b.done[s.Name]; ok {
		return t
	}
	var fields []reflect.StructField
	for _, m := range s.Members {
		fields = append(fields, reflect.StructField{
			Name: strings.ToUpper(m.Name[:1]) + m.Name[1:],
			Type: b.goType(m.Shape, false),
			Tag:  reflect.StructTag(model.Tag(b.api, s, m)),
		})
	}
	t := reflect.StructOf(fields)
	b.done[s.Name] = t
	return t
}

// fill sets v (of the Go type for shape) from a fixture's JSON value.
func (b *typeBuilder) fill(v reflect.Value, shape string, j any) {
	s := b.api.Shapes[shape]
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		v.Set(p)
		v = p.Elem()
	}
	switch s.Type {
	case "structure":
		obj := j.(map[string]any)
		for i, m := range s.Members {
			if mv, ok := obj[m.Name]; ok {
				b.fill(v.Field(i), m.Shape, mv)
			}
		}
	case "list":
		arr := j.([]any)
		sl := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i, e := range arr {
			b.fill(sl.Index(i), s.Member.Shape, e)
		}
		v.Set(sl)
	case "map":
		obj := j.(map[string]any)
		mp := reflect.MakeMap(v.Type())
		for k, e := range obj {
			ev := reflect.New(v.Type().Elem()).Elem()
			b.fill(ev, s.Value.Shape, e)
			mp.SetMapIndex(reflect.ValueOf(k), ev)
		}
		v.Set(mp)
	case "string", "character":
		v.SetString(j.(string))
	case "integer", "long":
		v.SetInt(int64(j.(float64)))
	case "boolean":
		v.SetBool(j.(bool))
	case "double", "float":
		v.SetFloat(j.(float64))
	case "timestamp":
		sec, frac := math.Modf(j.(float64))
		v.Set(reflect.ValueOf(time.Unix(int64(sec), int64(frac*1e9)).UTC()))
	case "blob":
		v.SetBytes([]byte(j.(string)))
	}
}

func suiteAPI(t *testing.T, s fixtureSuite) *model.API {
	doc, _ := json.Marshal(map[string]json.RawMessage{"shapes": s.Shapes})
	api, err := model.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestProtocolFixturesInput(t *testing.T) {
	for _, suite := range loadFixtures(t, "input") {
		api := suiteAPI(t, suite)
		for i, c := range suite.Cases {
			t.Run(fmt.Sprintf("%s/%d", suite.Description, i), func(t *testing.T) {
				b := &typeBuilder{api: api, done: map[string]reflect.Type{}}
				shape := api.Shapes[c.Given.Input.Shape]
				typ := b.structType(shape)
				form, err := url.ParseQuery(c.Serialized.Body)
				if err != nil {
					t.Fatal(err)
				}
				delete(form, "Action")
				delete(form, "Version")
				// A client fills an absent idempotency token itself; the server sees it.
				params := map[string]any{}
				for k, v := range c.Params {
					params[k] = v
				}
				for _, m := range shape.Members {
					if m.IdempotencyToken && params[m.Name] == nil {
						params[m.Name] = form.Get(model.QueryName(m))
					}
				}
				want := reflect.New(reflect.PointerTo(typ)).Elem()
				b.fill(want, shape.Name, params)
				got := reflect.New(typ)
				if err := Decode(form, got.Interface()); err != nil {
					t.Fatalf("decode %q: %v", c.Serialized.Body, err)
				}
				if !reflect.DeepEqual(normalize(got.Interface()), normalize(want.Interface())) {
					t.Fatalf("decode %q:\n got  %+v\n want %+v", c.Serialized.Body, got.Elem().Interface(), want.Elem().Interface())
				}
			})
		}
	}
}

func TestProtocolFixturesOutput(t *testing.T) {
	for _, suite := range loadFixtures(t, "output") {
		api := suiteAPI(t, suite)
		for i, c := range suite.Cases {
			t.Run(fmt.Sprintf("%s/%d", suite.Description, i), func(t *testing.T) {
				b := &typeBuilder{api: api, done: map[string]reflect.Type{}}
				shape := api.Shapes[c.Given.Output.Shape]
				val := reflect.New(reflect.PointerTo(b.structType(shape))).Elem()
				b.fill(val, shape.Name, c.Result)
				var buf bytes.Buffer
				buf.WriteString("<" + c.Given.Name + "Response>")
				Encode(&buf, val.Interface())
				buf.WriteString("</" + c.Given.Name + "Response>")
				got, want := parseXMLTree(t, buf.String()), parseXMLTree(t, c.Response.Body)
				want.dropChildren("RequestId", "requestId")
				unorderedMaps := strings.Contains(strings.ToLower(suite.Description), "map")
				if diff := compareTrees(got, want, unorderedMaps); diff != "" {
					t.Fatalf("%s\n got  %s\n want %s", diff, buf.String(), c.Response.Body)
				}
			})
		}
	}
}

type xmlTree struct {
	name string
	text string
	kids []*xmlTree
}

func parseXMLTree(t *testing.T, doc string) *xmlTree {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var stack []*xmlTree
	var root *xmlTree
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parsing %q: %v", doc, err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &xmlTree{name: tk.Name.Local}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	return root
}

func (n *xmlTree) dropChildren(names ...string) {
	kept := n.kids[:0]
	for _, k := range n.kids {
		drop := false
		for _, name := range names {
			drop = drop || k.name == name
		}
		if !drop {
			kept = append(kept, k)
		}
	}
	n.kids = kept
}

// compareTrees compares element structure and text the way an XML client reads it:
// siblings of different names may come in any order, siblings of the same name (list
// entries) must keep theirs unless unordered is set (map entries carry no order), and
// timestamps compare as instants, since clients accept several forms.
func compareTrees(a, b *xmlTree, unordered bool) string {
	if a.name != b.name {
		return fmt.Sprintf("element %s vs %s", a.name, b.name)
	}
	if len(a.kids) != len(b.kids) {
		return fmt.Sprintf("element %s has %d children, want %d", a.name, len(a.kids), len(b.kids))
	}
	if len(a.kids) == 0 {
		at, bt := strings.TrimSpace(a.text), strings.TrimSpace(b.text)
		if at != bt && !sameInstant(at, bt) {
			return fmt.Sprintf("element %s text %q, want %q", a.name, at, bt)
		}
		return ""
	}
	ga, gb := groupByName(a.kids, unordered), groupByName(b.kids, unordered)
	for name, as := range ga {
		bs := gb[name]
		if len(as) != len(bs) {
			return fmt.Sprintf("element %s has %d %s children, want %d", a.name, len(as), name, len(bs))
		}
		for i := range as {
			if d := compareTrees(as[i], bs[i], unordered); d != "" {
				return d
			}
		}
	}
	return ""
}

func groupByName(kids []*xmlTree, sorted bool) map[string][]*xmlTree {
	g := map[string][]*xmlTree{}
	for _, k := range kids {
		g[k.name] = append(g[k.name], k)
	}
	if sorted {
		for _, list := range g {
			sort.Slice(list, func(i, j int) bool { return list[i].String() < list[j].String() })
		}
	}
	return g
}

func (n *xmlTree) String() string {
	var b strings.Builder
	b.WriteString("<" + n.name + ">" + strings.TrimSpace(n.text))
	for _, k := range n.kids {
		b.WriteString(k.String())
	}
	return b.String()
}

func sameInstant(got, want string) bool {
	tg, err := parseTime(got)
	if err != nil || !strings.Contains(got, "T") {
		return false
	}
	tw, err := parseTime(want)
	if err != nil {
		if tw, err = time.Parse(http.TimeFormat, want); err != nil {
			return false
		}
	}
	return tg.Equal(tw)
}

// normalize makes empty lists nil: the query protocol cannot tell them apart.
func normalize(v any) any {
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	out.Set(rv)
	normalizeValue(out)
	return out.Interface()
}

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			c := reflect.New(v.Type().Elem())
			c.Elem().Set(v.Elem())
			normalizeValue(c.Elem())
			v.Set(c)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			normalizeValue(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := 0; i < c.Len(); i++ {
			normalizeValue(c.Index(i))
		}
		v.Set(c)
	}
}
