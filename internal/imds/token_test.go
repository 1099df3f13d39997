package imds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

const ttlHeader = "X-aws-ec2-metadata-token-ttl-seconds"

func TestTokenPutEchoesTTL(t *testing.T) {
	f := newFixture(t)
	r := f.do("PUT", "/latest/api/token", ttlHeader, "21600")
	if r.status != http.StatusOK || r.body == "" {
		t.Fatalf("token PUT: %d %q", r.status, r.body)
	}
	if got := r.header.Get(ttlHeader); got != "21600" {
		t.Fatalf("TTL header echoed %q, want 21600", got)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/plain" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestTokenPutBadTTLIs400(t *testing.T) {
	f := newFixture(t)
	if r := f.do("PUT", "/latest/api/token"); r.status != http.StatusBadRequest {
		t.Errorf("no TTL: status %d, want 400", r.status)
	}
	for _, ttl := range []string{"0", "21601", "-1", "abc", "1.5"} {
		if r := f.do("PUT", "/latest/api/token", ttlHeader, ttl); r.status != http.StatusBadRequest {
			t.Errorf("TTL %q: status %d, want 400", ttl, r.status)
		}
	}
	if r := f.do("PUT", "/latest/api/token", ttlHeader, "1"); r.status != http.StatusOK {
		t.Errorf("TTL 1: status %d, want 200", r.status)
	}
}

func TestTokenPutWithXForwardedForIs403(t *testing.T) {
	f := newFixture(t)
	r := f.do("PUT", "/latest/api/token", ttlHeader, "60", "X-Forwarded-For", "10.0.1.99")
	if r.status != http.StatusForbidden {
		t.Fatalf("token PUT through a proxy: status %d, want 403", r.status)
	}
}

func TestTokenPathOtherMethodsAre405(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/latest/api/token"); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET token path: status %d, want 405", r.status)
	}
	if r := f.do("POST", "/latest/meta-data/instance-id"); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST metadata: status %d, want 405", r.status)
	}
}

func TestIMDSv2Flow(t *testing.T) {
	f := newFixture(t)
	tok := f.token(60)
	r := f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok)
	if r.status != http.StatusOK || r.body != f.inst.InstanceID {
		t.Fatalf("GET with a token: %d %q", r.status, r.body)
	}
	// Still valid one second before its expiry, refused at its expiry.
	f.clock.Advance(59 * time.Second)
	if r := f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); r.status != http.StatusOK {
		t.Fatalf("token before expiry: status %d", r.status)
	}
	f.clock.Advance(time.Second)
	if r := f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); r.status != http.StatusUnauthorized {
		t.Fatalf("expired token: status %d, want 401", r.status)
	}
}

func TestInvalidTokenIs401(t *testing.T) {
	f := newFixture(t)
	tok := f.token(60)
	for _, bad := range []string{"garbage", tok[:len(tok)-2] + "AA", "AAAA"} {
		if r := f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", bad); r.status != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", bad, r.status)
		}
	}
}

// A token is bound to the instance it was issued to.
func TestTokenFromAnotherInstanceIs401(t *testing.T) {
	f := newFixture(t)
	other := sampleInstance()
	other.InstanceID = "i-0aaaaaaaaaaaaaaaa"
	f.resolver.instances[netip.MustParseAddr("10.0.2.20")] = other
	tok := f.token(60)
	r := f.doFrom("10.0.2.20:5555", "GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("another instance's token: status %d, want 401", r.status)
	}
}

// Tokens sealed by one handler (process) mean nothing to another.
func TestTokenFromAnotherProcessIs401(t *testing.T) {
	f := newFixture(t)
	tok := f.token(60)
	f.handler = NewHandler(f.resolver, f.signer, f.clock.Now)
	if r := f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); r.status != http.StatusUnauthorized {
		t.Fatalf("token of another process: status %d, want 401", r.status)
	}
}

func TestHttpTokensRequired(t *testing.T) {
	f := newFixture(t)
	f.inst.Options.HttpTokens = "required"
	if r := f.do("GET", "/latest/meta-data/instance-id"); r.status != http.StatusUnauthorized {
		t.Fatalf("IMDSv1 GET with HttpTokens=required: status %d, want 401", r.status)
	}
	if r := f.do("GET", "/"); r.status != http.StatusUnauthorized {
		t.Fatalf("IMDSv1 GET / with HttpTokens=required: status %d, want 401", r.status)
	}
	tok := f.token(60)
	if r := f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); r.status != http.StatusOK {
		t.Fatalf("IMDSv2 GET with HttpTokens=required: status %d", r.status)
	}
}

func TestHttpTokensOptionalAllowsV1(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/latest/meta-data/instance-id"); r.status != http.StatusOK {
		t.Fatalf("IMDSv1 GET with HttpTokens=optional: status %d", r.status)
	}
}

func TestHttpEndpointDisabledIs403(t *testing.T) {
	f := newFixture(t)
	tok := f.token(60)
	f.inst.Options.HttpEndpoint = "disabled"
	for _, r := range []reply{
		f.do("GET", "/latest/meta-data/instance-id"),
		f.do("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok),
		f.do("GET", "/latest/nope"),
		f.do("GET", "/"),
		f.do("PUT", "/latest/api/token", ttlHeader, "60"),
		f.do("PUT", "/latest/api/token"),
	} {
		if r.status != http.StatusForbidden {
			t.Errorf("HttpEndpoint=disabled: status %d, want 403", r.status)
		}
	}
}

func TestUnknownCallerIs403(t *testing.T) {
	f := newFixture(t)
	if r := f.doFrom("10.9.9.9:1234", "GET", "/latest/meta-data/instance-id"); r.status != http.StatusForbidden {
		t.Fatalf("unknown caller: status %d, want 403", r.status)
	}
	if r := f.doFrom("not-an-address", "GET", "/latest/meta-data/instance-id"); r.status != http.StatusForbidden {
		t.Fatalf("unparseable RemoteAddr: status %d, want 403", r.status)
	}
}

// The identity is the packet's source and arrival interface, not what the request says.
func TestIdentityFromNetworkNotRequest(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("GET", "http://169.254.169.254/latest/meta-data/instance-id", nil)
	req.RemoteAddr = "[::ffff:10.0.1.10]:40000" // a v4-mapped source is the same caller
	req.Header.Set("X-Forwarded-For", "10.9.9.9")
	req = req.WithContext(WithInterface(req.Context(), "veth-i0123"))
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != f.inst.InstanceID {
		t.Fatalf("GET: %d %q", rec.Code, rec.Body.String())
	}
	if f.resolver.lastIface != "veth-i0123" {
		t.Fatalf("resolver asked about interface %q, want veth-i0123", f.resolver.lastIface)
	}
}

func TestHopLimitAppliedToTokenResponse(t *testing.T) {
	f := newFixture(t)
	got := -1
	req := httptest.NewRequest("PUT", "http://169.254.169.254/latest/api/token", nil)
	req.RemoteAddr = callerAddr + ":40000"
	req.Header.Set(ttlHeader, "60")
	req = req.WithContext(WithHopLimit(context.Background(), func(ttl int) { got = ttl }))
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("token PUT: %d", rec.Code)
	}
	if got != 2 {
		t.Fatalf("hop limit set to %d, want the instance's 2", got)
	}
	f.inst.Options.HttpPutResponseHopLimit = 0
	if HopLimit(f.inst) != 1 {
		t.Fatalf("default hop limit %d, want 1", HopLimit(f.inst))
	}
}

// Over a real connection: v1 and v2 through net/http's client, as instances do.
func TestOverRealHTTP(t *testing.T) {
	f := newFixture(t)
	f.resolver.instances[netip.MustParseAddr("127.0.0.1")] = f.inst
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/latest/api/token", nil)
	req.Header.Set(ttlHeader, "300")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(ttlHeader) != "300" {
		t.Fatalf("token PUT over HTTP: %d ttl %q", resp.StatusCode, resp.Header.Get(ttlHeader))
	}
	head, err := srv.Client().Head(srv.URL + "/latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len(f.inst.InstanceID)) {
		t.Fatalf("HEAD: %d length %d", head.StatusCode, head.ContentLength)
	}
}
