// Package e2e runs the real strato binary and talks to it with aws-sdk-go-v2, the way
// users' programs do: only the endpoint differs from AWS.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

var stratoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strato-e2e-bin")
	if err != nil {
		panic(err)
	}
	stratoBin = filepath.Join(dir, "strato")
	build := exec.Command("go", "build", "-o", stratoBin, "strato/cmd/strato")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building strato:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `strato serve`.
type server struct {
	t        *testing.T
	dataDir  string
	endpoint string
	cmd      *exec.Cmd
	log      *os.File
}

// startServer runs strato serve on a free loopback port with the given data dir (a
// fresh one when dataDir is empty) and extra flags.
func startServer(t *testing.T, dataDir string, flags ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	os.Remove(filepath.Join(dataDir, "endpoint"))
	logFile, err := os.CreateTemp(t.TempDir(), "strato-log")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"}
	if !slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, "--driver") }) {
		// As root, --driver auto would run real containers and leave the instance
		// network behind: these tests are about the API.
		args = append(args, "--driver", "mock")
	}
	args = append(args, flags...)
	cmd := exec.Command(stratoBin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, dataDir: dataDir, cmd: cmd, log: logFile}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dataDir, "endpoint")); err == nil && len(b) > 0 {
			s.endpoint = strings.TrimSpace(string(b))
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	out, _ := os.ReadFile(logFile.Name())
	t.Fatalf("strato did not start:\n%s", out)
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			out, _ := os.ReadFile(s.log.Name())
			s.t.Errorf("strato exited with %v:\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.t.Error("strato did not stop within 20s of SIGTERM")
	}
}

// profile reads one profile's keys from the data dir's credentials file.
func (s *server) profile(name string) (akid, secret string) {
	s.t.Helper()
	f, err := os.Open(filepath.Join(s.dataDir, "credentials"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			in = line == "["+name+"]"
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && in {
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				akid = strings.TrimSpace(v)
			case "aws_secret_access_key":
				secret = strings.TrimSpace(v)
			}
		}
	}
	if akid == "" {
		s.t.Fatalf("no profile %s", name)
	}
	return akid, secret
}

func (s *server) config(akid, secret, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String(s.endpoint),
		// Tests look at each answer: no retries.
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: ownBodies{http.DefaultTransport}},
	}
}

// ownBodies gives net/http its own copy of each request body. aws-sdk-go-v2 closes
// its body stream once the response arrives; against a peer as fast as strato on
// loopback that can race net/http's write loop, which then closes the connection
// under the response (aws-sdk-go-v2 issue 2737; the SDK's default retryer retries
// it since v1.33, but these tests turn retries off to see every answer).
type ownBodies struct{ base http.RoundTripper }

func (o ownBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	c.ContentLength = int64(len(body))
	return o.base.RoundTrip(c)
}

func (s *server) ec2(profile string) *ec2.Client {
	akid, secret := s.profile(profile)
	return ec2.NewFromConfig(s.config(akid, secret, "us-east-1"))
}

func (s *server) sts(profile string) *sts.Client {
	akid, secret := s.profile(profile)
	return sts.NewFromConfig(s.config(akid, secret, "us-east-1"))
}

// account runs `strato account create` against the server's data dir.
func (s *server) account(name string) {
	s.t.Helper()
	out, err := exec.Command(stratoBin, "account", "create", "--name", name, "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		s.t.Fatalf("account create: %v\n%s", err, out)
	}
}

// wantCode asserts an API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want error %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want error %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
