package kms

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strato/internal/awsapi"
	"strato/internal/cloud/cloudtest"
)

func call(t *testing.T, s *Service, action, body string) (map[string]any, error) {
	t.Helper()
	out, err := s.Serve(context.Background(), &awsapi.Call{Action: action, Body: []byte(body), AccountID: "123456789012", Region: "us-east-1", RequestID: "r"})
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if len(out) > 0 {
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s: %v in %s", action, err, out)
		}
	}
	return m, nil
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	e, _ := awsapi.AsError(err)
	if err == nil || e.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func TestActionFromTarget(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	if a, err := (&Service{}).Action(r); err != nil || a != "CreateKey" {
		t.Fatalf("%q %v", a, err)
	}
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	_, err := (&Service{}).Action(r)
	wantCode(t, err, "UnknownOperationException")
}

// Errors leave as AWS JSON 1.1 envelopes, with the protocol layer's EC2-style codes
// renamed to KMS's exceptions.
func TestErrorEnvelope(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{"NotFoundException", "NotFoundException"},
		{"SignatureDoesNotMatch", "InvalidSignatureException"},
		{"AuthFailure", "UnrecognizedClientException"},
		{"RequestLimitExceeded", "ThrottlingException"},
	} {
		w := httptest.NewRecorder()
		(&Service{}).WriteError(w, "req-1", &awsapi.Error{Code: tc.code, Message: `it "broke"`, Status: 400})
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body["__type"] != tc.want || body["message"] != `it "broke"` || w.Header().Get("X-Amzn-ErrorType") != tc.want ||
			w.Header().Get("Content-Type") != ContentType || w.Header().Get("x-amzn-RequestId") != "req-1" {
			t.Fatalf("%s: %v %v", tc.code, w.Header(), body)
		}
	}
}

func TestRequestChecks(t *testing.T) {
	s := New(cloudtest.New(t))
	_, err := call(t, s, "CreateKey", `{"Description": 5}`)
	wantCode(t, err, "SerializationException")
	_, err = call(t, s, "CreateKey", `{} {}`)
	wantCode(t, err, "SerializationException")
	_, err = call(t, s, "CreateKey", `{"Origin": "EXTERNAL"}`)
	wantCode(t, err, "UnsupportedOperationException")
	_, err = call(t, s, "CreateKey", `{"MultiRegion": true}`)
	wantCode(t, err, "UnsupportedOperationException")
	_, err = call(t, s, "CreateKey", `{"Policy": "{not json"}`)
	wantCode(t, err, "MalformedPolicyDocumentException")
	_, err = call(t, s, "CreateKey", `{"Description": "`+strings.Repeat("d", 8193)+`"}`)
	wantCode(t, err, "ValidationException")
	_, err = call(t, s, "CreateKey", `{"Tags": [{"TagKey": "aws:owner", "TagValue": "x"}]}`)
	wantCode(t, err, "TagException")
	_, err = call(t, s, "CreateKey", `{"Tags": [{"TagKey": "a", "TagValue": "x"}, {"TagKey": "a", "TagValue": "y"}]}`)
	wantCode(t, err, "TagException")
	_, err = call(t, s, "ListAliases", `{"Limit": 101}`)
	wantCode(t, err, "ValidationException")
	_, err = call(t, s, "ScheduleKeyDeletion", `{"KeyId": "x", "PendingWindowInDays": 31}`)
	wantCode(t, err, "ValidationException")
	_, err = call(t, s, "EnableKeyRotation", `{"KeyId": "x"}`)
	wantCode(t, err, "UnsupportedOperationException")
	// Empty bodies are empty objects: ListKeys needs nothing.
	out, err := call(t, s, "ListKeys", ``)
	if err != nil || out["Truncated"] != false || len(out["Keys"].([]any)) != 0 {
		t.Fatalf("%v %v", out, err)
	}
}

// Pages follow names past the marker, so a key made between pages is not skipped
// if it sorts later, and none is seen twice.
func TestPaging(t *testing.T) {
	s := New(cloudtest.New(t))
	for range 5 {
		if _, err := call(t, s, "CreateKey", `{}`); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	marker := ""
	for pages := 0; ; pages++ {
		in := `{"Limit": 2}`
		if marker != "" {
			in = `{"Limit": 2, "Marker": "` + marker + `"}`
		}
		out, err := call(t, s, "ListKeys", in)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range out["Keys"].([]any) {
			id := k.(map[string]any)["KeyId"].(string)
			if seen[id] {
				t.Fatalf("%s seen twice", id)
			}
			seen[id] = true
		}
		if out["Truncated"] != true {
			break
		}
		marker = out["NextMarker"].(string)
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("saw %d keys", len(seen))
	}
	_, err := decodeMarker("%%%")
	wantCode(t, err, "InvalidMarkerException")
}

func TestEncryptDecrypt(t *testing.T) {
	s := New(cloudtest.New(t))
	key, _ := call(t, s, "CreateKey", `{}`)
	id := key["KeyMetadata"].(map[string]any)["KeyId"].(string)
	other, _ := call(t, s, "CreateKey", `{}`)
	otherID := other["KeyMetadata"].(map[string]any)["KeyId"].(string)
	// "aGVsbG8=" is "hello".
	enc, err := call(t, s, "Encrypt", `{"KeyId": "`+id+`", "Plaintext": "aGVsbG8=", "EncryptionContext": {"volume": "vol-1"}}`)
	if err != nil {
		t.Fatal(err)
	}
	blob := enc["CiphertextBlob"].(string)
	dec, err := call(t, s, "Decrypt", `{"CiphertextBlob": "`+blob+`", "EncryptionContext": {"volume": "vol-1"}}`)
	if err != nil || dec["Plaintext"] != "aGVsbG8=" || dec["KeyId"] != enc["KeyId"] {
		t.Fatalf("decrypt %v %v", dec, err)
	}
	_, err = call(t, s, "Decrypt", `{"CiphertextBlob": "`+blob+`", "EncryptionContext": {"volume": "vol-2"}}`)
	wantCode(t, err, "InvalidCiphertextException")
	_, err = call(t, s, "Decrypt", `{"CiphertextBlob": "`+blob+`", "KeyId": "`+otherID+`", "EncryptionContext": {"volume": "vol-1"}}`)
	wantCode(t, err, "IncorrectKeyException")
	_, err = call(t, s, "Decrypt", `{"CiphertextBlob": "aGVsbG8="}`)
	wantCode(t, err, "InvalidCiphertextException")
	_, err = call(t, s, "Encrypt", `{"KeyId": "`+id+`", "Plaintext": "aGVsbG8=", "DryRun": true}`)
	wantCode(t, err, "DryRunOperationException")

	gen, err := call(t, s, "GenerateDataKey", `{"KeyId": "`+id+`", "KeySpec": "AES_256"}`)
	if err != nil || len(gen["Plaintext"].(string)) != 44 {
		t.Fatalf("data key %v %v", gen, err)
	}
	back, err := call(t, s, "Decrypt", `{"CiphertextBlob": "`+gen["CiphertextBlob"].(string)+`"}`)
	if err != nil || back["Plaintext"] != gen["Plaintext"] {
		t.Fatalf("data key did not decrypt: %v %v", back, err)
	}
	noPlain, err := call(t, s, "GenerateDataKeyWithoutPlaintext", `{"KeyId": "`+id+`", "NumberOfBytes": 64}`)
	if err != nil || noPlain["Plaintext"] != nil || noPlain["CiphertextBlob"] == nil {
		t.Fatalf("without plaintext %v %v", noPlain, err)
	}
	_, err = call(t, s, "GenerateDataKey", `{"KeyId": "`+id+`"}`)
	wantCode(t, err, "ValidationException")
	_, err = call(t, s, "GenerateDataKey", `{"KeyId": "`+id+`", "NumberOfBytes": 1025}`)
	wantCode(t, err, "ValidationException")

	// A disabled key neither encrypts nor decrypts; one pending deletion neither.
	call(t, s, "DisableKey", `{"KeyId": "`+id+`"}`)
	_, err = call(t, s, "Encrypt", `{"KeyId": "`+id+`", "Plaintext": "aGVsbG8="}`)
	wantCode(t, err, "DisabledException")
	_, err = call(t, s, "Decrypt", `{"CiphertextBlob": "`+blob+`", "EncryptionContext": {"volume": "vol-1"}}`)
	wantCode(t, err, "DisabledException")
	call(t, s, "ScheduleKeyDeletion", `{"KeyId": "`+id+`"}`)
	_, err = call(t, s, "GenerateDataKey", `{"KeyId": "`+id+`", "KeySpec": "AES_128"}`)
	wantCode(t, err, "KMSInvalidStateException")
}
