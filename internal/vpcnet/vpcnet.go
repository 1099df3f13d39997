// Package vpcnet wires instances' network interfaces into their VPCs with network
// namespaces, veth pairs, routes and nftables: the dataplane's plumbing.
//
// The design is routed, one veth pair per network interface (as Calico does): every VPC has
// a router namespace that holds the router end of each of its interfaces, a /32 route per
// private address and the VPC's 1:1 NAT for public addresses; an "inet" namespace stands
// for the internet and holds every VPC's uplink; the host reaches the public address pool
// through one veth pair into that inet namespace. Private addresses are never routed
// outside a VPC's router, so VPCs are isolated and may overlap. Nothing has a route to the
// host's uplink. docs/network.md shows the wiring and how to inspect it.
//
// Every call is idempotent and works from what the kernel holds, not from memory: Open on
// an existing setup adopts it, so instances keep their network while strato restarts.
package vpcnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"strato/internal/netpolicy"
)

// Options configure a Network. Zero values take the defaults.
type Options struct {
	Prefix     string       // default "strato"; 1–9 lower-case letters or digits (link names have 15 chars)
	RunDir     string       // default "/run/strato/netns"
	PublicPool netip.Prefix // default 198.18.0.0/15
	Metadata   http.Handler // served to every plugged interface; nil = no metadata listener
	// FlowLogFlush writes flow log records at least this often (tests, impatient
	// operators); 0 = when each flow log's aggregation interval closes, as on AWS.
	FlowLogFlush time.Duration
	Log          *slog.Logger
}

// Default option values.
const (
	DefaultPrefix = "strato"
	DefaultRunDir = "/run/strato/netns"
)

// DefaultPublicPool is the benchmarking range (RFC 2544), routed nowhere real.
var DefaultPublicPool = netip.MustParsePrefix("198.18.0.0/15")

// Network is one strato installation's wiring. Its methods are safe for concurrent use;
// they are serialized.
type Network struct {
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	closed      bool
	listeners   map[string]*metadataListener // by interface ID
	policies    map[string]*netpolicy.VPC    // by VPC ID, as last set
	resolvers   map[string]*resolver         // by VPC ID, those running
	flowReaders map[string]*flowLogReader    // by VPC ID, those running
	dhcpServers map[string]*dhcpServer       // by VPC ID, those running
}

// stopVPCServices stops the services running for one VPC (its resolver, flow-log
// reader and DHCP server), or for every VPC when vpcID is nil. A flow-log reader
// writes out the flows it holds first.
func (n *Network) stopVPCServices(vpcID *string) {
	stopEach(n.resolvers, vpcID)
	stopEach(n.flowReaders, vpcID)
	stopEach(n.dhcpServers, vpcID)
}

func stopEach[S interface{ stop() }](running map[string]S, vpcID *string) {
	for id, s := range running {
		if vpcID == nil || *vpcID == id {
			s.stop()
			delete(running, id)
		}
	}
}

// newNetwork is a Network of opts (defaults applied) with nothing running yet.
func newNetwork(opts Options) *Network {
	return &Network{opts: opts, log: opts.Log, listeners: map[string]*metadataListener{},
		policies: map[string]*netpolicy.VPC{}, resolvers: map[string]*resolver{}, flowReaders: map[string]*flowLogReader{},
		dhcpServers: map[string]*dhcpServer{}}
}

// Open sets up (or adopts) the inet namespace, the host link and its route to the public
// pool, and restarts the metadata listeners of the interfaces already plugged.
func Open(ctx context.Context, opts Options) (*Network, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := newNetwork(opts)
	if err := ensureRunDir(opts.RunDir); err != nil {
		return nil, fmt.Errorf("vpcnet: run directory: %w", err)
	}
	if err := n.ensureInet(); err != nil {
		return nil, fmt.Errorf("vpcnet: inet namespace: %w", err)
	}
	if err := n.adoptListeners(); err != nil {
		n.stopListeners(nil)
		return nil, fmt.Errorf("vpcnet: metadata listeners: %w", err)
	}
	n.log.Info("vpcnet: network ready", "prefix", opts.Prefix, "run_dir", opts.RunDir,
		"public_pool", opts.PublicPool, "host_link", n.hostLink())
	return n, nil
}

func (opts Options) withDefaults() (Options, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.RunDir == "" {
		opts.RunDir = DefaultRunDir
	}
	if !opts.PublicPool.IsValid() {
		opts.PublicPool = DefaultPublicPool
	}
	opts.PublicPool = opts.PublicPool.Masked()
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := validatePrefix(opts.Prefix); err != nil {
		return opts, err
	}
	if !opts.PublicPool.Addr().Is4() {
		return opts, fmt.Errorf("vpcnet: public pool %s is not IPv4", opts.PublicPool)
	}
	return opts, nil
}

// Teardown removes what a network with opts.Prefix made, as Destroy does,
// without setting anything up first: for `strato net teardown`, which does not
// know (or need) the pool the network was opened with.
func Teardown(ctx context.Context, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	n := newNetwork(opts)
	return n.Destroy(ctx)
}

var errClosed = errors.New("vpcnet: network closed")

// lock takes the Network's lock for one call; it fails when the Network is closed or ctx
// is done.
func (n *Network) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return errClosed
	}
	return nil
}

// Close stops the metadata listeners. Namespaces, links, routes and tables stay, so the
// instances keep their network; a later Open adopts them.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.stopListeners(nil)
	n.stopVPCServices(nil)
	return nil
}

// Destroy removes every namespace, link, route and table this Prefix made, then closes the
// Network. Instances still running in a removed namespace keep it alive but lose their
// links.
func (n *Network) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	n.stopListeners(nil)
	n.stopVPCServices(nil)
	var errs []error
	entries, err := os.ReadDir(n.opts.RunDir)
	if err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	mine := n.opts.Prefix + "-"
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), mine)
		if !ok {
			continue
		}
		switch {
		case name == "inet":
			// Last, after the uplinks in it are gone.
		case strings.HasPrefix(name, "vpc-"):
			errs = append(errs, n.removeVPC(name))
		default:
			errs = append(errs, removeNamespace(n.nsPath(name)))
		}
	}
	errs = append(errs, n.removeHostLink(), removeNamespace(n.inetNamespace()))
	errs = append(errs, releaseRunDir(n.opts.RunDir))
	return errors.Join(errs...)
}

// InstanceNetns makes (or finds) the named network namespace of an instance, loopback up,
// and returns the path of its bind mount (for runc's config "path" and for qemu taps later).
func (n *Network) InstanceNetns(ctx context.Context, instanceID string) (string, error) {
	if err := validateID("i", instanceID); err != nil {
		return "", err
	}
	if err := n.lock(ctx); err != nil {
		return "", err
	}
	defer n.mu.Unlock()
	path := n.instanceNamespace(instanceID)
	if err := ensureNamespace(path); err != nil {
		return "", fmt.Errorf("vpcnet: namespace of %s: %w", instanceID, err)
	}
	// The sysctl is per namespace, and a container instance has no init of its own to
	// set it: systemd sets it on every Debian and Amazon Linux machine, so that ping
	// works for ec2-user (ICMP echo sockets need no privilege for these groups).
	if err := setSysctls(path, map[string]string{"ipv4.ping_group_range": "0 2147483647"}); err != nil {
		return "", fmt.Errorf("vpcnet: namespace of %s: %w", instanceID, err)
	}
	return path, nil
}

// RemoveInstanceNetns removes an instance's namespace file. Unplug its interfaces first:
// their router ends go only when the namespace itself goes, which is when its last process
// has exited.
func (n *Network) RemoveInstanceNetns(ctx context.Context, instanceID string) error {
	if err := validateID("i", instanceID); err != nil {
		return err
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.mu.Unlock()
	return removeNamespace(n.instanceNamespace(instanceID))
}

// RemoveVPC removes a VPC's router namespace with every interface plugged into it, its
// uplink and the inet routes of its public addresses. A VPC that is not there is fine.
func (n *Network) RemoveVPC(ctx context.Context, vpcID string) error {
	if err := validateID("vpc", vpcID); err != nil {
		return err
	}
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.mu.Unlock()
	return n.removeVPC(vpcID)
}

func (n *Network) removeVPC(vpcID string) error {
	n.stopListeners(func(l *metadataListener) bool { return l.vpcID == vpcID })
	n.stopVPCServices(&vpcID)
	delete(n.policies, vpcID)
	var errs []error
	errs = append(errs, n.removeRouting(vpcID))
	router := n.routerNamespace(vpcID)
	if ok, err := isNamespaceFile(router); err != nil {
		errs = append(errs, err)
	} else if ok {
		// Delete the links explicitly rather than leave it to the namespace's teardown,
		// which the kernel does later and asynchronously: the instance ends go now.
		errs = append(errs, withHandle(router, func(h *netlink.Handle) error {
			links, err := linkList(h)
			if err != nil {
				return err
			}
			for _, l := range links {
				if _, isVeth := l.(*netlink.Veth); isVeth || isInterfaceDevice(l) {
					if err := h.LinkDel(l); err != nil && !isNotFound(err) {
						return err
					}
				}
			}
			return nil
		}))
	}
	errs = append(errs, n.removeUplink(vpcID), removeNamespace(router))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vpcnet: removing %s: %w", vpcID, err)
	}
	return nil
}
