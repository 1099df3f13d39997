package cloud

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"strings"
)

// NewID makes a resource ID in AWS's form: prefix, dash, 17 lowercase hex digits.
func NewID(prefix string) string {
	var b [9]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

// ValidID reports whether s has the form NewID produces for prefix (AWS also accepts
// the older 8-digit form).
func ValidID(prefix, s string) bool {
	hexPart, ok := strings.CutPrefix(s, prefix+"-")
	if !ok || (len(hexPart) != 17 && len(hexPart) != 8) {
		return false
	}
	for _, r := range hexPart {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// NewAccountID makes a random 12-digit account ID that does not start with 0.
func NewAccountID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e11))
	return big.NewInt(0).Add(n, big.NewInt(1e11)).String()
}

// ValidAccountID reports whether s is 12 decimal digits.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

const base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newAccessKeyID makes an ID in the form of a long-term AWS access key: AKIA and 16
// characters of the base32 alphabet.
func newAccessKeyID() string {
	var b [16]byte
	rand.Read(b[:])
	out := []byte("AKIA")
	for _, c := range b {
		out = append(out, base32Upper[int(c)%32])
	}
	return string(out)
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// newSecretKey makes a 40-character secret access key.
func newSecretKey() string {
	var b [40]byte
	rand.Read(b[:])
	out := make([]byte, 40)
	for i, c := range b {
		out[i] = secretAlphabet[int(c)%64]
	}
	return string(out)
}
