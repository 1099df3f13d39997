package imagebuild

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// An x86 kernel image (bzImage) is a real-mode setup program followed by a
// decompressor and the compressed kernel. QEMU can instead start the
// uncompressed kernel, an ELF file, directly in 32-bit protected mode through
// the PVH entry point that Debian's kernels carry (CONFIG_PVH): no decompression
// in the guest, which under TCG saves about 0.25 s of a 2 s boot here
// (docs/images.md). extractVmlinux recovers that ELF file from the bzImage.

// bzImage setup header fields (Documentation/arch/x86/boot.rst).
const (
	bzSetupSects    = 0x1f1 // setup sectors after the boot sector; 0 means 4
	bzHeaderMagic   = 0x202 // "HdrS"
	bzVersion       = 0x206 // boot protocol version
	bzPayloadOffset = 0x248 // from the start of the protected-mode code
	bzPayloadLength = 0x24c
)

// xenElfnotePhys32Entry is the ELF note (owner "Xen") that holds the PVH entry
// point; QEMU refuses an uncompressed kernel without it.
const xenElfnotePhys32Entry = 18

// extractVmlinux returns the uncompressed kernel ELF inside a bzImage whose
// payload is LZ4- or gzip-compressed (Debian 12's amd64 kernels use LZ4), after
// checking that it has a PVH entry point.
func extractVmlinux(bz []byte) ([]byte, error) {
	if len(bz) < 0x250 || string(bz[bzHeaderMagic:bzHeaderMagic+4]) != "HdrS" {
		return nil, errors.New("not an x86 bzImage")
	}
	if v := binary.LittleEndian.Uint16(bz[bzVersion:]); v < 0x208 {
		return nil, fmt.Errorf("boot protocol %#x has no payload fields", v)
	}
	sects := int(bz[bzSetupSects])
	if sects == 0 {
		sects = 4
	}
	start := (sects+1)*512 + int(binary.LittleEndian.Uint32(bz[bzPayloadOffset:]))
	end := start + int(binary.LittleEndian.Uint32(bz[bzPayloadLength:]))
	if start < 0 || end > len(bz) || start >= end {
		return nil, errors.New("payload outside the image")
	}
	payload := bz[start:end]
	var out []byte
	var err error
	switch {
	case bytes.HasPrefix(payload, []byte{0x02, 0x21, 0x4c, 0x18}):
		out, err = lz4Legacy(payload)
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(payload)); err == nil {
			// The kernel appends the uncompressed size after the gzip
			// stream; reading one member leaves it.
			zr.Multistream(false)
			out, err = io.ReadAll(zr)
		}
	default:
		return nil, fmt.Errorf("payload compressed with an unsupported method (magic % x)", payload[:min(4, len(payload))])
	}
	if err != nil {
		return nil, fmt.Errorf("decompressing the kernel: %w", err)
	}
	if err := checkPVH(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkPVH checks that an ELF kernel has the PVH entry note.
func checkPVH(vmlinux []byte) error {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return fmt.Errorf("the kernel is not an ELF file: %w", err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes, err := io.ReadAll(p.Open())
		if err != nil {
			return err
		}
		// Notes: namesz, descsz, type, then name and desc, each padded
		// to 4 bytes.
		for len(notes) >= 12 {
			namesz := int(f.ByteOrder.Uint32(notes))
			descsz := int(f.ByteOrder.Uint32(notes[4:]))
			typ := f.ByteOrder.Uint32(notes[8:])
			n := 12 + (namesz+3)&^3 + (descsz+3)&^3
			if namesz < 0 || descsz < 0 || n > len(notes) {
				break
			}
			if typ == xenElfnotePhys32Entry && string(bytes.TrimRight(notes[12:12+namesz], "\x00")) == "Xen" {
				return nil
			}
			notes = notes[n:]
		}
	}
	return errors.New("the kernel has no PVH entry point (CONFIG_PVH)")
}

// lz4Legacy decompresses LZ4's legacy frame, the one the kernel's build uses
// (lz4 -l): the magic 0x184C2102, then blocks, each a little-endian 32-bit
// compressed size and an LZ4 block of at most 8 MiB uncompressed. The kernel's
// build appends the uncompressed size (4 bytes) after the last block; it is
// checked when present. A library would do (the LZ4 format is stable and
// small), but none is among the module's dependencies.
func lz4Legacy(src []byte) ([]byte, error) {
	const magic = 0x184c2102
	const maxBlock = 8 << 20
	if len(src) < 4 || binary.LittleEndian.Uint32(src) != magic {
		return nil, errors.New("lz4: not a legacy frame")
	}
	src = src[4:]
	var out []byte
	for len(src) >= 4 {
		n := binary.LittleEndian.Uint32(src)
		if n == magic { // concatenated frames
			src = src[4:]
			continue
		}
		if len(src) == 4 { // the size the kernel's build appends
			if int(n) != len(out) {
				return nil, fmt.Errorf("lz4: %d bytes decompressed, the image says %d", len(out), n)
			}
			return out, nil
		}
		if int64(n) > int64(len(src)-4) {
			return nil, fmt.Errorf("lz4: block of %d bytes with %d left", n, len(src)-4)
		}
		var err error
		if out, err = lz4Block(out, src[4:4+n], maxBlock); err != nil {
			return nil, err
		}
		src = src[4+n:]
	}
	if len(src) != 0 {
		return nil, fmt.Errorf("lz4: %d stray bytes at the end", len(src))
	}
	return out, nil
}

// lz4Block appends to dst the decompression of one LZ4 block (sequences of a
// token, literals, a 2-byte offset and a match length; the last sequence has
// literals only), refusing more than limit bytes of output.
func lz4Block(dst, src []byte, limit int) ([]byte, error) {
	base := len(dst)
	corrupt := errors.New("lz4: corrupt block")
	// length reads a 4-bit length and, when it is 15, the bytes that extend it.
	length := func(l int, i *int) (int, error) {
		if l != 15 {
			return l, nil
		}
		for {
			if *i >= len(src) {
				return 0, corrupt
			}
			b := src[*i]
			*i++
			l += int(b)
			if b != 255 {
				return l, nil
			}
		}
	}
	for i := 0; i < len(src); {
		token := src[i]
		i++
		lit, err := length(int(token>>4), &i)
		if err != nil {
			return nil, err
		}
		if lit > len(src)-i || len(dst)-base+lit > limit {
			return nil, corrupt
		}
		dst = append(dst, src[i:i+lit]...)
		i += lit
		if i == len(src) {
			return dst, nil
		}
		if i+2 > len(src) {
			return nil, corrupt
		}
		off := int(src[i]) | int(src[i+1])<<8
		i += 2
		ml, err := length(int(token&15), &i)
		if err != nil {
			return nil, err
		}
		ml += 4
		if off == 0 || off > len(dst)-base || len(dst)-base+ml > limit {
			return nil, corrupt
		}
		// A match may overlap the bytes it produces (offset 1 repeats
		// one byte): then it is copied byte by byte.
		from := len(dst) - off
		if off >= ml {
			dst = append(dst, dst[from:from+ml]...)
			continue
		}
		for k := 0; k < ml; k++ {
			dst = append(dst, dst[from+k])
		}
	}
	return dst, nil
}

// writeVmlinux extracts the ELF kernel of the bzImage at vmlinuz into path.
func writeVmlinux(vmlinuz, path string) error {
	bz, err := os.ReadFile(vmlinuz)
	if err != nil {
		return err
	}
	vmlinux, err := extractVmlinux(bz)
	if err != nil {
		return err
	}
	return os.WriteFile(path, vmlinux, 0o644)
}
