package ec2

import (
	"context"
	"strings"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

func TestEbsEncryptionByDefault(t *testing.T) {
	d := newService(t)
	runCases(t, d, []apiCase{
		{name: "off until enabled", action: "GetEbsEncryptionByDefault", contains: "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>"},
		{name: "dry run", action: "EnableEbsEncryptionByDefault", params: []string{"DryRun", "true"}, code: "DryRunOperation"},
		{name: "dry run changed nothing", action: "GetEbsEncryptionByDefault", contains: "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>"},
		{name: "enable", action: "EnableEbsEncryptionByDefault", contains: "<ebsEncryptionByDefault>true</ebsEncryptionByDefault>"},
		{name: "enabled", action: "GetEbsEncryptionByDefault", contains: "<ebsEncryptionByDefault>true</ebsEncryptionByDefault>"},
		{name: "get dry run", action: "GetEbsEncryptionByDefault", params: []string{"DryRun", "true"}, code: "DryRunOperation"},
		{name: "disable", action: "DisableEbsEncryptionByDefault", contains: "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>"},
		{name: "disabled", action: "GetEbsEncryptionByDefault", contains: "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>"},
	})
}

func TestEbsDefaultKmsKeyId(t *testing.T) {
	c := cloudtest.New(t)
	d := New(c)
	s := cloud.Scope{Account: "123456789012", Region: "us-east-1"}
	k, err := c.CreateKMSKey(context.Background(), s, "ebs", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateKMSAlias(context.Background(), s, "alias/ebs", k.ID); err != nil {
		t.Fatal(err)
	}
	arnXML := "<kmsKeyId>" + k.ARN + "</kmsKeyId>"
	runCases(t, d, []apiCase{
		{name: "AWS-managed key until changed", action: "GetEbsDefaultKmsKeyId", contains: "<kmsKeyId>alias/aws/ebs</kmsKeyId>"},
		{name: "KmsKeyId is required", action: "ModifyEbsDefaultKmsKeyId", code: "MissingParameter"},
		{name: "not a key reference", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", "my key"}, code: "InvalidParameterValue"},
		{name: "unknown alias", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", "alias/none"}, code: "InvalidParameterValue"},
		{name: "unknown key ID", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", "0b5e4c0e-1111-4222-8333-444455556666"}, code: "InvalidParameterValue"},
		{name: "another Region's key", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", "arn:aws:kms:eu-west-1:123456789012:key/" + k.ID}, code: "InvalidParameterValue"},
		{name: "dry run", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", k.ID, "DryRun", "true"}, code: "DryRunOperation"},
		{name: "dry run changed nothing", action: "GetEbsDefaultKmsKeyId", contains: "<kmsKeyId>alias/aws/ebs</kmsKeyId>"},
		{name: "by key ID, answered with the ARN", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", k.ID}, contains: arnXML},
		{name: "by alias", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", "alias/ebs"}, contains: arnXML},
		{name: "by alias ARN", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", "arn:aws:kms:us-east-1:123456789012:alias/ebs"}, contains: arnXML},
		{name: "by key ARN", action: "ModifyEbsDefaultKmsKeyId", params: []string{"KmsKeyId", k.ARN}, contains: arnXML},
		{name: "changed", action: "GetEbsDefaultKmsKeyId", contains: arnXML},
		{name: "reset", action: "ResetEbsDefaultKmsKeyId", contains: "<kmsKeyId>alias/aws/ebs</kmsKeyId>"},
		{name: "reset took", action: "GetEbsDefaultKmsKeyId", contains: "<kmsKeyId>alias/aws/ebs</kmsKeyId>"},
	})
	// Naming alias/aws/ebs answers with the AWS-managed key's ARN and is a reset.
	body := mustCall(t, d, "ModifyEbsDefaultKmsKeyId", "KmsKeyId", "alias/aws/ebs")
	managed, err := c.DescribeKMSKey(context.Background(), s, "alias/aws/ebs")
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, d, []apiCase{
		{name: "managed key by alias", action: "GetEbsDefaultKmsKeyId", contains: "<kmsKeyId>alias/aws/ebs</kmsKeyId>"},
	})
	if want := "<kmsKeyId>" + managed.ARN + "</kmsKeyId>"; !strings.Contains(body, want) {
		t.Fatalf("modify to alias/aws/ebs answered %s, want %s", body, want)
	}
}
