package cloud

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"strato/internal/store"
)

// inTx runs fn in a committed write transaction of the cloud.
func inTx(t *testing.T, c *Cloud, fn func(tx store.Tx) error) {
	t.Helper()
	if err := c.update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func wantKeyError(t *testing.T, err error, code string) {
	t.Helper()
	var ke *KMSKeyError
	if !errors.As(err, &ke) || ke.Code() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func wantKMSCode(t *testing.T, err error, code string) {
	t.Helper()
	var coded interface{ Code() string }
	if !errors.As(err, &coded) || coded.Code() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

// The account's default EBS key is the AWS-managed alias/aws/ebs, made once per
// account and Region on first use; a data key wrapped under it opens again.
func TestDataKeyUnderDefaultKey(t *testing.T) {
	c, _ := newInternalCloud(t)
	s := internalScope
	var plain, plain2, opened []byte
	var w WrappedKey
	var arn, arn2 string
	inTx(t, c, func(tx store.Tx) error {
		var err error
		if plain, w, arn, err = newDataKey(tx, s, "", 64); err != nil {
			return err
		}
		if plain2, _, arn2, err = newDataKey(tx, s, "", 64); err != nil {
			return err
		}
		opened, err = unwrapDataKey(tx, s, w)
		return err
	})
	if len(plain) != 64 || bytes.Equal(plain, plain2) {
		t.Fatalf("data keys: %x %x", plain, plain2)
	}
	if arn != arn2 || !strings.HasPrefix(arn, "arn:aws:kms:eu-west-1:111122223333:key/") || w.KeyARN != arn {
		t.Fatalf("default key ARNs %s %s %s", arn, arn2, w.KeyARN)
	}
	if !bytes.Equal(opened, plain) {
		t.Fatal("unwrapped data key differs")
	}
	if bytes.Contains(w.Ciphertext, plain) {
		t.Fatal("wrapped key contains the data key")
	}
	aliases, err := c.ListKMSAliases(context.Background(), s, "")
	if err != nil || len(aliases) != 1 || aliases[0].Name != EBSManagedKeyAlias {
		t.Fatalf("aliases %+v %v", aliases, err)
	}
	// Another Region has its own managed key.
	other := Scope{Account: s.Account, Region: "us-east-1"}
	inTx(t, c, func(tx store.Tx) error {
		_, _, arn3, err := newDataKey(tx, other, "", 32)
		if err == nil && (arn3 == arn || !strings.Contains(arn3, ":us-east-1:")) {
			t.Errorf("other Region's key %s", arn3)
		}
		return err
	})
}

// A key is named by key ID, key ARN, alias name or alias ARN, as KMS resolves
// KeyId; anything else, or another Region's or account's key, is not found.
func TestDataKeyReferences(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	k, err := c.CreateKMSKey(ctx, s, "volumes", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateKMSAlias(ctx, s, "alias/volumes", k.ID); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{k.ID, k.ARN, "alias/volumes", "arn:aws:kms:eu-west-1:111122223333:alias/volumes"} {
		inTx(t, c, func(tx store.Tx) error {
			_, w, arn, err := newDataKey(tx, s, ref, 32)
			if err == nil && (arn != k.ARN || w.KeyARN != k.ARN) {
				t.Errorf("%s resolved to %s", ref, arn)
			}
			return err
		})
	}
	for _, ref := range []string{
		"alias/nope",
		"0b5e4c0e-1111-4222-8333-444455556666",
		"not-a-key",
		strings.Replace(k.ARN, "eu-west-1", "us-east-1", 1),
		strings.Replace(k.ARN, "111122223333", "999988887777", 1),
	} {
		err := c.update(ctx, func(tx store.Tx) error {
			_, _, _, err := newDataKey(tx, s, ref, 32)
			return err
		})
		wantKeyError(t, err, "InvalidKMSKey.NotFound")
	}
}

// A disabled key and a key pending deletion make and open no data keys
// (InvalidKMSKey.InvalidState); once the deletion date passes the key is gone
// (InvalidKMSKey.NotFound) and its data with it, as on AWS.
func TestDataKeyKeyStates(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	k, _ := c.CreateKMSKey(ctx, s, "", nil)
	var w WrappedKey
	inTx(t, c, func(tx store.Tx) error {
		var err error
		_, w, _, err = newDataKey(tx, s, k.ID, 32)
		return err
	})
	attempt := func() (error, error) {
		var makeErr, openErr error
		c.update(ctx, func(tx store.Tx) error {
			_, _, _, makeErr = newDataKey(tx, s, k.ID, 32)
			_, openErr = unwrapDataKey(tx, s, w)
			return nil
		})
		return makeErr, openErr
	}
	if err := c.SetKMSKeyEnabled(ctx, s, k.ID, false); err != nil {
		t.Fatal(err)
	}
	m, o := attempt()
	wantKeyError(t, m, "InvalidKMSKey.InvalidState")
	wantKeyError(t, o, "InvalidKMSKey.InvalidState")
	if err := c.SetKMSKeyEnabled(ctx, s, k.ID, true); err != nil {
		t.Fatal(err)
	}
	if m, o := attempt(); m != nil || o != nil {
		t.Fatalf("enabled again: %v %v", m, o)
	}
	if _, err := c.ScheduleKMSKeyDeletion(ctx, s, k.ID, 7); err != nil {
		t.Fatal(err)
	}
	m, o = attempt()
	wantKeyError(t, m, "InvalidKMSKey.InvalidState")
	wantKeyError(t, o, "InvalidKMSKey.InvalidState")
	clk.t = clk.t.Add(8 * 24 * time.Hour)
	m, o = attempt()
	wantKeyError(t, m, "InvalidKMSKey.NotFound")
	wantKeyError(t, o, "InvalidKMSKey.NotFound")
}

// A wrapped key is bound to its key's ARN: presented as another key's, it does
// not open.
func TestWrappedKeyBoundToItsKey(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	a, _ := c.CreateKMSKey(ctx, s, "a", nil)
	b, _ := c.CreateKMSKey(ctx, s, "b", nil)
	err := c.update(ctx, func(tx store.Tx) error {
		_, w, _, err := newDataKey(tx, s, a.ID, 32)
		if err != nil {
			return err
		}
		w.KeyARN = b.ARN
		_, err = unwrapDataKey(tx, s, w)
		return err
	})
	if !errors.Is(err, errCiphertext) {
		t.Fatalf("opened under the wrong key: %v", err)
	}
}

// Copies to another Region re-wrap the same data key under the destination's key.
func TestRewrapAcrossRegions(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	src, dst := internalScope, Scope{Account: internalScope.Account, Region: "us-west-2"}
	dk, _ := c.CreateKMSKey(ctx, dst, "copies", nil)
	inTx(t, c, func(tx store.Tx) error {
		plain, w, _, err := newDataKey(tx, src, "", 64)
		if err != nil {
			return err
		}
		for _, to := range []string{"", dk.ARN} {
			rw, arn, err := rewrapDataKey(tx, src, w, dst, to)
			if err != nil {
				return err
			}
			if rw.KeyARN != arn || !strings.Contains(arn, ":us-west-2:") || (to != "" && arn != dk.ARN) {
				t.Errorf("rewrapped under %s", arn)
			}
			got, err := unwrapDataKey(tx, dst, rw)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, plain) {
				t.Error("data key changed on rewrap")
			}
		}
		_, _, err = rewrapDataKey(tx, src, w, dst, "alias/missing")
		wantKeyError(t, err, "InvalidKMSKey.NotFound")
		return nil
	})
}

// Key material is stored sealed by the installation's master key: the stored
// document does not hold it in the clear.
func TestKeyMaterialIsSealed(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	k, _ := c.CreateKMSKey(ctx, internalScope, "", nil)
	c.store.View(ctx, func(tx store.Tx) error {
		r, err := tx.GetResource(internalScope, kindKMSKey, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := kmsKeys.decode(r)
		material, err := keyMaterial(tx, doc)
		if err != nil || len(material) != 32 {
			t.Fatalf("material %d bytes, %v", len(material), err)
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString(material), string(material)} {
			if bytes.Contains(r.Body, []byte(enc)) {
				t.Fatal("key material stored in the clear")
			}
		}
		if _, err := tx.GetSetting(kmsMasterKeySetting); err != nil {
			t.Fatal("no master key setting:", err)
		}
		return nil
	})
	if k.SealedMaterial != nil {
		t.Fatal("material returned to callers")
	}
}

// Encryption by default is off, with alias/aws/ebs as the default key, until the
// account changes them; a customer key set as default is used by newDataKey("").
func TestEBSEncryptionDefaults(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	var on bool
	var arn string
	inTx(t, c, func(tx store.Tx) error {
		var err error
		on, arn, err = ebsEncryptionDefaults(tx, s)
		return err
	})
	managed, err := c.DescribeKMSKey(ctx, s, EBSManagedKeyAlias)
	if err != nil || on || arn != managed.ARN || managed.Manager != KMSManagerAWS {
		t.Fatalf("defaults %v %s, managed %+v %v", on, arn, managed, err)
	}
	if id, _ := c.EBSDefaultKMSKeyID(ctx, s); id != EBSManagedKeyAlias {
		t.Fatalf("default key id %s", id)
	}
	k, _ := c.CreateKMSKey(ctx, s, "", nil)
	c.CreateKMSAlias(ctx, s, "alias/ebs-default", k.ID)
	if got, err := c.ModifyEBSDefaultKMSKeyID(ctx, s, "alias/ebs-default"); err != nil || got != k.ARN {
		t.Fatalf("modify: %s %v", got, err)
	}
	if _, err := c.SetEBSEncryptionByDefault(ctx, s, true); err != nil {
		t.Fatal(err)
	}
	inTx(t, c, func(tx store.Tx) error {
		var err error
		if on, arn, err = ebsEncryptionDefaults(tx, s); err != nil {
			return err
		}
		_, w, _, err := newDataKey(tx, s, "", 32)
		if err == nil && w.KeyARN != k.ARN {
			t.Errorf("default data key under %s", w.KeyARN)
		}
		return err
	})
	if !on || arn != k.ARN {
		t.Fatalf("after modify: %v %s", on, arn)
	}
	_, err = c.ModifyEBSDefaultKMSKeyID(ctx, s, "alias/none")
	wantKMSCode(t, err, "InvalidParameterValue")
	_, err = c.ModifyEBSDefaultKMSKeyID(ctx, s, "no good")
	wantKMSCode(t, err, "InvalidParameterValue")
	if id, err := c.ResetEBSDefaultKMSKeyID(ctx, s); err != nil || id != EBSManagedKeyAlias {
		t.Fatalf("reset %s %v", id, err)
	}
	if id, _ := c.EBSDefaultKMSKeyID(ctx, s); id != EBSManagedKeyAlias {
		t.Fatalf("after reset %s", id)
	}
	// Settings are per Region.
	if on, _ := c.EBSEncryptionByDefault(ctx, Scope{Account: s.Account, Region: "us-east-1"}); on {
		t.Fatal("setting leaked to another Region")
	}
}
