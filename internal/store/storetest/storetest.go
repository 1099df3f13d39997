// Package storetest is the conformance suite every store.Store implementation must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"strato/internal/store"
)

// Run exercises a fresh, empty store. reopen closes and reopens the same database, to
// check that committed state survives.
func Run(t *testing.T, open func(t *testing.T) store.Store, reopen func(t *testing.T, s store.Store) store.Store) {
	ctx := context.Background()
	scope := store.Scope{Account: "111122223333", Region: "us-east-1"}
	other := store.Scope{Account: "444455556666", Region: "us-east-1"}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

	t.Run("resources", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		k1 := store.Resource{Scope: scope, Kind: "key-pair", ID: "key-2", Name: "alpha", CreatedAt: now, Body: []byte(`{"a":1}`)}
		k2 := store.Resource{Scope: scope, Kind: "key-pair", ID: "key-1", Name: "beta", CreatedAt: now, Body: []byte(`{"b":1}`)}
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.InsertResource(k1); err != nil {
				return err
			}
			return tx.InsertResource(k2)
		})
		dupName := k1
		dupName.ID = "key-3"
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertResource(dupName) }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name: got %v, want ErrConflict", err)
		}
		// The same name in another account is a different resource.
		dupName.Scope = other
		mustUpdate(t, s, func(tx store.Tx) error { return tx.InsertResource(dupName) })
		mustView(t, s, func(tx store.Tx) error {
			list, err := tx.ListResources(scope, "key-pair")
			if err != nil {
				return err
			}
			if len(list) != 2 || list[0].ID != "key-1" || list[1].ID != "key-2" {
				t.Fatalf("list not ordered by ID or leaks across accounts: %+v", list)
			}
			got, err := tx.GetResourceByName(scope, "key-pair", "alpha")
			if err != nil || got.ID != "key-2" || string(got.Body) != `{"a":1}` || !got.CreatedAt.Equal(now) {
				t.Fatalf("by name: %+v %v", got, err)
			}
			if _, err := tx.GetResource(other, "key-pair", "key-1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("cross-account get: %v", err)
			}
			return nil
		})
		k1.Body = []byte(`{"a":2}`)
		mustUpdate(t, s, func(tx store.Tx) error { return tx.UpdateResource(k1) })
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.PutTag(scope, store.Tag{ResourceID: "key-2", ResourceKind: "key-pair", Key: "env", Value: "prod"}); err != nil {
				return err
			}
			return tx.PutTag(scope, store.Tag{ResourceID: "key-2", ResourceKind: "key-pair", Key: "env", Value: "dev"})
		})
		mustView(t, s, func(tx store.Tx) error {
			tags, err := tx.ListTags(scope, "key-2")
			if err != nil || len(tags) != 1 || tags[0].Value != "dev" {
				t.Fatalf("tags after overwrite: %+v %v", tags, err)
			}
			byKind, err := tx.ListTagsByKind(scope, "key-pair")
			if err != nil || len(byKind) != 1 || byKind[0].ResourceID != "key-2" {
				t.Fatalf("tags by kind: %+v %v", byKind, err)
			}
			if other, _ := tx.ListTagsByKind(scope, "instance"); len(other) != 0 {
				t.Fatalf("tags of another kind: %+v", other)
			}
			many := []string{"key-2"}
			for i := 0; i < 20; i++ {
				many = append(many, fmt.Sprintf("key-x%d", i))
			}
			if long, err := tx.ListTags(scope, many...); err != nil || len(long) != 1 {
				t.Fatalf("tags of a long ID list: %+v %v", long, err)
			}
			return nil
		})
		mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteResource(scope, "key-pair", "key-2") })
		mustView(t, s, func(tx store.Tx) error {
			if tags, _ := tx.ListTags(scope); len(tags) != 0 {
				t.Fatalf("tags outlived their resource: %+v", tags)
			}
			return nil
		})
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.DeleteResource(scope, "key-pair", "key-2") }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete missing: %v", err)
		}
	})

	t.Run("counts and quotas", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		mustUpdate(t, s, func(tx store.Tx) error {
			for _, id := range []string{"key-1", "key-2", "key-3"} {
				if err := tx.InsertResource(store.Resource{Scope: scope, Kind: "key-pair", ID: id, CreatedAt: now, Body: []byte("{}")}); err != nil {
					return err
				}
			}
			return tx.InsertResource(store.Resource{Scope: other, Kind: "key-pair", ID: "key-4", CreatedAt: now, Body: []byte("{}")})
		})
		mustUpdate(t, s, func(tx store.Tx) error {
			if n, err := tx.CountResources(scope, "key-pair"); err != nil || n != 3 {
				t.Fatalf("count: %d %v", n, err)
			}
			if _, err := tx.GetQuota(scope.Account, "vpcs-per-region"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unset quota: %v", err)
			}
			if err := tx.PutQuota(scope.Account, "vpcs-per-region", 5); err != nil {
				return err
			}
			if err := tx.PutQuota(scope.Account, "vpcs-per-region", 10); err != nil {
				return err
			}
			if v, err := tx.GetQuota(scope.Account, "vpcs-per-region"); err != nil || v != 10 {
				t.Fatalf("quota: %d %v", v, err)
			}
			if all, err := tx.ListQuotas(other.Account); err != nil || len(all) != 0 {
				t.Fatalf("another account's quotas: %v %v", all, err)
			}
			if err := tx.DeleteQuota(scope.Account, "vpcs-per-region"); err != nil {
				return err
			}
			all, err := tx.ListQuotas(scope.Account)
			if err != nil || len(all) != 0 {
				t.Fatalf("after delete: %v %v", all, err)
			}
			return nil
		})
	})

	t.Run("children and tag lookups", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		mustUpdate(t, s, func(tx store.Tx) error {
			for i, parent := range []string{"vpc-a", "vpc-b", "vpc-a", ""} {
				id := fmt.Sprintf("subnet-%d", i)
				if err := tx.InsertResource(store.Resource{Scope: scope, Kind: "subnet", ID: id, Parent: parent, CreatedAt: now, Body: []byte("{}")}); err != nil {
					return err
				}
				if err := tx.PutTag(scope, store.Tag{ResourceID: id, ResourceKind: "subnet", Key: "tier", Value: []string{"web", "app", "web", "db"}[i]}); err != nil {
					return err
				}
			}
			return tx.InsertResource(store.Resource{Scope: other, Kind: "subnet", ID: "subnet-x", Parent: "vpc-a", CreatedAt: now, Body: []byte("{}")})
		})
		mustUpdate(t, s, func(tx store.Tx) error {
			kids, err := tx.ListChildren(scope, "subnet", "vpc-a")
			if err != nil || len(kids) != 2 || kids[0].ID != "subnet-0" || kids[1].ID != "subnet-2" || kids[0].Parent != "vpc-a" {
				t.Fatalf("children of vpc-a: %+v %v", kids, err)
			}
			// Moving a resource to another parent (an internet gateway's attachment).
			moved := kids[0]
			moved.Parent = "vpc-b"
			if err := tx.UpdateResource(moved); err != nil {
				return err
			}
			if kids, _ := tx.ListChildren(scope, "subnet", "vpc-b"); len(kids) != 2 || kids[0].Parent != "vpc-b" {
				t.Fatalf("after the move vpc-b has %d children", len(kids))
			}
			ids, err := tx.TaggedIDs(scope, "subnet", "tier", []string{"web", "db"})
			if err != nil || fmt.Sprint(ids) != "[subnet-0 subnet-2 subnet-3]" {
				t.Fatalf("tagged web or db: %v %v", ids, err)
			}
			if ids, _ := tx.TaggedIDs(scope, "vpc", "tier", []string{"web"}); len(ids) != 0 {
				t.Fatalf("another kind's tags: %v", ids)
			}
			return nil
		})
	})

	t.Run("rollback", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		boom := errors.New("boom")
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.InsertResource(store.Resource{Scope: scope, Kind: "k", ID: "x", CreatedAt: now, Body: []byte("{}")}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		mustView(t, s, func(tx store.Tx) error {
			if _, err := tx.GetResource(scope, "k", "x"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rolled-back insert is visible: %v", err)
			}
			return nil
		})
	})

	t.Run("accounts, keys, settings, idempotency survive reopen", func(t *testing.T) {
		s := open(t)
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.CreateAccount(store.Account{ID: scope.Account, Name: "ops", CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.CreateAccessKey(store.AccessKey{ID: "AKIAEXAMPLE", Secret: "s3cret", AccountID: scope.Account, CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.PutSetting("paging-secret", []byte{1, 2, 3}); err != nil {
				return err
			}
			return tx.PutIdempotency(store.IdempotencyRecord{Scope: scope, Action: "RunInstances", Token: "tok", ParamsHash: "h", Response: []byte("r"), CreatedAt: now})
		})
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.PutIdempotency(store.IdempotencyRecord{Scope: scope, Action: "RunInstances", Token: "tok", ParamsHash: "h2", Response: []byte("r2"), CreatedAt: now})
		}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second record for a token: %v", err)
		}
		s = reopen(t, s)
		defer s.Close()
		mustView(t, s, func(tx store.Tx) error {
			k, err := tx.GetAccessKey("AKIAEXAMPLE")
			if err != nil || k.Secret != "s3cret" || k.AccountID != scope.Account {
				t.Fatalf("key: %+v %v", k, err)
			}
			accts, err := tx.ListAccounts()
			if err != nil || len(accts) != 1 || accts[0].Name != "ops" {
				t.Fatalf("accounts: %+v %v", accts, err)
			}
			v, err := tx.GetSetting("paging-secret")
			if err != nil || len(v) != 3 {
				t.Fatalf("setting: %v %v", v, err)
			}
			rec, err := tx.GetIdempotency(scope, "RunInstances", "tok")
			if err != nil || rec.ParamsHash != "h" || string(rec.Response) != "r" {
				t.Fatalf("idempotency: %+v %v", rec, err)
			}
			if _, err := tx.GetAccessKey("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("missing key: %v", err)
			}
			return nil
		})
	})
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func mustView(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}
