package qemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The KVM API, as much of it as the probe uses (linux/kvm.h, asm/kvm.h).
// golang.org/x/sys/unix does not define it.

const kvmAPIVersion = 12

// ioctl request numbers: _IOC(dir, KVMIO = 0xAE, nr, size of the argument).
func kvmIoctl(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | 0xAE<<8 | nr }

const (
	iocNone  = 0
	iocWrite = 1 // the kernel reads the argument
	iocRead  = 2 // the kernel writes the argument
)

var (
	kvmGetAPIVersion       = kvmIoctl(iocNone, 0x00, 0)
	kvmCreateVM            = kvmIoctl(iocNone, 0x01, 0)
	kvmGetVCPUMmapSize     = kvmIoctl(iocNone, 0x04, 0)
	kvmGetSupportedCPUID   = kvmIoctl(iocRead|iocWrite, 0x05, unsafe.Sizeof(kvmCPUID2Header{}))
	kvmCreateVCPU          = kvmIoctl(iocNone, 0x41, 0)
	kvmSetUserMemoryRegion = kvmIoctl(iocWrite, 0x46, unsafe.Sizeof(kvmUserspaceMemoryRegion{}))
	kvmSetTSSAddr          = kvmIoctl(iocNone, 0x47, 0)
	kvmRun                 = kvmIoctl(iocNone, 0x80, 0)
	kvmGetRegs             = kvmIoctl(iocRead, 0x81, unsafe.Sizeof(kvmRegs{}))
	kvmSetRegs             = kvmIoctl(iocWrite, 0x82, unsafe.Sizeof(kvmRegs{}))
	kvmGetSregs            = kvmIoctl(iocRead, 0x83, unsafe.Sizeof(kvmSregs{}))
	kvmSetSregs            = kvmIoctl(iocWrite, 0x84, unsafe.Sizeof(kvmSregs{}))
	kvmSetCPUID2           = kvmIoctl(iocWrite, 0x90, unsafe.Sizeof(kvmCPUID2Header{}))
)

// KVM_RUN exit reasons.
const (
	kvmExitIO            = 2
	kvmExitHLT           = 5
	kvmExitMMIO          = 6
	kvmExitShutdown      = 8
	kvmExitFailEntry     = 9
	kvmExitIntr          = 10
	kvmExitInternalError = 17
	kvmExitIOOut         = 1 // kvm_run.io.direction
)

// Offsets in the vCPU's shared struct kvm_run.
const (
	runExitReason = 8
	runUnion      = 32 // the per-exit-reason union
)

type kvmUserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

type kvmRegs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

type kvmSegment struct {
	Base                           uint64
	Limit                          uint32
	Selector                       uint16
	Type                           uint8
	Present, DPL, DB, S, L, G, AVL uint8
	Unusable                       uint8
	_                              uint8
}

type kvmDTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

type kvmSregs struct {
	CS, DS, ES, FS, GS, SS  kvmSegment
	TR, LDT                 kvmSegment
	GDT, IDT                kvmDTable
	CR0, CR2, CR3, CR4, CR8 uint64
	EFER                    uint64
	APICBase                uint64
	InterruptBitmap         [4]uint64
}

type kvmCPUID2Header struct {
	NEnt uint32
	_    uint32
}

type kvmCPUIDEntry2 struct {
	Function, Index, Flags uint32
	EAX, EBX, ECX, EDX     uint32
	_                      [3]uint32
}

// kvmCPUID2 is struct kvm_cpuid2 with room for entries.
type kvmCPUID2 struct {
	kvmCPUID2Header
	Entries [256]kvmCPUIDEntry2
}

const (
	eferLMA = 1 << 10 // long mode active
)

func ioctl(fd int, req, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// ioctlPtr passes a struct to an ioctl. The conversion to uintptr happens in
// the system call's own argument list, as unsafe.Pointer's rules require.
func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// probeProgress receives what the guest reports: a stage (stageReal, ...)
// and the time since the vCPU first ran.
type probeProgress func(stage int, since time.Duration)

// runProbeGuest creates a VM on device (/dev/kvm) holding the probe's guest,
// runs its vCPU and returns nil once the guest has finished its loop in long mode, reporting
// each stage as it comes. ready is called when the VM is set up, before the
// vCPU first runs. It may never return: that is what the probe looks for, and
// why it runs in a child process.
func runProbeGuest(device string, ready func(), progress probeProgress) error {
	// A vCPU belongs to the thread that created it.
	runtime.LockOSThread()

	kvm, err := unix.Open(device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", device, err)
	}
	defer unix.Close(kvm)
	if v, err := ioctl(kvm, kvmGetAPIVersion, 0); err != nil || v != kvmAPIVersion {
		return fmt.Errorf("KVM_GET_API_VERSION: %d, %v (want %d)", v, err, kvmAPIVersion)
	}
	vmfd, err := ioctl(kvm, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	vm := int(vmfd)
	defer unix.Close(vm)
	// Intel CPUs without "unrestricted guest" need three pages for the TSS
	// that emulates real mode; QEMU puts them just below the BIOS. Harmless
	// on AMD.
	if _, err := ioctl(vm, kvmSetTSSAddr, 0xFFFBD000); err != nil {
		return fmt.Errorf("KVM_SET_TSS_ADDR: %w", err)
	}

	mem, err := unix.Mmap(-1, 0, probeMemSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("guest memory: %w", err)
	}
	defer unix.Munmap(mem)
	if err := writeProbeMemory(mem); err != nil {
		return err
	}
	region := kvmUserspaceMemoryRegion{
		MemorySize:    probeMemSize,
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))),
	}
	if err := ioctlPtr(vm, kvmSetUserMemoryRegion, unsafe.Pointer(&region)); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}

	vcpufd, err := ioctl(vm, kvmCreateVCPU, 0)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	vcpu := int(vcpufd)
	defer unix.Close(vcpu)
	runSize, err := ioctl(kvm, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	run, err := unix.Mmap(vcpu, 0, int(runSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping kvm_run: %w", err)
	}
	defer unix.Munmap(run)

	// Without CPUID saying the CPU has long mode, KVM refuses EFER.LME.
	cpuid := new(kvmCPUID2)
	cpuid.NEnt = uint32(len(cpuid.Entries))
	if err := ioctlPtr(kvm, kvmGetSupportedCPUID, unsafe.Pointer(cpuid)); err != nil {
		return fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	if err := ioctlPtr(vcpu, kvmSetCPUID2, unsafe.Pointer(cpuid)); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}

	// Start in real mode at the code, not at the reset vector (which has no
	// firmware behind it here).
	var sregs kvmSregs
	if err := ioctlPtr(vcpu, kvmGetSregs, unsafe.Pointer(&sregs)); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	sregs.CS.Base, sregs.CS.Selector = 0, 0
	if err := ioctlPtr(vcpu, kvmSetSregs, unsafe.Pointer(&sregs)); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	regs := kvmRegs{RIP: codeAddr, RFLAGS: 2} // bit 1 of RFLAGS is always set
	if err := ioctlPtr(vcpu, kvmSetRegs, unsafe.Pointer(&regs)); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}

	ready()
	start := time.Now()
	stage := 0
	le := binary.LittleEndian
	for {
		if _, err := ioctl(vcpu, kvmRun, 0); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue // a signal (the Go runtime's preemption): run on
			}
			return fmt.Errorf("KVM_RUN after stage %d: %w", stage, err)
		}
		switch reason := le.Uint32(run[runExitReason:]); reason {
		case kvmExitIO:
			dir, size := run[runUnion], run[runUnion+1]
			port := le.Uint16(run[runUnion+2:])
			dataAt := le.Uint64(run[runUnion+8:])
			if dir != kvmExitIOOut || port != stagePort || size != 1 || dataAt >= uint64(len(run)) {
				return fmt.Errorf("unexpected port I/O after stage %d (port %#x)", stage, port)
			}
			stage = int(run[dataAt])
			progress(stage, time.Since(start))
			switch stage {
			case stageLong:
				// Check for ourselves that the CPU is in 64-bit mode.
				if err := ioctlPtr(vcpu, kvmGetSregs, unsafe.Pointer(&sregs)); err != nil {
					return fmt.Errorf("KVM_GET_SREGS: %w", err)
				}
				if sregs.EFER&eferLMA == 0 || sregs.CS.L != 1 {
					return fmt.Errorf("the guest reported long mode, but EFER=%#x CS.L=%d", sregs.EFER, sregs.CS.L)
				}
			case stageLoop:
				return nil
			}
		case kvmExitIntr:
			continue
		case kvmExitHLT:
			return fmt.Errorf("the guest halted after stage %d", stage)
		case kvmExitShutdown:
			return fmt.Errorf("the guest triple-faulted after stage %d", stage)
		case kvmExitFailEntry:
			return fmt.Errorf("VM entry failed after stage %d (hardware reason %#x)", stage, le.Uint64(run[runUnion:]))
		case kvmExitInternalError:
			return fmt.Errorf("KVM internal error after stage %d (suberror %d)", stage, le.Uint32(run[runUnion:]))
		case kvmExitMMIO:
			return fmt.Errorf("the guest touched memory it has not after stage %d (%#x)", stage, le.Uint64(run[runUnion:]))
		default:
			return fmt.Errorf("unexpected KVM exit %d after stage %d", reason, stage)
		}
	}
}
