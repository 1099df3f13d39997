package guest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// fakeIMDS is a metadata service with IMDSv2 tokens, as strato's answers.
type fakeIMDS struct {
	mu sync.Mutex
	// values under /latest/meta-data/ (and "user-data" for /latest/user-data).
	values map[string]string
	// tokenStatus, when not 0, answers the token PUT with that status (IMDSv1 only).
	tokenStatus int
	// requireToken answers 401 to reads without a token (HttpTokens=required).
	requireToken bool
	// failFirst answers 503 to the first n requests (a service not ready yet).
	failFirst int
	requests  []string
}

const fakeToken = "AQAEAFake-token=="

func newFakeIMDS(t *testing.T, f *fakeIMDS) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if f.failFirst > 0 {
		f.failFirst--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if f.tokenStatus != 0 {
			w.WriteHeader(f.tokenStatus)
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Write([]byte(fakeToken))
		return
	}
	token := r.Header.Get("X-aws-ec2-metadata-token")
	if (f.requireToken && token == "") || (token != "" && token != fakeToken) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	key := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/latest/meta-data/"), "/latest/")
	v, ok := f.values[key]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Write([]byte(v))
}

func (f *fakeIMDS) sawRequest(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

// standardMetadata is an instance at 10.0.1.5 with a launch key.
func standardMetadata(pub string) map[string]string {
	return map[string]string{
		"instance-id":                 "i-0123456789abcdef0",
		"instance-type":               "t3.micro",
		"local-hostname":              "ip-10-0-1-5.ec2.internal",
		"local-ipv4":                  "10.0.1.5",
		"placement/availability-zone": "us-east-1a",
		"public-keys/0/openssh-key":   pub,
	}
}

// newKey makes a client key pair: its signer and its authorized_keys line.
func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " my-key"
}

// newRoot makes a minimal image root: root in passwd, group and shadow. Its
// directories are opened to everyone so a test user other than the test's own can
// enter its home.
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\nwheel:x:10:\ntty:x:5:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n",
		"etc/hosts":  "127.0.0.1 localhost\n",
	})
	return root
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer is a console tests can read while the helper writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bootGuest boots a helper on root against the metadata service at url, with the SSH
// server on a loopback port; the SSH server is stopped at the end of the test.
func bootGuest(t *testing.T, root, url string) (*Guest, *syncBuffer) {
	t.Helper()
	console := &syncBuffer{}
	g := New(Config{Root: root, MetadataURL: url, MetadataTimeout: 10 * time.Second,
		SSHListen: "127.0.0.1:0", Console: console, CloudInit: "never"})
	t.Cleanup(func() {
		g.mu.Lock()
		server := g.ssh
		g.mu.Unlock()
		if server != nil {
			server.Close()
		}
	})
	if err := g.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	return g, console
}

// assertContains reports each of wants that text (named what) lacks.
func assertContains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}
