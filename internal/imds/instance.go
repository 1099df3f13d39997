// Package imds is the instance metadata service: the HTTP tree an instance reads at
// 169.254.169.254 (and [fd00:ec2::254]), with IMDSv1 and the IMDSv2 session tokens.
//
// The package is pure HTTP. Who is asking is decided by the network — the dataplane tells
// which instance interface the packet arrived on — never by anything in the request, so the
// handler asks a Resolver for the caller's Instance from the connection's remote address
// and the interface name the dataplane put in the request context (WithInterface).
package imds

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Instance is everything the metadata tree shows about one instance, as a snapshot taken
// when the request arrives.
type Instance struct {
	AccountID     string
	InstanceID    string
	ImageID       string
	LaunchIndex   int
	InstanceType  string
	ReservationID string
	Architecture  string // x86_64 or arm64
	KernelID      string // empty when none
	RamdiskID     string // empty when none
	PendingTime   time.Time

	Region             string
	AvailabilityZone   string
	AvailabilityZoneID string

	// PrivateHostname is the instance's private DNS name (hostname and local-hostname);
	// PublicHostname is empty when the instance has no public DNS name.
	PrivateHostname string
	PublicHostname  string
	PrivateIPv4     netip.Addr
	PublicIPv4      netip.Addr // invalid (zero) when the instance has none

	// Interfaces in device-number order; the one with DeviceIndex 0 is the primary
	// interface, whose MAC is meta-data/mac.
	Interfaces []Interface

	// BlockDevices maps the names of block-device-mapping/ (ami, root, ebsN, ephemeralN)
	// to the device name the instance sees (e.g. "/dev/xvda", "sdb").
	BlockDevices map[string]string

	// KeyName and PublicKey are the launch key pair; PublicKey is the OpenSSH line.
	// Both empty when the instance was launched without a key.
	KeyName   string
	PublicKey string

	// UserData is the decoded user data; nil means none (user-data answers 404).
	UserData []byte

	// Tags are shown under tags/instance/ only when Options.InstanceMetadataTags is enabled.
	Tags map[string]string

	SecurityGroups []string // names, of the primary interface

	Options Options
}

// Options are the instance's metadata options (ModifyInstanceMetadataOptions).
type Options struct {
	HttpTokens              string // "optional" or "required"
	HttpEndpoint            string // "enabled" or "disabled"
	HttpPutResponseHopLimit int    // 1–64; 0 is taken as AWS's default of 1
	InstanceMetadataTags    string // "enabled" or "disabled"
}

// Interface is one network interface as network/interfaces/macs/MAC/ shows it.
type Interface struct {
	MAC                string
	DeviceIndex        int
	InterfaceID        string
	OwnerID            string
	PrivateHostname    string
	PrivateIPv4s       []netip.Addr // primary first
	PublicIPv4s        []netip.Addr // public addresses associated with PrivateIPv4s
	PublicHostname     string
	IPv4Prefixes       []netip.Prefix
	SecurityGroupIDs   []string
	SecurityGroupNames []string
	SubnetID           string
	SubnetCIDR         netip.Prefix
	VpcID              string
	VpcCIDRs           []netip.Prefix // primary first
	// PublicIPv4For maps a public address to the private address it is associated with
	// (ipv4-associations/).
	PublicIPv4For map[netip.Addr]netip.Addr
}

// Resolver finds the instance a request came from. remoteAddr is the packet's source
// address and iface the interface it arrived on (empty when the listener cannot tell).
// It returns ErrUnknownCaller when no instance owns that address.
type Resolver interface {
	InstanceFor(remoteAddr netip.Addr, iface string) (*Instance, error)
}

// ErrUnknownCaller is what a Resolver returns for an address no instance owns.
var ErrUnknownCaller = errors.New("imds: no instance owns this address")

type ctxKey int

const (
	ifaceKey ctxKey = iota
	hopLimitKey
)

// WithInterface records on a connection's context the interface its packets arrived on;
// the dataplane sets it (for example from http.Server.ConnContext) and the handler passes it
// to the Resolver.
func WithInterface(ctx context.Context, iface string) context.Context {
	return context.WithValue(ctx, ifaceKey, iface)
}

func interfaceFrom(ctx context.Context) string {
	s, _ := ctx.Value(ifaceKey).(string)
	return s
}

// WithHopLimit records on a connection's context the function that sets the IP TTL (IPv6
// hop limit) of the packets written on that connection. The handler calls it with the
// instance's HttpPutResponseHopLimit before it answers a token PUT, so a token cannot be
// fetched from further away than the instance allows (the container or proxy case AWS
// guards against). The dataplane implements it with setsockopt(IP_TTL / IPV6_UNICAST_HOPS)
// on the accepted connection; without it the limit is not enforced.
func WithHopLimit(ctx context.Context, set func(ttl int)) context.Context {
	return context.WithValue(ctx, hopLimitKey, set)
}

// HopLimit is the IP TTL the responses to a token PUT must carry for inst.
func HopLimit(inst *Instance) int {
	if inst.Options.HttpPutResponseHopLimit <= 0 {
		return 1
	}
	return inst.Options.HttpPutResponseHopLimit
}
