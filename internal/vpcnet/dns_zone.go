package vpcnet

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"strato/internal/netpolicy"
)

// What the VPC resolver answers, decided from the policy alone (no sockets here, so the
// rules are tested without a namespace).
//
//   - a name of Records: its A record; any other type is NODATA (NOERROR, no answer), as
//     for AAAA of an instance without IPv6 on AWS;
//   - the reverse name (in-addr.arpa) of a record's address: PTR to its names;
//   - another name under the VPC's own domains (ec2.internal, *.compute.internal,
//     EC2's public-name domains, the DHCP options' domain names) or another reverse
//     name of the VPC's CIDRs: NXDOMAIN, at once;
//   - anything else would need the internet, which strato does not have: SERVFAIL at
//     once, with an extended DNS error (RFC 8914) saying no authority is reachable.
//     SERVFAIL rather than REFUSED: it is what a recursive resolver answers when it cannot
//     reach the authorities (Route 53 Resolver does so), glibc turns it into
//     EAI_AGAIN ("Temporary failure in name resolution", what programs expect offline)
//     without waiting, and it says "try later" rather than REFUSED's "I will not serve
//     you", which glibc reports as a permanent error. (musl's stub ignores both codes and
//     waits for its timeout; no answer short of a false NXDOMAIN avoids that.)
//
// Flags as Route 53 Resolver sets them: RA (it is a recursive resolver), RD copied,
// never AA.

// dnsTTL is the TTL of every answer: EC2's private names are 60 seconds too.
const dnsTTL = 60

// resolverLinkLocal is the resolver's address in every VPC (Nitro instances use it;
// so may anything that does not know the VPC's CIDR).
var resolverLinkLocal = netip.MustParseAddr("169.254.169.253")

// vpcDomains are the domains EC2 names instances in, whatever the DHCP options say: private
// names (ip-10-0-1-5.ec2.internal in us-east-1, ip-….REGION.compute.internal elsewhere)
// and public names (ec2-198-18-0-5.compute-1.amazonaws.com in us-east-1,
// ec2-….REGION.compute.amazonaws.com elsewhere).
var vpcDomains = []string{"ec2.internal", "compute.internal", "compute-1.amazonaws.com", "compute.amazonaws.com"}

// dnsZone is one VPC's names, built once per policy and then only read.
type dnsZone struct {
	addrs   map[string][]netip.Addr // lower-case name → its addresses
	ptrs    map[string][]string     // reverse name → names, each with the final dot
	exists  map[string]bool         // names that have records below them (empty non-terminals)
	domains []string                // the VPC's own domains: unknown names under them are NXDOMAIN
	cidrs   []netip.Prefix          // reverse names of these addresses are the VPC's
}

// newDNSZone builds the zone of a policy's DNS records.
func newDNSZone(policy *netpolicy.VPC) *dnsZone {
	z := &dnsZone{addrs: map[string][]netip.Addr{}, ptrs: map[string][]string{}, exists: map[string]bool{},
		cidrs: policy.CIDRs}
	z.domains = append(z.domains, vpcDomains...)
	for _, d := range strings.Fields(policy.DNS.DomainName) {
		if d = canonicalName(d); d != "" {
			z.domains = append(z.domains, d)
		}
	}
	for _, r := range policy.DNS.Records {
		name, addr := canonicalName(r.Name), r.Addr.Unmap()
		if name == "" || !addr.Is4() {
			continue
		}
		z.addrs[name] = appendNew(z.addrs[name], addr)
		reverse := canonicalName(mustReverse(addr))
		z.ptrs[reverse] = appendNew(z.ptrs[reverse], dns.Fqdn(name))
		z.addAncestors(name)
		z.addAncestors(reverse)
	}
	return z
}

// addAncestors marks the names between name and its domain as existing, so that asking
// for them is NODATA rather than NXDOMAIN (an NXDOMAIN there would tell a caching resolver
// that the records below do not exist either: RFC 8020).
func (z *dnsZone) addAncestors(name string) {
	for {
		_, parent, ok := strings.Cut(name, ".")
		if !ok || parent == "" {
			return
		}
		z.exists[parent] = true
		name = parent
	}
}

// answer is the reply to req.
func (z *dnsZone) answer(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(dns.DefaultMsgSize, false)
	}
	if req.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	name := canonicalName(q.Name)
	header := func(rrtype uint16) dns.RR_Header {
		// The question's own spelling: clients that randomize case (0x20) check it.
		return dns.RR_Header{Name: q.Name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: dnsTTL}
	}
	if addrs, ok := z.addrs[name]; ok {
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			for _, a := range addrs {
				m.Answer = append(m.Answer, &dns.A{Hdr: header(dns.TypeA), A: a.AsSlice()})
			}
		}
		return m
	}
	if names, ok := z.ptrs[name]; ok {
		if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
			for _, target := range names {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: header(dns.TypePTR), Ptr: target})
			}
		}
		return m
	}
	switch {
	case z.exists[name]:
	case z.ours(name):
		m.Rcode = dns.RcodeNameError
	default:
		m.Rcode = dns.RcodeServerFailure
		if opt := m.IsEdns0(); opt != nil {
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority,
				ExtraText: "strato has no internet: only the VPC's names resolve"})
		}
	}
	return m
}

// ours reports whether name is in one of the VPC's domains or is the reverse name of an
// address of the VPC.
func (z *dnsZone) ours(name string) bool {
	for _, d := range z.domains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	if addr, ok := reverseAddr(name); ok {
		for _, p := range z.cidrs {
			if p.Contains(addr) {
				return true
			}
		}
	}
	return false
}

// reverseAddr is the address of a complete in-addr.arpa name.
func reverseAddr(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	labels := strings.Split(rest, ".")
	if len(labels) != 4 {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0])
	return addr, err == nil
}

// mustReverse is the in-addr.arpa name of an IPv4 address.
func mustReverse(addr netip.Addr) string {
	name, err := dns.ReverseAddr(addr.String())
	if err != nil {
		panic(err) // an IPv4 address always has one
	}
	return name
}

// canonicalName is name in lower case without its final dot: how names are compared
// (DNS names are case-insensitive).
func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

func appendNew[T comparable](list []T, v T) []T {
	for _, have := range list {
		if have == v {
			return list
		}
	}
	return append(list, v)
}
