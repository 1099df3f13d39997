package cloud

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"strato/internal/store"
)

// UseFakeVolumeKeys installs, for the rest of a test, a deterministic stand-in
// for the key store: data keys are derived from a counter and "wrapped" by
// XOR with a pad derived from the KMS key's ARN. It checks what the real one
// would: a key is only opened in the scope (account and Region) of its KMS key.
// It is for tests only (the hooks are package variables, so tests using it must
// not run in parallel with tests that expect the defaults).
func UseFakeVolumeKeys(t interface{ Cleanup(func()) }) *FakeVolumeKeys {
	f := &FakeVolumeKeys{byDefault: map[Scope]bool{}}
	saved := []any{newVolumeKey, openVolumeKey, rewrapVolumeKey, volumeEncryptionDefaults, volumeKeyIsAWSManaged}
	newVolumeKey, openVolumeKey, rewrapVolumeKey = f.newKey, f.open, f.rewrap
	volumeEncryptionDefaults, volumeKeyIsAWSManaged = f.defaults, f.awsManaged
	t.Cleanup(func() {
		newVolumeKey = saved[0].(func(store.Tx, Scope, string) ([]byte, DataKey, error))
		openVolumeKey = saved[1].(func(store.Tx, Scope, DataKey) ([]byte, error))
		rewrapVolumeKey = saved[2].(func(store.Tx, Scope, DataKey, Scope, string) (DataKey, error))
		volumeEncryptionDefaults = saved[3].(func(store.Tx, Scope) (bool, string, error))
		volumeKeyIsAWSManaged = saved[4].(func(store.Tx, Scope, string) (bool, error))
	})
	return f
}

// FakeVolumeKeys is the stand-in UseFakeVolumeKeys installs.
type FakeVolumeKeys struct {
	mu        sync.Mutex
	next      uint64
	byDefault map[Scope]bool
}

// fakeDefaultKey names the AWS managed EBS key in fake ARNs.
const fakeDefaultKey = "aws-ebs-default"

// SetEncryptionByDefault turns EBS encryption by default on or off for a scope.
func (f *FakeVolumeKeys) SetEncryptionByDefault(s Scope, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byDefault[s] = on
}

// FakeKeyARN is the ARN the fake gives a key reference in a scope ("" is the
// AWS managed EBS key).
func FakeKeyARN(s Scope, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	if ref == "" {
		ref = fakeDefaultKey
	}
	return "arn:aws:kms:" + s.Region + ":" + s.Account + ":key/" + ref
}

func (f *FakeVolumeKeys) newKey(tx store.Tx, s Scope, ref string) ([]byte, DataKey, error) {
	f.mu.Lock()
	f.next++
	n := f.next
	f.mu.Unlock()
	plain := make([]byte, 0, VolumeKeyBytes)
	for i := uint64(0); len(plain) < VolumeKeyBytes; i++ {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], n)
		binary.BigEndian.PutUint64(b[8:], i)
		sum := sha256.Sum256(b[:])
		plain = append(plain, sum[:]...)
	}
	plain = plain[:VolumeKeyBytes]
	arn := FakeKeyARN(s, ref)
	return plain, DataKey{KeyARN: arn, Ciphertext: fakePad(arn, plain)}, nil
}

func (f *FakeVolumeKeys) open(tx store.Tx, s Scope, key DataKey) ([]byte, error) {
	if !strings.HasPrefix(key.KeyARN, "arn:aws:kms:"+s.Region+":"+s.Account+":") {
		return nil, fmt.Errorf("fake key store: key %s is not in %s/%s", key.KeyARN, s.Account, s.Region)
	}
	return fakePad(key.KeyARN, key.Ciphertext), nil
}

func (f *FakeVolumeKeys) rewrap(tx store.Tx, from Scope, key DataKey, to Scope, ref string) (DataKey, error) {
	plain, err := f.open(tx, from, key)
	if err != nil {
		return DataKey{}, err
	}
	arn := FakeKeyARN(to, ref)
	return DataKey{KeyARN: arn, Ciphertext: fakePad(arn, plain)}, nil
}

func (f *FakeVolumeKeys) defaults(tx store.Tx, s Scope) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byDefault[s], FakeKeyARN(s, ""), nil
}

func (f *FakeVolumeKeys) awsManaged(tx store.Tx, s Scope, arn string) (bool, error) {
	return strings.HasSuffix(arn, ":key/"+fakeDefaultKey), nil
}

// fakePad XORs b with a pad derived from the key ARN (its own inverse).
func fakePad(arn string, b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", arn, i/32)))
		out[i] = b[i] ^ sum[i%32]
	}
	return out
}
