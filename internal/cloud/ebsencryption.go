package cloud

import (
	"context"
	"errors"
	"strings"

	"strato/internal/store"
)

// EBS encryption account settings, per account and Region: whether new volumes are
// encrypted by default (off until enabled) and the default key (the AWS-managed
// alias/aws/ebs until changed).

const kindEBSEncryption = "ebs-encryption-settings"

// ebsSettingsID is the one settings document of a scope.
const ebsSettingsID = "default"

type ebsEncryptionSettings struct {
	ID        string `json:"id"`
	ByDefault bool   `json:"byDefault"`
	// KeyARN is the customer key set by ModifyEbsDefaultKmsKeyId; empty means the
	// AWS-managed key.
	KeyARN string `json:"keyArn,omitempty"`
	noTags map[string]string
}

var ebsEncryption = docKind[ebsEncryptionSettings]{
	kind: kindEBSEncryption,
	id:   func(e *ebsEncryptionSettings) string { return e.ID },
	tags: func(e *ebsEncryptionSettings) *map[string]string { return &e.noTags },
}

func loadEBSSettings(tx store.Tx, s Scope) (ebsEncryptionSettings, bool, error) {
	e, err := ebsEncryption.get(tx, s, ebsSettingsID)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return ebsEncryptionSettings{ID: ebsSettingsID}, false, nil
	}
	return e, err == nil, err
}

func saveEBSSettings(tx store.Tx, s Scope, e ebsEncryptionSettings, stored bool) error {
	if stored {
		return ebsEncryption.update(tx, s, &e)
	}
	return ebsEncryption.insert(tx, s, &e, txNow(tx), nil)
}

// ebsDefaultKeyRef is the reference of the scope's default EBS key.
func ebsDefaultKeyRef(tx store.Tx, s Scope) (string, error) {
	e, _, err := loadEBSSettings(tx, s)
	if err != nil || e.KeyARN != "" {
		return e.KeyARN, err
	}
	return EBSManagedKeyAlias, nil
}

// ebsEncryptionDefaults tells CreateVolume (and the other EBS creators) whether
// volumes are encrypted by default and the ARN of the default key. The AWS-managed
// key is made on first use, so it runs in a writable transaction. The default key
// may since have been disabled or deleted: newDataKey says so when it is used.
func ebsEncryptionDefaults(tx store.Tx, s Scope) (byDefault bool, keyARN string, err error) {
	e, _, err := loadEBSSettings(tx, s)
	if err != nil {
		return false, "", err
	}
	if e.KeyARN != "" {
		return e.ByDefault, e.KeyARN, nil
	}
	k, err := ensureManagedKey(tx, s, EBSManagedKeyAlias)
	return e.ByDefault, k.ARN, err
}

// SetEBSEncryptionByDefault turns encryption by default on or off and returns the
// new setting.
func (c *Cloud) SetEBSEncryptionByDefault(ctx context.Context, s Scope, on bool) (bool, error) {
	err := c.update(ctx, func(tx store.Tx) error {
		e, stored, err := loadEBSSettings(tx, s)
		if err != nil {
			return err
		}
		e.ByDefault = on
		return saveEBSSettings(tx, s, e, stored)
	})
	return on, err
}

// EBSEncryptionByDefault reports the setting.
func (c *Cloud) EBSEncryptionByDefault(ctx context.Context, s Scope) (bool, error) {
	var on bool
	err := c.view(ctx, func(tx store.Tx) error {
		e, _, err := loadEBSSettings(tx, s)
		on = e.ByDefault
		return err
	})
	return on, err
}

// EBSDefaultKMSKeyID answers GetEbsDefaultKmsKeyId: the customer key's ARN once one
// is set, and until then the AWS-managed key's alias name, which is what AWS
// answers (the documentation promises an ARN, but accounts that never changed the
// default get "alias/aws/ebs", as Terraform's aws_ebs_default_kms_key users found).
func (c *Cloud) EBSDefaultKMSKeyID(ctx context.Context, s Scope) (string, error) {
	var ref string
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		ref, err = ebsDefaultKeyRef(tx, s)
		return err
	})
	return ref, err
}

// ModifyEBSDefaultKMSKeyID sets the default key from a key ID, key ARN, alias name
// or alias ARN and returns the key's ARN. AWS checks the key asynchronously (a bad
// one "can appear to complete, but eventually fails"); strato's key store is local,
// so a key that does not exist is refused at once, and a later failure is reserved
// for keys disabled or deleted after being chosen.
func (c *Cloud) ModifyEBSDefaultKMSKeyID(ctx context.Context, s Scope, ref string) (string, error) {
	if err := validKeyRef(ref); err != nil {
		return "", err
	}
	var arn string
	err := c.update(ctx, func(tx store.Tx) error {
		k, err := resolveKMSKey(tx, s, ref)
		if err != nil {
			var refErr *kmsRefError
			if errors.As(err, &refErr) {
				return errorf("InvalidParameterValue", "Invalid KmsKeyId '%s': %s", ref, refErr.msg)
			}
			return err
		}
		e, stored, err := loadEBSSettings(tx, s)
		if err != nil {
			return err
		}
		e.KeyARN, arn = k.ARN, k.ARN
		if k.Manager == KMSManagerAWS {
			// Naming alias/aws/ebs is the same as resetting.
			e.KeyARN = ""
		}
		return saveEBSSettings(tx, s, e, stored)
	})
	return arn, err
}

// ResetEBSDefaultKMSKeyID returns the default key to the AWS-managed one and
// answers as GetEbsDefaultKmsKeyId then does.
func (c *Cloud) ResetEBSDefaultKMSKeyID(ctx context.Context, s Scope) (string, error) {
	err := c.update(ctx, func(tx store.Tx) error {
		e, stored, err := loadEBSSettings(tx, s)
		if err != nil || !stored || e.KeyARN == "" {
			return err
		}
		e.KeyARN = ""
		return saveEBSSettings(tx, s, e, stored)
	})
	return EBSManagedKeyAlias, err
}

// validKeyRef checks the form of an EC2 KmsKeyId parameter: a key ID, key ARN,
// alias name or alias ARN.
func validKeyRef(ref string) error {
	switch {
	case ref == "":
		return errorf("InvalidParameterValue", "The KmsKeyId must not be empty.")
	case strings.HasPrefix(ref, "arn:"):
		if _, _, _, err := kmsARN(ref); err != nil {
			return errorf("InvalidParameterValue", "Invalid KmsKeyId '%s': %v", ref, err)
		}
	case strings.HasPrefix(ref, "alias/"):
		if !validAliasChars(ref) || len(ref) > 256 {
			return errorf("InvalidParameterValue", "Invalid KmsKeyId '%s': not a valid alias name.", ref)
		}
	case !looksLikeKeyID(ref):
		return errorf("InvalidParameterValue", "Invalid KmsKeyId '%s': use a key ID, key ARN, alias name or alias ARN.", ref)
	}
	return nil
}

// validAliasChars: letters, digits, '/', '_' and '-' (and ':' which KMS's pattern
// allows in AliasNameType).
func validAliasChars(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-' || r == ':') {
			return false
		}
	}
	return true
}
