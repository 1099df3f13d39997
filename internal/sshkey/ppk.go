package sshkey

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"math/big"
	"strconv"
	"strings"
)

// PuTTY private key files (.ppk), unencrypted.
//
// Layout (PuTTY manual, appendix "PPK file format"):
//
//	PuTTY-User-Key-File-<v>: <algorithm>
//	Encryption: none
//	Comment: <comment>
//	Public-Lines: <n>
//	<public blob, base64, 64 characters a line>
//	Private-Lines: <m>
//	<private blob, base64, 64 characters a line>
//	Private-MAC: <lowercase hex>
//
// The MAC covers five SSH "string" fields: algorithm, encryption ("none"),
// comment, public blob, private blob. Version 2 uses HMAC-SHA-1 keyed with
// SHA-1("putty-private-key-file-mac-key" || passphrase), the passphrase
// being empty here; version 3 uses HMAC-SHA-256, whose key is empty for an
// unencrypted file. Unencrypted private blobs carry no padding.
//
// Version 2 is written: old and current PuTTY releases all read it, whereas
// version 3 needs PuTTY 0.75 or later.

// ppkVersion is the PPK format version Create writes.
const ppkVersion = 2

const ppkLineLen = 64

// encodePPK renders an unencrypted PPK file of the given version (2 or 3).
func encodePPK(version int, alg string, pubBlob, privBlob []byte, comment string) string {
	var b strings.Builder
	b.WriteString("PuTTY-User-Key-File-" + strconv.Itoa(version) + ": " + alg + "\n")
	b.WriteString("Encryption: none\n")
	b.WriteString("Comment: " + comment + "\n")
	writePPKBlob(&b, "Public-Lines", pubBlob)
	writePPKBlob(&b, "Private-Lines", privBlob)
	b.WriteString("Private-MAC: " + hex.EncodeToString(ppkMAC(version, alg, "none", comment, pubBlob, privBlob)) + "\n")
	return b.String()
}

func writePPKBlob(b *strings.Builder, header string, blob []byte) {
	enc := base64.StdEncoding.EncodeToString(blob)
	n := (len(enc) + ppkLineLen - 1) / ppkLineLen
	b.WriteString(header + ": " + strconv.Itoa(n) + "\n")
	for len(enc) > ppkLineLen {
		b.WriteString(enc[:ppkLineLen] + "\n")
		enc = enc[ppkLineLen:]
	}
	if enc != "" {
		b.WriteString(enc + "\n")
	}
}

// ppkMAC computes the Private-MAC of an unencrypted (empty passphrase) file.
func ppkMAC(version int, alg, encryption, comment string, pubBlob, privBlob []byte) []byte {
	var mac hash.Hash
	if version >= 3 {
		mac = hmac.New(sha256.New, nil)
	} else {
		key := sha1.Sum([]byte("putty-private-key-file-mac-key"))
		mac = hmac.New(sha1.New, key[:])
	}
	for _, field := range [][]byte{[]byte(alg), []byte(encryption), []byte(comment), pubBlob, privBlob} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(field)))
		mac.Write(n[:])
		mac.Write(field)
	}
	return mac.Sum(nil)
}

// rsaPPKPrivate builds the ssh-rsa private blob: mpint d, mpint p, mpint q,
// mpint iqmp, where p is the larger prime and iqmp = q^-1 mod p.
func rsaPPKPrivate(key *rsa.PrivateKey) ([]byte, error) {
	if len(key.Primes) != 2 {
		return nil, errors.New("sshkey: PPK needs a two-prime RSA key")
	}
	p, q := key.Primes[0], key.Primes[1]
	if p.Cmp(q) < 0 {
		p, q = q, p
	}
	iqmp := new(big.Int).ModInverse(q, p)
	if iqmp == nil {
		return nil, errors.New("sshkey: RSA primes are not coprime")
	}
	var out []byte
	for _, v := range []*big.Int{key.D, p, q, iqmp} {
		out = appendMPInt(out, v)
	}
	return out, nil
}

// ed25519PPKPrivate builds the ssh-ed25519 private blob: a string holding
// the 32-byte private seed.
func ed25519PPKPrivate(key ed25519.PrivateKey) []byte {
	return appendString(nil, key.Seed())
}

func appendString(out, s []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(s)))
	return append(out, s...)
}

// appendMPInt appends a non-negative integer in SSH mpint form (RFC 4251
// section 5): big-endian, minimal, with a leading zero byte when the top
// bit would otherwise be set; zero is the empty string.
func appendMPInt(out []byte, v *big.Int) []byte {
	b := v.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return appendString(out, b)
}
