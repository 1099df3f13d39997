package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// KMS speaks AWS JSON 1.1. aws-sdk-go-v2's kms client is not among the modules
// strato's go.mod pins, so these tests sign and send the requests as that client
// does: POST /, X-Amz-Target TrentService.ACTION, a JSON body, SigV4 for "kms".

type kmsAnswer struct {
	status int
	body   map[string]any
	header http.Header
}

func kmsCall(t *testing.T, s *server, akid, secret, action string, in any) kmsAnswer {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.endpoint+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+action)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := kmsAnswer{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q", action, resp.StatusCode, raw)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Fatalf("%s answered with content type %q", action, ct)
	}
	return a
}

func (a kmsAnswer) ok(t *testing.T, action string) map[string]any {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("%s: %d %v", action, a.status, a.body)
	}
	return a.body
}

func (a kmsAnswer) wantError(t *testing.T, code string) {
	t.Helper()
	if a.status != 400 || a.body["__type"] != code || a.header.Get("X-Amzn-ErrorType") != code || a.body["message"] == "" {
		t.Fatalf("want %s, got %d %v", code, a.status, a.body)
	}
}

func TestKMSKeysAndAliases(t *testing.T) {
	s := startServer(t, "")
	akid, secret := s.profile("default")
	call := func(action string, in any) kmsAnswer { return kmsCall(t, s, akid, secret, action, in) }

	meta := call("CreateKey", map[string]any{"Description": "volumes", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT",
		"Tags": []map[string]string{{"TagKey": "team", "TagValue": "storage"}}}).ok(t, "CreateKey")["KeyMetadata"].(map[string]any)
	id, arn := meta["KeyId"].(string), meta["Arn"].(string)
	if !strings.HasPrefix(arn, "arn:aws:kms:us-east-1:") || !strings.HasSuffix(arn, ":key/"+id) || meta["KeyState"] != "Enabled" ||
		meta["KeyManager"] != "CUSTOMER" || meta["Enabled"] != true || meta["Description"] != "volumes" {
		t.Fatalf("CreateKey metadata %v", meta)
	}
	if _, isNumber := meta["CreationDate"].(float64); !isNumber {
		t.Fatalf("CreationDate is not epoch seconds: %v", meta["CreationDate"])
	}
	call("CreateKey", map[string]any{"KeySpec": "RSA_2048"}).wantError(t, "UnsupportedOperationException")
	call("CreateKey", map[string]any{"KeyUsage": "BOGUS"}).wantError(t, "ValidationException")

	call("CreateAlias", map[string]any{"AliasName": "alias/volumes", "TargetKeyId": id}).ok(t, "CreateAlias")
	call("CreateAlias", map[string]any{"AliasName": "alias/volumes", "TargetKeyId": id}).wantError(t, "AlreadyExistsException")
	call("CreateAlias", map[string]any{"AliasName": "alias/aws/mine", "TargetKeyId": id}).wantError(t, "NotAuthorizedException")
	for _, ref := range []string{id, arn, "alias/volumes", strings.Replace(arn, "key/"+id, "alias/volumes", 1)} {
		got := call("DescribeKey", map[string]any{"KeyId": ref}).ok(t, "DescribeKey")["KeyMetadata"].(map[string]any)
		if got["Arn"] != arn {
			t.Fatalf("DescribeKey %s: %v", ref, got)
		}
	}
	call("DescribeKey", map[string]any{"KeyId": "alias/missing"}).wantError(t, "NotFoundException")
	call("DescribeKey", map[string]any{}).wantError(t, "ValidationException")

	// The AWS-managed EBS key appears once EBS (or DescribeKey) uses its alias.
	aliases := call("ListAliases", map[string]any{}).ok(t, "ListAliases")["Aliases"].([]any)
	if len(aliases) != 1 {
		t.Fatalf("aliases before the EBS key: %v", aliases)
	}
	managed := call("DescribeKey", map[string]any{"KeyId": "alias/aws/ebs"}).ok(t, "DescribeKey")["KeyMetadata"].(map[string]any)
	if managed["KeyManager"] != "AWS" {
		t.Fatalf("managed key %v", managed)
	}
	call("DisableKey", map[string]any{"KeyId": "alias/aws/ebs"}).wantError(t, "AccessDeniedException")
	aliases = call("ListAliases", map[string]any{}).ok(t, "ListAliases")["Aliases"].([]any)
	if len(aliases) != 2 || aliases[0].(map[string]any)["AliasName"] != "alias/aws/ebs" {
		t.Fatalf("aliases %v", aliases)
	}

	// Paging by Limit and Marker.
	first := call("ListKeys", map[string]any{"Limit": 1}).ok(t, "ListKeys")
	if first["Truncated"] != true || len(first["Keys"].([]any)) != 1 {
		t.Fatalf("first page %v", first)
	}
	second := call("ListKeys", map[string]any{"Limit": 1, "Marker": first["NextMarker"]}).ok(t, "ListKeys")
	if second["Truncated"] != false || len(second["Keys"].([]any)) != 1 || second["Keys"].([]any)[0].(map[string]any)["KeyId"] == first["Keys"].([]any)[0].(map[string]any)["KeyId"] {
		t.Fatalf("second page %v", second)
	}
	call("ListKeys", map[string]any{"Marker": "!!"}).wantError(t, "InvalidMarkerException")
	call("ListKeys", map[string]any{"Limit": 1001}).wantError(t, "ValidationException")

	// States: disabled, pending deletion (7..30 days), cancelled (then disabled).
	call("DisableKey", map[string]any{"KeyId": id}).ok(t, "DisableKey")
	call("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 6}).wantError(t, "ValidationException")
	sched := call("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 7}).ok(t, "ScheduleKeyDeletion")
	if sched["KeyState"] != "PendingDeletion" || sched["KeyId"] != arn || sched["PendingWindowInDays"] != float64(7) {
		t.Fatalf("ScheduleKeyDeletion %v", sched)
	}
	call("EnableKey", map[string]any{"KeyId": id}).wantError(t, "KMSInvalidStateException")
	call("CreateAlias", map[string]any{"AliasName": "alias/late", "TargetKeyId": id}).wantError(t, "KMSInvalidStateException")
	call("CancelKeyDeletion", map[string]any{"KeyId": id}).ok(t, "CancelKeyDeletion")
	if st := call("DescribeKey", map[string]any{"KeyId": id}).ok(t, "DescribeKey")["KeyMetadata"].(map[string]any)["KeyState"]; st != "Disabled" {
		t.Fatalf("after cancel: %v", st)
	}
	call("EnableKey", map[string]any{"KeyId": id}).ok(t, "EnableKey")
	// Blobs are base64 in JSON; Decrypt finds the key from the blob.
	enc := call("Encrypt", map[string]any{"KeyId": "alias/volumes", "Plaintext": []byte("secret")}).ok(t, "Encrypt")
	dec := call("Decrypt", map[string]any{"CiphertextBlob": enc["CiphertextBlob"]}).ok(t, "Decrypt")
	if dec["Plaintext"] != "c2VjcmV0" || dec["KeyId"] != arn {
		t.Fatalf("Decrypt %v", dec)
	}
	call("DeleteAlias", map[string]any{"AliasName": "alias/volumes"}).ok(t, "DeleteAlias")
	call("DeleteAlias", map[string]any{"AliasName": "alias/volumes"}).wantError(t, "NotFoundException")

	// Operations strato does not offer say so; names KMS does not have are unknown.
	call("GetKeyPolicy", map[string]any{"KeyId": id, "PolicyName": "default"}).wantError(t, "UnsupportedOperationException")
	call("LaunchRockets", map[string]any{}).wantError(t, "UnknownOperationException")
	// A bad signature answers in KMS's envelope.
	kmsCall(t, s, akid, secret+"x", "ListKeys", map[string]any{}).wantErrorStatus(t, "InvalidSignatureException")
}

func (a kmsAnswer) wantErrorStatus(t *testing.T, code string) {
	t.Helper()
	if a.status < 400 || a.body["__type"] != code {
		t.Fatalf("want %s, got %d %v", code, a.status, a.body)
	}
}

// The EBS settings use the key store's keys: ModifyEbsDefaultKmsKeyId takes an
// alias made through KMS and answers with the key's ARN.
func TestEBSDefaultKeyFromKMS(t *testing.T) {
	s := startServer(t, "")
	akid, secret := s.profile("default")
	meta := kmsCall(t, s, akid, secret, "CreateKey", map[string]any{}).ok(t, "CreateKey")["KeyMetadata"].(map[string]any)
	kmsCall(t, s, akid, secret, "CreateAlias", map[string]any{"AliasName": "alias/ebs", "TargetKeyId": meta["KeyId"]}).ok(t, "CreateAlias")
	c := s.ec2("default")
	got, err := c.GetEbsDefaultKmsKeyId(ctx(t), &ec2.GetEbsDefaultKmsKeyIdInput{})
	if err != nil || aws.ToString(got.KmsKeyId) != "alias/aws/ebs" {
		t.Fatalf("default key %v %v", got, err)
	}
	mod, err := c.ModifyEbsDefaultKmsKeyId(ctx(t), &ec2.ModifyEbsDefaultKmsKeyIdInput{KmsKeyId: aws.String("alias/ebs")})
	if err != nil || aws.ToString(mod.KmsKeyId) != meta["Arn"] {
		t.Fatalf("modify %v %v", mod, err)
	}
	_, err = c.ModifyEbsDefaultKmsKeyId(ctx(t), &ec2.ModifyEbsDefaultKmsKeyIdInput{KmsKeyId: aws.String("alias/none")})
	wantCode(t, err, "InvalidParameterValue")
	on, err := c.EnableEbsEncryptionByDefault(ctx(t), &ec2.EnableEbsEncryptionByDefaultInput{})
	if err != nil || !aws.ToBool(on.EbsEncryptionByDefault) {
		t.Fatalf("enable %v %v", on, err)
	}
	st, err := c.GetEbsEncryptionByDefault(ctx(t), &ec2.GetEbsEncryptionByDefaultInput{})
	if err != nil || !aws.ToBool(st.EbsEncryptionByDefault) {
		t.Fatalf("get %v %v", st, err)
	}
	reset, err := c.ResetEbsDefaultKmsKeyId(ctx(t), &ec2.ResetEbsDefaultKmsKeyIdInput{})
	if err != nil || aws.ToString(reset.KmsKeyId) != "alias/aws/ebs" {
		t.Fatalf("reset %v %v", reset, err)
	}
}
