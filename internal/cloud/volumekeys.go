package cloud

import (
	"errors"

	"strato/internal/store"
)

// The data keys of encrypted volumes and snapshots come from strato's key store
// (kms*.go). These are its entry points as EBS uses them: variables, so that
// tests can stand in a deterministic key store (UseFakeVolumeKeys).

// VolumeKeyBytes is the size of a plain data key: AES-256-XTS takes two
// 256-bit keys.
const VolumeKeyBytes = 64

// newVolumeKey makes a fresh data key (VolumeKeyBytes long) under a KMS key of
// the scope: kmsKeyRef is a key ID, ARN or alias, "" for the account's EBS
// default key. It returns the plain key and the key as stored (wrapped; its
// KeyARN names the KMS key).
var newVolumeKey = func(tx store.Tx, s Scope, kmsKeyRef string) (plain []byte, key DataKey, err error) {
	plain, key, _, err = newDataKey(tx, s, kmsKeyRef, VolumeKeyBytes)
	return plain, key, err
}

// openVolumeKey unwraps a stored data key of the scope.
var openVolumeKey = unwrapDataKey

// rewrapVolumeKey wraps the same plain data key under a KMS key of another
// scope (another Region or account): kmsKeyRef as in newVolumeKey. The data,
// encrypted with the same plain key, need not be re-encrypted.
var rewrapVolumeKey = func(tx store.Tx, from Scope, key DataKey, to Scope, kmsKeyRef string) (DataKey, error) {
	wrapped, _, err := rewrapDataKey(tx, from, key, to, kmsKeyRef)
	return wrapped, err
}

// volumeEncryptionDefaults is the scope's EBS encryption-by-default setting and
// its default KMS key's ARN.
var volumeEncryptionDefaults = ebsEncryptionDefaults

// volumeKeyIsAWSManaged reports whether a KMS key is the AWS managed EBS key
// (alias/aws/ebs) of its scope: snapshots encrypted with it cannot be shared.
var volumeKeyIsAWSManaged = func(tx store.Tx, s Scope, keyARN string) (bool, error) {
	k, err := resolveKMSKey(tx, s, keyARN)
	var ref *kmsRefError
	if errors.As(err, &ref) {
		return false, nil // another scope's or a gone key is not this account's managed key
	}
	return err == nil && k.Manager == KMSManagerAWS, err
}
