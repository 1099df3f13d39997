package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"strato/internal/store"
)

// MaxClientTokenLength is AWS's limit on ClientToken.
const MaxClientTokenLength = 64

// Idempotent runs a create operation at most once per client token: a repeat with the
// same token and the same parameters returns the first result; with other parameters
// it fails with IdempotentParameterMismatch. An empty token runs fn every time. The
// record is written in the same transaction as fn's changes, so a retry after a crash
// either sees both or neither.
func Idempotent[T any](ctx context.Context, c *Cloud, s Scope, action, token string, params any, fn func(tx store.Tx) (T, error)) (T, error) {
	var result T
	if token == "" {
		err := c.update(ctx, func(tx store.Tx) error {
			var err error
			result, err = fn(tx)
			return err
		})
		return result, err
	}
	if len(token) > MaxClientTokenLength {
		return result, errorf("InvalidParameterValue", "The client token must be at most %d characters long.", MaxClientTokenLength)
	}
	hash, err := paramsHash(params)
	if err != nil {
		return result, err
	}
	err = c.update(ctx, func(tx store.Tx) error {
		rec, err := tx.GetIdempotency(s, action, token)
		switch {
		case err == nil:
			if rec.ParamsHash != hash {
				return errorf("IdempotentParameterMismatch", "The client token '%s' was already used with different parameters.", token)
			}
			return json.Unmarshal(rec.Response, &result)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if result, err = fn(tx); err != nil {
			return err
		}
		resp, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("recording the result for client token: %w", err)
		}
		return tx.PutIdempotency(store.IdempotencyRecord{Scope: s, Action: action, Token: token, ParamsHash: hash, Response: resp, CreatedAt: c.clock.Now()})
	})
	return result, err
}

func paramsHash(params any) (string, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("hashing request parameters: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
