package vpcnet

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

var testLease = dhcpLease{addr: netip.MustParseAddr("10.0.1.5"), subnet: netip.MustParsePrefix("10.0.1.0/24"),
	nameServers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, domain: "ec2.internal", hostname: "ip-10-0-1-5"}

// checkLease says what an offer or acknowledgement gets wrong.
func checkLease(t *testing.T, what string, m *dhcpv4.DHCPv4, kind dhcpv4.MessageType) {
	t.Helper()
	if m == nil {
		t.Fatalf("%s: no answer", what)
	}
	got := map[string]any{
		"type": m.MessageType(), "yiaddr": m.YourIPAddr.String(), "router": m.Router(), "mask": m.SubnetMask().String(),
		"dns": m.DNS(), "domain": m.DomainName(), "hostname": m.HostName(), "lease": m.IPAddressLeaseTime(0),
		"server": m.ServerIdentifier().String(), "broadcast": m.BroadcastAddress().String(),
	}
	want := map[string]any{
		"type": kind, "yiaddr": "10.0.1.5", "router": []net.IP{net.IPv4(10, 0, 1, 1).To4()}, "mask": "ffffff00",
		"dns": []net.IP{net.IPv4(10, 0, 0, 2).To4()}, "domain": "ec2.internal", "hostname": "ip-10-0-1-5", "lease": time.Hour,
		"server": "10.0.1.1", "broadcast": "10.0.1.255",
	}
	for k, w := range want {
		if g := got[k]; !equalish(g, w) {
			t.Errorf("%s: %s = %v, want %v", what, k, g, w)
		}
	}
}

func equalish(a, b any) bool {
	ai, aok := a.([]net.IP)
	bi, bok := b.([]net.IP)
	if aok && bok {
		if len(ai) != len(bi) {
			return false
		}
		for i := range ai {
			if !ai[i].Equal(bi[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestDHCPAnswers(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	discover, err := dhcpv4.NewDiscovery(mac)
	if err != nil {
		t.Fatal(err)
	}
	offer, err := testLease.reply(discover)
	if err != nil {
		t.Fatal(err)
	}
	checkLease(t, "offer", offer, dhcpv4.MessageTypeOffer)

	request, err := dhcpv4.NewRequestFromOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := testLease.reply(request)
	if err != nil {
		t.Fatal(err)
	}
	checkLease(t, "ack", ack, dhcpv4.MessageTypeAck)

	// Another address (an old lease) is refused; another server's offer is not ours.
	other, _ := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 0, 1, 9))))
	if nak, _ := testLease.reply(other); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("a request for another address: %v", nak)
	}
	elsewhere, _ := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 1))))
	if got, _ := testLease.reply(elsewhere); got != nil {
		t.Errorf("answered a request for another server: %v", got)
	}
	release, _ := dhcpv4.NewReplyFromRequest(request, dhcpv4.WithReply(request), dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease))
	release.OpCode = dhcpv4.OpcodeBootRequest
	if got, _ := testLease.reply(release); got != nil {
		t.Errorf("answered a release: %v", got)
	}
}

func TestLeasesOfPolicy(t *testing.T) {
	p := netpolicy.VPC{ID: "vpc-0123456789abcdef0",
		Subnets: []netpolicy.Subnet{{ID: "subnet-0123456789abcdef0", CIDR: netip.MustParsePrefix("10.0.1.0/24")}},
		Interfaces: []netpolicy.Interface{
			{ID: "eni-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0", Addresses: []netip.Addr{netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("10.0.1.6")}},
			{ID: "eni-0123456789abcdef1", SubnetID: "subnet-0123456789abcdef0"}, // no address yet
		},
		DNS: netpolicy.DNS{DomainName: "ec2.internal", NameServers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}},
	}
	leases := leasesOf(&p)
	if len(leases) != 1 {
		t.Fatalf("leases %v", leases)
	}
	got := leases[eniLink("eni-0123456789abcdef0")]
	if got.addr != testLease.addr || got.subnet != testLease.subnet || got.hostname != testLease.hostname || got.domain != testLease.domain {
		t.Errorf("lease %+v, want %+v", got, testLease)
	}
}

// A guest with a DHCP client and no address on its link (a virtual machine's) gets its
// interface's address, gateway, name servers and domain from the router, through the
// anti-spoofing rule that otherwise drops whatever an interface sends from an address
// not its own.
func TestDHCPOnTheLink(t *testing.T) {
	f := newFixture(t, nil)
	vpc := newID(t, "vpc")
	inst := f.plugInstance(vpc, subnet1, netip.MustParseAddr("10.0.1.5"))
	policy := allowAll(vpc, inst)
	policy.CIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}
	policy.DNS = netpolicy.DNS{Support: true, DomainName: "ec2.internal", NameServers: []netip.Addr{resolverBase}}
	if err := f.n.SetVPC(f.ctx, policy); err != nil {
		t.Fatal(err)
	}
	// The guest starts with no address, as a VM's kernel does.
	if err := withHandle(inst.netns, func(h *netlink.Handle) error {
		l, err := h.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		for _, a := range addrs {
			if err := h.AddrDel(l, &a); err != nil {
				return err
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var offer, ack *dhcpv4.DHCPv4
	err := inNamespace(inst.netns, func() error {
		c, err := nclient4.New("eth0", nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(2))
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lease, err := c.Request(ctx)
		if err != nil {
			return err
		}
		offer, ack = lease.Offer, lease.ACK
		return nil
	})
	if err != nil {
		t.Fatalf("DHCP from the instance: %v", err)
	}
	checkLease(t, "offer", offer, dhcpv4.MessageTypeOffer)
	checkLease(t, "ack", ack, dhcpv4.MessageTypeAck)
}
