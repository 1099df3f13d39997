package vpcnet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// Probes: real TCP, UDP and ICMP between namespaces, each answering whether a request
// and its reply got through.

// listenUDPEcho answers every datagram on port in netns with the same bytes.
func listenUDPEcho(t testing.TB, netns string, port int) {
	t.Helper()
	var conn *net.UDPConn
	if err := inNamespace(netns, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		return err
	}); err != nil {
		t.Fatalf("UDP listener in %s: %v", nsLabel(netns), err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = conn.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
}

// udpEcho sends a datagram from netns to to and waits for its echo.
func udpEcho(netns string, to netip.AddrPort, wait time.Duration) error {
	return inNamespace(netns, func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
		if err != nil {
			return err
		}
		defer c.Close()
		msg := []byte(fmt.Sprintf("probe %d", time.Now().UnixNano()))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if !bytes.Equal(buf[:n], msg) {
			return fmt.Errorf("echo %q, want %q", buf[:n], msg)
		}
		return nil
	})
}

var pingSequence uint16

// ping sends one ICMP echo request from netns to to and waits for the reply.
func ping(netns string, to netip.Addr, wait time.Duration) error {
	return inNamespace(netns, func() error {
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		pingSequence++
		id, seq := uint16(time.Now().UnixNano()), pingSequence
		req := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), 's', 't', 'r', 'a', 't', 'o'}
		binary.BigEndian.PutUint16(req[2:], internetChecksum(req))
		if _, err := c.WriteTo(req, &net.IPAddr{IP: to.AsSlice()}); err != nil {
			return err
		}
		deadline := time.Now().Add(wait)
		buf := make([]byte, 1500)
		for {
			c.SetReadDeadline(deadline)
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			if n >= 8 && buf[0] == 0 && from.(*net.IPAddr).IP.Equal(to.AsSlice()) &&
				binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == seq {
				return nil
			}
		}
	})
}

// internetChecksum is RFC 1071's checksum of b (ICMP messages, IPv4 headers); over
// data that carries a right checksum it is 0.
func internetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// probe is one connection attempt of the matrix.
type probe struct {
	proto string // "tcp", "udp", "icmp"
	port  uint16
}

var (
	tcp  = func(port uint16) probe { return probe{"tcp", port} }
	udp  = func(port uint16) probe { return probe{"udp", port} }
	icmp = probe{proto: "icmp"}
)

func (p probe) String() string {
	if p.proto == "icmp" {
		return "icmp echo"
	}
	return fmt.Sprintf("%s/%d", p.proto, p.port)
}

// try runs the probe from netns to addr; a drop shows as a timeout of wait.
func (p probe) try(netns string, to netip.Addr, wait time.Duration) error {
	switch p.proto {
	case "tcp":
		return dialFrom(netns, addrPort(to, p.port), wait)
	case "udp":
		return udpEcho(netns, addrPort(to, p.port), wait)
	default:
		return ping(netns, to, wait)
	}
}

// expect checks a probe passes (want) or not, quickly: a pass is retried for up to
// 2 s (a dropped first SYN or datagram would otherwise wait for a retransmission).
func expect(t *testing.T, label, netns string, to netip.Addr, p probe, want bool) {
	t.Helper()
	if !want {
		if err := p.try(netns, to, 700*time.Millisecond); err == nil {
			t.Errorf("%s: %v to %v passed; it must be dropped", label, p, to)
		}
		return
	}
	var err error
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if err = p.try(netns, to, 500*time.Millisecond); err == nil {
			return
		}
	}
	t.Errorf("%s: %v to %v dropped (%v); it must pass", label, p, to, err)
}

// listenEcho echoes every line of every TCP connection on port in netns.
func listenEcho(t testing.TB, netns string, port int) {
	t.Helper()
	ln := listenIn(t, netns, port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1500)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// openEcho connects from netns to an echo listener and checks one round trip.
func openEcho(t testing.TB, netns string, to netip.AddrPort) net.Conn {
	t.Helper()
	var c net.Conn
	if err := inNamespace(netns, func() error {
		var err error
		c, err = net.DialTimeout("tcp4", to.String(), 2*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connecting to %v: %v", to, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := echoRoundTrip(c, 2*time.Second); err != nil {
		t.Fatalf("first round trip to %v: %v", to, err)
	}
	return c
}

// echoRoundTrip sends a line on an echo connection and waits for it to come back.
func echoRoundTrip(c net.Conn, wait time.Duration) error {
	msg := []byte(fmt.Sprintf("ping %d\n", time.Now().UnixNano()))
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, 0, len(msg))
	buf := make([]byte, len(msg))
	for len(got) < len(msg) {
		n, err := c.Read(buf[:len(msg)-len(got)])
		if err != nil {
			return err
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}
