package blockstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"strato/internal/blockstore"
)

// canary is plaintext that must never reach the disk of an encrypted volume.
var canary = []byte("strato-plaintext-canary:0123456789abcdefghijklmnopqrstuvwxyz!!!!")

func canaryPattern(n int) []byte {
	return bytes.Repeat(canary, n/len(canary))
}

// TestPlaintextNeverOnDisk writes a known plaintext into an encrypted volume,
// snapshots it (with copy-before-write spilling while it runs), copies the
// snapshot re-keyed, restores both; then no file under the store holds the
// plaintext, and every restore reads back as written.
func TestPlaintextNeverOnDisk(t *testing.T) {
	s := openStore(t)
	blockstore.SetCBWMemLimit(s, 1) // every saved chunk spills
	key, key2 := randomBytes(64), randomBytes(64)
	const size = 16 * blockstore.ChunkSize
	must(t, s.CreateVolume("vol-1", size, key))
	data := canaryPattern(5 * blockstore.ChunkSize)
	write(t, s, "vol-1", key, 3*blockstore.ChunkSize+512*3, data)
	want := contents(t, s, "vol-1", key)
	if !bytes.Contains(want, canary) {
		t.Fatal("the volume does not read back its plaintext")
	}

	job, err := s.StartSnapshot("vol-1", "snap-1", "")
	must(t, err)
	write(t, s, "vol-1", key, 4*blockstore.ChunkSize, canaryPattern(2*blockstore.ChunkSize)) // saved before write: spilled
	if _, err := os.Stat(filepath.Join(s.Dir(), "tmp", "snap-1.cbw")); err != nil {
		t.Fatalf("no copy-before-write spill: %v", err)
	}
	assertNoPlaintext(t, s.Dir())
	_, err = job.Run(context.Background(), nil)
	must(t, err)

	_, err = s.CopySnapshot(context.Background(), "snap-1", "snap-2", key, key2, nil)
	must(t, err)
	must(t, s.RestoreVolume(context.Background(), "vol-2", size, "snap-2", key2, key2, nil))
	must(t, s.RestoreVolume(context.Background(), "vol-3", size, "snap-1", key, key2, nil))
	must(t, s.RestoreVolume(context.Background(), "vol-4", size, "snap-1", key, key, nil))
	for _, v := range []struct {
		id  string
		key []byte
	}{{"vol-2", key2}, {"vol-3", key2}, {"vol-4", key}} {
		if !bytes.Equal(contents(t, s, v.id, v.key), want) {
			t.Errorf("%s does not read back the snapshot's plaintext", v.id)
		}
	}
	assertNoPlaintext(t, s.Dir())

	// Control: the same scan finds plaintext when there is some.
	must(t, s.RestoreVolume(context.Background(), "vol-plain", size, "snap-1", key, nil, nil))
	if !bytes.Equal(contents(t, s, "vol-plain", nil), want) {
		t.Error("decrypting restore differs")
	}
	if !dirContains(t, s.Dir(), canary) {
		t.Error("the scan does not see plaintext in a plaintext volume")
	}
}

// TestEncryptPlaintextSnapshot encrypts on copy (plaintext snapshot, new key).
func TestEncryptPlaintextSnapshot(t *testing.T) {
	s := openStore(t)
	key := randomBytes(64)
	must(t, s.CreateVolume("vol-1", 4*blockstore.ChunkSize, nil))
	write(t, s, "vol-1", nil, 1000, canaryPattern(blockstore.ChunkSize))
	want := contents(t, s, "vol-1", nil)
	snapshot(t, s, "vol-1", "snap-1", "")
	_, err := s.CopySnapshot(context.Background(), "snap-1", "snap-enc", nil, key, nil)
	must(t, err)
	must(t, s.DeleteVolume("vol-1"))
	must(t, s.DeleteSnapshot("snap-1"))
	must(t, s.RestoreVolume(context.Background(), "vol-2", 4*blockstore.ChunkSize, "snap-enc", key, key, nil))
	if !bytes.Equal(contents(t, s, "vol-2", key), want) {
		t.Fatal("encrypted copy does not restore the plaintext")
	}
	assertNoPlaintext(t, s.Dir())
}

// TestDmCryptPlainLayout checks the file of an encrypted volume against an
// independent AES-XTS with plain64 IVs (IV = sector number, little-endian,
// 512-byte sectors; first half of the key encrypts data, second half tweaks),
// the layout `cryptsetup open --type plain --cipher aes-xts-plain64
// --key-size 512` maps.
func TestDmCryptPlainLayout(t *testing.T) {
	s := openStore(t)
	key := randomBytes(64)
	must(t, s.CreateVolume("vol-1", blockstore.ChunkSize, key))
	plain := randomBytes(4 * 512)
	const off = 77 * 512
	write(t, s, "vol-1", key, off, plain)
	file, err := os.ReadFile(s.VolumePath("vol-1"))
	must(t, err)
	k1, _ := aes.NewCipher(key[:32])
	k2, _ := aes.NewCipher(key[32:])
	for sec := range 4 {
		var tweak [16]byte
		binary.LittleEndian.PutUint64(tweak[:], uint64(off/512+sec))
		k2.Encrypt(tweak[:], tweak[:])
		for b := 0; b < 512; b += 16 {
			var x [16]byte
			for i := range x {
				x[i] = plain[sec*512+b+i] ^ tweak[i]
			}
			k1.Encrypt(x[:], x[:])
			for i := range x {
				x[i] ^= tweak[i]
			}
			if !bytes.Equal(x[:], file[off+sec*512+b:][:16]) {
				t.Fatalf("sector %d block %d is not aes-xts-plain64", off/512+sec, b/16)
			}
			// Next tweak: multiply by x in GF(2^128), little-endian.
			carry := tweak[15] >> 7
			for i := 15; i > 0; i-- {
				tweak[i] = tweak[i]<<1 | tweak[i-1]>>7
			}
			tweak[0] = tweak[0]<<1 ^ carry*0x87
		}
	}
}

func assertNoPlaintext(t *testing.T, dir string) {
	t.Helper()
	if dirContains(t, dir, canary) {
		t.Fatal("plaintext of an encrypted volume is on disk")
	}
}

// dirContains reports whether any file under dir holds needle, and logs it.
func dirContains(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			t.Logf("plaintext found in %s", path)
			found = true
		}
		return nil
	})
	must(t, err)
	if files < 3 {
		t.Fatalf("only %d files scanned", files)
	}
	return found
}
