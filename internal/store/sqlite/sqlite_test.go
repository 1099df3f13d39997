package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"strato/internal/store"
	"strato/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	paths := map[store.Store]string{}
	open := func(t *testing.T) store.Store {
		path := filepath.Join(t.TempDir(), "strato.db")
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		paths[db] = path
		return db
	}
	reopen := func(t *testing.T, s store.Store) store.Store {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := Open(context.Background(), paths[s])
		if err != nil {
			t.Fatal(err)
		}
		paths[db] = paths[s]
		return db
	}
	storetest.Run(t, open, reopen)
}

func TestReadOnlyTransactionsCannotWrite(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "strato.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(context.Background(), func(tx store.Tx) error {
		return tx.PutSetting("x", []byte("y"))
	})
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
}

func TestUpgradeKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strato.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.PutSetting("kept", []byte("yes")) }); err != nil {
		t.Fatal(err)
	}
	// Make it a database written by the first schema version.
	if _, err := db.write.db.ExecContext(ctx, `DROP INDEX resources_by_parent; DROP INDEX tags_by_value;
		ALTER TABLE resources DROP COLUMN parent; DROP TABLE quotas; UPDATE schema_version SET version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	defer db.Close()
	err = db.Update(ctx, func(tx store.Tx) error {
		if v, err := tx.GetSetting("kept"); err != nil || string(v) != "yes" {
			t.Fatalf("data lost in the upgrade: %q %v", v, err)
		}
		if err := tx.InsertResource(store.Resource{Scope: store.Scope{Account: "111122223333", Region: "us-east-1"}, Kind: "subnet", ID: "subnet-1", Parent: "vpc-1", Body: []byte("{}")}); err != nil {
			return err
		}
		return tx.PutQuota("111122223333", "q", 1)
	})
	if err != nil {
		t.Fatalf("the upgraded schema lacks quotas: %v", err)
	}
	var version int
	db.write.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	if version != len(migrations) {
		t.Fatalf("schema version %d, want %d", version, len(migrations))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strato.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.write.db.ExecContext(ctx, `UPDATE schema_version SET version = 999`)
	db.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("a database from a newer strato was opened")
	}
}
