package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// The in-process cost of one signed request through the whole stack (SigV4, routing,
// codec, control plane, SQLite), without the network: the server-side figure behind
// bench/run.sh's loopback numbers.
func BenchmarkSignedRequest(b *testing.B) {
	ctx := context.Background()
	c := cloudtest.New(b)
	_, creds, err := c.CreateAccount(ctx, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	scope := cloud.Scope{Account: creds.AccountID, Region: "us-east-1"}
	pub := []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
	for i := 0; i < 1000; i++ {
		if _, err := c.ImportKeyPair(ctx, scope, fmt.Sprintf("key-%04d", i), pub, nil); err != nil {
			b.Fatal(err)
		}
	}
	h := NewHandler(c, Config{Log: slog.New(slog.DiscardHandler)})
	cases := []struct{ name, form string }{
		{"DescribeRegions", "Action=DescribeRegions&Version=2016-11-15"},
		{"DescribeKeyPairs/one-of-1000", "Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=key-0500"},
		{"DescribeKeyPairs/all-1000", "Action=DescribeKeyPairs&Version=2016-11-15"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			req := signedRequest(b, bc.form, creds)
			w := &discardWriter{header: http.Header{}}
			h.ServeHTTP(w, req())
			if w.status != 0 && w.status != 200 {
				b.Fatalf("status %d", w.status)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{header: http.Header{}}
				for pb.Next() {
					h.ServeHTTP(w, req())
				}
			})
		})
	}
}

// signedRequest signs a form once and returns a function that makes a fresh request
// carrying that signature (valid for 15 minutes, verified in full every time).
func signedRequest(b *testing.B, form string, creds cloud.Credentials) func() *http.Request {
	body := []byte(form)
	sum := sha256.Sum256(body)
	tmpl := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", bytes.NewReader(body))
	tmpl.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
		tmpl, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return func() *http.Request {
		r := tmpl.Clone(context.Background())
		r.Body = io.NopCloser(strings.NewReader(form))
		return r
	}
}

type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
