// Package kms serves the part of AWS KMS that strato's key store offers (keys,
// aliases, key states and deletion) over KMS's own protocol, AWS JSON 1.1: the
// action in the X-Amz-Target header ("TrentService.CreateKey"), a JSON body, and
// errors as {"__type": "NotFoundException", "message": ...}. The keys are the ones
// EBS encryption uses (internal/cloud's key store).
package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/cloud"
)

// ContentType is AWS JSON 1.1's.
const ContentType = "application/x-amz-json-1.1"

// targetPrefix is KMS's in X-Amz-Target.
const targetPrefix = "TrentService."

// Service answers KMS calls.
type Service struct {
	cloud *cloud.Cloud
}

// New returns the KMS service over a control plane.
func New(c *cloud.Cloud) *Service { return &Service{cloud: c} }

type handler func(s *Service, ctx context.Context, c *awsapi.Call) (any, error)

// handlers holds the operations strato implements; every other KMS operation
// answers UnsupportedOperationException naming it.
var handlers = map[string]handler{}

// operations lists every operation of KMS's API (2014-11-01), so that an operation
// strato does not implement is told apart from a name KMS does not have.
var operations = strings.Fields(`CancelKeyDeletion ConnectCustomKeyStore CreateAlias
	CreateCustomKeyStore CreateGrant CreateKey Decrypt DeleteAlias DeleteCustomKeyStore
	DeleteImportedKeyMaterial DeriveSharedSecret DescribeCustomKeyStores DescribeKey
	DisableKey DisableKeyRotation DisconnectCustomKeyStore EnableKey EnableKeyRotation
	Encrypt GenerateDataKey GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext
	GenerateDataKeyWithoutPlaintext GenerateMac GenerateRandom GetKeyPolicy
	GetKeyRotationStatus GetParametersForImport GetPublicKey ImportKeyMaterial ListAliases
	ListGrants ListKeyPolicies ListKeyRotations ListKeys ListResourceTags
	ListRetirableGrants PutKeyPolicy ReEncrypt ReplicateKey RetireGrant RevokeGrant
	RotateKeyOnDemand ScheduleKeyDeletion Sign TagResource UntagResource UpdateAlias
	UpdateCustomKeyStore UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac`)

func isOperation(name string) bool {
	for _, op := range operations {
		if op == name {
			return true
		}
	}
	return false
}

// Action implements awsapi.BodyService: the action named by X-Amz-Target.
func (*Service) Action(r *http.Request) (string, error) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok || action == "" {
		return "", awsapi.Errorf("UnknownOperationException", "The X-Amz-Target header must name a KMS operation (TrentService.Operation).")
	}
	return action, nil
}

// ContentType implements awsapi.BodyService.
func (*Service) ContentType() string { return ContentType }

// Serve implements awsapi.Service.
func (s *Service) Serve(ctx context.Context, c *awsapi.Call) ([]byte, error) {
	h, ok := handlers[c.Action]
	if !ok {
		if isOperation(c.Action) {
			return nil, awsapi.Errorf("UnsupportedOperationException", "The KMS operation %s is not supported by strato yet.", c.Action)
		}
		return nil, awsapi.Errorf("UnknownOperationException", "KMS has no operation %s.", c.Action)
	}
	out, err := h(s, ctx, c)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, nil
	}
	return json.Marshal(out)
}

// decode reads the call's JSON body into in; an empty body is an empty object.
func decode(c *awsapi.Call, in any) error {
	body := bytes.TrimSpace(c.Body)
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(in); err != nil {
		return awsapi.Errorf("SerializationException", "The request body is not valid JSON for %s: %v", c.Action, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return awsapi.Errorf("SerializationException", "The request body has data after its JSON object.")
	}
	return nil
}

// validation is KMS's (Coral's) wording for a constraint of the model.
func validation(format string, args ...any) error {
	return awsapi.Errorf("ValidationException", "1 validation error detected: "+format, args...)
}

func required(member string, v string) error {
	if v == "" {
		return validation("Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	return nil
}

func maxLen(member, v string, n int) error {
	if len(v) > n {
		return validation("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, member, n)
	}
	return nil
}

// limit checks a Limit member against its range and applies its default.
func limit(v *int, max, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < 1 {
		return 0, validation("Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *v)
	}
	if *v > max {
		return 0, validation("Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to %d", *v, max)
	}
	return *v, nil
}

// kmsCodes renames the protocol layer's EC2-style codes (authentication,
// throttling, internal errors) to the exceptions KMS clients expect.
var kmsCodes = map[string]string{
	"AuthFailure":                "UnrecognizedClientException",
	"SignatureDoesNotMatch":      "InvalidSignatureException",
	"IncompleteSignature":        "IncompleteSignatureException",
	"MissingAuthenticationToken": "MissingAuthenticationTokenException",
	"RequestExpired":             "InvalidSignatureException",
	"RequestLimitExceeded":       "ThrottlingException",
	"InternalError":              "KMSInternalException",
	"InvalidAction":              "UnknownOperationException",
}

// WriteError writes AWS JSON 1.1's error envelope.
func (*Service) WriteError(w http.ResponseWriter, requestID string, e *awsapi.Error) {
	code := e.Code
	if renamed, ok := kmsCodes[code]; ok {
		code = renamed
	}
	body, err := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, e.Message})
	if err != nil {
		body = []byte(fmt.Sprintf(`{"__type":%q}`, code))
	}
	w.Header().Set("X-Amzn-ErrorType", code)
	awsapi.WriteBody(w, ContentType, requestID, e.Status, body)
}

// UnfilteredUnpaginated implements awsapi.Service: List calls without a Limit read
// everything.
func (*Service) UnfilteredUnpaginated(c *awsapi.Call) bool {
	return strings.HasPrefix(c.Action, "List") && !bytes.Contains(c.Body, []byte(`"Limit"`))
}

func scope(c *awsapi.Call) cloud.Scope { return cloud.Scope{Account: c.AccountID, Region: c.Region} }
