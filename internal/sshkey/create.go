package sshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"

	"golang.org/x/crypto/ssh"
)

// RSABits is the size of the RSA keys CreateKeyPair makes.
const RSABits = 2048

// Created is the result of Create.
type Created struct {
	// PrivateKey is the KeyMaterial returned once to the caller. PEM output
	// ends with a newline (OpenSSH refuses an OpenSSH-format key file whose
	// last line is unterminated).
	PrivateKey string
	// PublicKey is the OpenSSH authorized_keys form without a comment,
	// e.g. "ssh-ed25519 AAAA...". Use AuthorizedKey to add the name.
	PublicKey   string
	Fingerprint string
	Type        Type
}

// Create makes a new key pair of type t and returns its private key in
// format f. comment is written where the format has room for one: the
// Comment header of a PPK file and the comment field of an OpenSSH private
// key (ED25519 PEM); a PKCS#1 PEM has none. Callers pass the key pair name.
//
// RSA generation takes tens to hundreds of milliseconds. Create keeps no
// shared state and may be called from many goroutines at once.
func Create(t Type, f Format, comment string) (Created, error) {
	if !f.Valid() {
		return Created{}, &ValueError{Param: "KeyFormat", Value: string(f), Valid: []string{string(FormatPEM), string(FormatPPK)}}
	}
	comment = cleanComment(comment)
	switch t {
	case TypeRSA:
		return createRSA(f, comment)
	case TypeED25519:
		return createED25519(f, comment)
	default:
		return Created{}, &ValueError{Param: "KeyType", Value: string(t), Valid: []string{string(TypeRSA), string(TypeED25519)}}
	}
}

func createRSA(f Format, comment string) (Created, error) {
	key, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		return Created{}, fmt.Errorf("sshkey: generating RSA key: %w", err)
	}
	if key, err = canonicalRSA(key); err != nil {
		return Created{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Created{}, fmt.Errorf("sshkey: encoding RSA key: %w", err)
	}
	sum := sha1.Sum(pkcs8)
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return Created{}, fmt.Errorf("sshkey: encoding RSA public key: %w", err)
	}
	out := Created{PublicKey: authorizedLine(pub), Fingerprint: colonHex(sum[:]), Type: TypeRSA}
	switch f {
	case FormatPPK:
		priv, err := rsaPPKPrivate(key)
		if err != nil {
			return Created{}, err
		}
		out.PrivateKey = encodePPK(ppkVersion, pub.Type(), pub.Marshal(), priv, comment)
	default:
		out.PrivateKey = string(pem.EncodeToMemory(&pem.Block{
			Type:  "RSA PRIVATE KEY",
			Bytes: x509.MarshalPKCS1PrivateKey(key),
		}))
	}
	return out, nil
}

func createED25519(f Format, comment string) (Created, error) {
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Created{}, fmt.Errorf("sshkey: generating ED25519 key: %w", err)
	}
	pub, err := ssh.NewPublicKey(edPub)
	if err != nil {
		return Created{}, fmt.Errorf("sshkey: encoding ED25519 public key: %w", err)
	}
	out := Created{PublicKey: authorizedLine(pub), Fingerprint: sha256Fingerprint(pub), Type: TypeED25519}
	switch f {
	case FormatPPK:
		out.PrivateKey = encodePPK(ppkVersion, pub.Type(), pub.Marshal(), ed25519PPKPrivate(edPriv), comment)
	default:
		block, err := ssh.MarshalPrivateKey(edPriv, comment)
		if err != nil {
			return Created{}, fmt.Errorf("sshkey: encoding ED25519 private key: %w", err)
		}
		out.PrivateKey = string(pem.EncodeToMemory(block))
	}
	return out, nil
}

// canonicalRSA returns key with its primes ordered p > q (OpenSSL's and
// PuTTY's convention) and the CRT values recomputed, so that the PKCS#1
// PEM, the PPK file and the fingerprint all describe one encoding: a PPK
// converted to PEM with puttygen yields the same PKCS#8 DER, hence the same
// fingerprint, as the PEM output would have.
func canonicalRSA(key *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if len(key.Primes) != 2 {
		return nil, fmt.Errorf("sshkey: expected a two-prime RSA key")
	}
	p, q := key.Primes[0], key.Primes[1]
	if p.Cmp(q) < 0 {
		p, q = q, p
	}
	out := &rsa.PrivateKey{PublicKey: key.PublicKey, D: key.D, Primes: []*big.Int{p, q}}
	out.Precompute()
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("sshkey: RSA key: %w", err)
	}
	return out, nil
}
