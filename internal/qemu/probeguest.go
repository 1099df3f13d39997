package qemu

import (
	"encoding/binary"
	"fmt"
)

// The probe's guest: a few instructions that take a vCPU from real mode, where
// every x86 CPU starts, through protected mode into long mode, the way a boot
// loader does, reporting each step with an OUT to a port, and then spin a
// counted loop whose duration says whether the CPU runs the guest or KVM
// emulates it instruction by instruction.
//
// The loop is there because reaching long mode is not enough. On the hosts
// the probe was written for, /dev/kvm is PVM (kvm_pvm: KVM without hardware
// virtualization, for guests that know it): an ordinary guest gets through
// every mode switch, but each instruction costs about a microsecond and a half,
// so Linux, started there, prints its real-mode messages and then seems to
// hang while its decompressor crawls. Hardware runs the loop in about a tenth
// of a millisecond, such emulation in about a third of a second, TCG somewhere
// in between but far nearer the hardware.
//
// Guest-physical memory layout:
//
//	0x0500 GDT (4 descriptors), 0x0520 its pseudo-descriptor for LGDT
//	0x1000 the code below
//	0x2000 PML4, 0x3000 PDPT, 0x4000 PD: identity-map the first 2 MiB with
//	       one large page, enough for everything above
const (
	probeMemSize = 2 << 20
	gdtAddr      = 0x0500
	gdtrAddr     = 0x0520
	codeAddr     = 0x1000
	pml4Addr     = 0x2000
	pdptAddr     = 0x3000
	pdAddr       = 0x4000

	stagePort = 0x80 // the POST-code port, which nothing else uses in this VM

	// What the guest writes to stagePort, in order.
	stageReal      = 1 // it runs, in real mode
	stageProtected = 2 // CR0.PE set and CS reloaded: 32-bit protected mode
	stageLong      = 3 // paging on with EFER.LME, CS reloaded: 64-bit long mode
	stageLoop      = 4 // the loop below is done

	// probeLoop is how many times the guest's last loop (two instructions)
	// runs.
	probeLoop = 1 << 17
)

// GDT selectors (index × 8).
const (
	selCode32 = 0x08
	selData   = 0x10
	selCode64 = 0x18
)

// insn is one instruction of the probe's guest.
type insn struct {
	bits  int    // 16, 32 or 64: the mode the CPU decodes it in
	label string // names this instruction's address, for the far jumps
	asm   string // the instruction as `objdump -M intel` prints it (tests compare)
	code  []byte
	// ref names a label whose address is patched into code at refAt,
	// little-endian, refLen bytes wide: the far jumps' targets. With rel, what
	// is patched is the distance from the end of the instruction (a short
	// jump's displacement).
	ref    string
	refAt  int
	refLen int
	rel    bool
}

// probeProgram is the guest's code, instruction by instruction, each with
// the text a disassembler prints for it (the far jumps' targets and the short
// jump's come from the labels; everything else is constant).
var probeProgram = []insn{
	// Real mode: CS base 0, IP codeAddr (set by the probe; no firmware here).
	// Report stage 1: the vCPU runs at all.
	{bits: 16, asm: "mov al,0x1", code: []byte{0xB0, stageReal}},
	{bits: 16, asm: "out 0x80,al", code: []byte{0xE6, stagePort}},
	// No IDT in the modes ahead: keep interrupts off.
	{bits: 16, asm: "cli", code: []byte{0xFA}},
	// Load the GDT through its pseudo-descriptor.
	{bits: 16, asm: "lgdtw ds:0x520", code: append([]byte{0x0F, 0x01, 0x16}, le16(gdtrAddr)...)},
	// Set CR0.PE: protected mode, though CS still holds real-mode values...
	{bits: 16, asm: "mov eax,cr0", code: []byte{0x0F, 0x20, 0xC0}},
	{bits: 16, asm: "or al,0x1", code: []byte{0x0C, 0x01}},
	{bits: 16, asm: "mov cr0,eax", code: []byte{0x0F, 0x22, 0xC0}},
	// ...until a far jump loads CS from the GDT: 32-bit code from here.
	{bits: 16, asm: "jmp 0x8:0x1017", code: []byte{0xEA, 0, 0, selCode32, 0}, ref: "protected", refAt: 1, refLen: 2},

	// 32-bit protected mode. Flat data segments, as a boot loader sets them.
	{bits: 32, label: "protected", asm: "mov eax,0x10", code: append([]byte{0xB8}, le32(selData)...)},
	{bits: 32, asm: "mov ds,eax", code: []byte{0x8E, 0xD8}},
	{bits: 32, asm: "mov es,eax", code: []byte{0x8E, 0xC0}},
	{bits: 32, asm: "mov ss,eax", code: []byte{0x8E, 0xD0}},
	// Report stage 2.
	{bits: 32, asm: "mov al,0x2", code: []byte{0xB0, stageProtected}},
	{bits: 32, asm: "out 0x80,al", code: []byte{0xE6, stagePort}},
	// Set CR4.PAE, which long mode requires.
	{bits: 32, asm: "mov eax,cr4", code: []byte{0x0F, 0x20, 0xE0}},
	{bits: 32, asm: "or eax,0x20", code: []byte{0x83, 0xC8, 0x20}},
	{bits: 32, asm: "mov cr4,eax", code: []byte{0x0F, 0x22, 0xE0}},
	// Point CR3 at the PML4.
	{bits: 32, asm: "mov eax,0x2000", code: append([]byte{0xB8}, le32(pml4Addr)...)},
	{bits: 32, asm: "mov cr3,eax", code: []byte{0x0F, 0x22, 0xD8}},
	// Set EFER.LME (bit 8 of MSR IA32_EFER).
	{bits: 32, asm: "mov ecx,0xc0000080", code: []byte{0xB9, 0x80, 0x00, 0x00, 0xC0}},
	{bits: 32, asm: "rdmsr", code: []byte{0x0F, 0x32}},
	{bits: 32, asm: "or eax,0x100", code: []byte{0x0D, 0x00, 0x01, 0x00, 0x00}},
	{bits: 32, asm: "wrmsr", code: []byte{0x0F, 0x30}},
	// Set CR0.PG: with LME, long mode is active (in compatibility mode)...
	{bits: 32, asm: "mov eax,cr0", code: []byte{0x0F, 0x20, 0xC0}},
	{bits: 32, asm: "or eax,0x80000000", code: []byte{0x0D, 0x00, 0x00, 0x00, 0x80}},
	{bits: 32, asm: "mov cr0,eax", code: []byte{0x0F, 0x22, 0xC0}},
	// ...until a far jump loads a CS with L=1: 64-bit code from here.
	{bits: 32, asm: "jmp 0x18:0x1057", code: []byte{0xEA, 0, 0, 0, 0, selCode64, 0}, ref: "long", refAt: 1, refLen: 4},

	// 64-bit long mode. Report stage 3 (the probe checks EFER.LMA and CS.L).
	{bits: 64, label: "long", asm: "mov al,0x3", code: []byte{0xB0, stageLong}},
	{bits: 64, asm: "out 0x80,al", code: []byte{0xE6, stagePort}},
	// The timed loop: count ECX down from probeLoop.
	{bits: 64, asm: "mov ecx,0x20000", code: append([]byte{0xB9}, le32(probeLoop)...)},
	{bits: 64, label: "spin", asm: "dec ecx", code: []byte{0xFF, 0xC9}},
	{bits: 64, asm: "jne 0x1060", code: []byte{0x75, 0}, ref: "spin", refAt: 1, refLen: 1, rel: true},
	// Report stage 4: its time minus stage 3's is the loop's.
	{bits: 64, asm: "mov al,0x4", code: []byte{0xB0, stageLoop}},
	{bits: 64, asm: "out 0x80,al", code: []byte{0xE6, stagePort}},
	// Not reached: the probe stops at stage 4.
	{bits: 64, asm: "hlt", code: []byte{0xF4}},
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// assemble lays the program out at org and patches the far jumps' targets.
// It returns the code and each label's address.
func assemble(prog []insn, org uint32) ([]byte, map[string]uint32, error) {
	labels := map[string]uint32{}
	addr := org
	for _, in := range prog {
		if in.label != "" {
			labels[in.label] = addr
		}
		addr += uint32(len(in.code))
	}
	var code []byte
	addr = org
	for _, in := range prog {
		b := append([]byte(nil), in.code...)
		addr += uint32(len(b))
		if in.ref != "" {
			target, ok := labels[in.ref]
			if !ok {
				return nil, nil, fmt.Errorf("no label %q", in.ref)
			}
			if in.rel {
				d := int64(target) - int64(addr)
				if in.refLen != 1 || d < -128 || d > 127 {
					return nil, nil, fmt.Errorf("a %d-byte jump of %d bytes to %q", in.refLen, d, in.ref)
				}
				b[in.refAt] = byte(int8(d))
				code = append(code, b...)
				continue
			}
			switch in.refLen {
			case 2:
				if target > 0xFFFF {
					return nil, nil, fmt.Errorf("label %q at %#x is out of a 16-bit jump's reach", in.ref, target)
				}
				binary.LittleEndian.PutUint16(b[in.refAt:], uint16(target))
			case 4:
				binary.LittleEndian.PutUint32(b[in.refAt:], target)
			default:
				return nil, nil, fmt.Errorf("a reference %d bytes wide", in.refLen)
			}
		}
		code = append(code, b...)
	}
	return code, labels, nil
}

// descriptor encodes a GDT segment descriptor: base, 20-bit limit, access
// byte (present, privilege, type) and the flags nibble (granularity, size,
// long mode).
func descriptor(base, limit uint32, access, flags uint8) uint64 {
	return uint64(limit&0xFFFF) |
		uint64(base&0xFFFFFF)<<16 |
		uint64(access)<<40 |
		uint64((limit>>16)&0xF)<<48 |
		uint64(flags&0xF)<<52 |
		uint64(base>>24)<<56
}

// probeGDT is the guest's descriptor table, indexed by selector / 8.
var probeGDT = []uint64{
	0,                                 // the null descriptor
	descriptor(0, 0xFFFFF, 0x9A, 0xC), // selCode32: present, ring 0, code exec/read; 4 KiB units, 32-bit
	descriptor(0, 0xFFFFF, 0x92, 0xC), // selData: present, ring 0, data read/write; 4 KiB units, 32-bit
	descriptor(0, 0xFFFFF, 0x9A, 0xA), // selCode64: as selCode32 but L=1 (64-bit), D=0 as long mode requires
}

// Page-table entry bits.
const (
	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	pteLarge    = 1 << 7 // in a PD entry: maps a 2 MiB page
)

// writeProbeMemory lays out the guest's memory (probeMemSize bytes, zeroed).
func writeProbeMemory(mem []byte) error {
	if len(mem) < probeMemSize {
		return fmt.Errorf("guest memory of %d bytes, need %d", len(mem), probeMemSize)
	}
	le := binary.LittleEndian
	for i, d := range probeGDT {
		le.PutUint64(mem[gdtAddr+8*i:], d)
	}
	le.PutUint16(mem[gdtrAddr:], uint16(8*len(probeGDT)-1)) // limit: the last byte's offset
	le.PutUint32(mem[gdtrAddr+2:], gdtAddr)

	code, _, err := assemble(probeProgram, codeAddr)
	if err != nil {
		return err
	}
	if codeAddr+len(code) > pml4Addr {
		return fmt.Errorf("the probe's code (%d bytes) overlaps its page tables", len(code))
	}
	copy(mem[codeAddr:], code)

	le.PutUint64(mem[pml4Addr:], pdptAddr|ptePresent|pteWritable)
	le.PutUint64(mem[pdptAddr:], pdAddr|ptePresent|pteWritable)
	le.PutUint64(mem[pdAddr:], 0|ptePresent|pteWritable|pteLarge) // 0–2 MiB → itself
	return nil
}
