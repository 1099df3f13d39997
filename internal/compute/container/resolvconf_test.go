package container

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/compute/host"
)

// These tests need neither root nor runc.

func TestResolvConfContent(t *testing.T) {
	for _, tc := range []struct {
		cfg  compute.DNSConfig
		want string
	}{
		{compute.DNSConfig{NameServers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Search: []string{"ec2.internal"}},
			"# Written by strato at boot from the VPC's DHCP options.\nsearch ec2.internal\nnameserver 10.0.0.2\n"},
		{compute.DNSConfig{
			NameServers: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("::ffff:192.0.2.54")},
			Search:      []string{"corp.example", "bad domain", "", "eu-west-1.compute.internal"}},
			"# Written by strato at boot from the VPC's DHCP options.\nsearch corp.example eu-west-1.compute.internal\n" +
				"nameserver 192.0.2.53\nnameserver 192.0.2.54\n"},
		{compute.DNSConfig{}, "# Written by strato at boot from the VPC's DHCP options.\n"},
	} {
		if got := string(resolvConf(tc.cfg)); got != tc.want {
			t.Errorf("resolvConf(%v) =\n%s\nwant\n%s", tc.cfg, got, tc.want)
		}
	}
}

// dnsNetwork is a compute.Network that knows DNS settings (only InstanceDNS is used).
type dnsNetwork struct {
	compute.Network
	asked string
	cfg   compute.DNSConfig
	err   error
}

func (n *dnsNetwork) InstanceDNS(ctx context.Context, vpcID string) (compute.DNSConfig, error) {
	n.asked = vpcID
	return n.cfg, n.err
}

// The primary interface's VPC decides; the file is mounted over the guest's; when the
// network cannot tell, the last boot's file stays; without a DNS-aware network the
// image's file stays.
func TestPrepareResolvConf(t *testing.T) {
	network := &dnsNetwork{cfg: compute.DNSConfig{NameServers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Search: []string{"ec2.internal"}}}
	d := &Driver{opts: compute.Options{Network: network}.WithDefaults()}
	in := &instance{id: "i-1", dir: t.TempDir(), rec: record{Record: host.Record{Spec: cloud.InstanceSpec{ID: "i-1", Interfaces: []cloud.InterfaceSpec{
		{ID: "eni-2", DeviceIndex: 1, VpcID: "vpc-other"}, {ID: "eni-1", DeviceIndex: 0, VpcID: "vpc-1"}}}}}}
	path, err := d.prepareResolvConf(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if network.asked != "vpc-1" || path != filepath.Join(in.dir, resolvConfName) {
		t.Fatalf("asked about %q, file %q", network.asked, path)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(resolvConf(network.cfg)) {
		t.Fatalf("file %q, %v", got, err)
	}
	mounts := bundle{spec: in.rec.Spec, resolv: path}.mounts()
	found := false
	for _, m := range mounts {
		if m.Destination == guestResolvConf {
			found = m.Source == path && m.Type == "bind"
		}
	}
	if !found {
		t.Fatalf("no bind mount of %s at %s in %v", path, guestResolvConf, mounts)
	}

	network.err = errors.New("no policy yet")
	if again, err := d.prepareResolvConf(context.Background(), in); err != nil || again != path {
		t.Fatalf("with the network unsure: %q, %v; want the last boot's file", again, err)
	}
	os.Remove(path)
	if none, err := d.prepareResolvConf(context.Background(), in); err != nil || none != "" {
		t.Fatalf("with the network unsure and no earlier file: %q, %v; want none", none, err)
	}

	plain := &Driver{opts: compute.Options{Network: &fakeNetwork{dir: t.TempDir()}}.WithDefaults()}
	if none, err := plain.prepareResolvConf(context.Background(), in); err != nil || none != "" {
		t.Fatalf("with a network that knows no DNS: %q, %v", none, err)
	}
	for _, m := range (bundle{spec: in.rec.Spec}).mounts() {
		if m.Destination == guestResolvConf {
			t.Fatal("resolv.conf mounted without a file")
		}
	}
}

// dnsFakeNetwork is the tests' fake network, knowing DNS settings.
type dnsFakeNetwork struct {
	*fakeNetwork
	cfg compute.DNSConfig
}

func (n *dnsFakeNetwork) InstanceDNS(ctx context.Context, vpcID string) (compute.DNSConfig, error) {
	return n.cfg, nil
}

// A running instance reads the VPC's DNS settings in /etc/resolv.conf, and a reboot
// brings changed ones (as a DHCP lease at boot does).
func TestResolvConfInGuest(t *testing.T) {
	e := newEnv(t)
	network := &dnsFakeNetwork{fakeNetwork: &fakeNetwork{dir: t.TempDir(), plugged: map[string]string{}},
		cfg: compute.DNSConfig{NameServers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Search: []string{"ec2.internal"}}}
	e.opts.Network = network
	d := e.open()
	s := spec(t, conformance.NewID(), testDisk)
	s.Interfaces[0].VpcID = "vpc-0123456789abcdef0"
	running(t, d, s)
	if out := d.mustExec(t, s.ID, "cat", "/etc/resolv.conf"); out+"\n" != string(resolvConf(network.cfg)) {
		t.Fatalf("/etc/resolv.conf inside:\n%s", out)
	}
	network.cfg = compute.DNSConfig{NameServers: []netip.Addr{netip.MustParseAddr("192.0.2.53")}, Search: []string{"corp.example"}}
	if err := d.Reboot(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if out := d.mustExec(t, s.ID, "cat", "/etc/resolv.conf"); out+"\n" != string(resolvConf(network.cfg)) {
		t.Fatalf("/etc/resolv.conf after a reboot:\n%s", out)
	}
	if err := d.Destroy(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
}
