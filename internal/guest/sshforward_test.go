package guest

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// echoOnce listens on loopback and echoes what one connection sends until EOF.
func echoOnce(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	return ln.Addr().String()
}

// What `ssh -J` needs from a jump host: a direct-tcpip channel to another address,
// carrying bytes both ways and passing on the client's end of input.
func TestSSHForwardsTCPForJumpHosts(t *testing.T) {
	f := startSSH(t)
	c := f.client(t)
	conn, err := c.Dial("tcp", echoOnce(t))
	if err != nil {
		t.Fatalf("direct-tcpip: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("through the jump host")); err != nil {
		t.Fatal(err)
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "through the jump host" {
		t.Fatalf("echo through the channel: %q, %v", got, err)
	}
}

func TestSSHHonoursNoPortForwarding(t *testing.T) {
	f := startSSH(t)
	keys := filepath.Join(f.root, "home", f.user, ".ssh", "authorized_keys")
	data, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, append([]byte("no-port-forwarding "), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	if conn, err := c.Dial("tcp", echoOnce(t)); err == nil {
		conn.Close()
		t.Fatal("a no-port-forwarding key forwarded a connection")
	}
	// The key still logs in for sessions.
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("session with a no-port-forwarding key: %v", err)
	}
	s.Close()
}
