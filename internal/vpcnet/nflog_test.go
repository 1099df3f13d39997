package vpcnet

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
)

// ipv4 builds an IPv4 header (20 bytes) for a packet of total length with a
// transport header after it.
func ipv4(proto byte, src, dst string, total int, fragOffset uint16, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(total))
	binary.BigEndian.PutUint16(b[6:], fragOffset)
	b[8], b[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, l4...)
}

func TestParseIP(t *testing.T) {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp, 40000)
	binary.BigEndian.PutUint16(tcp[2:], 22)
	tcp[13] = 0x12 | 0x40 // SYN+ACK, and ECE, which AWS does not record
	udp := []byte{0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0}
	v6 := make([]byte, 48)
	v6[0] = 0x60
	binary.BigEndian.PutUint16(v6[4:], 8)
	v6[6] = 17
	copy(v6[8:], netip.MustParseAddr("fd00::1").AsSlice())
	copy(v6[24:], netip.MustParseAddr("fd00::2").AsSlice())
	copy(v6[40:], udp)
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
		want ipPacket
	}{
		{"tcp", ipv4(6, "10.0.1.5", "10.0.2.7", 1500, 0, tcp), true, ipPacket{Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("10.0.2.7"), Protocol: 6, Length: 1500, SrcPort: 40000, DstPort: 22, TCPFlags: 0x12}},
		{"udp", ipv4(17, "10.0.1.5", "10.0.0.2", 61, 0, udp), true, ipPacket{Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("10.0.0.2"), Protocol: 17, Length: 61, SrcPort: 5000, DstPort: 53}},
		{"icmp", ipv4(1, "10.0.1.5", "10.0.2.7", 84, 0, []byte{8, 0, 0, 0}), true, ipPacket{Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("10.0.2.7"), Protocol: 1, Length: 84, ICMPType: 8}},
		{"later fragment", ipv4(17, "10.0.1.5", "10.0.0.2", 100, 185, udp), true, ipPacket{Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("10.0.0.2"), Protocol: 17, Length: 100}},
		{"truncated tcp", ipv4(6, "10.0.1.5", "10.0.2.7", 40, 0, tcp[:4]), true, ipPacket{Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("10.0.2.7"), Protocol: 6, Length: 40}},
		{"ipv6 udp", v6, true, ipPacket{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), Protocol: 17, Length: 48, SrcPort: 5000, DstPort: 53}},
		{"short", []byte{0x45, 0}, false, ipPacket{}},
		{"empty", nil, false, ipPacket{}},
		{"not IP", []byte{0x20, 0, 0, 0}, false, ipPacket{}},
	} {
		got, ok := parseIP(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseNFLOG(t *testing.T) {
	payload := ipv4(17, "10.0.1.5", "10.0.0.2", 28, 0, []byte{0, 1, 0, 2, 0, 8, 0, 0})
	ts := make([]byte, 16)
	binary.BigEndian.PutUint64(ts, 1_700_000_000)
	binary.BigEndian.PutUint64(ts[8:], 250_000)
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Bytes(1, []byte{0x08, 0x00, 2, 0}) // NFULA_PACKET_HDR, ignored
	ae.Bytes(nfulaTimestamp, ts)
	ae.Uint32(nfulaIfindexIndev, 7)
	ae.Uint32(nfulaIfindexOutdev, 9)
	ae.Bytes(nfulaPayload, payload)
	ae.String(nfulaPrefix, "REJECT eni-0123456789abcdef0")
	attrs, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseNFLOG(append(nfgenHeader(1), attrs...))
	if err != nil {
		t.Fatal(err)
	}
	if m.Prefix != "REJECT eni-0123456789abcdef0" || m.InDev != 7 || m.OutDev != 9 || string(m.Payload) != string(payload) ||
		!m.Time.Equal(time.Unix(1_700_000_000, 250_000_000)) {
		t.Errorf("parsed %+v", m)
	}
	if _, err := parseNFLOG([]byte{0, 0}); err == nil {
		t.Error("a short message is an error")
	}
}
