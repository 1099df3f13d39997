package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/sshkey"
	"strato/internal/store"
)

// KeyPair is a stored key pair: the public half only; a created private key is
// returned once and never kept.
type KeyPair struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Type        string    `json:"type"`
	PublicKey   string    `json:"publicKey"`
	CreatedAt   time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

var keyPairs = docKind[KeyPair]{
	kind: KindKeyPair,
	id:   func(k *KeyPair) string { return k.ID },
	name: func(k *KeyPair) string { return k.Name },
	tags: func(k *KeyPair) *map[string]string { return &k.Tags },
}

// CreatedKeyPair is a new key pair with its private key.
type CreatedKeyPair struct {
	KeyPair
	PrivateKey string
}

// CreateKeyPair makes a key pair and returns its private key.
func (c *Cloud) CreateKeyPair(ctx context.Context, s Scope, name string, t sshkey.Type, f sshkey.Format, tags []Tag) (CreatedKeyPair, error) {
	if err := ValidateTags(tags); err != nil {
		return CreatedKeyPair{}, err
	}
	if err := c.keyNameFree(ctx, s, name); err != nil {
		return CreatedKeyPair{}, err
	}
	made, err := sshkey.Create(t, f, name)
	if err != nil {
		return CreatedKeyPair{}, fmt.Errorf("creating key material: %w", err)
	}
	kp := KeyPair{ID: NewID("key"), Name: name, Fingerprint: made.Fingerprint, Type: string(made.Type), PublicKey: made.PublicKey, CreatedAt: c.clock.Now()}
	if err := c.insertKeyPair(ctx, s, kp, tags); err != nil {
		return CreatedKeyPair{}, err
	}
	kp.Tags = tagMap(tags)
	return CreatedKeyPair{KeyPair: kp, PrivateKey: made.PrivateKey}, nil
}

// ImportKeyPair stores a user's public key.
func (c *Cloud) ImportKeyPair(ctx context.Context, s Scope, name string, material []byte, tags []Tag) (KeyPair, error) {
	if err := ValidateTags(tags); err != nil {
		return KeyPair{}, err
	}
	imported, err := sshkey.Import(material)
	if err != nil {
		var fe *sshkey.FormatError
		if errors.As(err, &fe) {
			return KeyPair{}, errorf("InvalidKey.Format", "%s", sshkey.FormatErrorMessage)
		}
		return KeyPair{}, err
	}
	kp := KeyPair{ID: NewID("key"), Name: name, Fingerprint: imported.Fingerprint, Type: string(imported.Type), PublicKey: imported.PublicKey, CreatedAt: c.clock.Now()}
	if err := c.insertKeyPair(ctx, s, kp, tags); err != nil {
		return KeyPair{}, err
	}
	kp.Tags = tagMap(tags)
	return kp, nil
}

// keyNameFree fails early, before slow key generation, when the name is taken. The
// unique index still decides under concurrency.
func (c *Cloud) keyNameFree(ctx context.Context, s Scope, name string) error {
	return c.view(ctx, func(tx store.Tx) error {
		_, err := keyPairs.getByName(tx, s, name)
		var nf *NotFoundError
		switch {
		case err == nil:
			return &DuplicateError{Kind: KindKeyPair, Name: name}
		case errors.As(err, &nf):
			return nil
		}
		return err
	})
}

func (c *Cloud) insertKeyPair(ctx context.Context, s Scope, kp KeyPair, tags []Tag) error {
	return c.update(ctx, func(tx store.Tx) error {
		if err := checkCount(tx, s, KindKeyPair, QuotaKeyPairs); err != nil {
			return err
		}
		return keyPairs.insert(tx, s, &kp, kp.CreatedAt, tags)
	})
}

var keyPairFields = filter.Fields[KeyPair]{
	"key-pair-id": func(k KeyPair) []string { return []string{k.ID} },
	"key-name":    func(k KeyPair) []string { return []string{k.Name} },
	"fingerprint": func(k KeyPair) []string { return []string{k.Fingerprint} },
}

// KeyPairQuery selects key pairs; names and IDs that do not exist are an error.
type KeyPairQuery struct {
	Names   []string
	IDs     []string
	Filters []filter.Filter
}

// DescribeKeyPairs lists the caller's key pairs, ordered by name.
func (c *Cloud) DescribeKeyPairs(ctx context.Context, s Scope, q KeyPairQuery) ([]KeyPair, error) {
	m, err := filter.Compile(q.Filters, keyPairFields, func(k KeyPair) map[string]string { return k.Tags })
	if err != nil {
		return nil, err
	}
	var list []KeyPair
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err = keyPairs.load(tx, s, q.IDs, q.Names)
		return err
	}); err != nil {
		return nil, err
	}
	out := m.Filter(list)
	sortByUniqueKey(out, func(k KeyPair) string { return k.Name })
	return out, nil
}

// DeleteKeyPair deletes by name or ID. Deleting a key pair that does not exist
// succeeds, as on AWS; the ID of a deleted key pair is returned.
func (c *Cloud) DeleteKeyPair(ctx context.Context, s Scope, name, id string) (deletedID string, err error) {
	err = c.update(ctx, func(tx store.Tx) error {
		var kp KeyPair
		var err error
		if id != "" {
			kp, err = keyPairs.get(tx, s, id)
		} else {
			kp, err = keyPairs.getByName(tx, s, name)
		}
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		if err != nil {
			return err
		}
		deletedID = kp.ID
		return keyPairs.remove(tx, s, kp.ID)
	})
	return deletedID, err
}
