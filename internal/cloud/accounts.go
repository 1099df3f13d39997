package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"strato/internal/store"
)

// Account is a tenant with the access key it was created with.
type Account struct {
	ID   string
	Name string
}

// Credentials are an access key pair.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string
}

// CreateAccount adds a tenant with a root access key. id may be empty (random).
func (c *Cloud) CreateAccount(ctx context.Context, id, name string) (Account, Credentials, error) {
	if id == "" {
		id = NewAccountID()
	}
	if !ValidAccountID(id) {
		return Account{}, Credentials{}, fmt.Errorf("account ID %q is not 12 digits", id)
	}
	now := c.clock.Now()
	creds := Credentials{AccessKeyID: newAccessKeyID(), SecretAccessKey: newSecretKey(), AccountID: id}
	err := c.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(store.Account{ID: id, Name: name, CreatedAt: now}); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("account %s exists already", id)
			}
			return err
		}
		return tx.CreateAccessKey(store.AccessKey{ID: creds.AccessKeyID, Secret: creds.SecretAccessKey, AccountID: id, CreatedAt: now})
	})
	if err != nil {
		return Account{}, Credentials{}, fmt.Errorf("creating account: %w", err)
	}
	return Account{ID: id, Name: name}, creds, nil
}

// operatorSetting records which account is the operator's.
const operatorSetting = "operator-account"

// EnsureOperator creates the operator's account (ID id, or random when empty) unless
// it exists. Credentials are returned only when the account was created now.
func (c *Cloud) EnsureOperator(ctx context.Context, id string) (Account, *Credentials, error) {
	var existing string
	err := c.view(ctx, func(tx store.Tx) error {
		v, err := tx.GetSetting(operatorSetting)
		existing = string(v)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil || existing != "" {
		return Account{ID: existing, Name: "operator"}, nil, err
	}
	acct, creds, err := c.CreateAccount(ctx, id, "operator")
	if err != nil {
		return Account{}, nil, err
	}
	err = c.store.Update(ctx, func(tx store.Tx) error { return tx.PutSetting(operatorSetting, []byte(acct.ID)) })
	return acct, &creds, err
}

// EnsureAccount creates an account without access keys if it does not exist (the
// development-mode account).
func (c *Cloud) EnsureAccount(ctx context.Context, id, name string) error {
	return c.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetAccount(id); err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.CreateAccount(store.Account{ID: id, Name: name, CreatedAt: c.clock.Now()})
	})
}

// Accounts lists the tenants in creation order.
func (c *Cloud) Accounts(ctx context.Context) ([]Account, error) {
	var out []Account
	err := c.view(ctx, func(tx store.Tx) error {
		list, err := tx.ListAccounts()
		for _, a := range list {
			out = append(out, Account{ID: a.ID, Name: a.Name})
		}
		return err
	})
	return out, err
}

// keyCache keeps access keys in memory: every request looks one up. Keys are only
// ever added (by this process or by `strato account create` in another), so a miss
// goes to the store and hits are never stale.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]store.AccessKey
}

func newKeyCache() *keyCache { return &keyCache{keys: map[string]store.AccessKey{}} }

// LookupAccessKey returns the secret and account of an access key.
func (c *Cloud) LookupAccessKey(ctx context.Context, id string) (secret, accountID string, ok bool) {
	c.keys.mu.RLock()
	k, hit := c.keys.keys[id]
	c.keys.mu.RUnlock()
	if hit {
		return k.Secret, k.AccountID, true
	}
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		k, err = tx.GetAccessKey(id)
		return err
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Error("looking up an access key", "error", err)
		}
		return "", "", false
	}
	c.keys.mu.Lock()
	c.keys.keys[id] = k
	c.keys.mu.Unlock()
	return k.Secret, k.AccountID, true
}
