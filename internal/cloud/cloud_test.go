package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/cloud/filter"
	"strato/internal/sshkey"
	"strato/internal/store"
)

var testScope = cloud.Scope{Account: "111122223333", Region: "us-east-1"}

func codeOf(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

func TestIdempotent(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	runs := 0
	create := func(params any, token string) (string, error) {
		return cloud.Idempotent(ctx, c, testScope, "CreateThing", token, params, func(tx store.Tx) (string, error) {
			runs++
			id := cloud.NewID("thing")
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
	_, err = cloud.Idempotent(ctx, c, testScope, "CreateThing", "tok-3", params{1}, func(store.Tx) (string, error) {
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
	c := cloudtest.New(t)
	ctx := cloud.WithDryRun(context.Background())
	_, err := c.CreateKeyPair(ctx, testScope, "dry", sshkey.TypeED25519, sshkey.FormatPEM, []cloud.Tag{{Key: "a", Value: "b"}})
	if !errors.Is(err, cloud.ErrDryRun) {
		t.Fatalf("dry run: %v", err)
	}
	list, err := c.DescribeKeyPairs(context.Background(), testScope, cloud.KeyPairQuery{})
	if err != nil || len(list) != 0 {
		t.Fatalf("dry run left %d key pairs: %v", len(list), err)
	}
	tags, _, err := c.DescribeTags(context.Background(), testScope, nil, cloud.Page{})
	if err != nil || len(tags) != 0 {
		t.Fatalf("dry run left tags: %v %v", tags, err)
	}
}

func TestTagRules(t *testing.T) {
	long := strings.Repeat("k", cloud.MaxTagKeyLength+1)
	cases := []struct {
		name string
		tags []cloud.Tag
		code string
	}{
		{"ok", []cloud.Tag{{"Name", "web"}, {"empty-value", ""}}, ""},
		{"key of 128 unicode characters", []cloud.Tag{{strings.Repeat("é", 128), "v"}}, ""},
		{"key too long", []cloud.Tag{{long, "v"}}, "InvalidParameterValue"},
		{"value too long", []cloud.Tag{{"k", strings.Repeat("v", cloud.MaxTagValueLength+1)}}, "InvalidParameterValue"},
		{"empty key", []cloud.Tag{{"", "v"}}, "InvalidParameterValue"},
		{"reserved prefix", []cloud.Tag{{"AWS:thing", "v"}}, "InvalidParameterValue"},
		{"duplicate key", []cloud.Tag{{"a", "1"}, {"a", "2"}}, "InvalidParameterValue"},
	}
	for _, c := range cases {
		err := cloud.ValidateTags(c.tags)
		if codeOf(err) != c.code {
			t.Errorf("%s: got %v, want %q", c.name, err, c.code)
		}
	}
	var fiftyOne []cloud.Tag
	for i := 0; i < 51; i++ {
		fiftyOne = append(fiftyOne, cloud.Tag{Key: cloud.NewID("k"), Value: "v"})
	}
	if codeOf(cloud.ValidateTags(fiftyOne)) != "TagLimitExceeded" {
		t.Error("51 tags accepted")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := cloud.NewID("key")
		if !cloud.ValidID("key", id) || len(id) != 21 || seen[id] {
			t.Fatalf("bad or repeated ID %q", id)
		}
		seen[id] = true
		acct := cloud.NewAccountID()
		if !cloud.ValidAccountID(acct) || acct[0] == '0' {
			t.Fatalf("bad account ID %q", acct)
		}
	}
	for _, bad := range []string{"key-", "key-XYZ", "vol-0123456789abcdef0", "key-0123456789abcdef", "key-0123456789abcdefg"} {
		if cloud.ValidID("key", bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEnsureOperatorOnce(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	// Another account made first (strato account create before the first serve).
	if _, _, err := c.CreateAccount(ctx, "", "team-a"); err != nil {
		t.Fatal(err)
	}
	op, creds, err := c.EnsureOperator(ctx, "210987654321")
	if err != nil || creds == nil || op.ID != "210987654321" {
		t.Fatalf("first: %+v %v %v", op, creds, err)
	}
	again, creds, err := c.EnsureOperator(ctx, "")
	if err != nil || creds != nil || again.ID != op.ID {
		t.Fatalf("second: %+v %v %v", again, creds, err)
	}
	if secret, acct, ok := c.LookupAccessKey(ctx, "AKIANOPE"); ok || secret != "" || acct != "" {
		t.Fatal("unknown key found")
	}
}

func TestKeyPairQuota(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	acct, _, err := c.CreateAccount(ctx, "", "quota")
	if err != nil {
		t.Fatal(err)
	}
	scope := cloud.Scope{Account: acct.ID, Region: "us-east-1"}
	pub := []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
	if err := c.SetQuota(ctx, acct.ID, cloud.QuotaKeyPairs, 2); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "", "ResourceLimitExceeded"} {
		_, err := c.ImportKeyPair(ctx, scope, fmt.Sprintf("k%d", i), pub, nil)
		if codeOf(err) != want || want == "" && err != nil {
			t.Fatalf("key pair %d: got %v, want %q", i, err, want)
		}
	}
	// Another region has its own count.
	if _, err := c.ImportKeyPair(ctx, cloud.Scope{Account: acct.ID, Region: "eu-west-1"}, "k", pub, nil); err != nil {
		t.Fatalf("other region: %v", err)
	}
	// Raised without a restart: the next request sees it.
	if err := c.SetQuota(ctx, acct.ID, cloud.QuotaKeyPairs, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportKeyPair(ctx, scope, "k2", pub, nil); err != nil {
		t.Fatalf("after raising the quota: %v", err)
	}
	keyPairQuota := func() cloud.QuotaValue {
		qs, err := c.Quotas(ctx, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.Name == cloud.QuotaKeyPairs {
				return q
			}
		}
		t.Fatalf("no %s in %+v", cloud.QuotaKeyPairs, qs)
		return cloud.QuotaValue{}
	}
	if q := keyPairQuota(); q.Value != 3 || !q.Overridden {
		t.Fatalf("raised quota: %+v", q)
	}
	if err := c.SetQuota(ctx, acct.ID, cloud.QuotaKeyPairs, -1); err != nil {
		t.Fatal(err)
	}
	if q := keyPairQuota(); q.Value != 5000 || q.Overridden {
		t.Fatalf("back to the default: %+v", q)
	}
	if err := c.SetQuota(ctx, acct.ID, "unicorns", 1); err == nil {
		t.Fatal("unknown quota accepted")
	}
	if err := c.SetQuota(ctx, "999999999999", cloud.QuotaKeyPairs, 1); err == nil {
		t.Fatal("quota set for an account that does not exist")
	}
}

func TestDescribeNarrowsByExactTags(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	s := cloud.Scope{Account: "111122223333", Region: "us-east-1"}
	if err := c.EnsureAccount(ctx, s.Account, "t"); err != nil {
		t.Fatal(err)
	}
	vpc, err := c.CreateVPC(ctx, s, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, tier := range []string{"web", "app", "web", "db", "web*"} {
		sn, err := c.CreateSubnet(ctx, s, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: fmt.Sprintf("10.0.%d.0/24", i),
			Tags: []cloud.Tag{{Key: "tier", Value: tier}, {Key: "n", Value: fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		ids[fmt.Sprint(i)] = sn.ID
	}
	count := func(filters ...filter.Filter) int {
		t.Helper()
		list, _, err := c.DescribeSubnets(ctx, s, nil, filters, cloud.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	cases := []struct {
		name    string
		filters []filter.Filter
		want    int
	}{
		{"exact tag", []filter.Filter{{Name: "tag:tier", Values: []string{"web"}}}, 2},
		{"exact tag, two values", []filter.Filter{{Name: "tag:tier", Values: []string{"web", "db"}}}, 3},
		{"escaped star is literal", []filter.Filter{{Name: "tag:tier", Values: []string{`web\*`}}}, 1},
		{"wildcard reads everything", []filter.Filter{{Name: "tag:tier", Values: []string{"web*"}}}, 3},
		{"two tag filters intersect", []filter.Filter{{Name: "tag:tier", Values: []string{"web"}}, {Name: "tag:n", Values: []string{"2"}}}, 1},
		{"tag and another filter", []filter.Filter{{Name: "tag:tier", Values: []string{"web"}}, {Name: "cidr-block", Values: []string{"10.0.0.0/24"}}}, 1},
		{"no such tag value", []filter.Filter{{Name: "tag:tier", Values: []string{"cache"}}}, 0},
		{"no such tag key", []filter.Filter{{Name: "tag:colour", Values: []string{"red"}}}, 0},
	}
	for _, tc := range cases {
		if got := count(tc.filters...); got != tc.want {
			t.Errorf("%s: %d subnets, want %d", tc.name, got, tc.want)
		}
	}
}
