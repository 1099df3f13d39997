package cloud_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/imds"
)

const metadataTestKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

func TestMetadataResolverIdentifiesTheCallerByInterface(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	if err := f.c.EnsureAccount(ctx, instScope.Account, "metadata"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ImportKeyPair(ctx, instScope, "deploy", []byte(metadataTestKey), nil); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, cloud.RunRequest{KeyName: "deploy", UserData: base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n")),
		InstanceTags: []cloud.Tag{{Key: "Name", Value: "web"}}, Metadata: cloud.MetadataOptions{InstanceMetadataTags: "enabled"}})
	f.c.WaitBlockJobs()
	in := f.get(t, r.Instances[0].ID)
	eni := in.Interfaces[0]
	private := netip.MustParseAddr(in.PrivateIP)

	res := f.c.MetadataResolver()
	got, err := res.InstanceFor(private, eni.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.InstanceID != in.ID || got.AccountID != instScope.Account || got.AvailabilityZone != "us-east-1a" || got.AvailabilityZoneID == "" ||
		got.PrivateIPv4 != private || got.PublicKey != metadataTestKey || string(got.UserData) != "#!/bin/sh\necho hi\n" ||
		got.Tags["Name"] != "web" || got.BlockDevices["root"] != "/dev/xvda" || got.BlockDevices["ami"] != "xvda" {
		t.Fatalf("metadata instance %+v", got)
	}
	if len(got.Interfaces) != 1 || got.Interfaces[0].MAC != eni.MACAddress || got.Interfaces[0].SubnetCIDR.String() != "10.0.1.0/24" ||
		len(got.Interfaces[0].VpcCIDRs) != 1 || got.Interfaces[0].VpcCIDRs[0].String() != "10.0.0.0/16" || len(got.SecurityGroups) != 1 {
		t.Fatalf("interfaces %+v groups %v", got.Interfaces, got.SecurityGroups)
	}

	// The source address must be the interface's own; unknown interfaces are nobody.
	for _, tc := range []struct {
		addr  string
		iface string
	}{{"10.0.1.250", eni.ID}, {in.PrivateIP, "eni-0123456789abcdef0"}, {in.PrivateIP, ""}} {
		if _, err := res.InstanceFor(netip.MustParseAddr(tc.addr), tc.iface); !errors.Is(err, imds.ErrUnknownCaller) {
			t.Errorf("%s on %q: %v, want ErrUnknownCaller", tc.addr, tc.iface, err)
		}
	}

	// Through the real handler: the seeds' region command reads the zone.
	h := imds.NewHandler(res, nil, time.Now)
	req := httptest.NewRequest(http.MethodGet, "http://169.254.169.254/latest/meta-data/placement/availability-zone", nil)
	req.RemoteAddr = in.PrivateIP + ":40000"
	req = req.WithContext(imds.WithInterface(req.Context(), eni.ID))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	if w.Code != http.StatusOK || strings.TrimSpace(string(body)) != "us-east-1a" {
		t.Fatalf("availability-zone: %d %q", w.Code, body)
	}

	// A terminated instance no longer answers for its interface.
	if _, err := f.c.TerminateInstances(ctx, instScope, []string{in.ID}); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if _, err := res.InstanceFor(private, eni.ID); !errors.Is(err, imds.ErrUnknownCaller) {
		t.Errorf("after terminate: %v, want ErrUnknownCaller", err)
	}
}
