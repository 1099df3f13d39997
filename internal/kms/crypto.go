package kms

import (
	"context"

	"strato/internal/awsapi"
)

func init() {
	handlers["Encrypt"] = (*Service).encrypt
	handlers["Decrypt"] = (*Service).decrypt
	handlers["GenerateDataKey"] = func(s *Service, ctx context.Context, c *awsapi.Call) (any, error) {
		return s.generateDataKey(ctx, c, true)
	}
	handlers["GenerateDataKeyWithoutPlaintext"] = func(s *Service, ctx context.Context, c *awsapi.Call) (any, error) {
		return s.generateDataKey(ctx, c, false)
	}
}

// Symmetric keys have one algorithm.
const symmetricDefault = "SYMMETRIC_DEFAULT"

type cryptoInput struct {
	KeyId               string
	Plaintext           []byte
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	NumberOfBytes       *int
	KeySpec             string
	GrantTokens         []string
	DryRun              *bool
}

// check applies what every cryptographic operation checks: the algorithm.
func (in cryptoInput) check() error {
	if in.EncryptionAlgorithm != "" && in.EncryptionAlgorithm != symmetricDefault {
		return awsapi.Errorf("InvalidKeyUsageException", "Symmetric keys support only the %s encryption algorithm, not %s.", symmetricDefault, in.EncryptionAlgorithm)
	}
	return nil
}

// dryRun answers a dry run once the operation is known to succeed (the operations
// change nothing, but naming alias/aws/ebs may make the EBS key, as any use does).
func dryRun(in cryptoInput) error {
	if in.DryRun != nil && *in.DryRun {
		return awsapi.Errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	return nil
}

type cryptoOutput struct {
	KeyId               string `json:"KeyId"`
	CiphertextBlob      []byte `json:"CiphertextBlob,omitempty"`
	Plaintext           []byte `json:"Plaintext,omitempty"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm,omitempty"`
}

func (s *Service) encrypt(ctx context.Context, c *awsapi.Call) (any, error) {
	var in cryptoInput
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := required("keyId", in.KeyId); err != nil {
		return nil, err
	}
	if len(in.Plaintext) < 1 || len(in.Plaintext) > 4096 {
		return nil, validation("Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096")
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	blob, arn, err := s.cloud.KMSEncrypt(ctx, scope(c), in.KeyId, in.Plaintext, in.EncryptionContext)
	if err == nil {
		err = dryRun(in)
	}
	if err != nil {
		return nil, err
	}
	return cryptoOutput{KeyId: arn, CiphertextBlob: blob, EncryptionAlgorithm: symmetricDefault}, nil
}

func (s *Service) decrypt(ctx context.Context, c *awsapi.Call) (any, error) {
	var in cryptoInput
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if len(in.CiphertextBlob) == 0 {
		return nil, validation("Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	plain, arn, err := s.cloud.KMSDecrypt(ctx, scope(c), in.CiphertextBlob, in.KeyId, in.EncryptionContext)
	if err == nil {
		err = dryRun(in)
	}
	if err != nil {
		return nil, err
	}
	return cryptoOutput{KeyId: arn, Plaintext: plain, EncryptionAlgorithm: symmetricDefault}, nil
}

// generateDataKey takes NumberOfBytes (1..1024) or KeySpec (AES_128, AES_256), one
// of them.
func (s *Service) generateDataKey(ctx context.Context, c *awsapi.Call, withPlaintext bool) (any, error) {
	var in cryptoInput
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := required("keyId", in.KeyId); err != nil {
		return nil, err
	}
	var n int
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != "", in.NumberOfBytes == nil && in.KeySpec == "":
		return nil, awsapi.Errorf("ValidationException", "Please specify either number of bytes or key spec.")
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != "":
		return nil, validation("Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	default:
		n = *in.NumberOfBytes
		if n < 1 || n > 1024 {
			return nil, validation("Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", n)
		}
	}
	plain, blob, arn, err := s.cloud.KMSGenerateDataKey(ctx, scope(c), in.KeyId, n, in.EncryptionContext)
	if err == nil {
		err = dryRun(in)
	}
	if err != nil {
		return nil, err
	}
	out := cryptoOutput{KeyId: arn, CiphertextBlob: blob}
	if withPlaintext {
		out.Plaintext = plain
	}
	return out, nil
}
