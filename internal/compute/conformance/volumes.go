package conformance

import (
	"crypto/aes"
	"os"
	"testing"

	"golang.org/x/crypto/xts"
)

// VolumeWith is a new sparse volume file of 8 MiB that starts with marker, for a
// test to find in the guest.
func VolumeWith(t *testing.T, marker string) string {
	t.Helper()
	path := SparseFile(t, t.TempDir(), "vol.img", 8<<20)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(marker), 0); err != nil {
		t.Fatal(err)
	}
	return path
}

// EncryptFile encrypts a volume's file in place as strato keeps encrypted volumes
// and drivers read them through dm-crypt: aes-xts-plain64 with a 64-byte key,
// 512-byte sectors whose number from 0 is the tweak.
func EncryptFile(t *testing.T, path string, key []byte) {
	t.Helper()
	c, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const sector = 512
	for i := 0; (i+1)*sector <= len(data); i++ {
		block := data[i*sector : (i+1)*sector]
		c.Encrypt(block, block, uint64(i))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
