package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// metadata is what boot needs from the instance metadata service.
type metadata struct {
	InstanceID       string
	InstanceType     string
	LocalHostname    string
	LocalIPv4        string
	PublicIPv4       string
	AvailabilityZone string
	// PublicKey is the launch key pair's public key ("" when launched without one).
	PublicKey string
	// UserData is nil when the instance has none.
	UserData []byte
}

// Header names of IMDSv2, as AWS's clients send them.
const (
	imdsTokenHeader    = "X-aws-ec2-metadata-token"
	imdsTokenTTLHeader = "X-aws-ec2-metadata-token-ttl-seconds"
	imdsTokenTTL       = "21600"
)

var (
	errNotFound = errors.New("not found")
	// errDisabled is a 403 on a read: the instance's metadata endpoint is turned off.
	errDisabled = errors.New("the metadata service refuses this instance (HttpEndpoint disabled?)")
)

// imdsClient reads the metadata service the way AWS's SDKs do: an IMDSv2 session token
// first, IMDSv1 only when the token PUT itself is answered 403, 404 or 405, and retries
// while the network is still coming up.
type imdsClient struct {
	base     string
	http     *http.Client
	deadline time.Time
	token    string
	v1       bool
	haveAuth bool // token fetched or v1 decided
}

func newIMDSClient(base string, timeout time.Duration) *imdsClient {
	return &imdsClient{
		base:     base,
		http:     &http.Client{Timeout: 2 * time.Second},
		deadline: time.Now().Add(timeout),
	}
}

// retry calls try until it succeeds, fails for good, or the deadline passes; waits grow
// from 50 ms to 2 s.
func (c *imdsClient) retry(ctx context.Context, try func() (retry bool, err error)) error {
	wait := 50 * time.Millisecond
	for {
		again, err := try()
		if err == nil || !again {
			return err
		}
		if time.Now().Add(wait).After(c.deadline) {
			return fmt.Errorf("gave up after retrying: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// authorize gets a session token, or settles on IMDSv1.
func (c *imdsClient) authorize(ctx context.Context) error {
	return c.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+"/latest/api/token", nil)
		if err != nil {
			return false, err
		}
		req.Header.Set(imdsTokenTTLHeader, imdsTokenTTL)
		resp, err := c.http.Do(req)
		if err != nil {
			return true, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			c.token, c.v1, c.haveAuth = strings.TrimSpace(string(body)), false, true
			return false, nil
		case http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
			c.token, c.v1, c.haveAuth = "", true, true
			return false, nil
		}
		return resp.StatusCode >= 500, fmt.Errorf("token request: %s", resp.Status)
	})
}

// get reads one path under /latest/; errNotFound for a 404.
func (c *imdsClient) get(ctx context.Context, path string) ([]byte, error) {
	if !c.haveAuth {
		if err := c.authorize(ctx); err != nil {
			return nil, err
		}
	}
	var out []byte
	renewed := false
	err := c.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/latest/"+path, nil)
		if err != nil {
			return false, err
		}
		if c.token != "" {
			req.Header.Set(imdsTokenHeader, c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return true, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case err != nil:
			return true, err
		case resp.StatusCode == http.StatusOK:
			out = body
			return false, nil
		case resp.StatusCode == http.StatusNotFound:
			return false, errNotFound
		case resp.StatusCode == http.StatusForbidden:
			return false, errDisabled
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			// An expired token, or tokens required after all: one new session.
			renewed = true
			if err := c.authorize(ctx); err != nil {
				return false, err
			}
			if c.v1 {
				return false, fmt.Errorf("%s: 401 and no token can be had", path)
			}
			return true, fmt.Errorf("%s: 401", path)
		}
		return resp.StatusCode >= 500, fmt.Errorf("%s: %s", path, resp.Status)
	})
	return out, err
}

// getString reads a leaf; a missing one is "".
func (c *imdsClient) getString(ctx context.Context, path string) (string, error) {
	b, err := c.get(ctx, "meta-data/"+path)
	if errors.Is(err, errNotFound) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

// fetchMetadata reads everything boot needs, waiting up to MetadataTimeout for the
// service to answer.
func (g *Guest) fetchMetadata(ctx context.Context) (*metadata, error) {
	c := newIMDSClient(g.cfg.MetadataURL, g.cfg.MetadataTimeout)
	md := &metadata{}
	id, err := c.get(ctx, "meta-data/instance-id")
	if err != nil {
		return nil, fmt.Errorf("instance-id: %w", err)
	}
	md.InstanceID = strings.TrimSpace(string(id))
	if c.v1 {
		g.logf("metadata: the token request was refused; reading with IMDSv1")
	}
	for path, dst := range map[string]*string{
		"instance-type":               &md.InstanceType,
		"local-hostname":              &md.LocalHostname,
		"local-ipv4":                  &md.LocalIPv4,
		"public-ipv4":                 &md.PublicIPv4,
		"placement/availability-zone": &md.AvailabilityZone,
		"public-keys/0/openssh-key":   &md.PublicKey,
	} {
		if *dst, err = c.getString(ctx, path); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	ud, err := c.get(ctx, "user-data")
	switch {
	case errors.Is(err, errNotFound):
	case err != nil:
		return nil, fmt.Errorf("user-data: %w", err)
	default:
		md.UserData = ud
	}
	version := "IMDSv2"
	if c.v1 {
		version = "IMDSv1"
	}
	g.logf("metadata (%s): instance %s, type %s, zone %s, local-ipv4 %s, public-ipv4 %s, key %s, user data %d bytes",
		version, md.InstanceID, orNone(md.InstanceType), orNone(md.AvailabilityZone), orNone(md.LocalIPv4),
		orNone(md.PublicIPv4), map[bool]string{true: "present", false: "none"}[md.PublicKey != ""], len(md.UserData))
	return md, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
