package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"strato/internal/awsapi"
	"strato/internal/cloud"
)

func init() {
	handlers["CreateKey"] = (*Service).createKey
	handlers["DescribeKey"] = (*Service).describeKey
	handlers["ListKeys"] = (*Service).listKeys
	handlers["EnableKey"] = (*Service).enableKey
	handlers["DisableKey"] = (*Service).disableKey
	handlers["ScheduleKeyDeletion"] = (*Service).scheduleKeyDeletion
	handlers["CancelKeyDeletion"] = (*Service).cancelKeyDeletion
}

// epoch is a timestamp as AWS JSON writes it: seconds since 1970, with fractions.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// keyMetadata is KMS's KeyMetadata for the keys strato makes: symmetric
// encryption keys with KMS-generated material in the default key store.
type keyMetadata struct {
	AWSAccountId                string   `json:"AWSAccountId"`
	KeyId                       string   `json:"KeyId"`
	Arn                         string   `json:"Arn"`
	CreationDate                epoch    `json:"CreationDate"`
	Enabled                     bool     `json:"Enabled"`
	Description                 string   `json:"Description"`
	KeyUsage                    string   `json:"KeyUsage"`
	KeyState                    string   `json:"KeyState"`
	DeletionDate                *epoch   `json:"DeletionDate,omitempty"`
	Origin                      string   `json:"Origin"`
	KeyManager                  string   `json:"KeyManager"`
	CustomerMasterKeySpec       string   `json:"CustomerMasterKeySpec"`
	KeySpec                     string   `json:"KeySpec"`
	EncryptionAlgorithms        []string `json:"EncryptionAlgorithms"`
	MultiRegion                 bool     `json:"MultiRegion"`
	PendingDeletionWindowInDays int      `json:"PendingDeletionWindowInDays,omitempty"`
}

func metadata(k cloud.KMSKey) keyMetadata {
	return keyMetadata{
		AWSAccountId: k.Account, KeyId: k.ID, Arn: k.ARN, CreationDate: epoch(k.CreatedAt),
		Enabled: k.State == cloud.KMSKeyEnabled, Description: k.Description,
		KeyUsage: "ENCRYPT_DECRYPT", KeyState: k.State, DeletionDate: epochPtr(k.DeletionDate),
		Origin: "AWS_KMS", KeyManager: k.Manager,
		CustomerMasterKeySpec: "SYMMETRIC_DEFAULT", KeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms:        []string{"SYMMETRIC_DEFAULT"},
		PendingDeletionWindowInDays: k.PendingWindowInDays,
	}
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

type tag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

type createKeyInput struct {
	Policy                         string
	Description                    string
	KeyUsage                       string
	CustomerMasterKeySpec          string
	KeySpec                        string
	Origin                         string
	CustomKeyStoreId               string
	BypassPolicyLockoutSafetyCheck bool
	Tags                           []tag
	MultiRegion                    *bool
	XksKeyId                       string
}

// Enumerations of CreateKey's members, and the one value of each strato makes.
var (
	keyUsages = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
	keySpecs  = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2"}
	origins = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
)

// oneOf checks an enumerated member: empty (absent) or a value of the model, and
// strato offers only supported of them.
func oneOf(member, v string, values []string, supported string) error {
	if v == "" || v == supported {
		return nil
	}
	for _, ok := range values {
		if v == ok {
			return awsapi.Errorf("UnsupportedOperationException", "strato's key store makes symmetric encryption keys with KMS-generated material only; %s %s is not supported.", member, v)
		}
	}
	return validation("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, strings.ToLower(member[:1])+member[1:], strings.Join(values, ", "))
}

const maxTagsPerKey = 50

func checkTags(in []tag) ([]cloud.KMSTag, error) {
	if len(in) > maxTagsPerKey {
		return nil, awsapi.Errorf("TagException", "A KMS key can have at most %d tags.", maxTagsPerKey)
	}
	seen := map[string]bool{}
	out := make([]cloud.KMSTag, 0, len(in))
	for _, t := range in {
		if t.TagKey == nil || t.TagValue == nil {
			return nil, validation("Value null at 'tags.member.tagKey' failed to satisfy constraint: Member must not be null")
		}
		k, v := *t.TagKey, *t.TagValue
		switch {
		case len(k) < 1 || len(k) > 128:
			return nil, validation("Value '%s' at 'tags.member.tagKey' failed to satisfy constraint: Member must have length between 1 and 128", k)
		case len(v) > 256:
			return nil, validation("Value '%s' at 'tags.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256", v)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, awsapi.Errorf("TagException", "Tag keys that begin with aws: are reserved for AWS use.")
		case seen[k]:
			return nil, awsapi.Errorf("TagException", "Duplicate tag key %s.", k)
		}
		seen[k] = true
		out = append(out, cloud.KMSTag{Key: k, Value: v})
	}
	return out, nil
}

// createKey makes a customer managed symmetric encryption key. strato keeps no key
// policies: a Policy must be well-formed JSON and then has the effect of KMS's
// default key policy (the account may use and manage the key).
func (s *Service) createKey(ctx context.Context, c *awsapi.Call) (any, error) {
	var in createKeyInput
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.Policy != "" && !json.Valid([]byte(in.Policy)) {
		return nil, awsapi.Errorf("MalformedPolicyDocumentException", "The key policy is not valid JSON.")
	}
	for _, err := range []error{
		maxLen("description", in.Description, 8192),
		oneOf("KeyUsage", in.KeyUsage, keyUsages, "ENCRYPT_DECRYPT"),
		oneOf("KeySpec", in.KeySpec, keySpecs, "SYMMETRIC_DEFAULT"),
		oneOf("CustomerMasterKeySpec", in.CustomerMasterKeySpec, keySpecs, "SYMMETRIC_DEFAULT"),
		oneOf("Origin", in.Origin, origins, "AWS_KMS"),
	} {
		if err != nil {
			return nil, err
		}
	}
	if in.KeySpec != "" && in.CustomerMasterKeySpec != "" {
		return nil, validation("Value at 'customerMasterKeySpec' cannot be set together with 'keySpec'")
	}
	if in.CustomKeyStoreId != "" || in.XksKeyId != "" {
		return nil, awsapi.Errorf("UnsupportedOperationException", "strato has no custom key stores.")
	}
	if in.MultiRegion != nil && *in.MultiRegion {
		return nil, awsapi.Errorf("UnsupportedOperationException", "strato does not make multi-Region keys.")
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	k, err := s.cloud.CreateKMSKey(ctx, scope(c), in.Description, tags)
	if err != nil {
		return nil, err
	}
	return keyMetadataOutput{metadata(k)}, nil
}

type keyIDInput struct {
	KeyId       string
	GrantTokens []string
}

// keyIDArg reads the input of the operations that take only a KeyId.
func keyIDArg(c *awsapi.Call) (keyIDInput, error) {
	var in keyIDInput
	if err := decode(c, &in); err != nil {
		return in, err
	}
	return in, required("keyId", in.KeyId)
}

func (s *Service) describeKey(ctx context.Context, c *awsapi.Call) (any, error) {
	in, err := keyIDArg(c)
	if err != nil {
		return nil, err
	}
	k, err := s.cloud.DescribeKMSKey(ctx, scope(c), in.KeyId)
	if err != nil {
		return nil, err
	}
	return keyMetadataOutput{metadata(k)}, nil
}

type listInput struct {
	KeyId  string
	Limit  *int
	Marker string
}

type keyListEntry struct {
	KeyId  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

// listArgs reads a List operation's input: its Limit (1..max, default def) and the
// name its Marker resumes after.
func listArgs(c *awsapi.Call, max, def int) (in listInput, n int, after string, err error) {
	if err = decode(c, &in); err != nil {
		return
	}
	if n, err = limit(in.Limit, max, def); err != nil {
		return
	}
	after, err = decodeMarker(in.Marker)
	return
}

// Markers are the last name returned, opaque to the client.
func encodeMarker(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) == 0 {
		return "", awsapi.Errorf("InvalidMarkerException", "The marker %s is not valid.", m)
	}
	return string(b), nil
}

// page returns the names after marker (names are sorted), at most n of them, and
// the next marker.
func page(names []string, marker string, n int) (from, to int, next string) {
	for from < len(names) && marker != "" && names[from] <= marker {
		from++
	}
	to = min(from+n, len(names))
	if to < len(names) {
		next = encodeMarker(names[to-1])
	}
	return from, to, next
}

func (s *Service) listKeys(ctx context.Context, c *awsapi.Call) (any, error) {
	_, n, after, err := listArgs(c, 1000, 100)
	if err != nil {
		return nil, err
	}
	keys, err := s.cloud.ListKMSKeys(ctx, scope(c))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	from, to, next := page(ids, after, n)
	out := listKeysOutput{Keys: []keyListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, k := range keys[from:to] {
		out.Keys = append(out.Keys, keyListEntry{k.ID, k.ARN})
	}
	return out, nil
}

func (s *Service) setEnabled(ctx context.Context, c *awsapi.Call, enabled bool) (any, error) {
	in, err := keyIDArg(c)
	if err != nil {
		return nil, err
	}
	return nil, s.cloud.SetKMSKeyEnabled(ctx, scope(c), in.KeyId, enabled)
}

func (s *Service) enableKey(ctx context.Context, c *awsapi.Call) (any, error) {
	return s.setEnabled(ctx, c, true)
}

func (s *Service) disableKey(ctx context.Context, c *awsapi.Call) (any, error) {
	return s.setEnabled(ctx, c, false)
}

type scheduleDeletionInput struct {
	KeyId               string
	PendingWindowInDays *int
}

type scheduleDeletionOutput struct {
	KeyId               string `json:"KeyId"`
	DeletionDate        *epoch `json:"DeletionDate,omitempty"`
	KeyState            string `json:"KeyState"`
	PendingWindowInDays int    `json:"PendingWindowInDays"`
}

func (s *Service) scheduleKeyDeletion(ctx context.Context, c *awsapi.Call) (any, error) {
	var in scheduleDeletionInput
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := required("keyId", in.KeyId); err != nil {
		return nil, err
	}
	days := cloud.DefaultKMSPendingWindowDays
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days < cloud.MinKMSPendingWindowDays || days > cloud.MaxKMSPendingWindowDays {
			return nil, awsapi.Errorf("ValidationException", "PendingWindowInDays must be between %d and %d.", cloud.MinKMSPendingWindowDays, cloud.MaxKMSPendingWindowDays)
		}
	}
	k, err := s.cloud.ScheduleKMSKeyDeletion(ctx, scope(c), in.KeyId, days)
	if err != nil {
		return nil, err
	}
	return scheduleDeletionOutput{KeyId: k.ARN, DeletionDate: epochPtr(k.DeletionDate), KeyState: k.State, PendingWindowInDays: k.PendingWindowInDays}, nil
}

func (s *Service) cancelKeyDeletion(ctx context.Context, c *awsapi.Call) (any, error) {
	in, err := keyIDArg(c)
	if err != nil {
		return nil, err
	}
	k, err := s.cloud.CancelKMSKeyDeletion(ctx, scope(c), in.KeyId)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId string `json:"KeyId"`
	}{k.ARN}, nil
}
