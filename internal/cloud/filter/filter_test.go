package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type vm struct {
	id     string
	state  string
	groups []string
	tags   map[string]string
	desc   string
}

var vmFields = Fields[vm]{
	"instance-id":         func(v vm) []string { return []string{v.id} },
	"instance-state-name": func(v vm) []string { return []string{v.state} },
	"group-id":            func(v vm) []string { return v.groups },
	"description":         func(v vm) []string { return []string{v.desc} },
}

func vmTags(v vm) map[string]string { return v.tags }

var fleet = []vm{
	{id: "i-001", state: "running", groups: []string{"sg-a", "sg-b"}, tags: map[string]string{"Name": "web-1", "env": "prod"}, desc: "*amazon?\\"},
	{id: "i-002", state: "stopped", groups: []string{"sg-b"}, tags: map[string]string{"Name": "web-2", "env": "dev"}, desc: "my database server"},
	{id: "i-003", state: "running", groups: nil, tags: map[string]string{"Name": "db-1"}, desc: "database"},
	{id: "i-004", state: "pending", groups: []string{"sg-c"}, tags: nil, desc: "ünïcode"},
}

func ids(m *Matcher[vm]) string {
	var out []string
	for _, v := range fleet {
		if m.Match(v) {
			out = append(out, v.id[2:])
		}
	}
	return strings.Join(out, ",")
}

func f(name string, values ...string) Filter { return Filter{Name: name, Values: values} }

func TestMatch(t *testing.T) {
	cases := []struct {
		name    string
		filters []Filter
		want    string
	}{
		{"no filters", nil, "001,002,003,004"},
		{"exact", []Filter{f("instance-state-name", "running")}, "001,003"},
		{"exact is case-sensitive", []Filter{f("instance-state-name", "Running")}, ""},
		{"OR within values", []Filter{f("instance-state-name", "stopped", "pending")}, "002,004"},
		{"AND across filters", []Filter{f("instance-state-name", "running"), f("group-id", "sg-a")}, "001"},
		{"same name twice is AND", []Filter{f("group-id", "sg-a"), f("group-id", "sg-b")}, "001"},
		{"star prefix", []Filter{f("instance-state-name", "run*")}, "001,003"},
		{"star suffix", []Filter{f("instance-state-name", "*ed")}, "002"},
		{"star contains", []Filter{f("description", "*database*")}, "002,003"},
		{"star matches empty", []Filter{f("description", "database*")}, "003"},
		{"lone star matches all present", []Filter{f("instance-state-name", "*")}, "001,002,003,004"},
		{"question mark", []Filter{f("instance-id", "i-00?")}, "001,002,003,004"},
		{"question mark needs exactly one", []Filter{f("instance-id", "i-0?")}, ""},
		{"question mark is one rune", []Filter{f("description", "?n?code")}, "004"},
		{"general glob", []Filter{f("instance-id", "i-*?2")}, "002"},
		{"general glob backtracking", []Filter{f("description", "*a*a*e*")}, "002,003"},
		{"escaped literal", []Filter{f("description", `\*amazon\?\\`)}, "001"},
		{"escaped star is not a wildcard", []Filter{f("description", `\*`)}, ""},
		{"escape inside glob", []Filter{f("description", `\**`)}, "001"},
		{"multi-valued field", []Filter{f("group-id", "sg-b")}, "001,002"},
		{"multi-valued field with wildcard", []Filter{f("group-id", "sg-?")}, "001,002,004"},
		{"absent attribute never matches, even with star", []Filter{f("group-id", "*")}, "001,002,004"},
		{"tag:Name exact", []Filter{f("tag:Name", "web-2")}, "002"},
		{"tag:Name wildcard", []Filter{f("tag:Name", "web-*")}, "001,002"},
		{"tag:KEY requires the key", []Filter{f("tag:env", "*")}, "001,002"},
		{"tag:KEY key is literal", []Filter{f("tag:N*", "*")}, ""},
		{"tag-key", []Filter{f("tag-key", "env")}, "001,002"},
		{"tag-key wildcard", []Filter{f("tag-key", "N?me")}, "001,002,003"},
		{"tag-value", []Filter{f("tag-value", "prod", "db-1")}, "001,003"},
		{"tag-value wildcard", []Filter{f("tag-value", "*-1")}, "001,003"},
		{"tags AND fields", []Filter{f("tag:Name", "web-*"), f("instance-state-name", "running")}, "001"},
		{"no values matches nothing", []Filter{f("instance-state-name")}, ""},
		{"empty-string value is exact empty", []Filter{f("description", "")}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.filters, vmFields, vmTags)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := ids(m); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	many := make([]string, 201)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	cases := []struct {
		name     string
		filters  []Filter
		tags     func(vm) map[string]string
		wantCode string
		wantMsg  string
	}{
		{"unknown filter", []Filter{f("xyz", "1")}, vmTags, CodeInvalidParameterValue, "The filter 'xyz' is invalid"},
		{"missing name", []Filter{{Values: []string{"1"}}}, vmTags, CodeInvalidParameterValue, "The filter 'null' is invalid"},
		{"names are case-sensitive", []Filter{f("Instance-Id", "1")}, vmTags, CodeInvalidParameterValue, "The filter 'Instance-Id' is invalid"},
		{"tag filter without tag support", []Filter{f("tag:Name", "x")}, nil, CodeInvalidParameterValue, "The filter 'tag:Name' is invalid"},
		{"tag-key without tag support", []Filter{f("tag-key", "x")}, nil, CodeInvalidParameterValue, "The filter 'tag-key' is invalid"},
		{"bare tag: prefix", []Filter{f("tag:", "x")}, vmTags, CodeInvalidParameterValue, "The filter 'tag:' is invalid"},
		{"too many values in one filter", []Filter{f("instance-id", many...)}, vmTags, CodeFilterLimitExceeded, "The maximum number of filter values specified on a single call is 200"},
		{"too many values across filters", []Filter{f("instance-id", many[:150]...), f("group-id", many[:51]...)}, vmTags, CodeFilterLimitExceeded, "The maximum number of filter values specified on a single call is 200"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.filters, vmFields, tc.tags)
			var coded interface {
				error
				Code() string
			}
			if !errors.As(err, &coded) {
				t.Fatalf("err = %v, want coded error", err)
			}
			if coded.Code() != tc.wantCode || coded.Error() != tc.wantMsg {
				t.Errorf("got %s %q, want %s %q", coded.Code(), coded.Error(), tc.wantCode, tc.wantMsg)
			}
		})
	}

	// Exactly at the limit is fine.
	if _, err := Compile([]Filter{f("instance-id", many[:200]...)}, vmFields, vmTags); err != nil {
		t.Errorf("200 values: %v", err)
	}
	// Custom limits.
	if _, err := CompileWithLimits([]Filter{f("instance-id", "a", "b")}, vmFields, vmTags, Limits{MaxValues: 1}); err == nil {
		t.Error("custom MaxValues not applied")
	}
	if _, err := CompileWithLimits(make([]Filter, 3), vmFields, vmTags, Limits{MaxFilters: 2}); err == nil {
		t.Error("custom MaxFilters not applied")
	}
}

func TestNilMatcher(t *testing.T) {
	var m *Matcher[vm]
	if !m.Match(fleet[0]) || !m.Empty() {
		t.Error("nil matcher must match everything")
	}
	if got := len(m.Filter(fleet)); got != len(fleet) {
		t.Errorf("nil Filter kept %d", got)
	}
	m, _ = Compile(nil, vmFields, nil)
	if !m.Match(fleet[0]) {
		t.Error("empty matcher must match everything")
	}
}

func TestFieldsOverrideTagFilters(t *testing.T) {
	fields := Fields[vm]{"tag-key": func(v vm) []string { return []string{"custom"} }}
	m, err := Compile([]Filter{f("tag-key", "custom")}, fields, vmTags)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match(fleet[3]) {
		t.Error("explicit field should win over built-in tag-key")
	}
}

func TestFilterSlice(t *testing.T) {
	m, _ := Compile([]Filter{f("instance-state-name", "running")}, vmFields, vmTags)
	got := m.Filter(fleet)
	if len(got) != 2 || got[0].id != "i-001" || got[1].id != "i-003" {
		t.Errorf("Filter = %v", got)
	}
}

func TestManyExactValuesUseSet(t *testing.T) {
	vals := make([]string, 50)
	for i := range vals {
		vals[i] = fmt.Sprintf("i-%03d", i+100)
	}
	vals = append(vals, "i-003")
	m, err := Compile([]Filter{f("instance-id", vals...)}, vmFields, vmTags)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(m); got != "003" {
		t.Errorf("got %q", got)
	}
}

func TestGlobAgainstReference(t *testing.T) {
	// Cross-check the compiled matcher against a naive recursive matcher.
	patterns := []string{"", "*", "**", "a", "a*", "*a", "*a*", "a?c", "?", "??", "*?", "?*", "a*b*c", "*ab*ab*",
		`a\*`, `\?*`, `\\`, `a\b`, `\`, "*a?b*", "a**b", "*x*y*z*"}
	inputs := []string{"", "a", "b", "ab", "abc", "aXc", "a*", "?", "?x", `\`, `a\b`, "abab", "aabab", "xyz", "xaybzc", "acb", "ééa", "aé"}
	for _, p := range patterns {
		cp := compilePattern(p)
		for _, s := range inputs {
			if got, want := cp.match(s), refMatch([]rune(unescapeRunes(p)), []rune(s)); got != want {
				t.Errorf("pattern %q input %q: got %v want %v", p, s, got, want)
			}
		}
	}
}

// unescapeRunes rewrites a filter value into a private alphabet for refMatch:
// wildcard '*' -> \x00, '?' -> \x01, literal chars as is.
func unescapeRunes(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 < len(p) && strings.ContainsRune(`*?\`, rune(p[i+1])) {
				b.WriteByte(p[i+1])
				i++
			} else {
				b.WriteByte('\\')
			}
		case '*':
			b.WriteByte(0)
		case '?':
			b.WriteByte(1)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func refMatch(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case 0:
		return refMatch(p[1:], s) || (len(s) > 0 && refMatch(p, s[1:]))
	case 1:
		return len(s) > 0 && refMatch(p[1:], s[1:])
	}
	return len(s) > 0 && p[0] == s[0] && refMatch(p[1:], s[1:])
}

func TestUnescape(t *testing.T) {
	if lit, ok := Unescape(`web\*1`); !ok || lit != "web*1" {
		t.Errorf("Unescape = %q %v", lit, ok)
	}
	if _, ok := Unescape("web*"); ok {
		t.Error("wildcard reported as literal")
	}
}

func BenchmarkMatch(b *testing.B) {
	m, _ := Compile([]Filter{
		f("instance-state-name", "running", "pending"),
		f("tag:Name", "web-*"),
		f("description", "*a*a*e*"),
	}, vmFields, vmTags)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Match(fleet[i&3])
	}
}

func TestCanonical(t *testing.T) {
	a := Canonical([]Filter{f("a", "1", "2"), f("b", "x")})
	b := Canonical([]Filter{f("b", "x"), f("a", "2", "1")})
	if a != b {
		t.Error("order of filters/values should not matter")
	}
	if a == Canonical([]Filter{f("a", "1"), f("b", "x")}) {
		t.Error("different value sets collide")
	}
	if Canonical([]Filter{f("a", "b,c")}) == Canonical([]Filter{f("a", "b", "c")}) {
		t.Error("values not delimited")
	}
}
