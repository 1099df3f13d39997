package sshkey

import (
	"bytes"
	"crypto/dsa" //nolint:staticcheck // only to recognise and refuse DSA keys
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// Limits applied by Import.
const (
	// MinRSABits and MaxRSABits bound the modulus size of imported RSA keys
	// (inclusive). EC2 documents the supported lengths as 1024, 2048 and
	// 4096; every size in between (3072 in particular) is accepted too.
	MinRSABits = 1024
	MaxRSABits = 4096

	// MaxMaterialBytes caps the size of the material Import looks at; a
	// 4096-bit key in the most verbose accepted encoding is under 1 KiB.
	MaxMaterialBytes = 16 << 10
)

// Imported is the result of Import.
type Imported struct {
	// PublicKey is the normalised OpenSSH form without comment,
	// "ssh-rsa AAAA..." or "ssh-ed25519 AAAA...".
	PublicKey   string
	Fingerprint string
	Type        Type
}

// Import validates ImportKeyPair's PublicKeyMaterial (already base64-decoded
// by the API codec) and returns the normalised public key and its EC2
// fingerprint. Any problem yields a *FormatError.
//
// Accepted encodings (EC2 User Guide, "Create a key pair using a
// third-party tool and import the public key"):
//
//   - OpenSSH public key format, one line: "ssh-rsa AAAA... [comment]" or
//     "ssh-ed25519 AAAA... [comment]". Surrounding blank lines and a
//     trailing newline are fine; authorized_keys options before the key
//     type, several keys, or a type name that disagrees with the blob are
//     refused.
//   - RSA only: DER. Either raw binary DER, the base64 of the DER (line
//     breaks allowed), or the same wrapped in PEM armour. The DER may be a
//     SubjectPublicKeyInfo ("PUBLIC KEY") or a PKCS#1 RSAPublicKey ("RSA
//     PUBLIC KEY").
//   - RSA only: the SSH public key file format of RFC 4716
//     ("---- BEGIN SSH2 PUBLIC KEY ----", optional headers, base64 body).
//
// Key types: RSA with a modulus of MinRSABits to MaxRSABits bits, and
// ED25519. DSA, ECDSA, FIDO security keys (sk-*) and OpenSSH certificates
// are refused, as is a private key.
func Import(material []byte) (Imported, error) {
	if len(bytes.TrimSpace(material)) == 0 {
		return Imported{}, formatErr("the key material is empty")
	}
	if len(material) > MaxMaterialBytes {
		return Imported{}, formatErr("the key material is larger than %d bytes", MaxMaterialBytes)
	}
	pub, err := parsePublicMaterial(material)
	if err != nil {
		return Imported{}, err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSA(k); err != nil {
			return Imported{}, err
		}
		spki, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return Imported{}, formatErr("the RSA key cannot be encoded")
		}
		sp, err := ssh.NewPublicKey(k)
		if err != nil {
			return Imported{}, formatErr("the RSA key cannot be encoded")
		}
		return Imported{PublicKey: authorizedLine(sp), Fingerprint: md5Fingerprint(spki), Type: TypeRSA}, nil
	case ed25519.PublicKey:
		sp, err := ssh.NewPublicKey(k)
		if err != nil {
			return Imported{}, formatErr("the ED25519 key cannot be encoded")
		}
		return Imported{PublicKey: authorizedLine(sp), Fingerprint: sha256Fingerprint(sp), Type: TypeED25519}, nil
	}
	return Imported{}, formatErr("unsupported key type")
}

func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.Sign() <= 0 || k.N.Bit(0) == 0 {
		return formatErr("the RSA modulus is invalid")
	}
	if k.E < 3 || k.E&1 == 0 {
		return formatErr("the RSA public exponent is invalid")
	}
	if bits := k.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return formatErr("RSA keys must be %d to %d bits long, this one has %d", MinRSABits, MaxRSABits, bits)
	}
	return nil
}

// parsePublicMaterial recognises the encoding and returns either an
// *rsa.PublicKey or an ed25519.PublicKey.
func parsePublicMaterial(material []byte) (any, error) {
	if material[0] == 0x30 { // ASN.1 SEQUENCE: binary DER
		return parseDER(material)
	}
	if !utf8.Valid(material) {
		return nil, formatErr("the key material is neither text nor DER")
	}
	text := strings.TrimPrefix(string(material), "\ufeff")
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, formatErr("the key material is empty")
	}
	switch {
	case strings.HasPrefix(text, "---- BEGIN SSH2 PUBLIC KEY ----"):
		return parseRFC4716(text)
	case strings.HasPrefix(text, "-----BEGIN "):
		return parsePEM(text)
	case strings.HasPrefix(text, "PuTTY-User-Key-File-"),
		strings.HasPrefix(text, "---- BEGIN ") && strings.Contains(firstLineOf(text), "PRIVATE KEY"):
		return nil, formatErr("this is a private key; supply only the public key")
	}
	if fields := strings.Fields(firstLineOf(text)); len(fields) >= 2 || isKeyTypeName(fields[0]) {
		return parseOpenSSH(text)
	}
	// A single token: the base64 of a DER public key.
	der, err := base64.StdEncoding.DecodeString(stripSpace(text))
	if err != nil || len(der) == 0 {
		return nil, formatErr("unrecognised key encoding")
	}
	if der[0] != 0x30 {
		return nil, formatErr("base64 text must encode a DER public key")
	}
	return parseDER(der)
}

// isKeyTypeName reports whether a token looks like an SSH key algorithm
// name rather than base64 (e.g. a lone "ssh-rsa" with no blob).
func isKeyTypeName(first string) bool {
	return strings.HasPrefix(first, "ssh-") || strings.HasPrefix(first, "ecdsa-") ||
		strings.HasPrefix(first, "sk-")
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '\v', '\f':
			return -1
		}
		return r
	}, s)
}

// parseOpenSSH parses a single authorized_keys style line.
func parseOpenSSH(text string) (any, error) {
	var line string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if line != "" {
			return nil, formatErr("more than one line of key material")
		}
		line = strings.TrimSpace(l)
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return nil, formatErr("expected \"<key type> <base64 key> [comment]\"")
	}
	alg := fields[0]
	if !isKeyTypeName(alg) {
		for _, f := range fields[1:] {
			if isKeyTypeName(f) {
				return nil, formatErr("authorized_keys options are not supported")
			}
		}
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return nil, formatErr("the key data is not valid base64")
	}
	inner, err := blobAlgorithm(blob)
	if err != nil {
		return nil, err
	}
	if inner != alg {
		return nil, formatErr("the key type %q does not match the key data (%q)", alg, inner)
	}
	return parseWireBlob(blob, true)
}

// parseRFC4716 parses the SSH2 public key file format of RFC 4716.
func parseRFC4716(text string) (any, error) {
	const begin, end = "---- BEGIN SSH2 PUBLIC KEY ----", "---- END SSH2 PUBLIC KEY ----"
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t\r")
	}
	if strings.TrimSpace(lines[0]) != begin {
		return nil, formatErr("malformed RFC 4716 begin line")
	}
	var body strings.Builder
	inHeaders, continued, ended := true, false, false
	for _, l := range lines[1:] {
		switch {
		case ended:
			if strings.TrimSpace(l) != "" {
				return nil, formatErr("data after the RFC 4716 end line")
			}
		case strings.TrimSpace(l) == end:
			ended = true
		case continued:
			// continuation of a header value
			continued = strings.HasSuffix(l, "\\")
		case inHeaders && strings.Contains(l, ":"):
			tag, _, _ := strings.Cut(l, ":")
			if tag == "" || len(tag) > 64 || strings.ContainsAny(tag, " \t") {
				return nil, formatErr("malformed RFC 4716 header")
			}
			continued = strings.HasSuffix(l, "\\")
		default:
			inHeaders = false
			if strings.Contains(l, ":") {
				return nil, formatErr("RFC 4716 header after the key data")
			}
			body.WriteString(strings.TrimSpace(l))
		}
	}
	if !ended {
		return nil, formatErr("missing RFC 4716 end line")
	}
	blob, err := base64.StdEncoding.DecodeString(body.String())
	if err != nil || len(blob) == 0 {
		return nil, formatErr("the RFC 4716 key data is not valid base64")
	}
	return parseWireBlob(blob, false)
}

// parsePEM handles PEM-armoured DER public keys.
func parsePEM(text string) (any, error) {
	block, rest := pem.Decode([]byte(text))
	if block == nil {
		return nil, formatErr("malformed PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, formatErr("more than one PEM block")
	}
	if strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, formatErr("this is a private key; supply only the public key")
	}
	if len(block.Headers) != 0 {
		return nil, formatErr("PEM headers are not supported")
	}
	switch block.Type {
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return parseDER(block.Bytes)
	}
	return nil, formatErr("unsupported PEM block %q", block.Type)
}

// parseDER accepts an RSA SubjectPublicKeyInfo or PKCS#1 RSAPublicKey.
func parseDER(der []byte) (any, error) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PublicKey:
			return k, nil
		case *ecdsa.PublicKey:
			return nil, formatErr("ECDSA keys are not supported")
		case *dsa.PublicKey:
			return nil, formatErr("DSA keys are not supported")
		case ed25519.PublicKey:
			return nil, formatErr("ED25519 keys must be in OpenSSH public key format")
		default:
			return nil, formatErr("unsupported key type")
		}
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return nil, formatErr("this is a private key; supply only the public key")
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return nil, formatErr("this is a private key; supply only the public key")
	}
	return nil, formatErr("the DER data is not an RSA public key")
}

// blobAlgorithm reads the algorithm name that starts an SSH wire-format key.
func blobAlgorithm(blob []byte) (string, error) {
	if len(blob) < 4 {
		return "", formatErr("the key data is truncated")
	}
	n := binary.BigEndian.Uint32(blob)
	if n == 0 || uint64(n) > uint64(len(blob)-4) || n > 256 {
		return "", formatErr("the key data is malformed")
	}
	name := string(blob[4 : 4+n])
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return "", formatErr("the key data is malformed")
		}
	}
	return name, nil
}

// parseWireBlob decodes an SSH wire-format public key. ED25519 is accepted
// only when allowED25519 is set (OpenSSH format).
func parseWireBlob(blob []byte, allowED25519 bool) (any, error) {
	alg, err := blobAlgorithm(blob)
	if err != nil {
		return nil, err
	}
	switch {
	case alg == ssh.KeyAlgoRSA, alg == ssh.KeyAlgoED25519:
	case alg == ssh.KeyAlgoDSA:
		return nil, formatErr("DSA keys are not supported")
	case strings.HasPrefix(alg, "ecdsa-"):
		return nil, formatErr("ECDSA keys are not supported")
	case strings.HasPrefix(alg, "sk-"):
		return nil, formatErr("security key (FIDO) keys are not supported")
	case strings.Contains(alg, "-cert-"):
		return nil, formatErr("certificates are not supported")
	default:
		return nil, formatErr("unsupported key type %q", alg)
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return nil, formatErr("the %s key data is malformed", alg)
	}
	cpk, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return nil, formatErr("unsupported key type %q", alg)
	}
	switch k := cpk.CryptoPublicKey().(type) {
	case *rsa.PublicKey:
		return k, nil
	case ed25519.PublicKey:
		if !allowED25519 {
			return nil, formatErr("ED25519 keys must be in OpenSSH public key format")
		}
		return k, nil
	}
	return nil, formatErr("unsupported key type %q", alg)
}

func firstLineOf(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return line
}
