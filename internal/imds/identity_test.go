package imds

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

func TestIdentityDocumentJSON(t *testing.T) {
	f := newFixture(t)
	body := f.get("/latest/dynamic/instance-identity/document")
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("document is not JSON: %v\n%s", err, body)
	}
	want := map[string]any{
		"accountId":        "123456789012",
		"architecture":     "x86_64",
		"availabilityZone": "us-east-1a",
		"imageId":          "ami-0abcdef1234567890",
		"instanceId":       "i-0123456789abcdef0",
		"instanceType":     "t3.micro",
		"pendingTime":      "2026-03-01T12:00:00Z",
		"privateIp":        "10.0.1.10",
		"region":           "us-east-1",
		"version":          "2017-09-30",
		"kernelId":         nil,
		"ramdiskId":        nil,
		"billingProducts":  nil,
	}
	for k, v := range want {
		got, ok := doc[k]
		if !ok || got != v {
			t.Errorf("document[%q] = %v (present %v), want %v", k, got, ok, v)
		}
	}
}

func TestIdentitySignatureVerifies(t *testing.T) {
	f := newFixture(t)
	doc := f.get("/latest/dynamic/instance-identity/document")
	sigText := f.get("/latest/dynamic/instance-identity/signature")
	for _, line := range strings.Split(sigText, "\n") {
		if len(line) > 64 {
			t.Fatalf("signature line longer than 64: %q", line)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(sigText, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(f.signer.PublicKey(), []byte(doc), sig) {
		t.Fatal("signature does not verify the document")
	}
	// The certificate strato publishes carries the same key.
	if !ed25519.Verify(f.signer.Certificate().PublicKey.(ed25519.PublicKey), []byte(doc), sig) {
		t.Fatal("signature does not verify with the certificate's key")
	}
	if !strings.Contains(string(f.signer.CertificatePEM()), "BEGIN CERTIFICATE") {
		t.Fatal("CertificatePEM is not PEM")
	}
	// A tampered document fails.
	if ed25519.Verify(f.signer.PublicKey(), []byte(strings.Replace(doc, "t3.micro", "m5.large", 1)), sig) {
		t.Fatal("signature verifies a tampered document")
	}
}

func TestIdentityPKCS7Verifies(t *testing.T) {
	f := newFixture(t)
	doc := f.get("/latest/dynamic/instance-identity/document")
	p7, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(f.get("/latest/dynamic/instance-identity/pkcs7"), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	carried, err := VerifyPKCS7(p7, f.signer.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if string(carried) != doc {
		t.Fatalf("pkcs7 carries %q, want the document", carried)
	}
	other, _ := NewEd25519Signer(nil, t0)
	if _, err := VerifyPKCS7(p7, other.Certificate()); err == nil {
		t.Fatal("pkcs7 verifies against another certificate")
	}
}

func TestIdentityWithoutSigner(t *testing.T) {
	f := newFixture(t)
	f.handler = NewHandler(f.resolver, nil, f.clock.Now)
	if got := f.get("/latest/dynamic/instance-identity/"); got != "document" {
		t.Fatalf("instance-identity/ without a signer = %q", got)
	}
	if r := f.do("GET", "/latest/dynamic/instance-identity/signature"); r.status != 404 {
		t.Fatalf("signature without a signer: status %d, want 404", r.status)
	}
}

// The AWS SDK's own IMDS client (IMDSv2 with tokens) against the handler.
func TestAWSSDKClient(t *testing.T) {
	f := newFixture(t)
	f.inst.Options.HttpTokens = "required"
	f.resolver.instances[netip.MustParseAddr("127.0.0.1")] = f.inst
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	client := sdkimds.New(sdkimds.Options{Endpoint: srv.URL})
	ctx := context.Background()

	region, err := client.GetRegion(ctx, nil)
	if err != nil || region.Region != "us-east-1" {
		t.Fatalf("GetRegion: %v %+v", err, region)
	}
	md, err := client.GetMetadata(ctx, &sdkimds.GetMetadataInput{Path: "placement/availability-zone"})
	if err != nil {
		t.Fatal(err)
	}
	az, _ := io.ReadAll(md.Content)
	if string(az) != "us-east-1a" {
		t.Fatalf("availability-zone %q", az)
	}
	ud, err := client.GetUserData(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	udb, _ := io.ReadAll(ud.Content)
	if string(udb) != string(f.inst.UserData) {
		t.Fatalf("user data %q", udb)
	}
	doc, err := client.GetInstanceIdentityDocument(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if doc.InstanceID != f.inst.InstanceID || doc.AccountID != f.inst.AccountID ||
		doc.PrivateIP != "10.0.1.10" || doc.Version != "2017-09-30" || !doc.PendingTime.Equal(t0) {
		t.Fatalf("identity document %+v", doc.InstanceIdentityDocument)
	}
}

// One key makes one certificate, so what strato publishes verifies documents
// signed after any restart.
func TestIdentityCertificateIsStableForAKey(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := NewEd25519Signer(key, notBefore)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewEd25519Signer(key, notBefore)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.CertificatePEM(), b.CertificatePEM()) {
		t.Fatal("the same key made two certificates")
	}
	if a.Certificate().SerialNumber.Sign() <= 0 {
		t.Fatalf("serial %v", a.Certificate().SerialNumber)
	}
}
