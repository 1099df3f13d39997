package vpcnet

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// logRule logs UDP packets to port in the namespace's output path with a flow
// log prefix, as the VPC table's log rules do on the forward path.
func logRule(table *nftables.Table, chain *nftables.Chain, port uint16, prefix string) *nftables.Rule {
	p := make([]byte, 2)
	binary.BigEndian.PutUint16(p, port)
	return &nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p},
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_SNAPLEN,
			Group: flowLogGroup, Snaplen: flowLogSnaplen, Data: []byte(prefix)},
	}}
}

func TestFlowLogRecordsFromNFLOG(t *testing.T) {
	requireRoot(t)
	ns := filepath.Join(t.TempDir(), "flowlog-router")
	if err := ensureNamespace(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeNamespace(ns); err != nil {
			t.Error(err)
		}
	})
	eni, vpc, subnet := newID(t, "eni"), newID(t, "vpc"), newID(t, "subnet")
	if err := withNftables(ns, func(c *nftables.Conn) error {
		table := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "flowlogtest"})
		chain := c.AddChain(&nftables.Chain{Table: table, Name: "out", Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter})
		c.AddRule(logRule(table, chain, 9001, "ACCEPT "+eni))
		c.AddRule(logRule(table, chain, 9002, "REJECT "+eni))
		return c.Flush()
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	all, rejects := filepath.Join(dir, "all", eni+"-all"), filepath.Join(dir, "rejects", eni+"-all")
	policy := &netpolicy.VPC{
		ID: vpc, AccountID: "123456789012", Region: "us-east-1",
		Interfaces: []netpolicy.Interface{{ID: eni, SubnetID: subnet, Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
		FlowLogs: []netpolicy.FlowLog{
			{ID: "fl-00000000000000001", ResourceID: vpc, TrafficType: netpolicy.TrafficAll, Destination: all, AggregationInterval: 60},
			{ID: "fl-00000000000000002", ResourceID: subnet, TrafficType: netpolicy.TrafficReject, Destination: rejects, AggregationInterval: 60,
				Format: "${interface-id} ${action} ${packets} ${flow-direction}"},
		},
	}
	n := newNetwork(Options{FlowLogFlush: 200 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	if err := n.applyFlowLogs(ns, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopEach(n.flowReaders, nil) })
	// Applying the same policy again keeps the reader (a second bind of the group
	// in the namespace would fail).
	if err := n.applyFlowLogs(ns, policy); err != nil {
		t.Fatal(err)
	}
	send := func(port, count int) {
		t.Helper()
		if err := inNamespace(ns, func() error {
			// Unconnected, so the port-unreachable answers do not fail the writes.
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer c.Close()
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			for range count {
				if _, err := c.WriteTo([]byte("flow"), to); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	send(9001, 3)
	send(9002, 2)

	wantAll := []string{
		"2 123456789012 " + eni + " 127.0.0.1 127.0.0.1 ", " 9001 17 3 96 ", " ACCEPT OK",
		" 9002 17 2 64 ", " REJECT OK",
	}
	got := waitForRecords(t, all, wantAll)
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if f := strings.Fields(line); len(f) != 14 || f[0] != "2" || f[2] != eni || f[7] != "17" {
			t.Errorf("not a default-format record of %s: %q", eni, line)
		}
	}
	if got := waitForRecords(t, rejects, []string{eni + " REJECT 2 ingress"}); strings.Contains(got, "ACCEPT") {
		t.Errorf("a REJECT flow log has accepted traffic:\n%s", got)
	}

	// Without flow logs the reader stops and writes what it held.
	send(9001, 1)
	waitAggregated(t, n, vpc)
	policy.FlowLogs = nil
	if err := n.applyFlowLogs(ns, policy); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(all)
	if strings.Count(string(b), "ACCEPT OK") != 2 {
		t.Errorf("the last window was not written when the flow log went:\n%s", b)
	}
	if left := len(n.flowReaders); left != 0 {
		t.Errorf("%d readers left", left)
	}
}

// waitAggregated waits until the VPC's reader has counted a packet not yet written.
func waitAggregated(t *testing.T, n *Network, vpc string) {
	t.Helper()
	r := n.flowReaders[vpc]
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		held := false
		for _, ts := range r.targets {
			for _, tg := range ts {
				held = held || tg.agg.Due(time.Now().Add(time.Hour), 0)
			}
		}
		r.mu.Unlock()
		if held {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the reader never counted the packet")
}

// waitForRecords waits until the file holds every piece of want, and returns it.
func waitForRecords(t *testing.T, path string, want []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(path)
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return string(b)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s lacks %q:\n%s", path, missing, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
