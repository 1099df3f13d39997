package vpcnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/imds"
)

// Each plugged interface has its own metadata listener in its VPC's router: a socket on
// 169.254.169.254:80 bound (SO_BINDTODEVICE) to the interface's router-side link. A
// connection it accepts can only have come in through that link, and the anti-spoofing
// rules guarantee its source is one of that interface's addresses: so the interface ID the
// listener puts in the request context is the network's word on who is asking.

type metadataListener struct {
	vpcID, interfaceID string
	linkIndex          int
	server             *http.Server
	done               chan struct{}
}

// stop closes the listener and its connections and waits for its server to return.
func (l *metadataListener) stop() {
	l.server.Close()
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
	}
}

// Timeouts of a metadata connection: the service answers from memory, so a client slower
// than this is stuck or hostile.
const (
	metadataHeaderTimeout = 10 * time.Second
	metadataIOTimeout     = 30 * time.Second
	metadataIdleTimeout   = 60 * time.Second
)

// ensureListener starts the interface's listener unless one is already serving its
// current link.
func (n *Network) ensureListener(vpcID, interfaceID, router, link string, linkIndex int) error {
	if n.opts.Metadata == nil {
		return nil
	}
	if l := n.listeners[interfaceID]; l != nil {
		if l.vpcID == vpcID && l.linkIndex == linkIndex {
			return nil
		}
		// The link was made again (its index changed): the old socket is bound to a
		// device that is gone.
		l.stop()
		delete(n.listeners, interfaceID)
	}
	var ln net.Listener
	err := inNamespace(router, func() error {
		var err error
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var bindErr error
			if err := c.Control(func(fd uintptr) {
				bindErr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, link)
			}); err != nil {
				return err
			}
			return bindErr
		}}
		ln, err = lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(metadataAddr, 80).String())
		return err
	})
	if err != nil {
		return fmt.Errorf("metadata listener on %s: %w", link, err)
	}
	log := n.log.With("interface", interfaceID, "vpc", vpcID)
	l := &metadataListener{vpcID: vpcID, interfaceID: interfaceID, linkIndex: linkIndex, done: make(chan struct{})}
	l.server = &http.Server{
		Handler:           n.opts.Metadata,
		ReadHeaderTimeout: metadataHeaderTimeout,
		ReadTimeout:       metadataIOTimeout,
		WriteTimeout:      metadataIOTimeout,
		IdleTimeout:       metadataIdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			ctx = imds.WithInterface(ctx, interfaceID)
			return imds.WithHopLimit(ctx, hopLimitSetter(c, log))
		},
	}
	go func() {
		defer close(l.done)
		if err := l.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("vpcnet: metadata listener stopped", "err", err)
		}
	}()
	n.listeners[interfaceID] = l
	return nil
}

// hopLimitSetter sets the IP TTL of the packets c sends from now on.
func hopLimitSetter(c net.Conn, log *slog.Logger) func(ttl int) {
	return func(ttl int) {
		sc, ok := c.(syscall.Conn)
		if !ok {
			return
		}
		raw, err := sc.SyscallConn()
		if err == nil {
			var setErr error
			err = raw.Control(func(fd uintptr) {
				setErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
			})
			err = errors.Join(err, setErr)
		}
		if err != nil {
			log.Warn("vpcnet: setting the metadata response hop limit", "ttl", ttl, "err", err)
		}
	}
}

// stopListeners stops the listeners match selects (all of them for nil).
func (n *Network) stopListeners(match func(*metadataListener) bool) {
	for id, l := range n.listeners {
		if match == nil || match(l) {
			l.stop()
			delete(n.listeners, id)
		}
	}
}

// adoptListeners starts a listener for every interface already plugged into a router of
// this Prefix: the router-side link's alias names its interface.
func (n *Network) adoptListeners() error {
	if n.opts.Metadata == nil {
		return nil
	}
	entries, err := os.ReadDir(n.opts.RunDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		vpcID, ok := strings.CutPrefix(e.Name(), n.opts.Prefix+"-")
		if !ok || validateID("vpc", vpcID) != nil {
			continue
		}
		router := n.routerNamespace(vpcID)
		if ok, err := isNamespaceFile(router); err != nil || !ok {
			continue
		}
		type plugged struct {
			link, interfaceID string
			index             int
		}
		var found []plugged
		err := withHandle(router, func(h *netlink.Handle) error {
			links, err := linkList(h)
			if err != nil {
				return err
			}
			for _, l := range links {
				a := l.Attrs()
				if isInterfaceDevice(l) && validateID("eni", a.Alias) == nil {
					found = append(found, plugged{a.Name, a.Alias, a.Index})
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range found {
			errs = append(errs, n.ensureListener(vpcID, p.interfaceID, router, p.link, p.index))
		}
	}
	return errors.Join(errs...)
}
