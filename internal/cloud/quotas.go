package cloud

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"strato/internal/store"
)

// QuotaDef is one of AWS's default quotas as strato enforces it. The operator can
// raise or lower it per account (`strato quota set`); the value is read inside the
// transaction that checks it, so a change applies to the next request, without a
// restart.
type QuotaDef struct {
	Name        string // strato's name, used by `strato quota`
	Description string // AWS's wording in Service Quotas
	Default     int64
	// Code and Message are what a request over the quota is answered with.
	Code    string
	Message string // formatted with the quota's value
}

// quotaDefs lists the quotas strato enforces. Each resource issue adds its own.
var quotaDefs = map[string]QuotaDef{
	QuotaKeyPairs: {
		Name:        QuotaKeyPairs,
		Description: "Key pairs per Region",
		Default:     5000,
		Code:        "ResourceLimitExceeded",
		Message:     "You have reached the limit of %d key pairs in this Region.",
	},
}

// Quota names.
const QuotaKeyPairs = "key-pairs-per-region"

// QuotaValue is a quota as it applies to one account.
type QuotaValue struct {
	QuotaDef
	Value      int64
	Overridden bool
}

// quota returns the value of a quota for an account, inside a transaction.
func quota(tx store.Tx, account, name string) (int64, error) {
	def, ok := quotaDefs[name]
	if !ok {
		return 0, fmt.Errorf("no quota is called %q", name)
	}
	v, err := tx.GetQuota(account, name)
	if errors.Is(err, store.ErrNotFound) {
		return def.Default, nil
	}
	return v, err
}

// checkCount fails with the quota's AWS error when adding one more resource of kind
// to the scope would exceed it.
func checkCount(tx store.Tx, s Scope, kind, quotaName string) error {
	n, err := tx.CountResources(s, kind)
	if err != nil {
		return err
	}
	return checkQuota(tx, s.Account, quotaName, n)
}

// checkQuota fails with the quota's AWS error when the account already has `have`
// of what the quota limits (counted by the caller when the quota is not per scope
// and kind, as subnets per VPC).
func checkQuota(tx store.Tx, account, quotaName string, have int) error {
	limit, err := quota(tx, account, quotaName)
	if err != nil {
		return err
	}
	if int64(have) >= limit {
		def := quotaDefs[quotaName]
		return errorf(def.Code, def.Message, limit)
	}
	return nil
}

// Quota returns the value of one quota for an account.
func (c *Cloud) Quota(ctx context.Context, account, name string) (int64, error) {
	var v int64
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		v, err = quota(tx, account, name)
		return err
	})
	return v, err
}

// Quotas lists every quota with its value for an account, ordered by name.
func (c *Cloud) Quotas(ctx context.Context, account string) ([]QuotaValue, error) {
	var overrides map[string]int64
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		overrides, err = tx.ListQuotas(account)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]QuotaValue, 0, len(quotaDefs))
	for _, def := range quotaDefs {
		v, overridden := overrides[def.Name]
		if !overridden {
			v = def.Default
		}
		out = append(out, QuotaValue{QuotaDef: def, Value: v, Overridden: overridden})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetQuota sets an account's value of a quota; value < 0 returns it to the default.
func (c *Cloud) SetQuota(ctx context.Context, account, name string, value int64) error {
	if _, ok := quotaDefs[name]; !ok {
		return fmt.Errorf("no quota is called %q", name)
	}
	return c.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetAccount(account); err != nil {
			return fmt.Errorf("account %s: %w", account, err)
		}
		if value < 0 {
			return tx.DeleteQuota(account, name)
		}
		return tx.PutQuota(account, name, value)
	})
}
