package ec2

import (
	"context"
	"errors"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
	"strato/internal/sshkey"
)

func init() { areas = append(areas, (*Service).registerKeyPairs) }

func (s *Service) registerKeyPairs(d *awsapi.EC2) {
	handle(d, "CreateKeyPair", s.createKeyPair)
	handle(d, "ImportKeyPair", s.importKeyPair)
	handle(d, "DescribeKeyPairs", s.describeKeyPairs)
	handle(d, "DeleteKeyPair", s.deleteKeyPair)
}

// MaxKeyNameLength is AWS's limit on key pair names (ASCII characters).
const MaxKeyNameLength = 255

func validKeyName(name string) error {
	if name == "" {
		return invalidValue("Value () for parameter keyName is invalid. The key name must not be empty.")
	}
	if len(name) > MaxKeyNameLength {
		return invalidValue("Value (%s) for parameter keyName is invalid. Length exceeds maximum of %d.", name, MaxKeyNameLength)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return invalidValue("Value (%s) for parameter keyName is invalid. Character sets beyond ASCII are not supported.", name)
		}
	}
	return nil
}

func sshkeyError(err error) error {
	var ve *sshkey.ValueError
	if errors.As(err, &ve) {
		return invalidValue("%s", ve.Error())
	}
	return err
}

func (s *Service) createKeyPair(ctx context.Context, c *awsapi.EC2Call, in *ec2api.CreateKeyPairRequest) (*ec2api.KeyPair, error) {
	name := deref(in.KeyName)
	if err := validKeyName(name); err != nil {
		return nil, err
	}
	t, err := sshkey.ParseType(deref(in.KeyType))
	if err != nil {
		return nil, sshkeyError(err)
	}
	f, err := sshkey.ParseFormat(deref(in.KeyFormat))
	if err != nil {
		return nil, sshkeyError(err)
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindKeyPair)
	if err != nil {
		return nil, err
	}
	kp, err := s.cloud.CreateKeyPair(ctx, scope(c), name, t, f, tags[cloud.KindKeyPair])
	if err != nil {
		return nil, err
	}
	return &ec2api.KeyPair{
		KeyFingerprint: ptr(kp.Fingerprint), KeyMaterial: ptr(kp.PrivateKey), KeyName: ptr(kp.Name),
		KeyPairId: ptr(kp.ID), Tags: apiTags(kp.Tags),
	}, nil
}

func (s *Service) importKeyPair(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ImportKeyPairRequest) (*ec2api.ImportKeyPairResult, error) {
	name := deref(in.KeyName)
	if err := validKeyName(name); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, cloud.KindKeyPair)
	if err != nil {
		return nil, err
	}
	kp, err := s.cloud.ImportKeyPair(ctx, scope(c), name, in.PublicKeyMaterial, tags[cloud.KindKeyPair])
	if err != nil {
		return nil, err
	}
	return &ec2api.ImportKeyPairResult{KeyFingerprint: ptr(kp.Fingerprint), KeyName: ptr(kp.Name), KeyPairId: ptr(kp.ID), Tags: apiTags(kp.Tags)}, nil
}

func (s *Service) describeKeyPairs(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeKeyPairsRequest) (*ec2api.DescribeKeyPairsResult, error) {
	list, err := s.cloud.DescribeKeyPairs(ctx, scope(c), cloud.KeyPairQuery{Names: in.KeyNames, IDs: in.KeyPairIds, Filters: filters(in.Filters)})
	if err != nil {
		return nil, err
	}
	withPublic := deref(in.IncludePublicKey)
	out := &ec2api.DescribeKeyPairsResult{KeyPairs: make([]ec2api.KeyPairInfo, len(list))}
	for i, kp := range list {
		info := ec2api.KeyPairInfo{
			KeyPairId: ptr(kp.ID), KeyFingerprint: ptr(kp.Fingerprint), KeyName: ptr(kp.Name), KeyType: ptr(kp.Type),
			Tags: apiTags(kp.Tags), CreateTime: ptr(kp.CreatedAt),
		}
		if withPublic {
			info.PublicKey = ptr(sshkey.AuthorizedKey(kp.PublicKey, kp.Name))
		}
		out.KeyPairs[i] = info
	}
	return out, nil
}

func (s *Service) deleteKeyPair(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DeleteKeyPairRequest) (*ec2api.DeleteKeyPairResult, error) {
	if deref(in.KeyName) == "" && deref(in.KeyPairId) == "" {
		return nil, missing("KeyName or KeyPairId")
	}
	id, err := s.cloud.DeleteKeyPair(ctx, scope(c), deref(in.KeyName), deref(in.KeyPairId))
	if err != nil {
		return nil, err
	}
	out := &ec2api.DeleteKeyPairResult{Return: ptr(true)}
	if id != "" {
		out.KeyPairId = &id
	}
	return out, nil
}
