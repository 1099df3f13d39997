package guest

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// forwardDialTimeout bounds how long a direct-tcpip channel waits for its
// connection, so a client's `ssh -J` to an address that drops packets fails
// instead of hanging.
const forwardDialTimeout = 10 * time.Second

// directTCPIP is the payload of a "direct-tcpip" channel request (RFC 4254,
// section 7.2): where to connect, and who asked.
type directTCPIP struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// forward serves a direct-tcpip channel, what `ssh -J` and `ssh -L` open through a
// jump host: it connects from the instance to the requested address and copies both
// ways until either side closes. OpenSSH's sshd allows this by default
// (AllowTcpForwarding yes), and a key with no-port-forwarding may not.
func (s *SSHServer) forward(sc *ssh.ServerConn, nch ssh.NewChannel) {
	if sc.Permissions.Extensions["no-port-forwarding"] != "" {
		_ = nch.Reject(ssh.Prohibited, "port forwarding is not permitted for this key")
		return
	}
	var req directTCPIP
	if err := ssh.Unmarshal(nch.ExtraData(), &req); err != nil || req.Port > 65535 {
		_ = nch.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	target := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	conn, err := net.DialTimeout("tcp", target, forwardDialTimeout)
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, fmt.Sprintf("connecting to %s: %v", target, err))
		return
	}
	defer conn.Close()
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	s.cfg.Logf("ssh: %s forwards to %s", sc.User(), target)
	var copies sync.WaitGroup
	copies.Add(2)
	go func() {
		defer copies.Done()
		_, _ = io.Copy(conn, ch)
		// The client is done sending: half-close, so the far end sees EOF and can answer.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	go func() {
		defer copies.Done()
		_, _ = io.Copy(ch, conn)
		_ = ch.CloseWrite()
	}()
	copies.Wait()
}
