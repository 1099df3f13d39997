package qemu

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/compute"
)

// bootSectorMessage is what testBootSector writes to the serial port.
const bootSectorMessage = "booted by the disk's own boot loader"

// testBootSector is a master boot record whose code (16-bit real mode, loaded by
// the firmware at 0000:7C00) writes bootSectorMessage to COM1 and halts.
func testBootSector() []byte {
	code := []byte{
		0x31, 0xc0, // xor ax, ax
		0x8e, 0xd8, // mov ds, ax
		0xbe, 0x16, 0x7c, // mov si, 0x7c16 (the message, at offset 22)
		0xba, 0xf8, 0x03, // mov dx, 0x3f8 (COM1's data port)
		0xac,       // next: lodsb
		0x84, 0xc0, // test al, al
		0x74, 0x03, // jz halt
		0xee,       // out dx, al
		0xeb, 0xf8, // jmp next
		0xfa,       // halt: cli
		0xf4,       // hlt
		0xeb, 0xfc, // jmp halt
	}
	mbr := make([]byte, 512)
	copy(mbr, code)
	copy(mbr[len(code):], bootSectorMessage+"\r\n\x00")
	mbr[510], mbr[511] = 0x55, 0xaa
	return mbr
}

func TestHasBootLoader(t *testing.T) {
	dir := t.TempDir()
	empty := make([]byte, 512)
	empty[510], empty[511] = 0x55, 0xaa
	noSignature := testBootSector()
	noSignature[510] = 0
	for name, tc := range map[string]struct {
		content []byte
		want    bool
	}{
		"boot code":                         {testBootSector(), true},
		"an MBR with an empty code area":    {empty, false},
		"code without the 0x55AA signature": {noSignature, false},
		"all zeros":                         {make([]byte, 4096), false},
		"shorter than a sector":             {[]byte{0xeb, 0x63}, false},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := hasBootLoader(path); err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", name, got, err, tc.want)
		}
	}
	if _, err := hasBootLoader(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing disk: no error")
	}
}

// TestDiskBootLoaderBoots: a root disk with boot code boots it through the
// firmware, though the driver has a kernel to boot directly (here a file that is no
// kernel: QEMU refuses to start if it is used).
func TestDiskBootLoaderBoots(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		need(t, Binary+" is not installed")
	}
	dir := t.TempDir()
	notAKernel := filepath.Join(dir, "not-a-kernel")
	disk := filepath.Join(dir, "root.img")
	if err := os.WriteFile(notAKernel, []byte("not a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(disk, testBootSector(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 1<<20); err != nil {
		t.Fatal(err)
	}
	d, err := Open(compute.Options{DataDir: filepath.Join(dir, "data"), StopTimeout: time.Second,
		VMBoot: compute.VMBoot{Kernel: notAKernel, Initrd: notAKernel}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const id = "i-0b007b007b007b007"
	spec := cloud.InstanceSpec{ID: id, InstanceType: "t3.nano", VCPUs: 1, MemoryMiB: 256, Architecture: "x86_64",
		Root: cloud.BlockDevice{Device: "/dev/xvda", Path: disk}, RootType: "ebs"}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	defer d.Destroy(context.Background(), id)
	if err := d.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	var console []byte
	for ctx.Err() == nil {
		console, _ = d.ConsoleOutput(ctx, id)
		if bytes.Contains(console, []byte(bootSectorMessage)) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Contains(console, []byte(bootSectorMessage)) {
		t.Fatalf("the console never showed %q:\n%s", bootSectorMessage, console)
	}
	if err := d.Stop(ctx, id, true); err != nil {
		t.Fatal(err)
	}
}
