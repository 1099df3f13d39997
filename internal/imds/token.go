package imds

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Session tokens (IMDSv2) are sealed, not stored: the instance ID and the expiry are
// encrypted and authenticated with AES-GCM under a key drawn when the process starts. A token
// therefore cannot be forged or moved to another instance, and every token dies with the
// process — as on AWS, where a token is only good on the instance it was issued to and
// clients fetch a new one when it is refused.
type tokenSealer struct {
	aead cipher.AEAD
}

const (
	minTokenTTL = 1
	maxTokenTTL = 21600
)

var errBadToken = errors.New("imds: invalid or expired token")

func newTokenSealer() *tokenSealer {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("imds: no randomness for the token key: " + err.Error())
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &tokenSealer{aead: aead}
}

// seal issues a token for instanceID good until expiry.
func (s *tokenSealer) seal(instanceID string, expiry time.Time) string {
	plain := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	plain = append(plain, instanceID...)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("imds: no randomness for a token nonce: " + err.Error())
	}
	sealed := s.aead.Seal(nonce, nonce, plain, nil)
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// open checks that token was issued to instanceID and has not expired at now.
func (s *tokenSealer) open(token, instanceID string, now time.Time) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return errBadToken
	}
	nonce, sealed := raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():]
	plain, err := s.aead.Open(nil, nonce, sealed, nil)
	if err != nil || len(plain) < 8 {
		return errBadToken
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)
	if string(plain[8:]) != instanceID || !now.Before(expiry) {
		return errBadToken
	}
	return nil
}
