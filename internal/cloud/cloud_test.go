package cloud

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"strato/internal/sshkey"
	"strato/internal/store"
	"strato/internal/store/sqlite"
)

func newTestCloud(t *testing.T) *Cloud {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "strato.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := New(context.Background(), st, SystemClock{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var testScope = Scope{Account: "111122223333", Region: "us-east-1"}

func codeOf(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

func TestIdempotent(t *testing.T) {
	c := newTestCloud(t)
	ctx := context.Background()
	runs := 0
	create := func(params any, token string) (string, error) {
		return Idempotent(ctx, c, testScope, "CreateThing", token, params, func(tx store.Tx) (string, error) {
			runs++
			id := NewID("thing")
			return id, tx.PutSetting("thing-"+id, []byte("x"))
		})
	}
	type params struct{ Size int }
	first, err := create(params{1}, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := create(params{1}, "tok-1")
	if err != nil || again != first || runs != 1 {
		t.Fatalf("repeat: %q %v, runs %d; want %q once", again, err, runs, first)
	}
	_, err = create(params{2}, "tok-1")
	if codeOf(err) != "IdempotentParameterMismatch" {
		t.Fatalf("other parameters, same token: %v", err)
	}
	other, err := create(params{1}, "tok-2")
	if err != nil || other == first || runs != 2 {
		t.Fatalf("new token: %q %v", other, err)
	}
	// No token: every call runs.
	create(params{1}, "")
	create(params{1}, "")
	if runs != 4 {
		t.Fatalf("without a token ran %d times, want 4", runs)
	}
	_, err = create(params{1}, strings.Repeat("x", 65))
	if codeOf(err) != "InvalidParameterValue" {
		t.Fatalf("65-character token: %v", err)
	}
	// A failed attempt records nothing: the token stays usable.
	_, err = Idempotent(ctx, c, testScope, "CreateThing", "tok-3", params{1}, func(store.Tx) (string, error) {
		return "", errors.New("boom")
	})
	if err == nil {
		t.Fatal("want the error")
	}
	if _, err := create(params{9}, "tok-3"); err != nil {
		t.Fatalf("token after a failed attempt: %v", err)
	}
}

func TestDryRunRollsBack(t *testing.T) {
	c := newTestCloud(t)
	ctx := WithDryRun(context.Background())
	_, err := c.CreateKeyPair(ctx, testScope, "dry", sshkey.TypeED25519, sshkey.FormatPEM, []Tag{{Key: "a", Value: "b"}})
	if !errors.Is(err, ErrDryRun) {
		t.Fatalf("dry run: %v", err)
	}
	list, err := c.DescribeKeyPairs(context.Background(), testScope, KeyPairQuery{})
	if err != nil || len(list) != 0 {
		t.Fatalf("dry run left %d key pairs: %v", len(list), err)
	}
	tags, _, err := c.DescribeTags(context.Background(), testScope, nil, Page{})
	if err != nil || len(tags) != 0 {
		t.Fatalf("dry run left tags: %v %v", tags, err)
	}
}

func TestTagRules(t *testing.T) {
	long := strings.Repeat("k", MaxTagKeyLength+1)
	cases := []struct {
		name string
		tags []Tag
		code string
	}{
		{"ok", []Tag{{"Name", "web"}, {"empty-value", ""}}, ""},
		{"key of 128 unicode characters", []Tag{{strings.Repeat("é", 128), "v"}}, ""},
		{"key too long", []Tag{{long, "v"}}, "InvalidParameterValue"},
		{"value too long", []Tag{{"k", strings.Repeat("v", MaxTagValueLength+1)}}, "InvalidParameterValue"},
		{"empty key", []Tag{{"", "v"}}, "InvalidParameterValue"},
		{"reserved prefix", []Tag{{"AWS:thing", "v"}}, "InvalidParameterValue"},
		{"duplicate key", []Tag{{"a", "1"}, {"a", "2"}}, "InvalidParameterValue"},
	}
	for _, c := range cases {
		err := ValidateTags(c.tags)
		if codeOf(err) != c.code {
			t.Errorf("%s: got %v, want %q", c.name, err, c.code)
		}
	}
	var fiftyOne []Tag
	for i := 0; i < 51; i++ {
		fiftyOne = append(fiftyOne, Tag{Key: NewID("k"), Value: "v"})
	}
	if codeOf(ValidateTags(fiftyOne)) != "TagLimitExceeded" {
		t.Error("51 tags accepted")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID("key")
		if !ValidID("key", id) || len(id) != 21 || seen[id] {
			t.Fatalf("bad or repeated ID %q", id)
		}
		seen[id] = true
		acct := NewAccountID()
		if !ValidAccountID(acct) || acct[0] == '0' {
			t.Fatalf("bad account ID %q", acct)
		}
	}
	for _, bad := range []string{"key-", "key-XYZ", "vol-0123456789abcdef0", "key-0123456789abcdef", "key-0123456789abcdefg"} {
		if ValidID("key", bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
