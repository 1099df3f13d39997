package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
)

// EBS encryption account settings: encryption by default and the default KMS key,
// per account and Region.

func init() { areas = append(areas, (*Service).registerEBSEncryption) }

func (s *Service) registerEBSEncryption(d *awsapi.EC2) {
	handle(d, "EnableEbsEncryptionByDefault", s.enableEbsEncryptionByDefault)
	handle(d, "DisableEbsEncryptionByDefault", s.disableEbsEncryptionByDefault)
	handle(d, "GetEbsEncryptionByDefault", s.getEbsEncryptionByDefault)
	handle(d, "GetEbsDefaultKmsKeyId", s.getEbsDefaultKmsKeyId)
	handle(d, "ModifyEbsDefaultKmsKeyId", s.modifyEbsDefaultKmsKeyId)
	handle(d, "ResetEbsDefaultKmsKeyId", s.resetEbsDefaultKmsKeyId)
}

func (s *Service) enableEbsEncryptionByDefault(ctx context.Context, c *awsapi.EC2Call, _ *ec2api.EnableEbsEncryptionByDefaultRequest) (*ec2api.EnableEbsEncryptionByDefaultResult, error) {
	on, err := s.cloud.SetEBSEncryptionByDefault(ctx, scope(c), true)
	if err != nil {
		return nil, err
	}
	return &ec2api.EnableEbsEncryptionByDefaultResult{EbsEncryptionByDefault: &on}, nil
}

func (s *Service) disableEbsEncryptionByDefault(ctx context.Context, c *awsapi.EC2Call, _ *ec2api.DisableEbsEncryptionByDefaultRequest) (*ec2api.DisableEbsEncryptionByDefaultResult, error) {
	on, err := s.cloud.SetEBSEncryptionByDefault(ctx, scope(c), false)
	if err != nil {
		return nil, err
	}
	return &ec2api.DisableEbsEncryptionByDefaultResult{EbsEncryptionByDefault: &on}, nil
}

// getEbsEncryptionByDefault leaves SseType out: the model reserves it "for future
// use".
func (s *Service) getEbsEncryptionByDefault(ctx context.Context, c *awsapi.EC2Call, _ *ec2api.GetEbsEncryptionByDefaultRequest) (*ec2api.GetEbsEncryptionByDefaultResult, error) {
	on, err := s.cloud.EBSEncryptionByDefault(ctx, scope(c))
	if err != nil {
		return nil, err
	}
	return &ec2api.GetEbsEncryptionByDefaultResult{EbsEncryptionByDefault: &on}, nil
}

func (s *Service) getEbsDefaultKmsKeyId(ctx context.Context, c *awsapi.EC2Call, _ *ec2api.GetEbsDefaultKmsKeyIdRequest) (*ec2api.GetEbsDefaultKmsKeyIdResult, error) {
	id, err := s.cloud.EBSDefaultKMSKeyID(ctx, scope(c))
	if err != nil {
		return nil, err
	}
	return &ec2api.GetEbsDefaultKmsKeyIdResult{KmsKeyId: &id}, nil
}

func (s *Service) modifyEbsDefaultKmsKeyId(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyEbsDefaultKmsKeyIdRequest) (*ec2api.ModifyEbsDefaultKmsKeyIdResult, error) {
	arn, err := s.cloud.ModifyEBSDefaultKMSKeyID(ctx, scope(c), deref(in.KmsKeyId))
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyEbsDefaultKmsKeyIdResult{KmsKeyId: &arn}, nil
}

func (s *Service) resetEbsDefaultKmsKeyId(ctx context.Context, c *awsapi.EC2Call, _ *ec2api.ResetEbsDefaultKmsKeyIdRequest) (*ec2api.ResetEbsDefaultKmsKeyIdResult, error) {
	id, err := s.cloud.ResetEBSDefaultKMSKeyID(ctx, scope(c))
	if err != nil {
		return nil, err
	}
	return &ec2api.ResetEbsDefaultKmsKeyIdResult{KmsKeyId: &id}, nil
}
