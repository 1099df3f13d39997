package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const unsignedPayload = "UNSIGNED-PAYLOAD"

// Verify parses, looks up the secret, checks clock skew (15 minutes either
// way for header auth; for presigned, X-Amz-Expires (max 7 days) from
// X-Amz-Date) and the signature.
//
// body is the complete request body (the caller has already read it); it is
// hashed, except for S3 requests that declare X-Amz-Content-Sha256: UNSIGNED-PAYLOAD.
// Every failure is an *Error.
func Verify(r *http.Request, body []byte, now time.Time, secretFor func(accessKeyID string) (secret string, ok bool)) (Signed, error) {
	var p parsed
	if err := parseRequest(r, &p); err != nil {
		return Signed{}, err
	}
	secret, ok := secretFor(p.Scope.AccessKeyID)
	if !ok {
		return Signed{}, errAuthFailure()
	}
	if err := checkTime(&p, now); err != nil {
		return Signed{}, err
	}
	ph, err := payloadHash(r, &p, body)
	if err != nil {
		return Signed{}, err
	}
	var got string
	if needsOwnCanonicalRequest(r, &p) {
		got = ownSignature(r, &p, ph, secret)
	} else {
		got, ok = sdkSignature(r, &p, ph, secret)
		if !ok {
			return Signed{}, errMismatch("")
		}
	}
	if !hmac.Equal([]byte(got), []byte(p.signature)) {
		return Signed{}, errMismatch("")
	}
	return p.Signed, nil
}

func checkTime(p *parsed, now time.Time) *Error {
	d := now.Sub(p.Time)
	if !p.presigned {
		if d > maxSkew || d < -maxSkew {
			return errExpired()
		}
		return nil
	}
	if d < -maxSkew {
		return errExpired() // signed too far in the future
	}
	valid := maxSkew
	if p.expires >= 0 {
		valid = time.Duration(p.expires) * time.Second
	}
	if d > valid {
		return errExpired()
	}
	return nil
}

// payloadHash returns the payload hash to put in the canonical request.
// A declared X-Amz-Content-Sha256 is used as given, but a hex value must
// match the body: the server never trusts a hash it did not compute.
//
// The header is only honoured when it is itself signed; the query parameter
// of a presigned request is always covered by the signature.
func payloadHash(r *http.Request, p *parsed, body []byte) (string, *Error) {
	var v string
	if hasHeader(p.signedHeaders, "x-amz-content-sha256") {
		v = r.Header.Get(hdrContentSHA256)
	}
	if v == "" && p.presigned {
		v = p.query.Get(qContentSHA256)
		if v == "" && p.Scope.Service == "s3" {
			v = unsignedPayload // S3 presigned URLs never cover the body
		}
	}
	if v == "" {
		return hashHex(body), nil
	}
	if v == unsignedPayload {
		if p.Scope.Service == "s3" {
			return v, nil
		}
		// Outside S3 the body carries the request's parameters: AWS hashes it
		// whatever the client declares, and so do we (an UNSIGNED-PAYLOAD signature
		// then does not match).
		return hashHex(body), nil
	}
	if len(v) == 64 && isHex(v) {
		if !strings.EqualFold(v, hashHex(body)) {
			return "", errMismatch("")
		}
		return v, nil
	}
	return "", errIncomplete("Unsupported X-Amz-Content-Sha256 value; use the hex SHA-256 of the payload or UNSIGNED-PAYLOAD.")
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Re-signing with the SDK signer.
//
// The SDK signer decides for itself which headers to sign, so the request we
// hand it must be built so that it signs exactly the client's SignedHeaders.
// What it does (aws/signer/v4 v1.47.7, v4.go buildCanonicalHeaders and
// internal/v4/headers.go), and how each is handled:
//
//   - host: always signed, from req.Host (else URL.Host), after dropping a
//     port that is the default for URL.Scheme. The fresh request has no
//     scheme, so r.Host is used verbatim; "host" is never put in the map.
//   - content-length: always signed when req.ContentLength > 0, and any
//     Content-Length in the header map is skipped. So ContentLength is set
//     only when the client signed content-length; a signed value <= 0 cannot
//     be reproduced and goes to ownSignature.
//   - x-amz-date (header form): always set from the signing time and
//     signed. The client's value round-trips exactly (parseAmzDate is
//     strict), so it is left out of the map. A client that dated its request
//     with Date and signed no x-amz-date cannot be reproduced and goes to
//     ownSignature.
//   - X-Amz-Security-Token: added and signed when the credentials carry a
//     token. The signer is built with DisableSessionToken, the credentials
//     carry none, and the token header goes in the map only if signed.
//   - Authorization, User-Agent, X-Amzn-Trace-Id, Expect, Transfer-Encoding:
//     never signed, but the exclusion is an exact match on the canonical
//     spelling of the map key. The map is keyed by the client's lower-case
//     names ("user-agent"), which the exclusion does not match, so a client
//     that signed User-Agent (the AWS SDK for Java v1 does) is reproduced.
//   - Presigned: header hoisting into the query is disabled; the signer
//     overwrites X-Amz-Algorithm, -Credential, -Date and -SignedHeaders in
//     the query with values equal to the client's for a well-formed request.
//
// The signer's derived-key cache is keyed by region/service and checks the
// access key ID and day but not the secret, so one signer is kept per access
// key ID together with the secret it was used with; a changed secret gets a
// fresh signer.

type signerEntry struct {
	secret string
	signer *v4.Signer
}

const maxSigners = 4096

var (
	signers     sync.Map // access key ID -> *signerEntry
	signerCount atomic.Int64
)

func signerFor(akid, secret string) *v4.Signer {
	if v, ok := signers.Load(akid); ok {
		e := v.(*signerEntry)
		if e.secret == secret {
			return e.signer
		}
	}
	e := &signerEntry{secret: secret, signer: v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableSessionToken = true
		o.DisableHeaderHoisting = true
	})}
	if signerCount.Add(1) > maxSigners {
		signers.Clear()
		signerCount.Store(1)
	}
	signers.Store(akid, e)
	return e.signer
}

func s3PathOption(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }

// needsOwnCanonicalRequest reports the cases the SDK signer cannot reproduce.
func needsOwnCanonicalRequest(r *http.Request, p *parsed) bool {
	if p.dateHeader {
		return true
	}
	for _, h := range p.signedHeaders {
		if h == "content-length" && contentLength(r) <= 0 {
			return true
		}
	}
	return false
}

func sdkSignature(r *http.Request, p *parsed, payloadHash, secret string) (string, bool) {
	h := make(http.Header, len(p.signedHeaders)+2)
	var cl int64
	for _, name := range p.signedHeaders {
		switch name {
		case "host":
			continue
		case "content-length":
			cl = contentLength(r)
			continue
		case "x-amz-date":
			if !p.presigned {
				continue
			}
		}
		h[name] = headerValues(r, name)
	}
	rawQuery := r.URL.RawQuery
	if p.presigned {
		rawQuery = stripSignature(rawQuery)
	}
	req := &http.Request{
		Method:        r.Method,
		URL:           &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: rawQuery},
		Host:          r.Host,
		Header:        h,
		ContentLength: cl,
	}
	creds := aws.Credentials{AccessKeyID: p.Scope.AccessKeyID, SecretAccessKey: secret}
	signer := signerFor(p.Scope.AccessKeyID, secret)
	var opts []func(*v4.SignerOptions)
	if p.Scope.Service == "s3" {
		opts = append(opts, s3PathOption)
	}
	ctx := context.Background()

	if !p.presigned {
		if err := signer.SignHTTP(ctx, creds, req, payloadHash, p.Scope.Service, p.Scope.Region, p.Time, opts...); err != nil {
			return "", false
		}
		auth := h[hdrAuthorization]
		if len(auth) == 0 {
			return "", false
		}
		i := strings.LastIndex(auth[0], "Signature=")
		if i < 0 {
			return "", false
		}
		return auth[0][i+len("Signature="):], true
	}
	uri, _, err := signer.PresignHTTP(ctx, creds, req, payloadHash, p.Scope.Service, p.Scope.Region, p.Time, opts...)
	if err != nil {
		return "", false
	}
	i := strings.LastIndex(uri, qSignature+"=")
	if i < 0 {
		return "", false
	}
	return uri[i+len(qSignature)+1:], true
}

// headerValues returns the request's values for a lower-case header name,
// including the ones net/http moves out of the header map.
func headerValues(r *http.Request, name string) []string {
	if vs, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return vs
	}
	if vs, ok := r.Header[name]; ok {
		return vs
	}
	if name == "transfer-encoding" && len(r.TransferEncoding) > 0 {
		return []string{strings.Join(r.TransferEncoding, ", ")}
	}
	return nil
}

func contentLength(r *http.Request) int64 {
	if v := r.Header.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return r.ContentLength
}

// stripSignature removes X-Amz-Signature from a raw query string.
func stripSignature(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		k, _, _ := strings.Cut(seg, "=")
		if k == qSignature {
			continue
		}
		if strings.IndexByte(k, '%') >= 0 {
			if uk, err := url.QueryUnescape(k); err == nil && uk == qSignature {
				continue
			}
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(seg)
	}
	return b.String()
}
