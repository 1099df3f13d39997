package vpcnet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"strato/internal/imds"
)

// resolverByInterface answers for an instance only when the request came in through the
// interface the dataplane says and from that interface's address — what the real resolver
// of the control plane checks.
type resolverByInterface struct {
	mu    sync.Mutex
	owner map[string]*imds.Instance // by interface ID
	addr  map[string]netip.Addr     // by interface ID
	asked []string                  // interface IDs the handler passed, in order
}

func (r *resolverByInterface) add(inst *instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.owner[inst.eni] = &imds.Instance{InstanceID: inst.id, PrivateIPv4: inst.ip}
	r.addr[inst.eni] = inst.ip
}

func (r *resolverByInterface) InstanceFor(remote netip.Addr, iface string) (*imds.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, iface)
	if inst, ok := r.owner[iface]; ok && r.addr[iface] == remote {
		return inst, nil
	}
	return nil, imds.ErrUnknownCaller
}

// metadataGet fetches path from 169.254.169.254 from inside the namespace at netns.
func metadataGet(netns, method, path string, header http.Header) (int, string, error) {
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := inNamespace(netns, func() error {
					var err error
					c, err = (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
	}
	req, err := http.NewRequest(method, "http://169.254.169.254"+path, nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func mustGetInstanceID(t *testing.T, inst *instance) {
	t.Helper()
	status, body, err := metadataGet(inst.netns, http.MethodGet, "/latest/meta-data/instance-id", nil)
	if err != nil {
		t.Fatalf("metadata from %s: %v", inst.id, err)
	}
	if status != http.StatusOK || body != inst.id {
		t.Fatalf("metadata from %s: %d %q, want 200 %q", inst.id, status, body, inst.id)
	}
}

// Each instance reaches the metadata service at 169.254.169.254 and the handler learns,
// from the connection, the interface the request came in through.
func TestMetadataKnowsTheInterface(t *testing.T) {
	resolver := &resolverByInterface{owner: map[string]*imds.Instance{}, addr: map[string]netip.Addr{}}
	f := newFixture(t, imds.NewHandler(resolver, nil, nil))
	vpc := newID(t, "vpc")
	a := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	b := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.10"))
	resolver.add(a)
	resolver.add(b)

	mustGetInstanceID(t, a)
	mustGetInstanceID(t, b)
	resolver.mu.Lock()
	asked := fmt.Sprint(resolver.asked)
	resolver.mu.Unlock()
	if want := fmt.Sprint([]string{a.eni, b.eni}); asked != want {
		t.Fatalf("the handler was told interfaces %s, want %s", asked, want)
	}

	// IMDSv2: the token PUT goes through the hop-limit hook of the connection.
	status, token, err := metadataGet(a.netns, http.MethodPut, "/latest/api/token",
		http.Header{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {"60"}})
	if err != nil || status != http.StatusOK || token == "" {
		t.Fatalf("token: %d %q %v", status, token, err)
	}
	status, body, err := metadataGet(a.netns, http.MethodGet, "/latest/meta-data/instance-id",
		http.Header{"X-Aws-Ec2-Metadata-Token": {token}})
	if err != nil || status != http.StatusOK || body != a.id {
		t.Fatalf("with the token: %d %q %v", status, body, err)
	}

	// Unplugged, the interface has no listener any more.
	if err := f.n.UnplugInterface(f.ctx, vpc, a.eni); err != nil {
		t.Fatal(err)
	}
	if _, _, err := metadataGet(a.netns, http.MethodGet, "/latest/meta-data/instance-id", nil); err == nil {
		t.Fatal("metadata answered an unplugged interface")
	}
	mustGetInstanceID(t, b)
}

// The hop-limit hook sets the IP TTL of the connection's packets.
func TestHopLimitSetterSetsTheTTL(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client, err := net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var server net.Conn
	select {
	case server = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
	}
	if server == nil {
		t.Fatal("accept failed")
	}
	defer server.Close()

	hopLimitSetter(server, slog.New(slog.NewTextHandler(io.Discard, nil)))(3)
	raw, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ttl int
	var getErr error
	if err := raw.Control(func(fd uintptr) { ttl, getErr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL) }); err != nil {
		t.Fatal(err)
	}
	if getErr != nil || ttl != 3 {
		t.Fatalf("TTL %d (%v), want 3", ttl, getErr)
	}
}
