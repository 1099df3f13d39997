package paging

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func i32(v int32) *int32    { return &v }
func str(s string) *string  { return &s }
func ident(s string) string { return s }

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("i-%06d", i)
	}
	return out
}

func codeOf(t *testing.T, err error) string {
	t.Helper()
	var coded interface {
		error
		Code() string
	}
	if !errors.As(err, &coded) {
		t.Fatalf("err %v (%T) has no Code()", err, err)
	}
	return coded.Code()
}

var codec = NewCodec([]byte("test-secret"))

func TestWalkAllPages(t *testing.T) {
	items := keys(1000)
	scope := Scope("DescribeInstances", "123456789012", "us-east-1", "")
	var got []string
	var tok *string
	pages := 0
	for {
		page, next, err := Page(codec, Request{MaxResults: i32(7), NextToken: tok, Min: 5, Max: 1000, Scope: scope}, items, ident)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) > 7 {
			t.Fatalf("page of %d", len(page))
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		tok = str(next)
	}
	if !slices.Equal(got, items) {
		t.Fatalf("walk returned %d items, want every item once in order", len(got))
	}
	if want := (1000 + 6) / 7; pages != want {
		t.Errorf("pages = %d, want %d", pages, want)
	}
}

func TestExactMultipleHasNoDanglingToken(t *testing.T) {
	items := keys(14)
	p1, next, _ := Page(codec, Request{MaxResults: i32(7)}, items, ident)
	p2, next2, err := Page(codec, Request{MaxResults: i32(7), NextToken: &next}, items, ident)
	if err != nil || len(p1) != 7 || len(p2) != 7 || next2 != "" {
		t.Fatalf("p1=%d p2=%d next2=%q err=%v", len(p1), len(p2), next2, err)
	}
}

func TestMutationBetweenPages(t *testing.T) {
	items := keys(30)
	req := Request{MaxResults: i32(10), Scope: "s"}
	p1, next, _ := Page(codec, req, items, ident)
	if p1[9] != "i-000009" {
		t.Fatal(p1)
	}

	// Delete the last item returned and the next one, insert one before the
	// cursor (must not appear) and one after (must appear).
	mutated := slices.DeleteFunc(slices.Clone(items), func(s string) bool { return s == "i-000009" || s == "i-000010" })
	mutated = append(mutated, "i-000005x", "i-000015x")
	slices.Sort(mutated)

	req.NextToken = &next
	p2, _, err := Page(codec, req, mutated, ident)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"i-000011", "i-000012", "i-000013", "i-000014", "i-000015", "i-000015x", "i-000016", "i-000017", "i-000018", "i-000019"}
	if !slices.Equal(p2, want) {
		t.Errorf("page 2 = %v\nwant     %v", p2, want)
	}

	// Everything after the cursor deleted: empty page, no token.
	p3, next3, err := Page(codec, req, items[:5], ident)
	if err != nil || len(p3) != 0 || next3 != "" {
		t.Errorf("p3=%v next=%q err=%v", p3, next3, err)
	}
}

func TestBadTokens(t *testing.T) {
	items := keys(50)
	req := Request{MaxResults: i32(10), Scope: "DescribeVolumes|acct-a|us-east-1"}
	_, next, _ := Page(codec, req, items, ident)

	raw, _ := b64.DecodeString(next)
	flipped := slices.Clone(raw)
	flipped[3] ^= 1 // change the key
	forgedKey := slices.Clone(raw)
	copy(forgedKey[1:], "i-000040") // same length, different cursor

	cases := map[string]string{
		"garbage":        "not a token!",
		"truncated":      next[:len(next)-4],
		"bit flip":       b64.EncodeToString(flipped),
		"forged key":     b64.EncodeToString(forgedKey),
		"wrong version":  b64.EncodeToString(append([]byte{9}, raw[1:]...)),
		"too short":      b64.EncodeToString([]byte{1, 2, 3}),
		"other codec":    NewCodec([]byte("other-secret")).Encode(req.Scope, "i-000009"),
		"plain base64 i": b64.EncodeToString([]byte("i-000009")),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := req
			r.NextToken = str(tok)
			_, _, err := Page(codec, r, items, ident)
			if codeOf(t, err) != CodeInvalidPaginationToken {
				t.Errorf("code = %v", err)
			}
			if err.Error() != "The specified pagination token is not valid or is expired." {
				t.Errorf("message = %q", err.Error())
			}
		})
	}

	t.Run("other scope", func(t *testing.T) {
		for _, scope := range []string{"DescribeVolumes|acct-b|us-east-1", "DescribeInstances|acct-a|us-east-1", ""} {
			r := req
			r.Scope = scope
			r.NextToken = &next
			if _, _, err := Page(codec, r, items, ident); codeOf(t, err) != CodeInvalidPaginationToken {
				t.Errorf("scope %q accepted a foreign token", scope)
			}
		}
	})

	t.Run("empty token means first page", func(t *testing.T) {
		r := req
		r.NextToken = str("")
		page, _, err := Page(codec, r, items, ident)
		if err != nil || page[0] != "i-000000" {
			t.Errorf("page=%v err=%v", page, err)
		}
	})
}

func TestMaxResultsBounds(t *testing.T) {
	items := keys(2000)
	base := Request{Min: 5, Max: 1000}
	for _, tc := range []struct {
		max     *int32
		wantLen int
		wantMsg string
	}{
		{nil, 2000, ""}, // Default 0: everything
		{i32(5), 5, ""},
		{i32(1000), 1000, ""},
		{i32(4), 0, "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{i32(2), 0, "Value ( 2 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{i32(0), 0, "Value ( 0 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{i32(-1), 0, "Value ( -1 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{i32(1001), 0, "Value ( 1001 ) for parameter maxResults is invalid. Expecting a value less than 1000."},
	} {
		r := base
		r.MaxResults = tc.max
		page, _, err := Page(codec, r, items, ident)
		if tc.wantMsg != "" {
			if err == nil || codeOf(t, err) != CodeInvalidParameterValue || err.Error() != tc.wantMsg {
				t.Errorf("max=%v: err=%v", *tc.max, err)
			}
			continue
		}
		if err != nil || len(page) != tc.wantLen {
			t.Errorf("len=%d err=%v, want %d", len(page), err, tc.wantLen)
		}
	}

	// Default page size when MaxResults is absent.
	page, next, err := Page(codec, Request{Min: 5, Max: 1000, Default: 100}, items, ident)
	if err != nil || len(page) != 100 || next == "" {
		t.Errorf("default: len=%d next=%q err=%v", len(page), next, err)
	}
	// Unbounded request still refuses non-positive sizes.
	if _, _, err := Page(codec, Request{MaxResults: i32(0)}, items, ident); err == nil {
		t.Error("MaxResults=0 accepted")
	}
}

func TestCheckIDsWithMaxResults(t *testing.T) {
	if err := CheckIDsWithMaxResults("instancesSet", 0, i32(5)); err != nil {
		t.Error(err)
	}
	if err := CheckIDsWithMaxResults("instancesSet", 3, nil); err != nil {
		t.Error(err)
	}
	err := CheckIDsWithMaxResults("instancesSet", 3, i32(5))
	if codeOf(t, err) != CodeInvalidParameterCombination ||
		err.Error() != "The parameter instancesSet cannot be used with the parameter maxResults" {
		t.Errorf("got %v", err)
	}
}

func TestScope(t *testing.T) {
	if Scope("ab", "c") == Scope("a", "bc") {
		t.Error("scope parts not delimited")
	}
	if Scope("x") != Scope("x") {
		t.Error("scope not deterministic")
	}
}

func TestTokenIsURLSafe(t *testing.T) {
	tok := codec.Encode("s", "i-000123")
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	if k, err := codec.Decode("s", tok); err != nil || k != "i-000123" {
		t.Errorf("round trip: %q %v", k, err)
	}
}

func TestRandomSecret(t *testing.T) {
	a, b := NewCodec(nil), NewCodec(nil)
	if _, err := b.Decode("s", a.Encode("s", "k")); err == nil {
		t.Error("two random codecs share a key")
	}
}

func TestConcurrentCodec(t *testing.T) {
	items := keys(100)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			var tok *string
			for {
				_, next, err := Page(codec, Request{MaxResults: i32(5), NextToken: tok, Scope: "c"}, items, ident)
				if err != nil {
					t.Error(err)
					return
				}
				if next == "" {
					return
				}
				tok = &next
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestTokensRevealNothing(t *testing.T) {
	c := NewCodec([]byte("installation secret"))
	key := "key-0123456789abcdef0\x00Environment"
	tok := c.Encode("scope", key)
	raw, err := b64.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "key-0123456789abcdef0") || strings.Contains(tok, "key-") {
		t.Fatalf("token %q shows the key it continues after", tok)
	}
	if got, err := c.Decode("scope", tok); err != nil || got != key {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if tok == c.Encode("scope", key) {
		t.Fatal("two tokens for the same key are identical: nonces are not fresh")
	}
	if _, err := NewCodec([]byte("another secret")).Decode("scope", tok); err == nil {
		t.Fatal("a token opened under another secret")
	}
}
