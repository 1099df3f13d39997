package vpcnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Every nftables table strato writes is rendered whole and swapped in one transaction
// ("add table; delete table; add table …" in a single batch): packets see either the old
// table or the new one, and writing is idempotent. NAT bindings of live connections are
// kept by conntrack, not by the table, so they survive a rewrite.

// Names inside a VPC table.
const (
	mapPublicToPrivate = "pub2priv"
	mapPrivateToPublic = "priv2pub"
	chainAntiSpoof     = "antispoof"
	setInterfaceAddrs  = "ifaddrs"
	chainDNAT          = "dnat"
	chainSNAT          = "snat"
	chainForward       = "forward"
)

// vpcTableState is what a VPC table holds: the addresses each interface may send from
// (by router-side link name), the 1:1 public ↔ private mappings, and the policy the
// filter is rendered from (nil before the VPC's first SetVPC).
type vpcTableState struct {
	interfaces map[string][]netip.Addr
	public     map[netip.Addr]netip.Addr
	policy     *netpolicy.VPC
	cache      verdictCache // set by writeVPCTable
}

// vpcNftTable is the VPC's table in its router namespace.
func (n *Network) vpcNftTable(vpcID string) *nftables.Table {
	return &nftables.Table{Name: n.vpcTable(vpcID), Family: nftables.TableFamilyINet}
}

// writeVPCTable renders a VPC's table in its router namespace.
func (n *Network) writeVPCTable(router, vpcID string, st vpcTableState) error {
	return withNftables(router, func(c *nftables.Conn) error {
		table := n.vpcNftTable(vpcID)
		cache, err := nextVerdictCache(c, router, table, st.policy)
		if err != nil {
			return err
		}
		st.cache = cache
		c.AddTable(table)
		c.DelTable(table)
		c.AddTable(table)

		pubs := slices.SortedFunc(maps.Keys(st.public), netip.Addr.Compare)
		var toPrivate, toPublic []nftables.SetElement
		for _, pub := range pubs {
			priv := st.public[pub]
			toPrivate = append(toPrivate, nftables.SetElement{Key: pub.AsSlice(), Val: priv.AsSlice()})
			toPublic = append(toPublic, nftables.SetElement{Key: priv.AsSlice(), Val: pub.AsSlice()})
		}
		pubMap := &nftables.Set{Table: table, Name: mapPublicToPrivate, IsMap: true,
			KeyType: nftables.TypeIPAddr, DataType: nftables.TypeIPAddr}
		privMap := &nftables.Set{Table: table, Name: mapPrivateToPublic, IsMap: true,
			KeyType: nftables.TypeIPAddr, DataType: nftables.TypeIPAddr}
		if err := c.AddSet(pubMap, toPrivate); err != nil {
			return err
		}
		if err := c.AddSet(privMap, toPublic); err != nil {
			return err
		}

		// Anti-spoofing, before conntrack and NAT: a packet from an interface's (or a
		// peering's) link must come from one of the addresses it may send from
		// (sourceElements). It is the only rule that says which interface a packet belongs
		// to, so it runs first. One set of (link, address) pairs and one rule, whatever the
		// number of interfaces: the table stays a few netlink messages (a set and a rule
		// per interface overflowed the socket's buffer when a hundred instances launched
		// at once).
		antiSpoof := c.AddChain(&nftables.Chain{Name: chainAntiSpoof, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
		allowed := &nftables.Set{Table: table, Name: setInterfaceAddrs, Concatenation: true, Interval: true,
			KeyType: nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr)}
		elems := sourceElements(st)
		if err := c.AddSet(allowed, elems[:min(len(elems), setElementsPerMessage)]); err != nil {
			return err
		}
		for rest := elems[min(len(elems), setElementsPerMessage):]; len(rest) > 0; {
			chunk := rest[:min(len(rest), setElementsPerMessage)]
			if err := c.SetAddElements(allowed, chunk); err != nil {
				return err
			}
			rest = rest[len(chunk):]
		}
		// The one packet an interface may send without an address of its own: a DHCP
		// request from 0.0.0.0 to the broadcast address, for the router's DHCP server
		// (dhcp.go). The kernel delivers it locally and never forwards a packet from
		// 0.0.0.0. Every packet from an interface runs this rule, so it looks at the source
		// address first, which ends it for all the others.
		dhcpPorts, _ := protocolMatch(netpolicy.ProtocolUDP, dhcpServerPort, dhcpServerPort)
		c.AddRule(&nftables.Rule{Table: table, Chain: antiSpoof, Exprs: slices.Concat(matchIPv4(),
			[]expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offsetSaddr, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
			},
			matchInterfaceLink(expr.MetaKeyIIFNAME),
			[]expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offsetDaddr, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{255, 255, 255, 255}},
			},
			dhcpPorts,
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})})
		// Packets from interface links ("e…") and, with a policy, from peering links ("p…"):
		// not the uplink (the inet namespace passes only public sources), not the
		// endpoint link (the services namespace only answers), not lo.
		spoofable := []string{eniLinkPrefix}
		if st.policy != nil {
			spoofable = append(spoofable, peeringLinkPrefix)
		}
		for _, prefix := range spoofable {
			c.AddRule(&nftables.Rule{Table: table, Chain: antiSpoof, Exprs: slices.Concat(matchIPv4(),
				matchIfnamePrefix(expr.MetaKeyIIFNAME, prefix),
				[]expr.Any{
					// iifname . ip saddr, the 16-byte name in register 1, the address after it.
					&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: offsetSaddr, Len: 4},
					&expr.Lookup{SourceRegister: 1, SetName: allowed.Name, SetID: allowed.ID, Invert: true},
					&expr.Counter{},
					&expr.Verdict{Kind: expr.VerdictDrop},
				})})
		}

		// 1:1 NAT on the uplink: public → private on the way in, private → public on the way
		// out. A private address without a public one leaves unchanged, and the inet
		// namespace drops it.
		dnat := c.AddChain(&nftables.Chain{Name: chainDNAT, Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
		c.AddRule(natRule(dnat, expr.MetaKeyIIFNAME, offsetDaddr, pubMap, expr.NATTypeDestNAT))
		snat := c.AddChain(&nftables.Chain{Name: chainSNAT, Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		if err := addNATGatewayRules(c, snat, st.policy); err != nil {
			return err
		}
		c.AddRule(natRule(snat, expr.MetaKeyOIFNAME, offsetSaddr, privMap, expr.NATTypeSourceNAT))
		// Routing's transit chain first: the filter's forward chain jumps to it.
		if err := addRoutingChains(c, table, st); err != nil {
			return err
		}
		if err := addFilterChains(c, table, st); err != nil {
			return err
		}
		return c.Flush()
	})
}

// sourceElements are the (link, address range) pairs of the anti-spoofing set. With a
// policy: an interface's addresses and delegated prefixes when its source/destination
// check is on, every address when it is off, nothing for a link the policy does not
// know; a peering link's peer VPC's CIDRs and the peer router's address (as on AWS, a
// peering carries only traffic from the peer VPC: no edge-to-edge routing, and no
// address of this VPC, which another link's connection could be taken for). Before the
// VPC's first policy: the addresses routed to each interface link.
func sourceElements(st vpcTableState) []nftables.SetElement {
	var elems []nftables.SetElement
	add := func(link string, first, last netip.Addr) {
		elems = append(elems, nftables.SetElement{
			Key:    append(ifnameKey(link), first.AsSlice()...),
			KeyEnd: append(ifnameKey(link), last.AsSlice()...),
		})
	}
	if st.policy == nil {
		for _, link := range slices.Sorted(maps.Keys(st.interfaces)) {
			for _, a := range st.interfaces[link] {
				add(link, a, a)
			}
		}
		return elems
	}
	for _, iface := range st.policy.Interfaces {
		if validateID("eni", iface.ID) != nil || iface.Kind == netpolicy.InterfaceNATGateway {
			continue // a NAT gateway has no link: it sends nothing the router did not route
		}
		link := eniLink(iface.ID)
		if !iface.SourceDestCheck {
			add(link, netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255}))
			continue
		}
		for _, a := range iface.Addresses {
			if a = a.Unmap(); a.Is4() {
				add(link, a, a)
			}
		}
		for _, p := range ipv4Prefixes(iface.Prefixes) {
			for _, rg := range mergedRanges([]netip.Prefix{p}) {
				add(link, netip.AddrFrom4([4]byte(be32(rg.first))), netip.AddrFrom4([4]byte(be32(rg.last))))
			}
		}
	}
	for _, pc := range st.policy.Peerings {
		if validateID("pcx", pc.ID) != nil {
			continue
		}
		link := peeringLink(pc.ID)
		for _, rg := range mergedRanges(ipv4Prefixes(pc.PeerCIDRs)) {
			add(link, netip.AddrFrom4([4]byte(be32(rg.first))), netip.AddrFrom4([4]byte(be32(rg.last))))
		}
		router := peeringAddr(pc.PeerVPC)
		add(link, router, router)
	}
	return elems
}

// natRule rewrites the address at offset of IPv4 packets coming in (iif) or going out
// (oif) through the uplink to what the map says, when the map has it.
func natRule(chain *nftables.Chain, uplinkKey expr.MetaKey, offset uint32, m *nftables.Set, nat expr.NATType) *nftables.Rule {
	return &nftables.Rule{Table: chain.Table, Chain: chain, Exprs: slices.Concat(
		matchIfname(uplinkKey, routerUplink), matchIPv4(),
		[]expr.Any{
			loadAddr(offset),
			&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
			&expr.NAT{Type: nat, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
		})}
}

// readPublicMap reads a VPC's public → private mappings back from its table (empty when
// the table is not there yet).
func (n *Network) readPublicMap(router, vpcID string) (map[netip.Addr]netip.Addr, error) {
	out := map[netip.Addr]netip.Addr{}
	err := withNftables(router, func(c *nftables.Conn) error {
		table := n.vpcNftTable(vpcID)
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == table.Name }) {
			return nil
		}
		set, err := c.GetSetByName(table, mapPublicToPrivate)
		if err != nil {
			return err
		}
		elems, err := c.GetSetElements(set)
		if err != nil {
			return err
		}
		for _, e := range elems {
			pub, ok1 := netip.AddrFromSlice(e.Key)
			priv, ok2 := netip.AddrFromSlice(e.Val)
			if ok1 && ok2 {
				out[pub.Unmap()] = priv.Unmap()
			}
		}
		return nil
	})
	return out, err
}

// inetForwardPairs are the (source, destination) prefixes the inet namespace forwards:
// between public addresses, and between them and the host link. Its filter and its fast
// path (fastpath.go) both follow them.
func (n *Network) inetForwardPairs() [][2]netip.Prefix {
	hostAddr, _ := hostLinkAddrs(n.opts.Prefix)
	hostNet, pool := hostAddr.Masked(), n.opts.PublicPool
	return [][2]netip.Prefix{{pool, pool}, {pool, hostNet}, {hostNet, pool}}
}

// writeInetTable renders the inet namespace's filter: it forwards only between public
// addresses, and between public addresses and the host link. Private addresses that leak
// out of a router (an instance without a public address) stop here, as does anything the
// host would not have asked for.
func (n *Network) writeInetTable() error {
	return withNftables(n.inetNamespace(), func(c *nftables.Conn) error {
		table := &nftables.Table{Name: n.inetTable(), Family: nftables.TableFamilyIPv4}
		c.AddTable(table)
		c.DelTable(table)
		c.AddTable(table)
		drop := nftables.ChainPolicyDrop
		forward := c.AddChain(&nftables.Chain{Name: chainForward, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		for _, pair := range n.inetForwardPairs() {
			c.AddRule(&nftables.Rule{Table: table, Chain: forward, Exprs: slices.Concat(
				matchPrefix(offsetSaddr, pair[0]), matchPrefix(offsetDaddr, pair[1]),
				[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})})
		}
		return c.Flush()
	})
}

// Offsets of the addresses in the IPv4 header.
const (
	offsetSaddr = 12
	offsetDaddr = 16
)

func loadAddr(offset uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}
}

// ifnameKey is a link name as nftables keys hold it: IFNAMSIZ bytes, zero-padded.
func ifnameKey(name string) []byte {
	padded := make([]byte, unix.IFNAMSIZ)
	copy(padded, name)
	return padded
}

func matchIfname(key expr.MetaKey, name string) []expr.Any {
	padded := make([]byte, unix.IFNAMSIZ)
	copy(padded, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: padded},
	}
}

// matchIPv4 is the dependency an inet-family rule needs before it reads IPv4 header fields.
func matchIPv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

// matchPrefix matches an IPv4 address field within prefix p.
func matchPrefix(offset uint32, p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	if p.Bits() == 0 {
		mask = []byte{0, 0, 0, 0}
	}
	return []expr.Any{
		loadAddr(offset),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// nftablesBuffer is the socket buffer size of nftables connections. A table is sent as
// one batch and the kernel acknowledges every message of it: a VPC with a thousand
// rules is a few thousand messages, whose acknowledgements overflow the default receive
// buffer (the batch then applies, but the sender cannot tell). The buffer only takes
// memory while acknowledgements wait in it.
const nftablesBuffer = 32 << 20

// largeBuffers raises a connection's buffers past the system limits (strato runs as
// root, which may).
func largeBuffers(conn *netlink.Conn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var setErr error
	if err := raw.Control(func(fd uintptr) {
		setErr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nftablesBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, nftablesBuffer))
	}); err != nil {
		return err
	}
	return setErr
}

// withNftables runs fn with an nftables connection into the namespace at path.
func withNftables(path string, fn func(*nftables.Conn) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())), nftables.WithSockOptions(largeBuffers))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", path, err)
	}
	if err := fn(c); err != nil {
		return fmt.Errorf("nftables in %s: %w", path, err)
	}
	return nil
}
