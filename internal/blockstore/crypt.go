package blockstore

import (
	"bytes"
	"crypto/aes"
	"fmt"

	"golang.org/x/crypto/xts"
)

// SectorSize is the encryption unit: each 512-byte sector of an encrypted volume
// is AES-256-XTS-encrypted with its sector number as the tweak (little-endian,
// dm-crypt's plain64 IV), so a driver can map the file with
//
//	cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 FILE NAME
//
// given the volume's 64-byte key.
const SectorSize = 512

// KeySize is the length of a volume's data key (two AES-256 keys, as XTS needs).
const KeySize = 64

func newCipher(key []byte) (*xts.Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("blockstore: a volume key has %d bytes, not %d", KeySize, len(key))
	}
	return xts.NewCipher(aes.NewCipher, key)
}

var zeroChunk = make([]byte, ChunkSize)

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroChunk))
		if !bytes.Equal(b[:n], zeroChunk[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// encryptSectors encrypts buf in place; buf starts at sector first and is a
// whole number of sectors. Every sector is encrypted, zeros included, so what a
// dm-crypt mapping reads is exactly what was written.
func encryptSectors(c *xts.Cipher, buf []byte, first uint64) {
	for i := 0; i+SectorSize <= len(buf); i += SectorSize {
		s := buf[i : i+SectorSize]
		c.Encrypt(s, s, first+uint64(i/SectorSize))
	}
}

// decryptSectors decrypts buf in place like encryptSectors. A sector whose
// ciphertext is all zeros was never written (a hole, or unwritten space in a
// stored chunk) and reads as zeros, as a new EBS volume does.
func decryptSectors(c *xts.Cipher, buf []byte, first uint64) {
	for i := 0; i+SectorSize <= len(buf); i += SectorSize {
		s := buf[i : i+SectorSize]
		if allZero(s) {
			continue
		}
		c.Decrypt(s, s, first+uint64(i/SectorSize))
	}
}

// sameKey reports whether data under key a can be used as it is under key b.
func sameKey(a, b []byte) bool {
	return bytes.Equal(a, b) && (a == nil) == (b == nil)
}

// rekeyer converts chunks of stored bytes from one key to another (nil: plaintext).
type rekeyer struct {
	src, dst *xts.Cipher
}

func newRekeyer(srcKey, dstKey []byte) (*rekeyer, error) {
	r := &rekeyer{}
	var err error
	if srcKey != nil {
		if r.src, err = newCipher(srcKey); err != nil {
			return nil, err
		}
	}
	if dstKey != nil {
		if r.dst, err = newCipher(dstKey); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// convert rewrites buf (chunk index idx) in place from the source key to the
// destination key. A partial last chunk is a whole number of sectors, since
// volume sizes are.
func (r *rekeyer) convert(buf []byte, idx uint32) {
	first := uint64(idx) * (ChunkSize / SectorSize)
	if r.src != nil {
		decryptSectors(r.src, buf, first)
	}
	if r.dst != nil {
		encryptSectors(r.dst, buf, first)
	}
}
