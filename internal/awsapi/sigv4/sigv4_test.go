package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID   = "AKIDSTRATOTEST000001"
	testSecret = "s3cr3t/KEY+strato0000000000000000000000"
	testHost   = "ec2.strato.test:8443"
	testRegion = "us-east-1"
)

var (
	// testNow is the server clock; requests are signed at testNow unless a
	// case says otherwise.
	testNow  = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	formBody = "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0"
)

func testSecrets(akid string) (string, bool) {
	switch akid {
	case testAKID:
		return testSecret, true
	case "AKIDOTHER":
		return "other-secret", true
	}
	return "", false
}

// toServer writes a client request to the wire and reads it back the way
// net/http's server does (Host moved to r.Host, header keys canonical,
// Go's default User-Agent added when none was set).
func toServer(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	if sr.Body != nil {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(sr.Body); err != nil {
			t.Fatal(err)
		}
		body = buf.Bytes()
	}
	return sr, body
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type signOpts struct {
	secret   string
	at       time.Time
	token    string
	hash     string // payload hash given to the signer; default sha256(body)
	scopeDay string // overrides the credential-scope date after signing
}

// sdkPost builds a POST form request signed by the SDK signer, as
// aws-sdk-go-v2's EC2 client sends it.
func sdkPost(t testing.TB, body string, o signOpts) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sdkSign(t, req, []byte(body), o)
	return req
}

// sdkGet builds a GET Query API request signed by the SDK signer.
func sdkGet(t testing.TB, query string, o signOpts) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+testHost+"/?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	sdkSign(t, req, nil, o)
	return req
}

func sdkSign(t testing.TB, req *http.Request, body []byte, o signOpts) {
	t.Helper()
	if o.secret == "" {
		o.secret = testSecret
	}
	if o.at.IsZero() {
		o.at = testNow
	}
	if o.hash == "" {
		o.hash = sha256Hex(body)
	}
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: o.secret, SessionToken: o.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, o.hash, "ec2", testRegion, o.at); err != nil {
		t.Fatal(err)
	}
	if o.scopeDay != "" {
		a := req.Header.Get("Authorization")
		req.Header.Set("Authorization", strings.Replace(a, "/"+o.at.Format("20060102")+"/", "/"+o.scopeDay+"/", 1))
	}
}

// refSign is an independent, literal implementation of the SigV4 steps, used
// to sign requests the way other clients do (botocore, SDK for Java v1, ...):
// it signs exactly the headers named in signed, with the values given.
func refSign(method, path, rawQuery string, hdr map[string]string, signed []string, payloadHash, akid, secret, region, service string, at time.Time) string {
	sort.Strings(signed)
	q, _ := url.ParseQuery(rawQuery)
	var qs []string
	for k, vs := range q {
		for _, v := range vs {
			qs = append(qs, enc(k)+"="+enc(v))
		}
	}
	sort.Strings(qs)
	var ch strings.Builder
	for _, h := range signed {
		ch.WriteString(h + ":" + strings.Join(strings.Fields(hdr[h]), " ") + "\n")
	}
	cr := strings.Join([]string{method, path, strings.Join(qs, "&"), ch.String(), strings.Join(signed, ";"), payloadHash}, "\n")
	day := at.UTC().Format("20060102")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + at.UTC().Format("20060102T150405Z") + "\n" + scope + "\n" + sha256Hex([]byte(cr))
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	k := mac(mac(mac(mac([]byte("AWS4"+secret), day), region), service), "aws4_request")
	sig := hex.EncodeToString(mac(k, sts))
	return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + scope + ", SignedHeaders=" + strings.Join(signed, ";") + ", Signature=" + sig
}

func enc(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// botocorePost signs a form POST the way botocore (aws CLI, boto3) does for
// EC2: content-type;host;x-amz-date signed, User-Agent sent unsigned.
func botocorePost(t testing.TB, body string, at time.Time) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(body))
	ct := "application/x-www-form-urlencoded; charset=utf-8"
	amzDate := at.Format("20060102T150405Z")
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("User-Agent", "aws-cli/2.22.0 md/awscrt#0.23.4 ua/2.1 os/linux#6.8 md/arch#x86_64 lang/python#3.12.6 cfg/retry-mode#standard md/command#ec2.describe-instances")
	req.Header.Set("Authorization", refSign("POST", "/", "", map[string]string{
		"content-type": ct, "host": testHost, "x-amz-date": amzDate,
	}, []string{"content-type", "host", "x-amz-date"}, sha256Hex([]byte(body)), testAKID, testSecret, testRegion, "ec2", at))
	return req
}

// javaV1Post signs a form POST the way the AWS SDK for Java v1 does: it also
// signs user-agent, content-length and its amz-sdk-* headers.
func javaV1Post(t testing.TB) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(formBody))
	ct, ua, d := "application/x-www-form-urlencoded; charset=utf-8", "aws-sdk-java/1.12.700 Linux/6.8  OpenJDK_64-Bit_Server_VM/21", testNow.Format(amzDateLayout)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", ua)
	req.Header.Set("X-Amz-Date", d)
	req.Header.Set("Amz-Sdk-Invocation-Id", "3f0c5c8e-0000-4000-8000-000000000000")
	req.Header.Set("Authorization", refSign("POST", "/", "", map[string]string{
		"content-type": ct, "host": testHost, "x-amz-date": d, "user-agent": ua,
		"amz-sdk-invocation-id": "3f0c5c8e-0000-4000-8000-000000000000",
		"content-length":        strconv.Itoa(len(formBody)),
	}, []string{"amz-sdk-invocation-id", "content-length", "content-type", "host", "user-agent", "x-amz-date"},
		sha256Hex([]byte(formBody)), testAKID, testSecret, testRegion, "ec2", testNow))
	return req
}

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "non-*Error: " + err.Error()
	}
	return ""
}

type verifyCase struct {
	name string
	// build returns the client request; mutate (optional) edits the
	// server-side request and body after they crossed the wire.
	build  func(t testing.TB) *http.Request
	mutate func(r *http.Request, body []byte) []byte
	now    time.Time
	want   string // error code, "" for success
	check  func(t *testing.T, s Signed)
}

func runVerifyCases(t *testing.T, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sr, body := toServer(t, tc.build(t))
			if tc.mutate != nil {
				body = tc.mutate(sr, body)
			}
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			s, err := Verify(sr, body, now, testSecrets)
			if got := codeOf(err); got != tc.want {
				t.Fatalf("Verify: got code %q (err %v), want %q", got, err, tc.want)
			}
			if err != nil {
				var e *Error
				errors.As(err, &e)
				if e.HTTPStatus == 0 || e.Message == "" {
					t.Fatalf("incomplete error %#v", e)
				}
				if strings.Contains(e.Message, testSecret) {
					t.Fatalf("message leaks the secret: %q", e.Message)
				}
				return
			}
			if s.Scope.AccessKeyID != testAKID || s.Scope.Region != testRegion || s.Scope.Service != "ec2" {
				t.Fatalf("scope %+v", s.Scope)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestVerifyHeaderAuth(t *testing.T) {
	post := func(t testing.TB) *http.Request { return sdkPost(t, formBody, signOpts{}) }
	get := func(t testing.TB) *http.Request {
		return sdkGet(t, "Action=DescribeRegions&Version=2016-11-15&RegionName.1=us-east-1&Filter.1.Name=opt in&Filter.1.Value.1=a/b", signOpts{})
	}
	cases := []verifyCase{
		{name: "sdk POST form body", build: post, check: func(t *testing.T, s Signed) {
			if !s.Time.Equal(testNow) || s.SecurityToken != "" || s.Scope.Date != "20261121" {
				t.Fatalf("signed %+v", s)
			}
		}},
		{name: "sdk GET query string", build: get},
		{name: "sdk POST empty body", build: func(t testing.TB) *http.Request { return sdkPost(t, "", signOpts{}) }},
		{name: "botocore style POST", build: func(t testing.TB) *http.Request { return botocorePost(t, formBody, testNow) }},
		{name: "signed user-agent (SDK for Java v1 style)", build: javaV1Post},
		{name: "Date header instead of X-Amz-Date", build: func(t testing.TB) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(formBody))
			ct, d := "application/x-www-form-urlencoded", testNow.Format(http.TimeFormat)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Date", d)
			req.Header.Set("Authorization", refSign("POST", "/", "", map[string]string{
				"content-type": ct, "host": testHost, "date": d,
			}, []string{"content-type", "date", "host"}, sha256Hex([]byte(formBody)), testAKID, testSecret, testRegion, "ec2", testNow))
			return req
		}},
		{name: "signed content-length 0", build: func(t testing.TB) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/?Action=DescribeRegions&Version=2016-11-15", http.NoBody)
			d := testNow.Format(amzDateLayout)
			req.Header.Set("X-Amz-Date", d)
			req.Header.Set("Content-Length", "0")
			req.Header.Set("Authorization", refSign("POST", "/", "Action=DescribeRegions&Version=2016-11-15", map[string]string{
				"content-length": "0", "host": testHost, "x-amz-date": d,
			}, []string{"content-length", "host", "x-amz-date"}, sha256Hex(nil), testAKID, testSecret, testRegion, "ec2", testNow))
			return req
		}},
		{name: "session token carried", build: func(t testing.TB) *http.Request {
			return sdkPost(t, formBody, signOpts{token: "FwoGZXIvYXdzEXAMPLETOKEN//+=="})
		}, check: func(t *testing.T, s Signed) {
			if s.SecurityToken != "FwoGZXIvYXdzEXAMPLETOKEN//+==" {
				t.Fatalf("token %q", s.SecurityToken)
			}
		}},
		{name: "unsigned extra headers added in transit", build: post, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Forwarded-For", "10.0.0.1")
			r.Header.Set("User-Agent", "changed")
			r.Header.Set("X-Amzn-Trace-Id", "Root=1-0")
			return b
		}},
		{name: "X-Amz-Content-Sha256 matching body", build: func(t testing.TB) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(formBody))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte(formBody)))
			sdkSign(t, req, []byte(formBody), signOpts{})
			return req
		}},
		// EC2 hashes the body whatever the client declares: a form body is never
		// left out of the signature.
		{name: "UNSIGNED-PAYLOAD refused outside S3", want: codeSignatureMismatch, build: func(t testing.TB) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(formBody))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			sdkSign(t, req, []byte(formBody), signOpts{hash: "UNSIGNED-PAYLOAD"})
			return req
		}},
		{name: "skew +14m ok", build: post, now: testNow.Add(14 * time.Minute)},
		{name: "skew -14m ok", build: post, now: testNow.Add(-14 * time.Minute)},

		{name: "tampered body", build: post, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("i-0123456789abcdef0"), []byte("i-0fffffffffffffff0"), 1)
		}},
		{name: "X-Amz-Content-Sha256 not matching body", want: codeSignatureMismatch, build: func(t testing.TB) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", strings.NewReader(formBody))
			req.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("something else")))
			sdkSign(t, req, []byte(formBody), signOpts{hash: sha256Hex([]byte("something else"))})
			return req
		}},
		{name: "unsigned X-Amz-Content-Sha256 ignored", build: post, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return append(b, "&DryRun=true"...)
		}},
		{name: "unsigned X-Amz-Content-Sha256 with intact body", build: post, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return b
		}},
		{name: "tampered signed header", build: post, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("Content-Type", "text/plain")
			return b
		}},
		{name: "tampered query parameter", build: get, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "us-east-1", "us-west-2", 1)
			return b
		}},
		{name: "added query parameter", build: get, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery += "&DryRun=true"
			return b
		}},
		{name: "changed Host", build: post, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.Host = "ec2.strato.test:9443"
			return b
		}},
		{name: "changed method", build: get, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.Method = http.MethodDelete
			return b
		}},
		{name: "changed path", build: post, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.Path = "/admin"
			return b
		}},
		{name: "wrong secret", want: codeSignatureMismatch, build: func(t testing.TB) *http.Request {
			return sdkPost(t, formBody, signOpts{secret: "not-the-secret"})
		}},
		{name: "unknown access key", want: codeAuthFailure, build: func(t testing.TB) *http.Request {
			req := sdkPost(t, formBody, signOpts{})
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), testAKID, "AKIDUNKNOWN", 1))
			return req
		}},
		{name: "key of another user", want: codeSignatureMismatch, build: func(t testing.TB) *http.Request {
			req := sdkPost(t, formBody, signOpts{})
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), testAKID, "AKIDOTHER", 1))
			return req
		}},
		{name: "session token swapped", want: codeSignatureMismatch, build: func(t testing.TB) *http.Request {
			return sdkPost(t, formBody, signOpts{token: "token-A"})
		}, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Security-Token", "token-B")
			return b
		}},
		{name: "skew +16m", build: post, now: testNow.Add(16 * time.Minute), want: codeRequestExpired},
		{name: "skew -16m", build: post, now: testNow.Add(-16 * time.Minute), want: codeRequestExpired},
		{name: "scope date differs from X-Amz-Date", want: codeSignatureMismatch, build: func(t testing.TB) *http.Request {
			return sdkPost(t, formBody, signOpts{scopeDay: "20261120"})
		}},
		{name: "X-Amz-Date replaced (replay with fresh date)", build: post, want: codeSignatureMismatch, now: testNow.Add(time.Hour),
			mutate: func(r *http.Request, b []byte) []byte {
				r.Header.Set("X-Amz-Date", testNow.Add(time.Hour).Format(amzDateLayout))
				return b
			}},
	}
	runVerifyCases(t, cases)
}

func TestVerifyErrorDetails(t *testing.T) {
	cases := []struct {
		name   string
		err    *Error
		code   string
		status int
		msg    string
	}{
		{"missing", errMissingAuth(), "MissingAuthenticationToken", 401, "Request is missing Authentication Token"},
		{"auth", errAuthFailure(), "AuthFailure", 401, "AWS was not able to validate the provided access credentials"},
		{"mismatch", errMismatch(""), "SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{"expired", errExpired(), "RequestExpired", 400, "Request has expired."},
		{"incomplete", errIncomplete("x"), "IncompleteSignature", 400, "x"},
	}
	for _, tc := range cases {
		if tc.err.Code != tc.code || tc.err.HTTPStatus != tc.status || tc.err.Message != tc.msg {
			t.Errorf("%s: got %+v", tc.name, tc.err)
		}
		if tc.err.Error() != tc.code+": "+tc.msg {
			t.Errorf("%s: Error() = %q", tc.name, tc.err.Error())
		}
	}
}

// presign builds a presigned GET URL with the SDK signer.
func presign(t testing.TB, query string, expires int, at time.Time, token string) *http.Request {
	t.Helper()
	u := "http://" + testHost + "/?" + query
	if expires >= 0 {
		u += "&X-Amz-Expires=" + strconv.Itoa(expires)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: token}
	signed, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, sha256Hex(nil), "ec2", testRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := http.NewRequest(http.MethodGet, signed, nil)
	for k, v := range hdr {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

func TestVerifyPresigned(t *testing.T) {
	const q = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:Name&Filter.1.Value.1=web server"
	good := func(t testing.TB) *http.Request { return presign(t, q, 300, testNow, "") }
	cases := []verifyCase{
		{name: "good", build: good, now: testNow.Add(4 * time.Minute)},
		{name: "good at the last second", build: good, now: testNow.Add(300 * time.Second)},
		{name: "with session token", build: func(t testing.TB) *http.Request { return presign(t, q, 300, testNow, "TOKEN/abc+=") },
			check: func(t *testing.T, s Signed) {
				if s.SecurityToken != "TOKEN/abc+=" {
					t.Fatalf("token %q", s.SecurityToken)
				}
			}},
		{name: "7 days", build: func(t testing.TB) *http.Request { return presign(t, q, 604800, testNow, "") }, now: testNow.Add(6 * 24 * time.Hour)},
		{name: "no X-Amz-Expires, within 15m", build: func(t testing.TB) *http.Request { return presign(t, q, -1, testNow, "") }, now: testNow.Add(10 * time.Minute)},
		{name: "expired", build: good, now: testNow.Add(301 * time.Second), want: codeRequestExpired},
		{name: "no X-Amz-Expires, after 15m", build: func(t testing.TB) *http.Request { return presign(t, q, -1, testNow, "") }, now: testNow.Add(16 * time.Minute), want: codeRequestExpired},
		{name: "dated in the future", build: good, now: testNow.Add(-16 * time.Minute), want: codeRequestExpired},
		{name: "expires over 7 days", build: func(t testing.TB) *http.Request { return presign(t, q, 604801, testNow, "") }, want: codeIncomplete},
		{name: "tampered parameter", build: good, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "DescribeInstances", "TerminateInstances", 1)
			return b
		}},
		{name: "extended expiry", build: good, want: codeSignatureMismatch, now: testNow.Add(time.Hour), mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=7200", 1)
			return b
		}},
		{name: "changed host", build: good, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			r.Host = "evil.test"
			return b
		}},
		{name: "tampered signature", build: good, want: codeSignatureMismatch, mutate: func(r *http.Request, b []byte) []byte {
			q := r.URL.Query()
			s := []byte(q.Get("X-Amz-Signature"))
			s[0] ^= 1
			q.Set("X-Amz-Signature", string(s))
			r.URL.RawQuery = q.Encode()
			return b
		}},
	}
	runVerifyCases(t, cases)
}

func TestParseMalformed(t *testing.T) {
	d := testNow.Format(amzDateLayout)
	sig := strings.Repeat("ab", 32)
	good := "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20261121/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig
	cases := []struct {
		name, auth, amzDate, query string
		want, msg                  string
	}{
		{name: "well formed", auth: good, amzDate: d},
		{name: "no separator spaces", auth: strings.ReplaceAll(good, ", ", ","), amzDate: d},
		{name: "nothing", want: codeMissingAuth},
		{name: "unrelated query", query: "Action=DescribeRegions&X-Amz-Foo=1", want: codeMissingAuth},
		{name: "no Credential", auth: "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + sig, amzDate: d, want: codeIncomplete, msg: "'Credential'"},
		{name: "no SignedHeaders", auth: "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20261121/us-east-1/ec2/aws4_request, Signature=" + sig, amzDate: d, want: codeIncomplete, msg: "'SignedHeaders'"},
		{name: "no Signature", auth: "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20261121/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date", amzDate: d, want: codeIncomplete, msg: "'Signature'"},
		{name: "empty Signature", auth: strings.Replace(good, sig, "", 1), amzDate: d, want: codeIncomplete, msg: "'Signature'"},
		{name: "algorithm only", auth: "AWS4-HMAC-SHA256", amzDate: d, want: codeIncomplete, msg: "'Credential'"},
		{name: "no date", auth: good, want: codeIncomplete, msg: "'X-Amz-Date' or a 'Date'"},
		{name: "credential 4 parts", auth: strings.Replace(good, "/us-east-1", "", 1), amzDate: d, want: codeIncomplete, msg: "exactly 5"},
		{name: "credential 6 parts", auth: strings.Replace(good, "/ec2/", "/ec2/x/", 1), amzDate: d, want: codeIncomplete, msg: "exactly 5"},
		{name: "bad terminator", auth: strings.Replace(good, "aws4_request", "aws4_reqest", 1), amzDate: d, want: codeIncomplete, msg: "terminator"},
		{name: "empty region", auth: strings.Replace(good, "us-east-1", "", 1), amzDate: d, want: codeIncomplete, msg: "region"},
		{name: "missing equal sign", auth: strings.Replace(good, "Credential=", "Credential ", 1), amzDate: d, want: codeIncomplete, msg: "missing equal-sign"},
		{name: "other algorithm", auth: strings.Replace(good, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1), amzDate: d, want: codeIncomplete, msg: "algorithm"},
		{name: "sigv2 header", auth: "AWS " + testAKID + ":c2lnbmF0dXJl", amzDate: d, want: codeIncomplete, msg: "'Credential'"},
		{name: "bearer token", auth: "Bearer abc", amzDate: d, want: codeIncomplete},
		{name: "bad X-Amz-Date", auth: good, amzDate: "2026-11-21T10:30:00Z", want: codeIncomplete, msg: "ISO-8601"},
		{name: "host not signed", auth: strings.Replace(good, "host;", "", 1), amzDate: d, want: codeIncomplete, msg: "'Host'"},
		{name: "x-amz-date not signed", auth: strings.Replace(good, ";x-amz-date", "", 1), amzDate: d, want: codeIncomplete, msg: "X-Amz-Date"},
		{name: "empty signed header entry", auth: strings.Replace(good, "host;", "host;;", 1), amzDate: d, want: codeIncomplete},
		{name: "signature not hex", auth: strings.Replace(good, sig, strings.Repeat("zz", 32), 1), amzDate: d, want: codeIncomplete, msg: "Signature"},
		{name: "signature short", auth: strings.Replace(good, sig, "abcd", 1), amzDate: d, want: codeIncomplete, msg: "Signature"},
		{name: "scope date mismatch", auth: strings.Replace(good, "/20261121/", "/20261122/", 1), amzDate: d, want: codeSignatureMismatch, msg: "Date in Credential scope"},
		{name: "presigned missing credential", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=" + d + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig, want: codeIncomplete, msg: "X-Amz-Credential"},
		{name: "presigned missing date", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + testAKID + "%2F20261121%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig, want: codeIncomplete, msg: "X-Amz-Date"},
		{name: "presigned bad algorithm", query: "X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=" + testAKID + "%2F20261121%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=" + d + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig, want: codeIncomplete, msg: "algorithm"},
		{name: "presigned bad expires", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + testAKID + "%2F20261121%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=" + d + "&X-Amz-Expires=-5&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig, want: codeIncomplete, msg: "X-Amz-Expires"},
		{name: "presigned well formed", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + testAKID + "%2F20261121%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=" + d + "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + sig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := "http://" + testHost + "/"
			if tc.query != "" {
				u += "?" + tc.query
			}
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.amzDate != "" {
				r.Header.Set("X-Amz-Date", tc.amzDate)
			}
			s, err := Parse(r)
			if got := codeOf(err); got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
			if err == nil {
				if s.Scope != (Scope{testAKID, "20261121", "us-east-1", "ec2"}) || !s.Time.Equal(testNow) {
					t.Fatalf("signed %+v", s)
				}
				return
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message %q does not mention %q", err.Error(), tc.msg)
			}
			// Verify fails the same way, before looking at the secret.
			_, verr := Verify(r, nil, testNow, func(string) (string, bool) {
				t.Fatal("secret looked up for a malformed request")
				return "", false
			})
			if codeOf(verr) != tc.want {
				t.Fatalf("Verify: %v", verr)
			}
		})
	}
}

// The SigV4 test suite's get-vanilla and get-vanilla-query-order-key-case
// vectors (AKIDEXAMPLE, 20150830T123600Z, us-east-1, "service").
func TestKnownVectors(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	cases := []struct{ name, target, sig string }{
		{"get-vanilla", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	}
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := "GET " + tc.target + " HTTP/1.1\r\nHost: example.amazonaws.com\r\nX-Amz-Date: 20150830T123600Z\r\n" +
				"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + tc.sig + "\r\n\r\n"
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			secretFor := func(string) (string, bool) { return secret, true }
			if _, err := Verify(r, nil, at, secretFor); err != nil {
				t.Fatal(err)
			}
			// The own canonical request must agree with the SDK path.
			var p parsed
			if err := parseRequest(r, &p); err != nil {
				t.Fatal(err)
			}
			if got := ownSignature(r, &p, sha256Hex(nil), secret); got != tc.sig {
				t.Fatalf("ownSignature %s", got)
			}
		})
	}
}

// TestOwnCanonicalMatchesSDK checks that the fallback canonical request
// agrees with the SDK signer on requests both can handle.
func TestOwnCanonicalMatchesSDK(t *testing.T) {
	reqs := []*http.Request{
		sdkPost(t, formBody, signOpts{}),
		sdkPost(t, formBody, signOpts{token: "tok"}),
		sdkGet(t, "Action=DescribeRegions&Version=2016-11-15&A=a/b&A=a-b&Z=%E2%9C%93&sp=a+b&tilde=~x&empty=", signOpts{}),
		botocorePost(t, formBody, testNow),
		javaV1Post(t),
	}
	weird, _ := http.NewRequest(http.MethodGet, "http://"+testHost+"/a%20b/c$d/%E2%9C%93?x=1", nil)
	weird.Header.Set("X-Custom", "  a   b  ")
	weird.Header.Add("X-Custom", "c")
	sdkSign(t, weird, nil, signOpts{})
	reqs = append(reqs, weird)
	for i, req := range reqs {
		sr, body := toServer(t, req)
		var p parsed
		if err := parseRequest(sr, &p); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if needsOwnCanonicalRequest(sr, &p) {
			t.Fatalf("%d: SDK path not taken", i)
		}
		ph, perr := payloadHash(sr, &p, body)
		if perr != nil {
			t.Fatalf("%d: %v", i, perr)
		}
		sdk, ok := sdkSignature(sr, &p, ph, testSecret)
		own := ownSignature(sr, &p, ph, testSecret)
		if !ok || sdk != own || sdk != p.signature {
			t.Errorf("%d: sdk %s own %s client %s", i, sdk, own, p.signature)
		}
	}
}

func TestSignerCacheSecretChange(t *testing.T) {
	sr, body := toServer(t, sdkPost(t, formBody, signOpts{}))
	if _, err := Verify(sr, body, testNow, testSecrets); err != nil {
		t.Fatal(err)
	}
	// Same access key, secret rotated: the old signature must now fail
	// even though the SDK's derived-key cache would still hold the old key.
	rotated := func(string) (string, bool) { return "rotated-secret", true }
	if _, err := Verify(sr, body, testNow, rotated); codeOf(err) != codeSignatureMismatch {
		t.Fatalf("after rotation: %v", err)
	}
	if _, err := Verify(sr, body, testNow, testSecrets); err != nil {
		t.Fatalf("back to original: %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	sr, body := toServer(t, sdkPost(t, formBody, signOpts{}))
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				_, err = Verify(sr, body, testNow, testSecrets)
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	sr, body := toServer(b, sdkPost(b, formBody, signOpts{}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Verify(sr, body, testNow, testSecrets); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	sr, body := toServer(b, sdkPost(b, formBody, signOpts{}))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Verify(sr, body, testNow, testSecrets); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyPresigned(b *testing.B) {
	sr, body := toServer(b, presign(b, "Action=DescribeInstances&Version=2016-11-15", 300, testNow, ""))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Verify(sr, body, testNow, testSecrets); err != nil {
			b.Fatal(err)
		}
	}
}
