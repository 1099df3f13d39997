// Package sshkey produces and validates the key material behind the EC2
// key-pair actions (CreateKeyPair, ImportKeyPair, DescribeKeyPairs).
//
// Behaviour mirrors Amazon EC2:
//
//   - CreateKeyPair makes a 2048-bit RSA key or an ED25519 key. With
//     KeyFormat=pem an RSA private key is a PKCS#1 PEM block
//     ("-----BEGIN RSA PRIVATE KEY-----") and an ED25519 private key is an
//     OpenSSH private key ("-----BEGIN OPENSSH PRIVATE KEY-----"). With
//     KeyFormat=ppk it is an unencrypted PuTTY private key file (format
//     version 2, see ppk.go).
//   - Fingerprints (EC2 User Guide, "Verify the fingerprint of your key
//     pair"):
//     created RSA  -> SHA-1 of the DER PKCS#8 private key, colon-separated
//     lowercase hex (openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c);
//     imported RSA -> MD5 of the DER SubjectPublicKeyInfo, colon-separated
//     lowercase hex (openssl pkey -pubout -outform DER | openssl md5 -c);
//     ED25519 (created or imported) -> standard base64, with '=' padding and
//     without the "SHA256:" prefix, of the SHA-256 of the SSH public key
//     blob (the digest ssh-keygen -l -E sha256 prints, plus padding).
//   - ImportKeyPair accepts RSA (1024 to 4096 bits inclusive) and ED25519
//     keys; DSA, ECDSA, security-key and certificate keys are refused. See
//     Import for the accepted encodings.
//
// Everything in this package is safe for concurrent use.
package sshkey

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Type is an EC2 key pair type (the KeyType parameter / keyType field).
type Type string

// Format is the private key format of CreateKeyPair (KeyFormat parameter).
type Format string

// Key types and formats understood by EC2.
const (
	TypeRSA     Type = "rsa"
	TypeED25519 Type = "ed25519"

	FormatPEM Format = "pem"
	FormatPPK Format = "ppk"
)

// Defaults applied by EC2 when KeyType / KeyFormat are omitted.
const (
	DefaultType   = TypeRSA
	DefaultFormat = FormatPEM
)

// ValidTypes lists the accepted KeyType values, in the order EC2 documents them.
var ValidTypes = []Type{TypeRSA, TypeED25519}

// ValidFormats lists the accepted KeyFormat values.
var ValidFormats = []Format{FormatPEM, FormatPPK}

// Valid reports whether t is one of ValidTypes.
func (t Type) Valid() bool { return t == TypeRSA || t == TypeED25519 }

// Valid reports whether f is one of ValidFormats.
func (f Format) Valid() bool { return f == FormatPEM || f == FormatPPK }

// ValueError reports an unacceptable KeyType or KeyFormat value. The API
// layer answers it with InvalidParameterValue.
type ValueError struct {
	Param string   // "KeyType" or "KeyFormat"
	Value string   // the value as received
	Valid []string // the accepted values
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("Value (%s) for parameter %s is invalid. Valid values are: %s",
		e.Value, e.Param, strings.Join(e.Valid, ", "))
}

// ParseType validates a KeyType parameter. The empty string (parameter
// omitted) yields DefaultType. Matching is exact: EC2's enum values are
// lowercase.
func ParseType(s string) (Type, error) {
	if s == "" {
		return DefaultType, nil
	}
	if t := Type(s); t.Valid() {
		return t, nil
	}
	return "", &ValueError{Param: "KeyType", Value: s, Valid: []string{string(TypeRSA), string(TypeED25519)}}
}

// ParseFormat validates a KeyFormat parameter. The empty string yields
// DefaultFormat. Matching is exact.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return DefaultFormat, nil
	}
	if f := Format(s); f.Valid() {
		return f, nil
	}
	return "", &ValueError{Param: "KeyFormat", Value: s, Valid: []string{string(FormatPEM), string(FormatPPK)}}
}

// FormatErrorMessage is the message EC2 gives with InvalidKey.Format.
const FormatErrorMessage = "Key is not in valid OpenSSH public key format"

// FormatError is returned by Import for any material it does not accept.
// The API layer maps it to the InvalidKey.Format error code.
type FormatError struct {
	// Reason says what exactly was wrong; it may be empty.
	Reason string
}

// Error returns FormatErrorMessage, followed by the reason when there is one.
func (e *FormatError) Error() string {
	if e.Reason == "" {
		return FormatErrorMessage
	}
	return FormatErrorMessage + ": " + e.Reason
}

func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// AuthorizedKey returns the authorized_keys line for a stored public key:
// the key type and base64 blob of publicKey (any comment it carries is
// dropped) followed by comment. EC2 uses the key pair name as the comment
// (instance metadata public-keys/0/openssh-key gives "ssh-rsa AAAA... name").
// Control characters in comment (line breaks in particular, which would
// smuggle extra lines into authorized_keys) are replaced by spaces, and
// surrounding blanks are trimmed; an empty comment yields the bare key.
// The result has no trailing newline.
func AuthorizedKey(publicKey, comment string) string {
	fields := strings.Fields(publicKey)
	line := strings.Join(fields, " ")
	if len(fields) > 2 {
		line = fields[0] + " " + fields[1]
	}
	if c := cleanComment(comment); c != "" {
		if line == "" {
			return c
		}
		line += " " + c
	}
	return line
}

// cleanComment makes comment safe for a single-line field.
func cleanComment(comment string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, comment))
}

// authorizedLine is "<type> <base64 blob>" for pub, without a comment.
func authorizedLine(pub ssh.PublicKey) string {
	return pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal())
}

// colonHex renders a digest as lowercase hex pairs separated by colons.
func colonHex(sum []byte) string {
	h := hex.EncodeToString(sum)
	var b strings.Builder
	b.Grow(len(h) + len(sum))
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// sha256Fingerprint is EC2's ED25519 fingerprint: padded standard base64 of
// the SHA-256 of the SSH wire-format public key.
func sha256Fingerprint(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return base64.StdEncoding.EncodeToString(sum[:])
}

// md5Fingerprint is EC2's fingerprint for imported RSA keys: MD5 of the DER
// SubjectPublicKeyInfo, in colon hex.
func md5Fingerprint(spkiDER []byte) string {
	sum := md5.Sum(spkiDER)
	return colonHex(sum[:])
}
