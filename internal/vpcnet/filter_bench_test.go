package vpcnet

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"strato/internal/netpolicy"
)

// bigGroupPolicy: a and b in one group of rules ingress rules (TCP ports from /24s, every
// tenth rule with three peers) plus, when open, one that lets a reach b on port 7000.
func bigGroupPolicy(vpc string, rules int, open bool, a, b *instance) netpolicy.VPC {
	var ingress []netpolicy.Rule
	for i := range rules {
		peers := []string{fmt.Sprintf("172.%d.%d.0/24", 16+i/256%16, i%256)}
		if i%10 == 0 {
			peers = append(peers, fmt.Sprintf("192.168.%d.0/24", i%256), fmt.Sprintf("100.64.%d.%d", i/256, i%256))
		}
		ingress = append(ingress, tcpRule(10000+i, peers...))
	}
	if open {
		ingress = append(ingress, tcpRule(7000, a.ip.String()))
	}
	p := newPolicy(vpc, netpolicy.SecurityGroup{ID: sgWeb, Ingress: ingress, Egress: allowEverything()})
	addInterface(&p, a, sgWeb)
	addInterface(&p, b, sgWeb)
	return p
}

// One SetVPC of a VPC whose group has 10 or 1,000 rules (authorizing or revoking one of
// them), and the time from SetVPC returning to the first connection the new rule allows.
func BenchmarkSetVPCRuleChange(b *testing.B) {
	for _, rules := range []int{10, 1000} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) { benchmarkRuleChange(b, rules) })
	}
}

func benchmarkRuleChange(b *testing.B, rules int) {
	f := newFixture(b, nil)
	vpc := newID(b, "vpc")
	x := f.plugInstance(vpc, subnetA, netip.MustParseAddr("10.0.1.10"))
	y := f.plugInstance(vpc, subnetB, netip.MustParseAddr("10.0.2.10"))
	listenTCP(b, y.netns, 7000)
	closed := bigGroupPolicy(vpc, rules, false, x, y)
	open := bigGroupPolicy(vpc, rules, true, x, y)
	f.setVPC(closed)
	var updates, firstConnection []time.Duration
	for b.Loop() {
		start := time.Now()
		f.setVPC(open)
		returned := time.Now()
		if err := dialFrom(x.netns, addrPort(y.ip, 7000), time.Second); err != nil {
			b.Fatalf("the first connection after the rule was added: %v", err)
		}
		firstConnection = append(firstConnection, time.Since(returned))
		updates = append(updates, returned.Sub(start))
		start = time.Now()
		f.setVPC(closed)
		updates = append(updates, time.Since(start))
	}
	b.ReportMetric(float64(median(updates).Microseconds())/1000, "ms/SetVPC")
	b.ReportMetric(float64(median(firstConnection).Microseconds()), "µs-to-first-connection")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
