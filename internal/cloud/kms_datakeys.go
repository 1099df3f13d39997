package cloud

import (
	"crypto/rand"
	"errors"
	"fmt"

	"strato/internal/store"
)

// Data keys: each encrypted volume has its own random data key, kept only wrapped
// by a key of the key store (envelope encryption, as EBS does with KMS). Snapshots
// and volumes made from an encrypted volume carry the same wrapped key, or a
// re-wrapped one when copied to another Region or key.

// WrappedKey is a data key encrypted under a key of the key store: AES-256-GCM with
// the key's material, the key's ARN bound as additional data (so a wrapped key
// cannot be presented as another key's), the nonce leading the ciphertext.
type WrappedKey struct {
	KeyARN     string `json:"keyArn"`
	Ciphertext []byte `json:"ciphertext"`
}

// KMSKeyError is why a key reference cannot make or open a data key for EBS. AWS
// checks EBS's keys asynchronously: CreateVolume with a key that does not exist
// answers "creating" and the volume then vanishes; an instance whose volume's key
// is disabled stops with the state reason "Client.InvalidKMSKey.InvalidState".
// Callers that follow AWS's asynchronous behaviour test for this type; callers
// that answer at once get the codes below.
type KMSKeyError struct {
	// NotFound: the key does not exist (or is gone); otherwise it is disabled or
	// pending deletion.
	NotFound bool
	Msg      string
}

func (e *KMSKeyError) Error() string { return e.Msg }

// Code is the code EC2 uses for the failure (the state reason's, without "Client.").
func (e *KMSKeyError) Code() string {
	if e.NotFound {
		return "InvalidKMSKey.NotFound"
	}
	return "InvalidKMSKey.InvalidState"
}

// asKMSKeyError turns a key store failure into the error EBS callers see; other
// errors pass unchanged.
func asKMSKeyError(err error) error {
	var ref *kmsRefError
	if errors.As(err, &ref) {
		return &KMSKeyError{NotFound: true, Msg: ref.msg}
	}
	var st *kmsStateError
	if errors.As(err, &st) {
		return &KMSKeyError{Msg: "The KMS key provided is in an incorrect state: " + st.msg}
	}
	return err
}

// MaxDataKeyBytes is KMS's largest data key (GenerateDataKey's NumberOfBytes).
const MaxDataKeyBytes = 1024

// newDataKey makes a random data key of size bytes and wraps it under the key
// keyRef names (a key ID, key ARN, alias name or alias ARN; "" is the account's
// EBS default key in the Region). It runs in a writable transaction: the AWS-managed
// EBS key is made on first use. Errors are *KMSKeyError for unusable keys.
func newDataKey(tx store.Tx, s Scope, keyRef string, size int) (plain []byte, wrapped WrappedKey, keyARN string, err error) {
	if size < 1 || size > MaxDataKeyBytes {
		return nil, WrappedKey{}, "", fmt.Errorf("data key size %d outside 1..%d", size, MaxDataKeyBytes)
	}
	if keyRef == "" {
		if keyRef, err = ebsDefaultKeyRef(tx, s); err != nil {
			return nil, WrappedKey{}, "", err
		}
	}
	k, err := resolveKMSKey(tx, s, keyRef)
	if err == nil {
		err = usableKey(k)
	}
	if err != nil {
		return nil, WrappedKey{}, "", asKMSKeyError(err)
	}
	plain = make([]byte, size)
	rand.Read(plain)
	wrapped, err = wrapUnder(tx, k, plain)
	if err != nil {
		return nil, WrappedKey{}, "", err
	}
	return plain, wrapped, k.ARN, nil
}

func wrapUnder(tx store.Tx, k KMSKey, plain []byte) (WrappedKey, error) {
	kek, err := keyMaterial(tx, k)
	if err != nil {
		return WrappedKey{}, err
	}
	ct, err := seal(kek, plain, []byte(k.ARN))
	if err != nil {
		return WrappedKey{}, err
	}
	return WrappedKey{KeyARN: k.ARN, Ciphertext: ct}, nil
}

// unwrapDataKey opens a wrapped data key with the key it names, which must be in
// scope s and usable (a disabled key or one pending deletion opens nothing, as KMS
// refuses Decrypt; a deleted key's data is lost, as on AWS). It may run in a
// read-only transaction once the key exists.
func unwrapDataKey(tx store.Tx, s Scope, wrapped WrappedKey) ([]byte, error) {
	k, err := resolveKMSKey(tx, s, wrapped.KeyARN)
	if err == nil {
		err = usableKey(k)
	}
	if err != nil {
		return nil, asKMSKeyError(err)
	}
	kek, err := keyMaterial(tx, k)
	if err != nil {
		return nil, err
	}
	plain, err := open(kek, wrapped.Ciphertext, []byte(k.ARN))
	if err != nil {
		return nil, fmt.Errorf("unwrapping a data key under %s: %w", k.ARN, err)
	}
	return plain, nil
}

// rewrapDataKey re-encrypts a data key wrapped in scope s under the key toKeyRef
// names in toScope ("" for toScope's EBS default key): CopySnapshot and CopyImage
// to another Region or key. The data key itself does not change, so chunks already
// stored stay valid. It runs in a writable transaction.
func rewrapDataKey(tx store.Tx, s Scope, wrapped WrappedKey, toScope Scope, toKeyRef string) (WrappedKey, string, error) {
	plain, err := unwrapDataKey(tx, s, wrapped)
	if err != nil {
		return WrappedKey{}, "", err
	}
	if toKeyRef == "" {
		if toKeyRef, err = ebsDefaultKeyRef(tx, toScope); err != nil {
			return WrappedKey{}, "", err
		}
	}
	k, err := resolveKMSKey(tx, toScope, toKeyRef)
	if err == nil {
		err = usableKey(k)
	}
	if err != nil {
		return WrappedKey{}, "", asKMSKeyError(err)
	}
	out, err := wrapUnder(tx, k, plain)
	return out, k.ARN, err
}
