package flowlog

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	t0      = time.Unix(1_700_000_000, 0)
	eni     = Interface{ID: "eni-0123456789abcdef0", AccountID: "123456789012", VPCID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0", Region: "us-east-1"}
	primary = netip.MustParseAddr("10.0.1.5")
	peer    = netip.MustParseAddr("10.0.2.7")
)

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in      string
		version int
		err     string
	}{
		{"", 2, ""},
		{DefaultFormat, 2, ""},
		{"${srcaddr} ${vpc-id}", 3, ""},
		{"${flow-direction} ${region} ${version}", 5, ""},
		{"${reject-reason}", 8, ""},
		{"${srcaddr} ${nope} ${other}", 0, "unknown fields: nope, other"},
		{"${srcaddr}  ${dstaddr}", 0, "not a ${field}"},
		{"srcaddr", 0, "not a ${field}"},
		{"${}", 0, "not a ${field}"},
	} {
		f, err := ParseFormat(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseFormat(%q) = %v, want error %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("ParseFormat(%q): %v", tc.in, err)
		case tc.err == "" && f.Version() != tc.version:
			t.Errorf("ParseFormat(%q) version %d, want %d", tc.in, f.Version(), tc.version)
		}
	}
}

func TestDefaultRecordAggregatesAFlow(t *testing.T) {
	a := NewAggregator(time.Minute)
	out := Packet{Interface: eni.ID, Action: Accept, Src: primary, Dst: peer, SrcPort: 40000, DstPort: 22, Protocol: 6, Length: 60, TCPFlags: 0x02, Time: t0}
	a.Add(out, primary)
	out.Length, out.TCPFlags, out.Time = 52, 0x10, t0.Add(3*time.Second)
	a.Add(out, primary)
	reply := Packet{Interface: eni.ID, Action: Accept, Ingress: true, Src: peer, Dst: primary, SrcPort: 22, DstPort: 40000, Protocol: 6, Length: 60, Time: t0.Add(time.Second)}
	a.Add(reply, primary)
	if a.Due(t0.Add(59*time.Second), 0) || !a.Due(t0.Add(time.Minute), 0) {
		t.Fatal("a window is due once its interval has passed")
	}
	if !a.Due(t0.Add(5*time.Second), 5*time.Second) {
		t.Fatal("a shorter flush period makes the window due sooner")
	}
	flows := a.Flush()
	if len(flows) != 2 {
		t.Fatalf("got %d flows, want 2 (one per direction): %+v", len(flows), flows)
	}
	f, _ := ParseFormat("")
	got := []string{f.Record(eni, flows[0]), f.Record(eni, flows[1])}
	want := []string{
		"2 123456789012 eni-0123456789abcdef0 10.0.1.5 10.0.2.7 40000 22 6 2 112 1700000000 1700000003 ACCEPT OK",
		"2 123456789012 eni-0123456789abcdef0 10.0.2.7 10.0.1.5 22 40000 6 1 60 1700000001 1700000001 ACCEPT OK",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if flows[0].TCPFlags != 0x12 {
		t.Errorf("TCP flags are OR-ed over the window: %#x", flows[0].TCPFlags)
	}
	if len(a.Flush()) != 0 || a.Due(t0.Add(time.Hour), 0) {
		t.Error("a flush starts an empty window")
	}
}

func TestCustomRecordFields(t *testing.T) {
	a := NewAggregator(10 * time.Minute)
	secondary := netip.MustParseAddr("10.0.1.9")
	// ICMP to a secondary address, rejected: the interface's side shows its
	// primary address, pkt-dstaddr the packet's.
	a.Add(Packet{Interface: eni.ID, Action: Reject, Ingress: true, Src: peer, Dst: secondary, Protocol: 1, Length: 84, Time: t0}, primary)
	f, err := ParseFormat("${version} ${vpc-id} ${subnet-id} ${instance-id} ${srcaddr} ${dstaddr} ${pkt-dstaddr} ${srcport} ${dstport} ${protocol} ${type} ${flow-direction} ${az-id} ${action} ${log-status}")
	if err != nil {
		t.Fatal(err)
	}
	got := f.Record(eni, a.Flush()[0])
	want := "5 vpc-0123456789abcdef0 subnet-0123456789abcdef0 - 10.0.2.7 10.0.1.5 10.0.1.9 0 0 1 IPv4 ingress - REJECT OK"
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "group", "sub", "eni-0123456789abcdef0-all")
	if err := Append(path, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, nil); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "a\nb\nc\n" {
		t.Fatalf("file holds %q, %v", b, err)
	}
}
