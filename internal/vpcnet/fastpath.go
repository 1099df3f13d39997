package vpcnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The inet namespace's fast path. The inet namespace only forwards: between public
// addresses, and between them and the host link (its nftables forward chain, nft.go,
// allows nothing else). Its links are all veth pairs of ours, so a packet it forwards
// could just as well be handed straight to the far end of the link it leaves by. A small
// eBPF program on the ingress of every inet link does that for the packets the forward
// chain would accept: it looks the route and the neighbour up in the inet namespace's
// own tables (bpf_fib_lookup), decrements the TTL, rewrites the MAC addresses and
// delivers the packet into the peer namespace (bpf_redirect_peer). The packet skips the
// inet namespace's IP stack and one trip through a backlog queue; every packet of a
// connection to or from a public address takes two fewer hops' worth of work. Anything
// else — other sources or destinations, TTL 1, options the lookup cannot answer without
// the stack (no neighbour yet, a packet too big) — goes on to the stack as before, whose
// forward chain decides. Without the program (a kernel without BPF), the stack forwards
// everything: slower, the same packets pass.
//
// The program keeps no state: the public pool and the host link's network are constants
// in it, and the links it may deliver through are a map. Both are made afresh whenever
// the inet namespace's links change, and the new program replaces the old one on every
// link; the tc filters hold the only references, so nothing is pinned and a restart
// needs nothing but the same rebuild.

// fastPathFilterName names the tc filter the program is attached as.
const fastPathFilterName = "strato-inet-fast"

// Offsets in struct __sk_buff (the program's context) and struct bpf_fib_lookup, from
// the kernel's UAPI (linux/bpf.h).
const (
	skbIfindex = 40
	skbData    = 76
	skbDataEnd = 80

	fibFamily     = 0
	fibL4Protocol = 1
	fibIfindex    = 8
	fibTOS        = 12
	fibIPv4Src    = 16
	fibIPv4Dst    = 32
	fibSMAC       = 52
	fibDMAC       = 58
	fibSize       = 64
)

// Offsets in the Ethernet frame and its IPv4 header.
const (
	ethHeaderLen   = 14
	ipv4HeaderLen  = 20
	frameEtherType = 12
	frameTOS       = ethHeaderLen + 1
	frameTTL       = ethHeaderLen + 8
	frameProtocol  = ethHeaderLen + 9
	frameChecksum  = ethHeaderLen + 10
	frameSaddr     = ethHeaderLen + offsetSaddr
	frameDaddr     = ethHeaderLen + offsetDaddr
)

// Return values of tc programs and bpf_fib_lookup.
const (
	tcActOK          = 0
	fibLookupSuccess = 0
)

// fastPathProgram is the program's code. It forwards what the forward chain accepts
// (forward: pairs of source and destination prefixes, inetForwardPairs) through the
// links in the map links (any value; only the key counts).
func fastPathProgram(forward [][2]netip.Prefix, links *ebpf.Map) asm.Instructions {
	// A packet's address is loaded as a little-endian word of its network-order bytes;
	// the prefixes are compared the same way.
	word := func(a [4]byte) int32 { return int32(binary.LittleEndian.Uint32(a[:])) }
	// notIn jumps to label unless the address in register r is within p (r2 is scratch).
	notIn := func(r asm.Register, p netip.Prefix, label string) asm.Instructions {
		mask := [4]byte(binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits())))
		return asm.Instructions{
			asm.Mov.Reg32(asm.R2, r),
			asm.And.Imm32(asm.R2, word(mask)),
			asm.JNE.Imm32(asm.R2, word(p.Masked().Addr().As4()), label),
		}
	}
	fib := func(off int16) int16 { return -fibSize + off }
	var prog asm.Instructions
	add := func(ins ...asm.Instruction) { prog = append(prog, ins...) }
	// Registers: r6 the context, r7 the source address, r8 the destination, r9 the
	// packet's start.
	loadPacket := asm.Instructions{
		asm.LoadMem(asm.R9, asm.R6, skbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R4, asm.R9),
		asm.Add.Imm(asm.R4, ethHeaderLen+ipv4HeaderLen),
		asm.JGT.Reg(asm.R4, asm.R3, "stack"),
	}
	add(asm.Mov.Reg(asm.R6, asm.R1))
	add(loadPacket...)
	add(
		asm.LoadMem(asm.R4, asm.R9, frameEtherType, asm.Half),
		asm.JNE.Imm(asm.R4, 0x0008, "stack"), // ETH_P_IP, network order
		asm.LoadMem(asm.R4, asm.R9, frameTTL, asm.Byte),
		asm.JLE.Imm(asm.R4, 1, "stack"), // the stack answers Time Exceeded
		asm.LoadMem(asm.R7, asm.R9, frameSaddr, asm.Word),
		asm.LoadMem(asm.R8, asm.R9, frameDaddr, asm.Word),
	)
	// What the forward chain accepts, pair by pair.
	for i, pair := range forward {
		next := fmt.Sprintf("pair-%d", i+1)
		block := slices.Concat(notIn(asm.R7, pair[0], next), notIn(asm.R8, pair[1], next),
			asm.Instructions{asm.Ja.Label("lookup")})
		if i > 0 {
			block[0] = block[0].WithSymbol(fmt.Sprintf("pair-%d", i))
		}
		add(block...)
	}
	add(asm.Ja.Label("stack").WithSymbol(fmt.Sprintf("pair-%d", len(forward))))
	// The route and the neighbour, as the inet namespace's stack would find them. No
	// tot_len: the kernel then checks the packet against the MTU itself, GSO included.
	add(asm.Mov.Imm(asm.R0, 0).WithSymbol("lookup"))
	for off := int16(0); off < fibSize; off += 8 {
		add(asm.StoreMem(asm.RFP, fib(off), asm.R0, asm.DWord))
	}
	add(
		asm.StoreImm(asm.RFP, fib(fibFamily), unix.AF_INET, asm.Byte),
		asm.LoadMem(asm.R4, asm.R9, frameProtocol, asm.Byte),
		asm.StoreMem(asm.RFP, fib(fibL4Protocol), asm.R4, asm.Byte),
		asm.LoadMem(asm.R4, asm.R6, skbIfindex, asm.Word),
		asm.StoreMem(asm.RFP, fib(fibIfindex), asm.R4, asm.Word),
		asm.LoadMem(asm.R4, asm.R9, frameTOS, asm.Byte),
		asm.StoreMem(asm.RFP, fib(fibTOS), asm.R4, asm.Byte),
		asm.StoreMem(asm.RFP, fib(fibIPv4Src), asm.R7, asm.Word),
		asm.StoreMem(asm.RFP, fib(fibIPv4Dst), asm.R8, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(fib(0))),
		asm.Mov.Imm(asm.R3, fibSize),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnFibLookup.Call(),
		asm.JNE.Imm(asm.R0, fibLookupSuccess, "stack"),
	)
	// Only through links of ours: bpf_redirect_peer needs a veth.
	add(
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(fib(fibIfindex))),
		asm.LoadMapPtr(asm.R1, links.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "stack"),
	)
	// Forward: TTL and header checksum as ip_decrease_ttl does them, then the MACs.
	add(loadPacket...)
	add(
		asm.LoadMem(asm.R4, asm.R9, frameChecksum, asm.Half),
		asm.Add.Imm(asm.R4, 1), // htons(0x0100), read little-endian
		asm.JLT.Imm(asm.R4, 0xffff, "checksum"),
		asm.Add.Imm(asm.R4, 1),
		asm.StoreMem(asm.R9, frameChecksum, asm.R4, asm.Half).WithSymbol("checksum"),
		asm.LoadMem(asm.R4, asm.R9, frameTTL, asm.Byte),
		asm.Sub.Imm(asm.R4, 1),
		asm.StoreMem(asm.R9, frameTTL, asm.R4, asm.Byte),
	)
	for i := int16(0); i < 6; i += 2 { // the stack allows only aligned reads
		add(
			asm.LoadMem(asm.R4, asm.RFP, fib(fibDMAC+i), asm.Half),
			asm.StoreMem(asm.R9, i, asm.R4, asm.Half),
			asm.LoadMem(asm.R4, asm.RFP, fib(fibSMAC+i), asm.Half),
			asm.StoreMem(asm.R9, 6+i, asm.R4, asm.Half),
		)
	}
	add(
		asm.LoadMem(asm.R1, asm.RFP, fib(fibIfindex), asm.Word),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirectPeer.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcActOK).WithSymbol("stack"),
		asm.Return(),
	)
	return prog
}

// syncFastPath (re)builds the fast path on every link of the inet namespace. A failure
// leaves the stack forwarding, which is slower but right; it is returned for the log.
func (n *Network) syncFastPath() error {
	return withHandle(n.inetNamespace(), func(h *netlink.Handle) error {
		all, err := h.LinkList()
		if err != nil {
			return err
		}
		var links []netlink.Link
		for _, l := range all {
			if l.Type() == "veth" {
				links = append(links, l)
			}
		}
		if len(links) == 0 {
			return nil
		}
		linkMap, err := ebpf.NewMap(&ebpf.MapSpec{
			Name: "strato_inet", Type: ebpf.Hash, KeySize: 4, ValueSize: 1, MaxEntries: uint32(len(links)),
		})
		if err != nil {
			return fmt.Errorf("fast path map: %w", err)
		}
		defer linkMap.Close()
		for _, l := range links {
			if err := linkMap.Put(uint32(l.Attrs().Index), uint8(1)); err != nil {
				return fmt.Errorf("fast path map: %w", err)
			}
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "strato_inet", Type: ebpf.SchedCLS, License: "GPL",
			Instructions: fastPathProgram(n.inetForwardPairs(), linkMap),
		})
		if err != nil {
			return fmt.Errorf("fast path program: %w", err)
		}
		defer prog.Close()
		var errs []error
		for _, l := range links {
			errs = append(errs, attachIngress(h, l, prog))
		}
		return errors.Join(errs...)
	})
}

// attachIngress puts prog on l's ingress (a clsact qdisc's), replacing the one there.
func attachIngress(h *netlink.Handle, l netlink.Link, prog *ebpf.Program) error {
	index := l.Attrs().Index
	qdisc := &netlink.GenericQdisc{QdiscType: "clsact", QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if err := h.QdiscReplace(qdisc); err != nil {
		return fmt.Errorf("clsact qdisc on %s: %w", l.Attrs().Name, err)
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: index, Parent: netlink.HANDLE_MIN_INGRESS,
			Handle: 1, Priority: 1, Protocol: unix.ETH_P_IP},
		Fd: prog.FD(), Name: fastPathFilterName, DirectAction: true,
	}
	if err := h.FilterReplace(filter); err != nil {
		return fmt.Errorf("fast path on %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// refreshFastPath rebuilds the fast path after the inet namespace's links changed, and
// logs a failure: the stack forwards meanwhile.
func (n *Network) refreshFastPath() {
	if err := n.syncFastPath(); err != nil {
		n.log.Warn("vpcnet: the inet namespace's fast path is off; its IP stack forwards", "err", err)
	}
}
