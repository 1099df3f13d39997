package vpcnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A small nfnetlink_log (NFLOG) client: enough to bind one group in a network
// namespace and read the packets nftables' log statement sends it. (The usual
// library, florianl/go-nflog, is not available to this build.)

// nfnetlink_log's constants (linux/netfilter/nfnetlink_log.h).
const (
	nfnlSubsysULOG  = 4
	nfulnlMsgPacket = 0
	nfulnlMsgConfig = 1

	nfulaCfgCmd  = 1
	nfulaCfgMode = 2

	nfulnlCfgCmdBind = 1
	nfulnlCopyPacket = 2

	nfulaTimestamp     = 3
	nfulaIfindexIndev  = 4
	nfulaIfindexOutdev = 5
	nfulaPayload       = 9
	nfulaPrefix        = 10
)

// nflogMessage is one logged packet as NFLOG delivers it.
type nflogMessage struct {
	Prefix        string
	InDev, OutDev uint32    // interface indexes, 0 when none
	Time          time.Time // zero when the kernel gave no timestamp
	Payload       []byte    // the packet from its network header, up to the snap length
}

// nflogConn is a netlink socket bound to one NFLOG group.
type nflogConn struct {
	c     *netlink.Conn
	group uint16
}

// openNFLOG binds an NFLOG group in the network namespace at nsPath, copying
// up to copyRange bytes of each packet.
func openNFLOG(nsPath string, group uint16, copyRange uint32) (*nflogConn, error) {
	ns, err := os.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		return nil, fmt.Errorf("nflog: netlink socket in %s: %w", nsPath, err)
	}
	n := &nflogConn{c: c, group: group}
	// A burst of packets must not overflow the socket before it is read.
	_ = c.SetReadBuffer(4 << 20)
	mode := make([]byte, 6)
	binary.BigEndian.PutUint32(mode, copyRange)
	mode[4] = nfulnlCopyPacket
	// One message binds the group and sets its copy mode, so no packet arrives
	// before the acknowledgement.
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(nfulaCfgCmd, []byte{nfulnlCfgCmdBind})
	ae.Bytes(nfulaCfgMode, mode)
	attrs, err := ae.Encode()
	if err == nil {
		_, err = c.Execute(netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysULOG<<8 | nfulnlMsgConfig), Flags: netlink.Request | netlink.Acknowledge},
			Data:   append(nfgenHeader(group), attrs...),
		})
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("nflog: binding group %d in %s: %w", group, nsPath, err)
	}
	return n, nil
}

// nfgenHeader is struct nfgenmsg: family (unspecified), version 0, the group.
func nfgenHeader(group uint16) []byte {
	h := []byte{unix.AF_UNSPEC, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], group)
	return h
}

// receive blocks until packets arrive; lost reports that the socket overflowed
// and the kernel dropped some (the caller goes on reading).
func (n *nflogConn) receive() (msgs []nflogMessage, lost bool, err error) {
	raw, err := n.c.Receive()
	if err != nil {
		var op *netlink.OpError
		if errors.As(err, &op) && errors.Is(op.Err, unix.ENOBUFS) {
			return nil, true, nil
		}
		return nil, false, err
	}
	for _, m := range raw {
		if m.Header.Type != netlink.HeaderType(nfnlSubsysULOG<<8|nfulnlMsgPacket) {
			continue
		}
		msg, err := parseNFLOG(m.Data)
		if err != nil {
			continue // one unreadable message does not stop the others
		}
		msgs = append(msgs, msg)
	}
	return msgs, false, nil
}

// close closes the socket, which ends a blocked receive; the kernel unbinds the
// group when its socket goes. (An explicit unbind would wait for the blocked
// receive: the netlink connection serializes requests with reads.)
func (n *nflogConn) close() error { return n.c.Close() }

// parseNFLOG reads a packet message: struct nfgenmsg, then attributes.
func parseNFLOG(data []byte) (nflogMessage, error) {
	var m nflogMessage
	if len(data) < 4 {
		return m, errors.New("nflog: short message")
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return m, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case nfulaPrefix:
			m.Prefix = ad.String()
		case nfulaPayload:
			m.Payload = ad.Bytes()
		case nfulaIfindexIndev:
			m.InDev = ad.Uint32()
		case nfulaIfindexOutdev:
			m.OutDev = ad.Uint32()
		case nfulaTimestamp:
			if b := ad.Bytes(); len(b) == 16 {
				sec, usec := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
				m.Time = time.Unix(int64(sec), int64(usec)*1000)
			}
		}
	}
	return m, ad.Err()
}

// ipPacket is what a flow record needs of a packet's headers.
type ipPacket struct {
	Src, Dst         netip.Addr
	Protocol         uint8
	Length           int // the whole IP packet's, from its header (the copy may be shorter)
	SrcPort, DstPort uint16
	TCPFlags         uint8
	ICMPType         uint8
	ICMPCode         uint8
}

// parseIP reads the IPv4 or IPv6 header of a packet and its TCP or UDP ports,
// or ICMP type and code. Later fragments carry no transport header: no ports.
func parseIP(b []byte) (ipPacket, bool) {
	var p ipPacket
	if len(b) < 1 {
		return p, false
	}
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0x0f) * 4
		if len(b) < 20 || ihl < 20 || len(b) < ihl {
			return p, false
		}
		p.Length = int(binary.BigEndian.Uint16(b[2:]))
		p.Protocol = b[9]
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		if binary.BigEndian.Uint16(b[6:])&0x1fff == 0 {
			l4 = b[ihl:]
		}
	case 6:
		if len(b) < 40 {
			return p, false
		}
		p.Length = 40 + int(binary.BigEndian.Uint16(b[4:]))
		p.Protocol = b[6]
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:]
	default:
		return p, false
	}
	switch p.Protocol {
	case unix.IPPROTO_TCP:
		if len(l4) >= 14 {
			p.SrcPort, p.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
			p.TCPFlags = l4[13] & 0x3f // FIN, SYN, RST, PSH, ACK, URG: the flags AWS records
		}
	case unix.IPPROTO_UDP:
		if len(l4) >= 4 {
			p.SrcPort, p.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		}
	case unix.IPPROTO_ICMP, unix.IPPROTO_ICMPV6:
		if len(l4) >= 2 {
			p.ICMPType, p.ICMPCode = l4[0], l4[1]
		}
	}
	return p, true
}
