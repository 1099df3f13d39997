package imds

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeResolver maps addresses to instances and records the interface it was asked about.
type fakeResolver struct {
	mu        sync.Mutex
	instances map[netip.Addr]*Instance
	lastIface string
}

func (f *fakeResolver) InstanceFor(a netip.Addr, iface string) (*Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastIface = iface
	if inst, ok := f.instances[a]; ok {
		return inst, nil
	}
	return nil, ErrUnknownCaller
}

func sampleInstance() *Instance {
	return &Instance{
		AccountID:          "123456789012",
		InstanceID:         "i-0123456789abcdef0",
		ImageID:            "ami-0abcdef1234567890",
		LaunchIndex:        0,
		InstanceType:       "t3.micro",
		ReservationID:      "r-0fedcba9876543210",
		Architecture:       "x86_64",
		PendingTime:        t0,
		Region:             "us-east-1",
		AvailabilityZone:   "us-east-1a",
		AvailabilityZoneID: "use1-az1",
		PrivateHostname:    "ip-10-0-1-10.ec2.internal",
		PublicHostname:     "ec2-203-0-113-10.compute-1.amazonaws.com",
		PrivateIPv4:        netip.MustParseAddr("10.0.1.10"),
		PublicIPv4:         netip.MustParseAddr("203.0.113.10"),
		Interfaces: []Interface{{
			MAC:                "0e:11:22:33:44:55",
			DeviceIndex:        0,
			InterfaceID:        "eni-0123456789abcdef0",
			OwnerID:            "123456789012",
			PrivateHostname:    "ip-10-0-1-10.ec2.internal",
			PrivateIPv4s:       []netip.Addr{netip.MustParseAddr("10.0.1.10"), netip.MustParseAddr("10.0.1.11")},
			PublicIPv4s:        []netip.Addr{netip.MustParseAddr("203.0.113.10")},
			IPv4Prefixes:       []netip.Prefix{netip.MustParsePrefix("10.0.1.32/28")},
			SecurityGroupIDs:   []string{"sg-0aaa", "sg-0bbb"},
			SecurityGroupNames: []string{"default", "web"},
			SubnetID:           "subnet-0123",
			SubnetCIDR:         netip.MustParsePrefix("10.0.1.0/24"),
			VpcID:              "vpc-0123",
			VpcCIDRs:           []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.1.0.0/16")},
			PublicIPv4For:      map[netip.Addr]netip.Addr{netip.MustParseAddr("203.0.113.10"): netip.MustParseAddr("10.0.1.10")},
		}, {
			MAC:         "0e:66:77:88:99:aa",
			DeviceIndex: 1,
			InterfaceID: "eni-0fffffffffffffff1",
			SubnetID:    "subnet-0456",
		}},
		BlockDevices:   map[string]string{"ami": "/dev/xvda", "root": "/dev/xvda", "ebs2": "sdb"},
		KeyName:        "my-key",
		PublicKey:      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB my-key",
		UserData:       []byte("#!/bin/sh\necho hi > /tmp/hi\n"),
		Tags:           map[string]string{"Name": "web-1", "env": "test", "bad key": "hidden", "empty": ""},
		SecurityGroups: []string{"default", "web"},
		Options: Options{
			HttpTokens: "optional", HttpEndpoint: "enabled",
			HttpPutResponseHopLimit: 2, InstanceMetadataTags: "disabled",
		},
	}
}

const callerAddr = "10.0.1.10"

type fixture struct {
	t        *testing.T
	inst     *Instance
	resolver *fakeResolver
	clock    *fakeClock
	signer   *Ed25519Signer
	handler  http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	inst := sampleInstance()
	signer, err := NewEd25519Signer(nil, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0}
	res := &fakeResolver{instances: map[netip.Addr]*Instance{netip.MustParseAddr(callerAddr): inst}}
	return &fixture{t: t, inst: inst, resolver: res, clock: clock, signer: signer,
		handler: NewHandler(res, signer, clock.Now)}
}

type reply struct {
	status int
	body   string
	header http.Header
}

// do sends one request from callerAddr; headers are name/value pairs.
func (f *fixture) do(method, path string, headers ...string) reply {
	f.t.Helper()
	return f.doFrom(callerAddr+":40000", method, path, headers...)
}

func (f *fixture) doFrom(remote, method, path string, headers ...string) reply {
	f.t.Helper()
	req := httptest.NewRequest(method, "http://169.254.169.254"+path, nil)
	req.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return reply{status: rec.Code, body: string(body), header: rec.Result().Header}
}

func (f *fixture) get(path string) string {
	f.t.Helper()
	r := f.do("GET", path)
	if r.status != http.StatusOK {
		f.t.Fatalf("GET %s: status %d, body %q", path, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/plain" {
		f.t.Fatalf("GET %s: Content-Type %q, want text/plain", path, ct)
	}
	return r.body
}

func (f *fixture) token(ttl int) string {
	f.t.Helper()
	r := f.do("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
	if r.status != http.StatusOK {
		f.t.Fatalf("token PUT: status %d %q", r.status, r.body)
	}
	return r.body
}

func TestMetadataLeaves(t *testing.T) {
	f := newFixture(t)
	cases := map[string]string{
		"/latest/meta-data/ami-id":                                                                   "ami-0abcdef1234567890",
		"/latest/meta-data/ami-launch-index":                                                         "0",
		"/latest/meta-data/ami-manifest-path":                                                        "(unknown)",
		"/latest/meta-data/hostname":                                                                 "ip-10-0-1-10.ec2.internal",
		"/latest/meta-data/local-hostname":                                                           "ip-10-0-1-10.ec2.internal",
		"/latest/meta-data/instance-id":                                                              "i-0123456789abcdef0",
		"/latest/meta-data/instance-life-cycle":                                                      "on-demand",
		"/latest/meta-data/instance-type":                                                            "t3.micro",
		"/latest/meta-data/local-ipv4":                                                               "10.0.1.10",
		"/latest/meta-data/public-ipv4":                                                              "203.0.113.10",
		"/latest/meta-data/public-hostname":                                                          "ec2-203-0-113-10.compute-1.amazonaws.com",
		"/latest/meta-data/mac":                                                                      "0e:11:22:33:44:55",
		"/latest/meta-data/reservation-id":                                                           "r-0fedcba9876543210",
		"/latest/meta-data/security-groups":                                                          "default\nweb",
		"/latest/meta-data/placement/availability-zone":                                              "us-east-1a",
		"/latest/meta-data/placement/availability-zone-id":                                           "use1-az1",
		"/latest/meta-data/placement/region":                                                         "us-east-1",
		"/latest/meta-data/public-keys/0/openssh-key":                                                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB my-key",
		"/latest/meta-data/block-device-mapping/ami":                                                 "/dev/xvda",
		"/latest/meta-data/block-device-mapping/root":                                                "/dev/xvda",
		"/latest/meta-data/block-device-mapping/ebs2":                                                "sdb",
		"/latest/meta-data/events/maintenance/scheduled":                                             "[]",
		"/latest/meta-data/services/domain":                                                          "amazonaws.com",
		"/latest/user-data":                                                                          "#!/bin/sh\necho hi > /tmp/hi\n",
		"/2021-07-15/meta-data/instance-id":                                                          "i-0123456789abcdef0",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/device-number":                  "0",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/interface-id":                   "eni-0123456789abcdef0",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/local-ipv4s":                    "10.0.1.10\n10.0.1.11",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/public-ipv4s":                   "203.0.113.10",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/ipv4-prefix":                    "10.0.1.32/28",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/security-group-ids":             "sg-0aaa\nsg-0bbb",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/security-groups":                "default\nweb",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/subnet-id":                      "subnet-0123",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/subnet-ipv4-cidr-block":         "10.0.1.0/24",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/vpc-id":                         "vpc-0123",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/vpc-ipv4-cidr-block":            "10.0.0.0/16",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/vpc-ipv4-cidr-blocks":           "10.0.0.0/16\n10.1.0.0/16",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/owner-id":                       "123456789012",
		"/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/ipv4-associations/203.0.113.10": "10.0.1.10",
		"/latest/meta-data/network/interfaces/macs/0e:66:77:88:99:aa/device-number":                  "1",
	}
	for path, want := range cases {
		if got := f.get(path); got != want {
			t.Errorf("GET %s = %q, want %q", path, got, want)
		}
	}
}

// The seeds derive the region with
// curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone | sed -e 's/.$//g'
func TestSeedRegionFromAvailabilityZone(t *testing.T) {
	f := newFixture(t)
	az := f.get("/latest/meta-data/placement/availability-zone")
	if strings.HasSuffix(az, "\n") {
		t.Fatalf("availability-zone %q ends with a newline: sed 's/.$//' would cut the wrong character", az)
	}
	if region := az[:len(az)-1]; region != f.get("/latest/meta-data/placement/region") {
		t.Fatalf("region from AZ %q = %q, want %q", az, region, f.inst.Region)
	}
}

func TestDirectoryListings(t *testing.T) {
	f := newFixture(t)
	root := f.get("/")
	if !strings.HasPrefix(root, "1.0\n") || !strings.HasSuffix(root, "\nlatest") || !strings.Contains(root, "\n2021-07-15\n") {
		t.Errorf("/ = %q, want the versions ending with latest", root)
	}
	if got := f.get("/latest/"); got != "dynamic\nmeta-data\nuser-data" {
		t.Errorf("/latest/ = %q", got)
	}
	md := f.get("/latest/meta-data/")
	if md != f.get("/latest/meta-data") {
		t.Errorf("meta-data with and without a trailing slash differ")
	}
	entries := strings.Split(md, "\n")
	for _, want := range []string{"ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/",
		"events/", "hostname", "instance-id", "instance-life-cycle", "instance-type", "local-hostname",
		"local-ipv4", "mac", "network/", "placement/", "public-hostname", "public-ipv4", "public-keys/",
		"reservation-id", "security-groups", "services/"} {
		if !contains(entries, want) {
			t.Errorf("meta-data/ lacks %q: %q", want, md)
		}
	}
	if contains(entries, "tags/") {
		t.Errorf("meta-data/ lists tags/ with InstanceMetadataTags disabled")
	}
	if got := f.get("/latest/meta-data/placement/"); got != "availability-zone\navailability-zone-id\nregion" {
		t.Errorf("placement/ = %q", got)
	}
	if got := f.get("/latest/meta-data/public-keys/"); got != "0=my-key" {
		t.Errorf("public-keys/ = %q", got)
	}
	if got := f.get("/latest/meta-data/public-keys/0/"); got != "openssh-key" {
		t.Errorf("public-keys/0/ = %q", got)
	}
	if got := f.get("/latest/meta-data/block-device-mapping/"); got != "ami\nebs2\nroot" {
		t.Errorf("block-device-mapping/ = %q", got)
	}
	if got := f.get("/latest/meta-data/network/interfaces/macs/"); got != "0e:11:22:33:44:55/\n0e:66:77:88:99:aa/" {
		t.Errorf("macs/ = %q", got)
	}
	mac := strings.Split(f.get("/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/"), "\n")
	for _, want := range []string{"device-number", "interface-id", "ipv4-associations/", "ipv4-prefix",
		"local-ipv4s", "mac", "owner-id", "public-ipv4s", "security-group-ids", "subnet-id",
		"subnet-ipv4-cidr-block", "vpc-id", "vpc-ipv4-cidr-block", "vpc-ipv4-cidr-blocks"} {
		if !contains(mac, want) {
			t.Errorf("macs/MAC/ lacks %q: %q", want, mac)
		}
	}
	if got := f.get("/latest/dynamic/"); got != "instance-identity/" {
		t.Errorf("dynamic/ = %q", got)
	}
	if got := f.get("/latest/dynamic/instance-identity/"); got != "document\npkcs7\nsignature" {
		t.Errorf("instance-identity/ = %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/latest/meta-data/nope",
		"/latest/meta-data/instance-id/extra",
		"/latest/meta-data/tags/instance/Name",
		"/latest/nope",
		"/1999-01-01/meta-data/instance-id",
		"/latest/dynamic/instance-identity/nope",
		"/latest/api/",
		"/latest/meta-data/kernel-id",
	} {
		if r := f.do("GET", path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.status)
		}
	}
}

func TestUserDataNoneIs404(t *testing.T) {
	f := newFixture(t)
	f.inst.UserData = nil
	if r := f.do("GET", "/latest/user-data"); r.status != http.StatusNotFound {
		t.Fatalf("user-data without any: status %d, want 404", r.status)
	}
	if got := f.get("/latest/"); got != "dynamic\nmeta-data" {
		t.Fatalf("/latest/ = %q, want no user-data entry", got)
	}
}

func TestNoPublicAddressOrKey(t *testing.T) {
	f := newFixture(t)
	f.inst.PublicIPv4 = netip.Addr{}
	f.inst.PublicHostname = ""
	f.inst.PublicKey, f.inst.KeyName = "", ""
	for _, path := range []string{"/latest/meta-data/public-ipv4", "/latest/meta-data/public-hostname", "/latest/meta-data/public-keys/"} {
		if r := f.do("GET", path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.status)
		}
	}
}

func TestTagsGatedByInstanceMetadataTags(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/latest/meta-data/tags/instance/"); r.status != http.StatusNotFound {
		t.Fatalf("tags with InstanceMetadataTags disabled: status %d, want 404", r.status)
	}
	f.inst.Options.InstanceMetadataTags = "enabled"
	if got := f.get("/latest/meta-data/tags/"); got != "instance/" {
		t.Errorf("tags/ = %q", got)
	}
	if got := f.get("/latest/meta-data/tags/instance/"); got != "Name\nempty\nenv" {
		t.Errorf("tags/instance/ = %q (a key with a space must be left out)", got)
	}
	if got := f.get("/latest/meta-data/tags/instance/Name"); got != "web-1" {
		t.Errorf("tags/instance/Name = %q", got)
	}
	if r := f.do("GET", "/latest/meta-data/tags/instance/empty"); r.status != http.StatusOK || r.body != "" {
		t.Errorf("empty tag value: %d %q", r.status, r.body)
	}
}
