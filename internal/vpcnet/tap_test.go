package vpcnet

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// virtioNetHeader is the header QEMU puts before each frame on a tap opened with
// IFF_VNET_HDR (struct virtio_net_hdr: no checksum offload, no segmentation).
const virtioNetHeaderLen = 10

// dhcpFrame is a DHCP request from 0.0.0.0 to the broadcast address, as a guest's
// kernel would send it on its virtio-net device: header, Ethernet, IPv4, UDP.
func dhcpFrame(mac net.HardwareAddr, payload []byte) []byte {
	udp := binary.BigEndian.AppendUint16(nil, dhcpClientPort)
	udp = binary.BigEndian.AppendUint16(udp, dhcpServerPort)
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(payload)))
	udp = append(binary.BigEndian.AppendUint16(udp, 0), payload...) // no checksum (allowed in IPv4)
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	frame := make([]byte, virtioNetHeaderLen)
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	frame = append(frame, mac...)
	frame = append(frame, 0x08, 0x00)
	return append(append(frame, ip...), udp...)
}

// dhcpReplyIn returns the DHCP message in a frame read from the tap, or nil.
func dhcpReplyIn(frame []byte) *dhcpv4.DHCPv4 {
	frame = frame[min(len(frame), virtioNetHeaderLen):]
	if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
		return nil
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != 17 || len(ip) < ihl+8 || binary.BigEndian.Uint16(ip[ihl:]) != dhcpServerPort {
		return nil
	}
	m, err := dhcpv4.FromBytes(ip[ihl+8:])
	if err != nil {
		return nil
	}
	return m
}

// A virtual machine's interface is a tap in the router: what the guest sends on it
// meets the same router as a container's veth, and its DHCP request is answered with the
// interface's address. Plugging again gives another queue of the same tap; unplugging
// removes it.
func TestTapInterfaceGetsItsAddressByDHCP(t *testing.T) {
	f := newFixture(t, nil)
	vm := &instance{id: newID(t, "i"), eni: newID(t, "eni"), vpc: newID(t, "vpc"), ip: netip.MustParseAddr("10.0.1.7"), subnet: subnet1}
	mac := net.HardwareAddr{0x02, 0, 0, 0xaa, 0xbb, 0xcc}
	plug := Plug{VpcID: vm.vpc, InterfaceID: vm.eni, MAC: mac.String(), PrivateIPs: []netip.Addr{vm.ip}, Subnet: subnet1, Gateway: subnetGateway(subnet1)}
	queue, err := f.n.PlugTap(f.ctx, plug)
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Close()
	policy := allowAll(vm.vpc, vm)
	policy.CIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}
	policy.DNS = netpolicy.DNS{Support: true, DomainName: "ec2.internal", NameServers: []netip.Addr{resolverBase}}
	if err := f.n.SetVPC(f.ctx, policy); err != nil {
		t.Fatal(err)
	}

	ask := func(queue *os.File) *dhcpv4.DHCPv4 {
		t.Helper()
		discover, err := dhcpv4.NewDiscovery(mac)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := queue.Write(dhcpFrame(mac, discover.ToBytes())); err != nil {
			t.Fatalf("writing to the tap: %v", err)
		}
		buf := make([]byte, 65536)
		queue.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, err := queue.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("no DHCP offer within 5 s")
			}
			if err != nil {
				t.Fatal(err)
			}
			if m := dhcpReplyIn(buf[:n]); m != nil && m.TransactionID == discover.TransactionID {
				return m
			}
		}
	}
	offer := ask(queue)
	if offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.Equal(net.IP(vm.ip.AsSlice())) {
		t.Fatalf("offer %v", offer)
	}

	again, err := f.n.PlugTap(f.ctx, plug)
	if err != nil {
		t.Fatal(err)
	}
	queue.Close()
	if m := ask(again); m.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("through the second queue: %v", m)
	}
	again.Close()

	if err := f.n.UnplugInterface(f.ctx, vm.vpc, vm.eni); err != nil {
		t.Fatal(err)
	}
	if err := withHandle(f.n.routerNamespace(vm.vpc), func(h *netlink.Handle) error {
		_, err := h.LinkByName(eniLink(vm.eni))
		return err
	}); !isNotFound(err) {
		t.Errorf("the tap is still in the router after unplugging (%v)", err)
	}
}
