package filter

import (
	"strings"
	"unicode/utf8"
)

// A filter value is a glob: '*' matches any run of characters (including
// none), '?' matches exactly one character, and a backslash makes the
// following '*', '?' or '\' literal. A backslash before any other character,
// or at the very end of the value, stands for itself. Matching is
// case-sensitive and '?' consumes one Unicode code point.

type tokKind uint8

const (
	tokLit  tokKind = iota // a literal run of text
	tokOne                 // '?'
	tokStar                // '*'
)

type token struct {
	kind tokKind
	lit  string
}

type shape uint8

const (
	shapeExact    shape = iota // no wildcard: plain equality
	shapeAny                   // "*" (or "**"...): matches everything
	shapePrefix                // "lit*"
	shapeSuffix                // "*lit"
	shapeContains              // "*lit*"
	shapeGeneral               // anything else
)

// pattern is one compiled filter value.
type pattern struct {
	shape shape
	lit   string  // the literal for the exact/prefix/suffix/contains shapes
	toks  []token // used by shapeGeneral
}

// compilePattern parses one filter value.
func compilePattern(v string) pattern {
	// Fast path: no special character at all.
	if strings.IndexAny(v, `*?\`) < 0 {
		return pattern{shape: shapeExact, lit: v}
	}

	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\':
			if i+1 < len(v) && (v[i+1] == '*' || v[i+1] == '?' || v[i+1] == '\\') {
				lit.WriteByte(v[i+1])
				i++
			} else {
				lit.WriteByte('\\')
			}
		case '*':
			flush()
			// Collapse runs of stars; they are equivalent to one.
			if n := len(toks); n == 0 || toks[n-1].kind != tokStar {
				toks = append(toks, token{kind: tokStar})
			}
		case '?':
			flush()
			toks = append(toks, token{kind: tokOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()

	// Classify into a fast shape when possible.
	switch {
	case len(toks) == 0:
		return pattern{shape: shapeExact, lit: ""}
	case len(toks) == 1 && toks[0].kind == tokLit:
		return pattern{shape: shapeExact, lit: toks[0].lit}
	case len(toks) == 1 && toks[0].kind == tokStar:
		return pattern{shape: shapeAny}
	case len(toks) == 2 && toks[0].kind == tokLit && toks[1].kind == tokStar:
		return pattern{shape: shapePrefix, lit: toks[0].lit}
	case len(toks) == 2 && toks[0].kind == tokStar && toks[1].kind == tokLit:
		return pattern{shape: shapeSuffix, lit: toks[1].lit}
	case len(toks) == 3 && toks[0].kind == tokStar && toks[1].kind == tokLit && toks[2].kind == tokStar:
		return pattern{shape: shapeContains, lit: toks[1].lit}
	}
	return pattern{shape: shapeGeneral, toks: toks}
}

func (p *pattern) match(s string) bool {
	switch p.shape {
	case shapeExact:
		return s == p.lit
	case shapeAny:
		return true
	case shapePrefix:
		return strings.HasPrefix(s, p.lit)
	case shapeSuffix:
		return strings.HasSuffix(s, p.lit)
	case shapeContains:
		return strings.Contains(s, p.lit)
	}
	return globMatch(p.toks, s)
}

// globMatch is an iterative matcher that remembers only the most recent star:
// on a mismatch it lets that star swallow one more character and retries.
// Remembering earlier stars is unnecessary because a later star can absorb
// anything an earlier one could. Runs in O(len(toks) * len(s)) worst case
// and allocates nothing.
func globMatch(toks []token, s string) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokLit:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			case tokOne:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch (or pattern exhausted with input left): backtrack.
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starSi:])
		starSi += w
		si = starSi
		ti = starTi + 1
	}
}

// exactSetThreshold is the number of plain values above which a map lookup
// beats scanning a slice.
const exactSetThreshold = 8

// valueSet is the compiled form of one filter's values (OR-ed together).
type valueSet struct {
	exact    []string            // plain values, when few
	exactMap map[string]struct{} // plain values, when many
	globs    []pattern           // values with wildcards
	any      bool                // some value is "*"
}

func compileValues(values []string) valueSet {
	var vs valueSet
	for _, v := range values {
		p := compilePattern(v)
		switch p.shape {
		case shapeExact:
			vs.exact = append(vs.exact, p.lit)
		case shapeAny:
			vs.any = true
		default:
			vs.globs = append(vs.globs, p)
		}
	}
	if len(vs.exact) > exactSetThreshold {
		vs.exactMap = make(map[string]struct{}, len(vs.exact))
		for _, v := range vs.exact {
			vs.exactMap[v] = struct{}{}
		}
		vs.exact = nil
	}
	return vs
}

// match reports whether s matches at least one of the values.
func (vs *valueSet) match(s string) bool {
	if vs.any {
		return true
	}
	if vs.exactMap != nil {
		if _, ok := vs.exactMap[s]; ok {
			return true
		}
	} else {
		for _, e := range vs.exact {
			if e == s {
				return true
			}
		}
	}
	for i := range vs.globs {
		if vs.globs[i].match(s) {
			return true
		}
	}
	return false
}

// empty reports whether the set can match nothing (the filter had no values).
func (vs *valueSet) empty() bool {
	return !vs.any && len(vs.exact) == 0 && vs.exactMap == nil && len(vs.globs) == 0
}

// Unescape returns the literal text a filter value stands for when it has no
// wildcards, and ok=false when it contains an unescaped '*' or '?'. Describe
// handlers can use it to turn an exact filter into an index lookup.
func Unescape(v string) (lit string, ok bool) {
	p := compilePattern(v)
	if p.shape != shapeExact {
		return "", false
	}
	return p.lit, true
}
