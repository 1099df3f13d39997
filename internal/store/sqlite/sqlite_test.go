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
