package vpcnet

import (
	"testing"

	"github.com/miekg/dns"
)

// The zone's answers without sockets: names, case, types, empty non-terminals, the
// extended error of an outside name, and requests that are not plain queries.
func TestDNSZoneAnswers(t *testing.T) {
	policy := dnsPolicy("vpc-1", true,
		record("ip-10-0-1-5.us-west-2.compute.internal", "10.0.1.5"),
		record("ec2-198-18-0-5.us-west-2.compute.amazonaws.com", "10.0.1.5"))
	policy.DNS.DomainName = "us-west-2.compute.internal"
	z := newDNSZone(&policy)
	ask := func(name string, qtype uint16, edns bool) *dns.Msg {
		req := new(dns.Msg)
		req.SetQuestion(name, qtype)
		if edns {
			req.SetEdns0(1232, false)
		}
		return z.answer(req)
	}
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int
		n     int
	}{
		{"Ip-10-0-1-5.US-west-2.compute.internal.", dns.TypeA, dns.RcodeSuccess, 1},
		{"ip-10-0-1-5.us-west-2.compute.internal.", dns.TypeANY, dns.RcodeSuccess, 1},
		{"ip-10-0-1-5.us-west-2.compute.internal.", dns.TypeAAAA, dns.RcodeSuccess, 0},
		{"ip-10-0-1-5.us-west-2.compute.internal.", dns.TypeMX, dns.RcodeSuccess, 0},
		{"us-west-2.compute.internal.", dns.TypeA, dns.RcodeSuccess, 0}, // has names below
		{"ip-10-0-1-9.us-west-2.compute.internal.", dns.TypeA, dns.RcodeNameError, 0},
		{"ip-10-0-1-5.ec2.internal.", dns.TypeA, dns.RcodeNameError, 0},
		{"5.1.0.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, 2},
		{"5.1.0.10.in-addr.arpa.", dns.TypeA, dns.RcodeSuccess, 0},
		{"1.0.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, 0},
		{"6.1.0.10.in-addr.arpa.", dns.TypePTR, dns.RcodeNameError, 0},
		{"8.8.8.8.in-addr.arpa.", dns.TypePTR, dns.RcodeServerFailure, 0},
		{"amazon.com.", dns.TypeA, dns.RcodeServerFailure, 0},
	} {
		resp := ask(c.name, c.qtype, false)
		if resp.Rcode != c.rcode || len(resp.Answer) != c.n {
			t.Errorf("%s %s: %s with %d answers, want %s with %d", dns.TypeToString[c.qtype], c.name,
				dns.RcodeToString[resp.Rcode], len(resp.Answer), dns.RcodeToString[c.rcode], c.n)
		}
		if len(resp.Answer) > 0 && resp.Answer[0].Header().Name != c.name {
			t.Errorf("%s: answer named %q, want the question's spelling", c.name, resp.Answer[0].Header().Name)
		}
		if !resp.RecursionAvailable || !resp.RecursionDesired || resp.Authoritative {
			t.Errorf("%s: flags ra=%v rd=%v aa=%v", c.name, resp.RecursionAvailable, resp.RecursionDesired, resp.Authoritative)
		}
	}
	resp := ask("amazon.com.", dns.TypeA, true)
	opt := resp.IsEdns0()
	if opt == nil || len(opt.Option) != 1 {
		t.Fatalf("SERVFAIL to an EDNS query without an extended error: %v", resp)
	}
	if ede, ok := opt.Option[0].(*dns.EDNS0_EDE); !ok || ede.InfoCode != dns.ExtendedErrorCodeNoReachableAuthority {
		t.Fatalf("extended error %v", opt.Option[0])
	}
	notify := new(dns.Msg)
	notify.SetNotify("ec2.internal.")
	if resp := z.answer(notify); resp.Rcode != dns.RcodeNotImplemented {
		t.Fatalf("NOTIFY: %s", dns.RcodeToString[resp.Rcode])
	}
	empty := new(dns.Msg)
	if resp := z.answer(empty); resp.Rcode != dns.RcodeFormatError {
		t.Fatalf("no question: %s", dns.RcodeToString[resp.Rcode])
	}
}
