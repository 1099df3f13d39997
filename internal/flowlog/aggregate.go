package flowlog

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Actions a packet is logged with (as in records and in the log rules' prefixes).
const (
	Accept = "ACCEPT"
	Reject = "REJECT"
)

// Packet is one logged packet as the dataplane saw it on an interface.
type Packet struct {
	Interface string // the network interface's ID
	Action    string // Accept or Reject
	// Ingress is set when the packet was entering the interface (going to the
	// instance), clear when it was leaving it.
	Ingress          bool
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // 0 for protocols without ports (ICMP)
	Protocol         uint8  // IANA number
	Length           int    // the IP packet's length in bytes
	TCPFlags         uint8  // the flags AWS records (FIN, SYN, RST, PSH, ACK, URG)
	Time             time.Time
}

// Key is what tells flows apart: AWS aggregates by interface, 5-tuple and action.
type Key struct {
	Interface        string
	Action           string
	Ingress          bool
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Protocol         uint8
}

// Flow is a flow's aggregate within one aggregation interval.
type Flow struct {
	Key
	// SrcAddr and DstAddr are the addresses a record shows: the interface's own
	// side is always its primary private address, as on AWS (pkt-srcaddr and
	// pkt-dstaddr show the packets' own).
	SrcAddr, DstAddr netip.Addr
	Packets, Bytes   uint64
	Start, End       time.Time
	TCPFlags         uint8
}

// Aggregator gathers one flow log's packets into flows until its interval has
// passed since the first packet of the window. It is not safe for concurrent use.
type Aggregator struct {
	interval    time.Duration
	windowStart time.Time
	flows       map[Key]*Flow
	order       []Key // first seen first, so records come out in a stable order
}

// NewAggregator makes an aggregator that closes a window after interval.
func NewAggregator(interval time.Duration) *Aggregator {
	return &Aggregator{interval: interval, flows: map[Key]*Flow{}}
}

// Add counts a packet; primary is the interface's primary private address
// (invalid when unknown: the packet's own addresses are then recorded).
func (a *Aggregator) Add(p Packet, primary netip.Addr) {
	k := Key{Interface: p.Interface, Action: p.Action, Ingress: p.Ingress, Src: p.Src, Dst: p.Dst,
		SrcPort: p.SrcPort, DstPort: p.DstPort, Protocol: p.Protocol}
	f := a.flows[k]
	if f == nil {
		if len(a.flows) == 0 {
			a.windowStart = p.Time
		}
		f = &Flow{Key: k, SrcAddr: p.Src, DstAddr: p.Dst, Start: p.Time, End: p.Time}
		if primary.IsValid() {
			if p.Ingress {
				f.DstAddr = primary
			} else {
				f.SrcAddr = primary
			}
		}
		a.flows[k] = f
		a.order = append(a.order, k)
	}
	f.Packets++
	f.Bytes += uint64(p.Length)
	f.TCPFlags |= p.TCPFlags
	if p.Time.Before(f.Start) {
		f.Start = p.Time
	}
	if p.Time.After(f.End) {
		f.End = p.Time
	}
}

// Due reports whether the window holds flows and is at least every old (every
// is the interval when zero or longer than it).
func (a *Aggregator) Due(now time.Time, every time.Duration) bool {
	if len(a.flows) == 0 {
		return false
	}
	if every <= 0 || every > a.interval {
		every = a.interval
	}
	return !now.Before(a.windowStart.Add(every))
}

// Flush returns the window's flows, first seen first, and starts a new window.
func (a *Aggregator) Flush() []Flow {
	out := make([]Flow, 0, len(a.order))
	for _, k := range a.order {
		out = append(out, *a.flows[k])
	}
	a.flows, a.order = map[Key]*Flow{}, nil
	return out
}

// Append appends records to the file at path, one per line, making the file and
// its directories when missing.
func Append(path string, records []string) error {
	if len(records) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(records, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
