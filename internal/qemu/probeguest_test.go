package qemu

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// TestProbeProgramDisassembles hands each mode's part of the assembled probe
// to objdump and checks that it decodes, instruction by instruction, to the
// table's text: the hand-written bytes are the instructions the comments say.
func TestProbeProgramDisassembles(t *testing.T) {
	objdump := needTool(t, "objdump", "binutils")
	code, _, err := assemble(probeProgram, codeAddr)
	if err != nil {
		t.Fatal(err)
	}
	machine := map[int]string{16: "i8086", 32: "i386", 64: "i386:x86-64"}
	dir := t.TempDir()
	// Cut the code into runs of one mode each.
	addr, at := uint32(codeAddr), 0
	for i := 0; i < len(probeProgram); {
		bits, start, startAddr := probeProgram[i].bits, at, addr
		var want []string
		for ; i < len(probeProgram) && probeProgram[i].bits == bits; i++ {
			in := probeProgram[i]
			want = append(want, fmt.Sprintf("%x: % x  %s", addr, code[at:at+len(in.code)], in.asm))
			addr += uint32(len(in.code))
			at += len(in.code)
		}
		file := filepath.Join(dir, fmt.Sprintf("code%x.bin", startAddr))
		if err := os.WriteFile(file, code[start:at], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(objdump, "-D", "-b", "binary", "-m", machine[bits], "-M", "intel",
			fmt.Sprintf("--adjust-vma=%#x", startAddr), file).CombinedOutput()
		if err != nil {
			t.Fatalf("objdump: %v\n%s", err, out)
		}
		got := parseObjdump(string(out))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%d-bit code at %#x disassembles as\n\t%s\nwant\n\t%s", bits, startAddr,
				strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
}

// parseObjdump turns objdump's lines ("    1000:\tb0 01   \tmov    al,0x1")
// into "1000: b0 01  mov al,0x1".
func parseObjdump(out string) []string {
	var insns []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		insns = append(insns, fmt.Sprintf("%s %s  %s", strings.TrimSpace(f[0]),
			strings.TrimSpace(f[1]), strings.Join(strings.Fields(f[2]), " ")))
	}
	return insns
}

func TestAssemblePatchesJumps(t *testing.T) {
	code, labels, err := assemble(probeProgram, codeAddr)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	at := map[string]int{} // offset in code of the instruction referring to a label
	off := 0
	for _, in := range probeProgram {
		if in.ref != "" {
			at[in.ref] = off
		}
		off += len(in.code)
	}
	if got := uint32(le.Uint16(code[at["protected"]+1:])); got != labels["protected"] {
		t.Errorf("16-bit far jump to %#x, want %#x", got, labels["protected"])
	}
	if got := le.Uint32(code[at["long"]+1:]); got != labels["long"] {
		t.Errorf("32-bit far jump to %#x, want %#x", got, labels["long"])
	}
	jne := at["spin"]
	if target := codeAddr + jne + 2 + int(int8(code[jne+1])); uint32(target) != labels["spin"] {
		t.Errorf("loop jumps to %#x, want %#x", target, labels["spin"])
	}
	if code[at["protected"]+3] != selCode32 || code[at["long"]+5] != selCode64 {
		t.Error("far jumps load the wrong code selectors")
	}

	if _, _, err := assemble([]insn{{bits: 16, code: []byte{0xEA, 0, 0, 8, 0}, ref: "nowhere", refAt: 1, refLen: 2}}, 0); err == nil {
		t.Error("a jump to a missing label assembled")
	}
	far := []insn{{bits: 64, label: "x", code: make([]byte, 200)}, {bits: 64, code: []byte{0x75, 0}, ref: "x", refAt: 1, refLen: 1, rel: true}}
	if _, _, err := assemble(far, 0); err == nil {
		t.Error("a short jump of 202 bytes assembled")
	}
}

func TestGDT(t *testing.T) {
	// The usual flat descriptors, as every boot loader's GDT has them.
	want := []uint64{0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00AF9A000000FFFF}
	for i, d := range probeGDT {
		if d != want[i] {
			t.Errorf("descriptor %#x = %#016x, want %#016x", 8*i, d, want[i])
		}
	}
	if d := descriptor(0x12345678, 0xABCDE, 0x92, 0x4); d != 0x124A92345678BCDE {
		t.Errorf("descriptor splits base and limit wrongly: %#016x", d)
	}
	if probeGDT[selCode64/8]>>53&1 != 1 || probeGDT[selCode64/8]>>54&1 != 0 {
		t.Error("the 64-bit code segment needs L=1 and D=0")
	}
}

func TestProbeMemory(t *testing.T) {
	mem := make([]byte, probeMemSize)
	if err := writeProbeMemory(mem); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if limit, base := le.Uint16(mem[gdtrAddr:]), le.Uint32(mem[gdtrAddr+2:]); limit != 31 || base != gdtAddr {
		t.Errorf("GDTR limit %d base %#x, want 31 and %#x", limit, base, gdtAddr)
	}
	if gdtAddr+8*len(probeGDT) > gdtrAddr {
		t.Error("the GDT overlaps its pseudo-descriptor")
	}
	if got := le.Uint64(mem[gdtAddr+selCode64:]); got != probeGDT[selCode64/8] {
		t.Errorf("GDT[0x18] = %#x", got)
	}
	code, _, _ := assemble(probeProgram, codeAddr)
	if string(mem[codeAddr:codeAddr+len(code)]) != string(code) {
		t.Error("the code is not at codeAddr")
	}
	for _, pte := range []struct {
		at   int
		want uint64
	}{
		{pml4Addr, pdptAddr | 3},
		{pdptAddr, pdAddr | 3},
		{pdAddr, 0x83}, // present, writable, 2 MiB page at 0
	} {
		if got := le.Uint64(mem[pte.at:]); got != pte.want {
			t.Errorf("page table entry at %#x = %#x, want %#x", pte.at, got, pte.want)
		}
	}
	if err := writeProbeMemory(make([]byte, 4096)); err == nil {
		t.Error("laid the guest out in 4 KiB")
	}
}

// TestKVMABI pins the structures' sizes and the ioctl numbers to the kernel's
// (linux/kvm.h on x86-64; strace shows the same numbers).
func TestKVMABI(t *testing.T) {
	for _, s := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_regs", unsafe.Sizeof(kvmRegs{}), 144},
		{"kvm_segment", unsafe.Sizeof(kvmSegment{}), 24},
		{"kvm_dtable", unsafe.Sizeof(kvmDTable{}), 16},
		{"kvm_sregs", unsafe.Sizeof(kvmSregs{}), 312},
		{"kvm_userspace_memory_region", unsafe.Sizeof(kvmUserspaceMemoryRegion{}), 32},
		{"kvm_cpuid_entry2", unsafe.Sizeof(kvmCPUIDEntry2{}), 40},
		{"kvm_cpuid2", unsafe.Sizeof(kvmCPUID2Header{}), 8},
		{"KVM_GET_API_VERSION", kvmGetAPIVersion, 0xAE00},
		{"KVM_CREATE_VM", kvmCreateVM, 0xAE01},
		{"KVM_GET_VCPU_MMAP_SIZE", kvmGetVCPUMmapSize, 0xAE04},
		{"KVM_GET_SUPPORTED_CPUID", kvmGetSupportedCPUID, 0xC008AE05},
		{"KVM_CREATE_VCPU", kvmCreateVCPU, 0xAE41},
		{"KVM_SET_USER_MEMORY_REGION", kvmSetUserMemoryRegion, 0x4020AE46},
		{"KVM_SET_TSS_ADDR", kvmSetTSSAddr, 0xAE47},
		{"KVM_RUN", kvmRun, 0xAE80},
		{"KVM_GET_REGS", kvmGetRegs, 0x8090AE81},
		{"KVM_SET_REGS", kvmSetRegs, 0x4090AE82},
		{"KVM_GET_SREGS", kvmGetSregs, 0x8138AE83},
		{"KVM_SET_SREGS", kvmSetSregs, 0x4138AE84},
		{"KVM_SET_CPUID2", kvmSetCPUID2, 0x4008AE90},
	} {
		if s.got != s.want {
			t.Errorf("%s = %#x, want %#x", s.name, s.got, s.want)
		}
	}
	if off := unsafe.Offsetof(kvmSregs{}.EFER); off != 8*24+2*16+5*8 {
		t.Errorf("kvm_sregs.efer at %d", off)
	}
}
