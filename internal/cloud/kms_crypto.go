package cloud

import (
	"bytes"
	"context"
	"crypto/rand"
	"sort"

	"strato/internal/store"
)

// KMS's cryptographic operations on the key store's keys (Encrypt, Decrypt,
// GenerateDataKey), so that programs using KMS directly work against strato.
//
// A ciphertext blob names its key, as KMS's do (Decrypt needs no KeyId for
// symmetric keys): a version byte, the 36-character key ID, then the AES-256-GCM
// sealed plaintext with the nonce first. The key's ARN and the encryption context
// are bound as additional data, so a blob opens only with the same context.

const blobVersion = 1

// contextAAD is the additional data of a blob: the key ARN and the encryption
// context in a canonical order.
func contextAAD(arn string, ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString(arn)
	for _, k := range keys {
		// Lengths first, so that no two contexts encode alike.
		b.WriteByte(0)
		writeLenPrefixed(&b, k)
		writeLenPrefixed(&b, ec[k])
	}
	return b.Bytes()
}

func writeLenPrefixed(b *bytes.Buffer, s string) {
	n := len(s)
	b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	b.WriteString(s)
}

// usableByRef resolves a key for a cryptographic operation and checks its state.
func usableByRef(tx store.Tx, s Scope, ref string) (KMSKey, error) {
	k, err := resolveKMSKey(tx, s, ref)
	if err == nil {
		err = usableKey(k)
	}
	return k, kmsCoded(err)
}

func encryptUnder(tx store.Tx, k KMSKey, plain []byte, ec map[string]string) ([]byte, error) {
	material, err := keyMaterial(tx, k)
	if err != nil {
		return nil, err
	}
	sealed, err := seal(material, plain, contextAAD(k.ARN, ec))
	if err != nil {
		return nil, err
	}
	return append(append([]byte{blobVersion}, k.ID...), sealed...), nil
}

// KMSEncrypt encrypts up to 4 KiB under a key (KMS's Encrypt).
func (c *Cloud) KMSEncrypt(ctx context.Context, s Scope, ref string, plain []byte, ec map[string]string) (blob []byte, keyARN string, err error) {
	err = c.update(ctx, func(tx store.Tx) error {
		k, err := usableByRef(tx, s, ref)
		if err != nil {
			return err
		}
		keyARN = k.ARN
		blob, err = encryptUnder(tx, k, plain, ec)
		return err
	})
	return blob, keyARN, err
}

// KMSGenerateDataKey makes n random bytes and returns them with their encryption
// under a key (KMS's GenerateDataKey).
func (c *Cloud) KMSGenerateDataKey(ctx context.Context, s Scope, ref string, n int, ec map[string]string) (plain, blob []byte, keyARN string, err error) {
	plain = make([]byte, n)
	rand.Read(plain)
	blob, keyARN, err = c.KMSEncrypt(ctx, s, ref, plain, ec)
	if err != nil {
		return nil, nil, "", err
	}
	return plain, blob, keyARN, nil
}

// KMSDecrypt opens a blob made by KMSEncrypt with the same encryption context; a
// KeyId, when given, must name the blob's key (IncorrectKeyException otherwise).
func (c *Cloud) KMSDecrypt(ctx context.Context, s Scope, blob []byte, ref string, ec map[string]string) (plain []byte, keyARN string, err error) {
	const idLen = 36
	if len(blob) < 1+idLen || blob[0] != blobVersion || !looksLikeKeyID(string(blob[1:1+idLen])) {
		return nil, "", errorf("InvalidCiphertextException", "The ciphertext is not a KMS ciphertext blob of this key store.")
	}
	id := string(blob[1 : 1+idLen])
	err = c.update(ctx, func(tx store.Tx) error {
		k, err := usableByRef(tx, s, id)
		if err != nil {
			return err
		}
		if ref != "" {
			named, err := resolveKMSKey(tx, s, ref)
			if err != nil {
				return kmsCoded(err)
			}
			if named.ID != k.ID {
				return errorf("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can perform this operation.")
			}
		}
		material, err := keyMaterial(tx, k)
		if err != nil {
			return err
		}
		if plain, err = open(material, blob[1+idLen:], contextAAD(k.ARN, ec)); err != nil {
			return errorf("InvalidCiphertextException", "The ciphertext does not open under %s with this encryption context.", k.ARN)
		}
		keyARN = k.ARN
		return nil
	})
	return plain, keyARN, err
}
