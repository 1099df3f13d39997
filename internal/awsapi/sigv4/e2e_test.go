package sigv4

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// verifyServer answers DescribeRegions after checking the signature with
// Verify, and renders failures in EC2's error envelope.
type verifyServer struct {
	*httptest.Server
	mu   sync.Mutex
	last []error
	sig  []Signed
}

func newVerifyServer(t *testing.T) *verifyServer {
	vs := &verifyServer{}
	vs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s, err := Verify(r, body, time.Now(), testSecrets)
		vs.mu.Lock()
		vs.last = append(vs.last, err)
		vs.sig = append(vs.sig, s)
		vs.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		var e *Error
		if errors.As(err, &e) {
			w.WriteHeader(e.HTTPStatus)
			var msg strings.Builder
			_ = xml.EscapeText(&msg, []byte(e.Message))
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>`+e.Code+`</Code><Message>`+msg.String()+`</Message></Error></Errors><RequestID>00000000-0000-4000-8000-000000000000</RequestID></Response>`)
			return
		}
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>00000000-0000-4000-8000-000000000000</requestId><regionInfo><item><regionName>us-east-1</regionName><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item></regionInfo></DescribeRegionsResponse>`)
	}))
	t.Cleanup(vs.Close)
	return vs
}

func (vs *verifyServer) results() ([]error, []Signed) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return append([]error(nil), vs.last...), append([]Signed(nil), vs.sig...)
}

// TestRealEC2Client drives Verify with aws-sdk-go-v2's own EC2 client over
// real HTTP.
func TestRealEC2Client(t *testing.T) {
	vs := newVerifyServer(t)
	client := func(secret, token string) *ec2.Client {
		return ec2.New(ec2.Options{
			Region:           testRegion,
			BaseEndpoint:     aws.String(vs.URL),
			Credentials:      credentials.NewStaticCredentialsProvider(testAKID, secret, token),
			RetryMaxAttempts: 1,
		})
	}
	ctx := context.Background()

	out, err := client(testSecret, "").DescribeRegions(ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"us-east-1"}, AllRegions: aws.Bool(true)})
	if err != nil {
		t.Fatalf("DescribeRegions: %v", err)
	}
	if len(out.Regions) != 1 {
		t.Fatalf("regions %+v", out.Regions)
	}

	if _, err := client(testSecret, "session/token+==").DescribeRegions(ctx, &ec2.DescribeRegionsInput{}); err != nil {
		t.Fatalf("with session token: %v", err)
	}
	_, sigs := vs.results()
	if got := sigs[len(sigs)-1].SecurityToken; got != "session/token+==" {
		t.Fatalf("token %q", got)
	}

	_, err = client("wrong", "").DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != codeSignatureMismatch {
		t.Fatalf("wrong secret: %v", err)
	}
}

// TestExternalClients signs with the aws CLI (botocore), boto3's presigner
// and curl --aws-sigv4 when STRATO_SIGV4_INTEROP=1 and the tools exist.
func TestExternalClients(t *testing.T) {
	if os.Getenv("STRATO_SIGV4_INTEROP") == "" {
		t.Skip("set STRATO_SIGV4_INTEROP=1 to run against aws CLI, boto3 and curl")
	}
	vs := newVerifyServer(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+testSecret,
		"AWS_DEFAULT_REGION="+testRegion, "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s not installed", name)
		}
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	lastOK := func(t *testing.T, what string) {
		t.Helper()
		errs, _ := vs.results()
		if len(errs) == 0 || errs[len(errs)-1] != nil {
			t.Fatalf("%s: %v", what, errs)
		}
	}

	t.Run("aws cli", func(t *testing.T) {
		run(t, "aws", "ec2", "describe-regions", "--endpoint-url", vs.URL, "--region-names", "us-east-1", "--output", "json")
		lastOK(t, "aws cli")
	})
	t.Run("boto3 presigned GET", func(t *testing.T) {
		py := `import boto3,sys,urllib.request
c=boto3.client("ec2",endpoint_url=sys.argv[1],region_name="us-east-1")
u=c.generate_presigned_url("describe_regions",Params={"RegionNames":["us-east-1"]},ExpiresIn=120,HttpMethod="GET")
print(u)
print(urllib.request.urlopen(u).status)`
		out := run(t, "python3", "-c", py, vs.URL)
		if !strings.Contains(out, "X-Amz-Signature=") {
			t.Fatalf("not presigned: %s", out)
		}
		lastOK(t, "boto3 presigned")
	})
	t.Run("boto3 presigned POST (default method)", func(t *testing.T) {
		py := `import boto3,sys,urllib.request
c=boto3.client("ec2",endpoint_url=sys.argv[1],region_name="us-east-1")
u=c.generate_presigned_url("describe_regions",Params={"AllRegions":True},ExpiresIn=60)
print(urllib.request.urlopen(urllib.request.Request(u,data=b"",method="POST")).status)`
		run(t, "python3", "-c", py, vs.URL)
		lastOK(t, "boto3 presigned POST")
	})
	t.Run("curl --aws-sigv4", func(t *testing.T) {
		run(t, "curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:ec2", "--user", testAKID+":"+testSecret,
			"-d", "Action=DescribeRegions&Version=2016-11-15", vs.URL+"/")
		lastOK(t, "curl")
	})
}
