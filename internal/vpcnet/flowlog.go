package vpcnet

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"strato/internal/flowlog"
	"strato/internal/netpolicy"
)

// Flow logs: the VPC table's log rules (filter.go) send each packet of a
// flow-logged interface to NFLOG group flowLogGroup of the router namespace with
// the prefix "<ACCEPT|REJECT> <interface-id>". One reader per router turns those
// packets into flow records (internal/flowlog) and appends them to the files of
// the flow logs covering the interface.

// NFLOG parameters shared with the log rules.
const (
	flowLogGroup   = 1
	flowLogSnaplen = 128 // enough for IP and TCP headers with options
)

// flowTarget is one flow log's records of one interface.
type flowTarget struct {
	key     string // flow log ID, interface and file: what must stay equal to keep aggregating
	traffic string
	path    string
	format  flowlog.Format
	iface   flowlog.Interface
	primary netip.Addr
	agg     *flowlog.Aggregator
}

// flowLogReader reads one router namespace's NFLOG group.
type flowLogReader struct {
	n      *Network
	router string
	conn   *nflogConn
	flush  time.Duration
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	targets map[string][]*flowTarget  // by interface ID
	addrs   map[string][]netip.Prefix // each interface's addresses, for the direction fallback
	links   map[uint32]string         // interface index → link name in the router
}

// applyFlowLogs starts, updates or stops the VPC's flow log reader to match the
// policy's flow logs.
func (n *Network) applyFlowLogs(router string, policy *netpolicy.VPC) error {
	targets, addrs := flowTargets(policy)
	r := n.flowReaders[policy.ID]
	if len(targets) == 0 {
		if r != nil {
			stopEach(n.flowReaders, &policy.ID)
		}
		return nil
	}
	if r == nil {
		conn, err := openNFLOG(router, flowLogGroup, flowLogSnaplen)
		if err != nil {
			return err
		}
		r = &flowLogReader{n: n, router: router, conn: conn, flush: n.opts.FlowLogFlush, done: make(chan struct{}),
			targets: map[string][]*flowTarget{}, links: map[uint32]string{}}
		r.wg.Add(2)
		go r.read()
		go r.tick()
		n.flowReaders[policy.ID] = r
	}
	r.update(targets, addrs)
	return nil
}

// flowTargets resolves the policy's flow logs to the interfaces they cover (an
// entry may name the VPC, a subnet or an interface).
func flowTargets(policy *netpolicy.VPC) (map[string][]*flowTarget, map[string][]netip.Prefix) {
	targets := map[string][]*flowTarget{}
	addrs := map[string][]netip.Prefix{}
	for _, fl := range policy.FlowLogs {
		if fl.Destination == "" {
			continue
		}
		format, err := flowlog.ParseFormat(fl.Format)
		if err != nil {
			continue // the control plane validated it; nothing sensible to write
		}
		interval := time.Duration(fl.AggregationInterval) * time.Second
		if interval <= 0 {
			interval = 600 * time.Second
		}
		for _, ifc := range policy.Interfaces {
			if fl.ResourceID != ifc.ID && fl.ResourceID != ifc.SubnetID && fl.ResourceID != policy.ID {
				continue
			}
			t := &flowTarget{
				key: fl.ID + "\x00" + ifc.ID + "\x00" + fl.Destination, traffic: fl.TrafficType, path: fl.Destination, format: format,
				iface: flowlog.Interface{ID: ifc.ID, AccountID: policy.AccountID, VPCID: policy.ID, SubnetID: ifc.SubnetID,
					InstanceID: ifc.InstanceID, Region: policy.Region},
				agg: flowlog.NewAggregator(interval),
			}
			if len(ifc.Addresses) > 0 {
				t.primary = ifc.Addresses[0]
			}
			targets[ifc.ID] = append(targets[ifc.ID], t)
			if _, done := addrs[ifc.ID]; !done {
				for _, a := range ifc.Addresses {
					addrs[ifc.ID] = append(addrs[ifc.ID], netip.PrefixFrom(a, a.BitLen()))
				}
				addrs[ifc.ID] = append(addrs[ifc.ID], ifc.Prefixes...)
			}
		}
	}
	return targets, addrs
}

// update replaces the reader's targets, keeping what the unchanged ones have
// aggregated and writing out what the others had.
func (r *flowLogReader) update(targets map[string][]*flowTarget, addrs map[string][]netip.Prefix) {
	r.mu.Lock()
	old := map[string]*flowTarget{}
	for _, ts := range r.targets {
		for _, t := range ts {
			old[t.key] = t
		}
	}
	for _, ts := range targets {
		for i, t := range ts {
			if prev, ok := old[t.key]; ok {
				ts[i].agg = prev.agg
				delete(old, t.key)
			}
		}
	}
	r.targets, r.addrs = targets, addrs
	r.links = map[uint32]string{} // interfaces come and go with the policy
	r.mu.Unlock()
	for _, t := range old {
		r.write(t, t.agg.Flush())
	}
}

// read turns logged packets into the flows of the targets that want them.
func (r *flowLogReader) read() {
	defer r.wg.Done()
	for {
		msgs, lost, err := r.conn.receive()
		select {
		case <-r.done:
			return
		default:
		}
		if err != nil {
			r.n.log.Warn("vpcnet: reading flow log packets", "router", r.router, "err", err)
			select {
			case <-r.done:
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if lost {
			r.n.log.Warn("vpcnet: flow log packets lost (socket overflow)", "router", r.router)
		}
		now := time.Now()
		r.mu.Lock()
		for _, m := range msgs {
			r.add(m, now)
		}
		r.mu.Unlock()
	}
}

// add counts one logged packet; r.mu is held. The prefix is "<action> <interface-id>",
// or "<action> <interface-id> <leg>" for a NAT gateway's (filter_nat.go).
func (r *flowLogReader) add(m nflogMessage, now time.Time) {
	fields := strings.Fields(m.Prefix)
	if len(fields) < 2 || len(fields) > 3 {
		return
	}
	action, ifaceID := fields[0], fields[1]
	if action != flowlog.Accept && action != flowlog.Reject {
		return
	}
	targets := r.targets[ifaceID]
	if len(targets) == 0 {
		return
	}
	ip, ok := parseIP(m.Payload)
	if !ok {
		return
	}
	at := m.Time
	if at.IsZero() {
		at = now
	}
	var ingress bool
	if len(fields) == 3 {
		if ingress, ok = r.natLeg(m, fields[2], &ip, targets[0].primary); !ok {
			return
		}
	} else {
		ingress = r.ingress(m, ifaceID, ip)
	}
	p := flowlog.Packet{Interface: ifaceID, Action: action, Ingress: ingress, Src: ip.Src, Dst: ip.Dst,
		Protocol: ip.Protocol, Length: ip.Length, TCPFlags: ip.TCPFlags, Time: at}
	if ip.Protocol != 1 && ip.Protocol != 58 { // AWS records ICMP with ports 0
		p.SrcPort, p.DstPort = ip.SrcPort, ip.DstPort
	}
	for _, t := range targets {
		if t.traffic == netpolicy.TrafficAll || t.traffic == action {
			t.agg.Add(p, t.primary)
		}
	}
}

// ingress tells whether a packet was entering the interface: it left the router
// by the interface's link. Without link information (a rule outside the forward
// path), a packet to one of the interface's addresses is entering it.
func (r *flowLogReader) ingress(m nflogMessage, ifaceID string, ip ipPacket) bool {
	link := eniLink(ifaceID)
	if m.OutDev != 0 && r.linkName(m.OutDev) == link {
		return true
	}
	if m.InDev != 0 && r.linkName(m.InDev) == link {
		return false
	}
	for _, p := range r.addrs[ifaceID] {
		if p.Contains(ip.Dst) {
			return true
		}
	}
	return false
}

// natLeg turns a packet through a NAT gateway into what the NAT gateway's interface saw of
// it on one leg, and tells whether it was entering the interface there. The packet went
// out through the NAT gateway when it left the router by a link that is not an
// interface's (the uplink, the endpoint link); otherwise it is a reply. On the private
// leg the packet is as the instance sent or receives it; on the public leg the
// instance's address is the NAT gateway's (its ports are kept: the translation keeps
// them unless two connections would clash).
func (r *flowLogReader) natLeg(m nflogMessage, leg string, ip *ipPacket, natAddr netip.Addr) (ingress, ok bool) {
	out := m.OutDev != 0 && !isInterfaceLink(r.linkName(m.OutDev))
	switch leg {
	case natLegPrivate:
		return out, true
	case natLegPublic:
		if !natAddr.IsValid() {
			return false, false
		}
		if out {
			ip.Src = natAddr
		} else {
			ip.Dst = natAddr
		}
		return !out, true
	}
	return false, false
}

// linkName is the name of the router's link with an index (cached); r.mu is held.
func (r *flowLogReader) linkName(index uint32) string {
	if name, ok := r.links[index]; ok {
		return name
	}
	name := ""
	_ = withHandle(r.router, func(h *netlink.Handle) error {
		l, err := h.LinkByIndex(int(index))
		if err == nil {
			name = l.Attrs().Name
		}
		return err
	})
	r.links[index] = name
	return name
}

// tick writes the flows whose window has closed.
func (r *flowLogReader) tick() {
	defer r.wg.Done()
	period := time.Second
	if r.flush > 0 && r.flush < period {
		period = r.flush
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case now := <-t.C:
			r.writeDue(now, false)
		}
	}
}

// writeDue writes every target's flows whose window is due, or all of them.
func (r *flowLogReader) writeDue(now time.Time, all bool) {
	type batch struct {
		t     *flowTarget
		flows []flowlog.Flow
	}
	var due []batch
	r.mu.Lock()
	for _, ts := range r.targets {
		for _, t := range ts {
			if all || t.agg.Due(now, r.flush) {
				due = append(due, batch{t, t.agg.Flush()})
			}
		}
	}
	r.mu.Unlock()
	for _, b := range due {
		r.write(b.t, b.flows)
	}
}

// write appends a target's records to its file.
func (r *flowLogReader) write(t *flowTarget, flows []flowlog.Flow) {
	if len(flows) == 0 {
		return
	}
	records := make([]string, len(flows))
	for i, f := range flows {
		records[i] = t.format.Record(t.iface, f)
	}
	if err := flowlog.Append(t.path, records); err != nil {
		r.n.log.Warn("vpcnet: writing flow log records", "file", t.path, "err", err)
	}
}

// stop ends the reader and writes what it has aggregated.
func (r *flowLogReader) stop() {
	close(r.done)
	r.conn.close()
	r.wg.Wait()
	r.writeDue(time.Now(), true)
}
