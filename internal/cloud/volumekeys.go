package cloud

import "strato/internal/store"

// The data keys of encrypted volumes and snapshots come from strato's key store.
// These are its entry points as EBS uses them; the key store points them at
// itself. Until then they refuse encryption, so nothing pretends to encrypt.

// VolumeKeyBytes is the size of a plain data key: AES-256-XTS takes two
// 256-bit keys.
const VolumeKeyBytes = 64

// newVolumeKey makes a fresh data key (VolumeKeyBytes long) under a KMS key of
// the scope: kmsKeyRef is a key ID, ARN or alias, "" for the account's EBS
// default key. It returns the plain key and the key as stored (wrapped; its
// KeyARN names the KMS key).
var newVolumeKey = func(tx store.Tx, s Scope, kmsKeyRef string) (plain []byte, key DataKey, err error) {
	return nil, DataKey{}, errNoKeyStore()
}

// openVolumeKey unwraps a stored data key of the scope.
var openVolumeKey = func(tx store.Tx, s Scope, key DataKey) ([]byte, error) {
	return nil, errNoKeyStore()
}

// rewrapVolumeKey wraps the same plain data key under a KMS key of another
// scope (another Region or account): kmsKeyRef as in newVolumeKey. The data,
// encrypted with the same plain key, need not be re-encrypted.
var rewrapVolumeKey = func(tx store.Tx, from Scope, key DataKey, to Scope, kmsKeyRef string) (DataKey, error) {
	return DataKey{}, errNoKeyStore()
}

// ebsEncryptionDefaults is the scope's EBS encryption-by-default setting and
// its default KMS key's ARN.
var ebsEncryptionDefaults = func(tx store.Tx, s Scope) (byDefault bool, keyARN string, err error) {
	return false, "", nil
}

// volumeKeyIsAWSManaged reports whether a KMS key is the AWS managed EBS key
// (alias/aws/ebs) of its scope: snapshots encrypted with it cannot be shared.
var volumeKeyIsAWSManaged = func(tx store.Tx, s Scope, keyARN string) (bool, error) {
	return false, nil
}

func errNoKeyStore() error {
	return errorf("UnsupportedOperation", "encrypted volumes need strato's key store, which this build does not have yet.")
}
