// Command netprobe is the traffic end of the dataplane tests: copied into real instances
// (the minimal image's busybox nc has no UDP and no lasting server), it serves and dials
// TCP and UDP and says who answered and whom the answer came from, so a test sees both
// what passed and what address translation the path did.
//
//	netprobe serve tcp:8080 udp:7000 echo:9100   # background servers, until killed
//	netprobe dial tcp|udp HOST:PORT [TIMEOUT]     # prints the answer; exit 1 when none came
//	netprobe dial icmp HOST [TIMEOUT]             # one echo request; exit 1 without a reply
//
// tcp and udp ports answer "HOSTNAME REMOTE-ADDRESS\n" to each connection or datagram (the
// remote address is the one this end saw). echo ports echo lines back until the peer
// closes, for tests that hold a connection open. ICMP goes through an unprivileged ICMP
// socket (net.ipv4.ping_group_range), as iputils' ping does: busybox's ping wants root.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "dial":
		err = dial(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Println("fail:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: netprobe serve tcp:PORT|udp:PORT|echo:PORT... | netprobe dial tcp|udp HOST:PORT [TIMEOUT] | netprobe dial icmp HOST [TIMEOUT]")
	os.Exit(2)
}

func serve(specs []string) error {
	hostname, _ := os.Hostname()
	errs := make(chan error, len(specs))
	for _, spec := range specs {
		kind, port, ok := strings.Cut(spec, ":")
		if !ok {
			return fmt.Errorf("%q is not KIND:PORT", spec)
		}
		switch kind {
		case "tcp", "echo":
			l, err := net.Listen("tcp4", ":"+port)
			if err != nil {
				return err
			}
			go func() { errs <- acceptLoop(l, kind == "echo", hostname) }()
		case "udp":
			c, err := net.ListenPacket("udp4", ":"+port)
			if err != nil {
				return err
			}
			go func() { errs <- answerDatagrams(c, hostname) }()
		default:
			return fmt.Errorf("unknown kind %q", kind)
		}
	}
	return <-errs
}

func acceptLoop(l net.Listener, echo bool, hostname string) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if echo {
				io.Copy(c, c)
				return
			}
			fmt.Fprintf(c, "%s %s\n", hostname, c.RemoteAddr())
		}()
	}
}

func answerDatagrams(c net.PacketConn, hostname string) error {
	buf := make([]byte, 1500)
	for {
		_, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		c.WriteTo([]byte(fmt.Sprintf("%s %s\n", hostname, from)), from)
	}
}

func dial(args []string) error {
	if len(args) < 2 {
		usage()
	}
	timeout := 2 * time.Second
	if len(args) > 2 {
		d, err := time.ParseDuration(args[2])
		if err != nil {
			return err
		}
		timeout = d
	}
	if args[0] == "icmp" {
		return echo(args[1], timeout)
	}
	c, err := net.DialTimeout(args[0]+"4", args[1], timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if args[0] == "udp" {
		// A datagram, then the answer; a lost one in either direction is a timeout.
		if _, err := c.Write([]byte("probe\n")); err != nil {
			return err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	fmt.Print(line)
	return nil
}

// echo sends one ICMP echo request and waits for its reply.
func echo(host string, timeout time.Duration) error {
	dst, err := net.ResolveIPAddr("ip4", host)
	if err != nil {
		return err
	}
	c, err := icmp.ListenPacket("udp4", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	request, err := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: 1, Data: []byte("netprobe")}}).Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(request, &net.UDPAddr{IP: dst.IP}); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		reply, err := icmp.ParseMessage(1, buf[:n]) // 1: ICMP for IPv4
		if err == nil && reply.Type == ipv4.ICMPTypeEchoReply {
			fmt.Printf("%s echo-reply\n", from.(*net.UDPAddr).IP)
			return nil
		}
	}
}
