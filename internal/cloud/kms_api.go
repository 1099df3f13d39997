package cloud

import (
	"context"
	"errors"
	"strings"
	"time"

	"strato/internal/store"
)

// The key store's operations as KMS offers them (internal/kms serves them). Errors
// carry KMS's exception names as codes.

// kmsCoded turns the key store's reasons into KMS exceptions.
func kmsCoded(err error) error {
	var ref *kmsRefError
	if errors.As(err, &ref) {
		if errors.Is(ref.reason, errKMSInvalidARN) {
			return errorf("InvalidArnException", "%s", ref.msg)
		}
		return errorf("NotFoundException", "%s", ref.msg)
	}
	var st *kmsStateError
	if errors.As(err, &st) {
		return errorf(st.code, "%s", st.msg)
	}
	return err
}

// CreateKMSKey makes a customer managed symmetric encryption key.
func (c *Cloud) CreateKMSKey(ctx context.Context, s Scope, description string, tags []KMSTag) (KMSKey, error) {
	var k KMSKey
	err := c.update(ctx, func(tx store.Tx) error {
		if err := purgeDeletedKeys(tx, s); err != nil {
			return err
		}
		var err error
		k, err = insertKMSKey(tx, s, KMSManagerCustomer, description, tags)
		return err
	})
	return k.public(), err
}

// DescribeKMSKey reads the key a reference names. Naming alias/aws/ebs before the
// key exists makes it, as AWS services do through DescribeKey.
func (c *Cloud) DescribeKMSKey(ctx context.Context, s Scope, ref string) (KMSKey, error) {
	var k KMSKey
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		k, err = resolveKMSKey(tx, s, ref)
		return kmsCoded(err)
	})
	return k.public(), err
}

// ListKMSKeys lists the keys of the scope by ID, without those past deletion.
func (c *Cloud) ListKMSKeys(ctx context.Context, s Scope) ([]KMSKey, error) {
	var out []KMSKey
	err := c.view(ctx, func(tx store.Tx) error {
		all, err := kmsKeys.load(tx, s, nil, nil)
		now := txNow(tx)
		for _, k := range all {
			if !k.deletedAt(now) {
				out = append(out, k.public())
			}
		}
		return err
	})
	return out, err
}

// manageableKey resolves a key for a management operation: AWS-managed keys belong
// to the AWS service that made them, and their key policies deny the account
// everything but use and description.
func manageableKey(tx store.Tx, s Scope, ref, action string) (KMSKey, error) {
	k, err := resolveKMSKey(tx, s, ref)
	if err != nil {
		return k, kmsCoded(err)
	}
	if k.Manager == KMSManagerAWS {
		return k, errorf("AccessDeniedException", "User: arn:aws:iam::%s:root is not authorized to perform: kms:%s on resource: %s because no resource-based policy allows the kms:%s action", s.Account, action, k.ARN, action)
	}
	return k, nil
}

// SetKMSKeyEnabled enables or disables a key (EnableKey, DisableKey); a key pending
// deletion can be neither.
func (c *Cloud) SetKMSKeyEnabled(ctx context.Context, s Scope, ref string, enabled bool) error {
	action, state := "DisableKey", KMSKeyDisabled
	if enabled {
		action, state = "EnableKey", KMSKeyEnabled
	}
	return c.update(ctx, func(tx store.Tx) error {
		k, err := manageableKey(tx, s, ref, action)
		if err != nil {
			return err
		}
		if k.State == KMSKeyPendingDeletion {
			return errorf("KMSInvalidStateException", "%s is pending deletion.", k.ARN)
		}
		k.State = state
		return kmsKeys.update(tx, s, &k)
	})
}

// KMS's deletion waiting period, in days.
const (
	MinKMSPendingWindowDays     = 7
	MaxKMSPendingWindowDays     = 30
	DefaultKMSPendingWindowDays = 30
)

// ScheduleKMSKeyDeletion puts a key in PendingDeletion for days days; once the
// cloud's clock passes the deletion date the key, its material and its aliases are
// gone.
func (c *Cloud) ScheduleKMSKeyDeletion(ctx context.Context, s Scope, ref string, days int) (KMSKey, error) {
	var k KMSKey
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if k, err = manageableKey(tx, s, ref, "ScheduleKeyDeletion"); err != nil {
			return err
		}
		if k.State == KMSKeyPendingDeletion {
			return errorf("KMSInvalidStateException", "%s is pending deletion.", k.ARN)
		}
		k.State, k.PendingWindowInDays = KMSKeyPendingDeletion, days
		// AWS rounds the deletion date up to the hour.
		k.DeletionDate = txNow(tx).Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Hour).Add(time.Hour)
		return kmsKeys.update(tx, s, &k)
	})
	return k.public(), err
}

// CancelKMSKeyDeletion takes a key out of PendingDeletion; it is then Disabled.
func (c *Cloud) CancelKMSKeyDeletion(ctx context.Context, s Scope, ref string) (KMSKey, error) {
	var k KMSKey
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if k, err = manageableKey(tx, s, ref, "CancelKeyDeletion"); err != nil {
			return err
		}
		if k.State != KMSKeyPendingDeletion {
			return errorf("KMSInvalidStateException", "%s is not pending deletion.", k.ARN)
		}
		k.State, k.DeletionDate, k.PendingWindowInDays = KMSKeyDisabled, time.Time{}, 0
		return kmsKeys.update(tx, s, &k)
	})
	return k.public(), err
}

// purgeDeletedKeys removes the keys past their deletion date and their aliases
// (they were already invisible; this reclaims their documents and alias names).
func purgeDeletedKeys(tx store.Tx, s Scope) error {
	all, err := kmsKeys.load(tx, s, nil, nil)
	if err != nil {
		return err
	}
	now := txNow(tx)
	for _, k := range all {
		if !k.deletedAt(now) {
			continue
		}
		aliases, err := kmsAliases.children(tx, s, k.ID)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			if err := kmsAliases.remove(tx, s, a.Name); err != nil {
				return err
			}
		}
		if err := kmsKeys.remove(tx, s, k.ID); err != nil {
			return err
		}
	}
	return nil
}

// checkAliasName applies KMS's rules for alias names a caller manages.
func checkAliasName(name string) error {
	if !strings.HasPrefix(name, "alias/") || len(name) == len("alias/") {
		return errorf("ValidationException", "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
	}
	if len(name) > 256 || !validAliasChars(name) || strings.Contains(name, ":") {
		return errorf("ValidationException", "1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return errorf("NotAuthorizedException", "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	}
	return nil
}

// CreateKMSAlias names a customer managed key (by key ID or key ARN).
func (c *Cloud) CreateKMSAlias(ctx context.Context, s Scope, name, target string) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	if strings.HasPrefix(target, "alias/") || strings.Contains(target, ":alias/") {
		return errorf("ValidationException", "TargetKeyId must be a key ID or key ARN, not an alias: %s", target)
	}
	return c.update(ctx, func(tx store.Tx) error {
		if err := purgeDeletedKeys(tx, s); err != nil {
			return err
		}
		k, err := manageableKey(tx, s, target, "CreateAlias")
		if err != nil {
			return err
		}
		if k.State == KMSKeyPendingDeletion {
			return errorf("KMSInvalidStateException", "%s is pending deletion.", k.ARN)
		}
		now := txNow(tx)
		a := KMSAlias{Name: name, ARN: kmsAliasARN(s, name), TargetKeyID: k.ID, CreatedAt: now, UpdatedAt: now}
		err = kmsAliases.insert(tx, s, &a, now, nil)
		var dup *DuplicateError
		if errors.As(err, &dup) || errors.Is(err, store.ErrConflict) {
			return errorf("AlreadyExistsException", "An alias with the name %s already exists", a.ARN)
		}
		return err
	})
}

// DeleteKMSAlias removes an alias; the key stays.
func (c *Cloud) DeleteKMSAlias(ctx context.Context, s Scope, name string) error {
	if strings.HasPrefix(name, "alias/aws/") {
		return errorf("NotAuthorizedException", "Aliases that begin with alias/aws/ belong to AWS managed keys and cannot be deleted.")
	}
	if !strings.HasPrefix(name, "alias/") {
		return errorf("ValidationException", "Alias must start with the prefix \"alias/\".")
	}
	return c.update(ctx, func(tx store.Tx) error {
		a, err := kmsAliases.get(tx, s, name)
		if err == nil {
			var k KMSKey
			if k, err = kmsKeys.get(tx, s, a.TargetKeyID); err == nil && k.deletedAt(txNow(tx)) {
				err = &NotFoundError{Kind: kindKMSAlias, ID: name}
			}
		}
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return errorf("NotFoundException", "Alias %s is not found.", kmsAliasARN(s, name))
		}
		if err != nil {
			return err
		}
		return kmsAliases.remove(tx, s, name)
	})
}

// ListKMSAliases lists the scope's aliases by name, or only those of the key keyRef
// names (a key ID or key ARN) when it is set.
func (c *Cloud) ListKMSAliases(ctx context.Context, s Scope, keyRef string) ([]KMSAlias, error) {
	var out []KMSAlias
	err := c.view(ctx, func(tx store.Tx) error {
		var list []KMSAlias
		var err error
		if keyRef != "" {
			if strings.HasPrefix(keyRef, "alias/") || strings.Contains(keyRef, ":alias/") {
				return errorf("InvalidArnException", "KeyId must be a key ID or key ARN: %s", keyRef)
			}
			k, err := resolveKMSKey(tx, s, keyRef)
			if err != nil {
				return kmsCoded(err)
			}
			list, err = kmsAliases.children(tx, s, k.ID)
			if err != nil {
				return err
			}
		} else if list, err = kmsAliases.load(tx, s, nil, nil); err != nil {
			return err
		}
		now := txNow(tx)
		for _, a := range list {
			k, err := kmsKeys.get(tx, s, a.TargetKeyID)
			var nf *NotFoundError
			if errors.As(err, &nf) || err == nil && k.deletedAt(now) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}
