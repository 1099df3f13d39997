package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// rawCall signs and sends a form the way SDKs do and returns status and body, for
// what the typed SDK cannot send (unknown actions and parameters, GET requests).
func rawCall(t *testing.T, s *server, method, form, akid, secret string) (int, string) {
	t.Helper()
	var req *http.Request
	var body []byte
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, s.endpoint+"/?"+form, nil)
	} else {
		body = []byte(form)
		req, _ = http.NewRequest(method, s.endpoint+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestProtocolAnswers(t *testing.T) {
	s := startServer(t, "")
	akid, secret := s.profile("default")
	cases := []struct {
		name, method, form string
		status             int
		contains           string
	}{
		{"GET query string", http.MethodGet, "Action=DescribeRegions&Version=2016-11-15&RegionName.1=us-west-2", 200, "<regionName>us-west-2</regionName>"},
		{"POST form", http.MethodPost, "Action=DescribeAccountAttributes&Version=2016-11-15&AttributeName.1=supported-platforms", 200, "<attributeValue>VPC</attributeValue>"},
		{"operation not implemented yet", http.MethodPost, "Action=DescribeSpotPriceHistory&Version=2016-11-15", 400, "<Code>UnsupportedOperation</Code><Message>The operation DescribeSpotPriceHistory is not supported"},
		{"action not in the model", http.MethodPost, "Action=LaunchRockets&Version=2016-11-15", 400, "<Code>InvalidAction</Code>"},
		{"unknown parameter", http.MethodPost, "Action=DescribeRegions&Version=2016-11-15&Bogus=1", 400, "<Code>UnknownParameter</Code>"},
		{"missing parameter", http.MethodPost, "Action=CreateKeyPair&Version=2016-11-15", 400, "<Code>MissingParameter</Code><Message>The request must contain the parameter KeyName"},
		{"bad boolean", http.MethodPost, "Action=DescribeRegions&Version=2016-11-15&AllRegions=perhaps", 400, "<Code>InvalidParameterValue</Code><Message>Value (perhaps) for parameter AllRegions"},
		{"bad base64", http.MethodPost, "Action=ImportKeyPair&Version=2016-11-15&KeyName=a&PublicKeyMaterial=%21%21", 400, "PublicKeyMaterial"},
		{"dry run of a describe", http.MethodPost, "Action=DescribeRegions&Version=2016-11-15&DryRun=true", 412, "<Code>DryRunOperation</Code>"},
		{"no action", http.MethodPost, "Version=2016-11-15", 400, "<Code>MissingAction</Code>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := rawCall(t, s, c.method, c.form, akid, secret)
			if status != c.status || !strings.Contains(body, c.contains) {
				t.Fatalf("got %d %s\nwant %d containing %s", status, body, c.status, c.contains)
			}
			if status == 200 && !strings.Contains(body, `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`) || !strings.Contains(body, "equestI") {
				t.Fatalf("response lacks namespace or request ID: %s", body)
			}
		})
	}
	// All 625 operations are recognised: none of them is InvalidAction.
	status, body := rawCall(t, s, http.MethodPost, "Action=ModifyVpcEndpointServicePayerResponsibility&Version=2016-11-15", akid, secret)
	if status != 400 || !strings.Contains(body, "UnsupportedOperation") {
		t.Fatalf("a model operation answered %d %s", status, body)
	}
}

func TestAuthentication(t *testing.T) {
	s := startServer(t, "")
	akid, secret := s.profile("default")
	cases := []struct {
		name, akid, secret, code string
		status                   int
	}{
		{"wrong secret", akid, secret + "x", "SignatureDoesNotMatch", 403},
		{"unknown key", "AKIAIOSFODNN7EXAMPLE", secret, "AuthFailure", 401},
	}
	for _, c := range cases {
		status, body := rawCall(t, s, http.MethodPost, "Action=CreateKeyPair&Version=2016-11-15&KeyName=intruder", c.akid, c.secret)
		if status != c.status || !strings.Contains(body, "<Code>"+c.code+"</Code>") {
			t.Fatalf("%s: got %d %s", c.name, status, body)
		}
	}
	resp, err := http.PostForm(s.endpoint+"/", url.Values{"Action": {"CreateKeyPair"}, "KeyName": {"intruder"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unsigned request: %d", resp.StatusCode)
	}
	// STS clients get STS's envelope, so the SDK can read the code.
	wrong := sts.NewFromConfig(s.config(akid, secret+"x", "us-east-1"))
	_, err = wrong.GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	// Nothing the refused requests asked for happened.
	out, err := s.ec2("default").DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{})
	if err != nil || len(out.KeyPairs) != 0 {
		t.Fatalf("refused requests changed state: %+v %v", out, err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	s := startServer(t, "")
	c := s.ec2("default")
	_, err := c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("dry"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperation")
	out, err := c.DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{})
	if err != nil || len(out.KeyPairs) != 0 {
		t.Fatalf("dry run created a key pair: %+v %v", out, err)
	}
	// A dry run still validates: a request that would fail fails with its own error.
	if _, err := c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("real")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("real"), DryRun: aws.Bool(true)})
	wantCode(t, err, "InvalidKeyPair.Duplicate")
}

func TestTenantsRestartAndCallerIdentity(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	if _, err := s.ec2("default").CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("shared-name")}); err != nil {
		t.Fatal(err)
	}
	s.account("team-b") // while serving
	b := s.ec2("team-b")
	out, err := b.DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{})
	if err != nil || len(out.KeyPairs) != 0 {
		t.Fatalf("team-b sees another account's key pairs: %+v %v", out, err)
	}
	if _, err := b.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("shared-name")}); err != nil {
		t.Fatalf("names are per account: %v", err)
	}
	idA, err := s.sts("default").GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	idB, err := s.sts("team-b").GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *idA.Account == *idB.Account || len(*idA.Account) != 12 || *idA.Arn != "arn:aws:iam::"+*idA.Account+":root" {
		t.Fatalf("identities %s %s %s", *idA.Account, *idB.Account, *idA.Arn)
	}

	s.stop()
	s = startServer(t, dir)
	out, err = s.ec2("default").DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{})
	if err != nil || len(out.KeyPairs) != 1 || *out.KeyPairs[0].KeyName != "shared-name" {
		t.Fatalf("after restart: %+v %v", out, err)
	}
	again, err := s.sts("team-b").GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil || *again.Account != *idB.Account {
		t.Fatalf("team-b after restart: %v", err)
	}
}

func TestThrottling(t *testing.T) {
	// A tenth of AWS's sizes: DescribeRegions' bucket holds 10 requests.
	s := startServer(t, "", "--throttle-scale", "0.1")
	akid, secret := s.profile("default")
	throttled := false
	for i := 0; i < 40 && !throttled; i++ {
		status, body := rawCall(t, s, http.MethodPost, "Action=DescribeRegions&Version=2016-11-15", akid, secret)
		throttled = status == 503 && strings.Contains(body, "<Code>RequestLimitExceeded</Code>")
		if !throttled && status != 200 {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
		if throttled && i < 9 {
			t.Fatalf("throttled after %d requests; the bucket holds 10", i)
		}
	}
	if !throttled {
		t.Fatal("40 requests in a burst were not throttled")
	}

	dev := startServer(t, "", "--dev", "--throttle-scale", "0.1")
	// Development mode: any credentials, no throttling, one fixed account.
	client := ec2.NewFromConfig(dev.config("AKIAANYTHING", "whatever", "us-east-1"))
	for i := 0; i < 40; i++ {
		if _, err := client.DescribeRegions(ctx(t), &ec2.DescribeRegionsInput{}); err != nil {
			t.Fatalf("dev mode request %d: %v", i, err)
		}
	}
	id, err := sts.NewFromConfig(dev.config("AKIAOTHER", "x", "us-east-1")).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil || *id.Account != "123456789012" {
		t.Fatalf("dev account: %v", err)
	}
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	akid, secret := s.profile("default")
	cfg := s.config(akid, secret, "us-east-1")
	// One connection per request: a request sent on an idle keep-alive connection
	// just as the server closes idle connections meets EOF with any HTTP server
	// (SDKs retry it).
	cfg.HTTPClient = &http.Client{Transport: ownBodies{&http.Transport{DisableKeepAlives: true}}}
	c := ec2.NewFromConfig(cfg)
	const n = 16
	type result struct {
		name string
		err  error
		done time.Time
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func(name string) {
			// RSA key generation keeps each request busy for tens of milliseconds.
			_, err := c.CreateKeyPair(context.Background(), &ec2.CreateKeyPairInput{KeyName: aws.String(name)})
			results <- result{name, err, time.Now()}
		}(fmt.Sprintf("inflight-%02d", i))
	}
	// Most of the sixteen RSA generations (most of a second of CPU on two cores)
	// are still running after this.
	time.Sleep(200 * time.Millisecond)
	stopped := time.Now()
	s.stop() // SIGTERM while requests run

	answered := map[string]bool{}
	finishedAfterSignal := 0
	for i := 0; i < n; i++ {
		r := <-results
		if r.err == nil {
			answered[r.name] = true
			if r.done.After(stopped) {
				finishedAfterSignal++
			}
		} else {
			// A connection still in the kernel's accept queue when the listener
			// closes was never in flight; it may be refused, but must leave nothing.
			t.Logf("%s refused: %v", r.name, r.err)
		}
	}
	if finishedAfterSignal == 0 {
		t.Fatal("no request finished after SIGTERM: in-flight requests were cut off or none was in flight")
	}
	s = startServer(t, dir)
	out, err := s.ec2("default").DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, kp := range out.KeyPairs {
		stored[*kp.KeyName] = true
	}
	for name := range answered {
		if !stored[name] {
			t.Errorf("%s was answered but is gone after restart", name)
		}
	}
	for name := range stored {
		if !answered[name] {
			t.Errorf("%s exists after restart but its request failed", name)
		}
	}
	t.Logf("%d answered (%d after SIGTERM), %d refused", len(answered), finishedAfterSignal, n-len(answered))
}

func TestDataFilesAreTheOwnersAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil { // as a package or a person might make it
		t.Fatal(err)
	}
	// A database left readable by an earlier version is tightened too.
	if err := os.WriteFile(filepath.Join(dir, "strato.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir)
	if _, err := s.ec2("default").CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: other users could read the secrets", e.Name(), info.Mode().Perm())
		}
	}
}

func TestQuotaChangeAppliesWithoutRestart(t *testing.T) {
	s := startServer(t, "")
	id, err := s.sts("default").GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(stratoBin, "quota", "set", "--account", *id.Account, "--data-dir", s.dataDir, "key-pairs-per-region", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("quota set: %v\n%s", err, out)
	}
	c := s.ec2("default")
	if _, err := c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("first"), KeyType: "ed25519"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("second"), KeyType: "ed25519"})
	wantCode(t, err, "ResourceLimitExceeded")

	// Elastic IPs: one allowed, and DescribeAccountAttributes says so.
	out, err = exec.Command(stratoBin, "quota", "set", "--account", *id.Account, "--data-dir", s.dataDir, "elastic-ips-per-region", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("quota set: %v\n%s", err, out)
	}
	attrs, err := c.DescribeAccountAttributes(ctx(t), &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"vpc-max-elastic-ips"}})
	if err != nil || *attrs.AccountAttributes[0].AttributeValues[0].AttributeValue != "1" {
		t.Fatalf("vpc-max-elastic-ips after the quota change: %v %+v", err, attrs)
	}
	if _, err := c.AllocateAddress(ctx(t), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AllocateAddress(ctx(t), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	wantCode(t, err, "AddressLimitExceeded")
}

// strato status tells what the serving strato is: its endpoint, its instance driver
// and why; once it has stopped, that it is not running.
func TestStatusCommand(t *testing.T) {
	s := startServer(t, "")
	out, err := exec.Command(stratoBin, "status", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "strato serving "+s.endpoint) || !strings.Contains(string(out), "instance driver: mock") {
		t.Fatalf("strato status while serving (%v):\n%s", err, out)
	}
	s.stop()
	out, err = exec.Command(stratoBin, "status", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "not running") {
		t.Errorf("strato status after the stop (%v):\n%s", err, out)
	}
	out, err = exec.Command(stratoBin, "status", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no strato has served") {
		t.Errorf("strato status of a fresh data dir (%v):\n%s", err, out)
	}
}
