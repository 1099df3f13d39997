package cloud

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"strato/internal/store"
)

// strato's key store: the part of AWS KMS that EBS encryption needs. Keys are kept
// per account and Region as documents; each holds 32 bytes of key material (the
// key-encryption key that wraps volumes' data keys), itself sealed with the
// installation's master key so that a copy of the documents alone (an export, a
// backup of one table) does not reveal it.
//
// Why the master key sits in the same database: strato has no HSM and no operator
// secret to ask for at start-up (it must start unattended), so the master key can
// only be as safe as the data directory that holds it. Keeping it in the store's
// settings still separates it from the resource documents and lets a future
// deployment move it elsewhere (a file, an environment secret) in one place:
// kmsMasterKey.

// Store kinds of the key store. They are not EC2 resource types, so they stay out
// of kinds.go (no ID prefix, no tags in EC2's tag table).
const (
	kindKMSKey   = "kms-key"
	kindKMSAlias = "kms-alias"
)

// Key states and managers, as KMS spells them.
const (
	KMSKeyEnabled         = "Enabled"
	KMSKeyDisabled        = "Disabled"
	KMSKeyPendingDeletion = "PendingDeletion"

	KMSManagerAWS      = "AWS"
	KMSManagerCustomer = "CUSTOMER"
)

// EBSManagedKeyAlias names the AWS-managed key EBS encrypts with unless told
// otherwise; it is made on first use in each account and Region.
const EBSManagedKeyAlias = "alias/aws/ebs"

// KMSTag is a tag on a key (KMS's TagKey/TagValue, kept in the key's document:
// KMS tags are not EC2 tags and must not appear in DescribeTags).
type KMSTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// KMSKey is a key of the key store.
type KMSKey struct {
	ID          string    `json:"id"`
	ARN         string    `json:"arn"`
	Account     string    `json:"account"`
	Description string    `json:"description"`
	State       string    `json:"state"`
	Manager     string    `json:"manager"`
	CreatedAt   time.Time `json:"createdAt"`
	// DeletionDate and PendingWindowInDays are set while the key is pending deletion.
	DeletionDate        time.Time `json:"deletionDate,omitzero"`
	PendingWindowInDays int       `json:"pendingWindowInDays,omitempty"`
	Tags                []KMSTag  `json:"tags,omitempty"`
	// SealedMaterial is the key material sealed by the master key; never returned
	// outside this package.
	SealedMaterial []byte `json:"material,omitempty"`
	// noTags satisfies docKind: KMS tags live in Tags.
	noTags map[string]string
}

// KMSAlias is a friendly name for a key.
type KMSAlias struct {
	Name        string    `json:"name"`
	ARN         string    `json:"arn"`
	TargetKeyID string    `json:"targetKeyId"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	noTags      map[string]string
}

var kmsKeys = docKind[KMSKey]{
	kind: kindKMSKey,
	id:   func(k *KMSKey) string { return k.ID },
	tags: func(k *KMSKey) *map[string]string { return &k.noTags },
}

// Aliases are keyed by name (unique per account and Region) and belong to their key,
// so a key's aliases are listed without reading them all.
var kmsAliases = docKind[KMSAlias]{
	kind:   kindKMSAlias,
	id:     func(a *KMSAlias) string { return a.Name },
	parent: func(a *KMSAlias) string { return a.TargetKeyID },
	tags:   func(a *KMSAlias) *map[string]string { return &a.noTags },
}

// public is the key as callers outside the key store see it: without material.
func (k KMSKey) public() KMSKey {
	k.SealedMaterial = nil
	return k
}

// deletedAt reports whether a key pending deletion has reached its deletion date:
// such a key is gone (its state is computed from the clock when read, as AWS
// deletes it in the background).
func (k KMSKey) deletedAt(now time.Time) bool {
	return k.State == KMSKeyPendingDeletion && !k.DeletionDate.IsZero() && !now.Before(k.DeletionDate)
}

func kmsKeyARN(s Scope, id string) string {
	return "arn:aws:kms:" + s.Region + ":" + s.Account + ":key/" + id
}
func kmsAliasARN(s Scope, name string) string {
	return "arn:aws:kms:" + s.Region + ":" + s.Account + ":" + name
}

// newKeyID makes a key ID in KMS's form, a random (version 4) UUID.
func newKeyID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const kmsMasterKeySetting = "kms-master-key"

// kmsMasterKey returns the installation's master key, made on first use (create is
// false in read-only transactions, where no key can exist without one).
func kmsMasterKey(tx store.Tx, create bool) ([]byte, error) {
	v, err := tx.GetSetting(kmsMasterKeySetting)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, store.ErrNotFound) || !create {
		return nil, fmt.Errorf("reading the key store's master key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := tx.PutSetting(kmsMasterKeySetting, key); err != nil {
		return nil, err
	}
	return key, nil
}

// seal encrypts plain with AES-256-GCM under key, binding aad; the nonce leads the
// result.
func seal(key, plain, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, aad), nil
}

// errCiphertext: a sealed value does not open under the key and additional data.
var errCiphertext = errors.New("ciphertext does not authenticate")

func open(key, sealed, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errCiphertext
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errCiphertext
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// materialAAD binds sealed key material to its key, so material cannot be moved
// from one key's document to another's.
func materialAAD(arn string) []byte { return []byte("strato-kms-material:" + arn) }

// insertKMSKey makes a key with fresh material.
func insertKMSKey(tx store.Tx, s Scope, manager, description string, tags []KMSTag) (KMSKey, error) {
	master, err := kmsMasterKey(tx, true)
	if err != nil {
		return KMSKey{}, err
	}
	id := newKeyID()
	k := KMSKey{ID: id, ARN: kmsKeyARN(s, id), Account: s.Account, Description: description,
		State: KMSKeyEnabled, Manager: manager, CreatedAt: txNow(tx), Tags: tags}
	material := make([]byte, 32)
	rand.Read(material)
	if k.SealedMaterial, err = seal(master, material, materialAAD(k.ARN)); err != nil {
		return KMSKey{}, err
	}
	return k, kmsKeys.insert(tx, s, &k, k.CreatedAt, nil)
}

// keyMaterial opens a key's material.
func keyMaterial(tx store.Tx, k KMSKey) ([]byte, error) {
	master, err := kmsMasterKey(tx, false)
	if err != nil {
		return nil, err
	}
	m, err := open(master, k.SealedMaterial, materialAAD(k.ARN))
	if err != nil {
		return nil, fmt.Errorf("opening the material of %s: %w", k.ARN, err)
	}
	return m, nil
}

// Reasons a key reference does not lead to a usable key. Callers turn them into
// their service's codes (KMS's exceptions, EC2's codes).
var (
	errKMSNotFound   = errors.New("key not found")
	errKMSInvalidARN = errors.New("invalid ARN")
)

// kmsRefError says why a key reference failed, with what KMS would say.
type kmsRefError struct {
	reason error
	msg    string
}

func (e *kmsRefError) Error() string { return e.msg }
func (e *kmsRefError) Unwrap() error { return e.reason }

func keyNotFound(format string, args ...any) error {
	return &kmsRefError{reason: errKMSNotFound, msg: fmt.Sprintf(format, args...)}
}

// kmsARN splits arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE.
func kmsARN(ref string) (region, account, resource string, err error) {
	parts := strings.SplitN(ref, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" || parts[1] == "" {
		return "", "", "", &kmsRefError{reason: errKMSInvalidARN, msg: fmt.Sprintf("%s is not a valid ARN.", ref)}
	}
	if !strings.HasPrefix(parts[5], "key/") && !strings.HasPrefix(parts[5], "alias/") {
		return "", "", "", &kmsRefError{reason: errKMSInvalidARN, msg: fmt.Sprintf("%s is not a valid KMS key or alias ARN.", ref)}
	}
	return parts[3], parts[4], parts[5], nil
}

// resolveKMSKey finds the key a reference names in scope s, as KMS resolves a KeyId:
// a key ID, a key ARN, an alias name or an alias ARN. Another account's or Region's
// ARN is not found: strato has no key policies that could share a key. A key past
// its deletion date is gone. The AWS-managed EBS key is made when its alias is
// first named, as AWS services do through DescribeKey; that needs a writable tx.
func resolveKMSKey(tx store.Tx, s Scope, ref string) (KMSKey, error) {
	now := txNow(tx)
	name, id := "", ref
	if strings.HasPrefix(ref, "arn:") {
		region, account, resource, err := kmsARN(ref)
		if err != nil {
			return KMSKey{}, err
		}
		if strings.HasPrefix(resource, "alias/") {
			if region != s.Region || account != s.Account {
				return KMSKey{}, keyNotFound("Alias %s is not found.", ref)
			}
			name = resource
		} else {
			if region != s.Region || account != s.Account {
				return KMSKey{}, keyNotFound("Key '%s' does not exist", ref)
			}
			id = strings.TrimPrefix(resource, "key/")
		}
	} else if strings.HasPrefix(ref, "alias/") {
		name = ref
	}
	if name != "" {
		a, err := kmsAliases.get(tx, s, name)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			if name == EBSManagedKeyAlias {
				return ensureManagedKey(tx, s, name)
			}
			return KMSKey{}, keyNotFound("Alias %s is not found.", kmsAliasARN(s, name))
		}
		if err != nil {
			return KMSKey{}, err
		}
		k, err := kmsKeys.get(tx, s, a.TargetKeyID)
		if errors.As(err, &nf) || err == nil && k.deletedAt(now) {
			return KMSKey{}, keyNotFound("Alias %s is not found.", kmsAliasARN(s, name))
		}
		return k, err
	}
	k, err := kmsKeys.get(tx, s, id)
	var nf *NotFoundError
	if errors.As(err, &nf) || err == nil && k.deletedAt(now) {
		if !looksLikeKeyID(id) {
			return KMSKey{}, keyNotFound("Invalid keyId '%s'", id)
		}
		return KMSKey{}, keyNotFound("Key '%s' does not exist", kmsKeyARN(s, id))
	}
	return k, err
}

// looksLikeKeyID reports whether s has a UUID's shape (KMS words its not-found
// message differently for strings that cannot be key IDs).
func looksLikeKeyID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
}

// ensureManagedKey returns the AWS-managed key of an alias/aws/ alias, making it
// (and the alias) on first use. The alias may exist and point at a key that was
// never deleted: AWS-managed keys cannot be scheduled for deletion.
func ensureManagedKey(tx store.Tx, s Scope, alias string) (KMSKey, error) {
	if a, err := kmsAliases.get(tx, s, alias); err == nil {
		return kmsKeys.get(tx, s, a.TargetKeyID)
	}
	desc := "Default key that protects my EBS volumes when no other key is defined"
	k, err := insertKMSKey(tx, s, KMSManagerAWS, desc, nil)
	if err != nil {
		return KMSKey{}, err
	}
	now := txNow(tx)
	a := KMSAlias{Name: alias, ARN: kmsAliasARN(s, alias), TargetKeyID: k.ID, CreatedAt: now, UpdatedAt: now}
	return k, kmsAliases.insert(tx, s, &a, now, nil)
}

// usableKey checks that a key can make or open data keys; the error says why not
// in KMS's terms (DisabledException, KMSInvalidStateException).
func usableKey(k KMSKey) error {
	switch k.State {
	case KMSKeyEnabled:
		return nil
	case KMSKeyDisabled:
		return &kmsStateError{key: k, code: "DisabledException", msg: fmt.Sprintf("%s is disabled.", k.ARN)}
	default:
		return &kmsStateError{key: k, code: "KMSInvalidStateException", msg: fmt.Sprintf("%s is pending deletion.", k.ARN)}
	}
}

// kmsStateError: the key exists but its state forbids the operation.
type kmsStateError struct {
	key       KMSKey
	code, msg string
}

func (e *kmsStateError) Error() string { return e.msg }
