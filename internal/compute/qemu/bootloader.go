package qemu

import (
	"bytes"
	"io"
	"os"
)

// A machine boots the way a real one would: from the boot loader on its root disk
// when the disk has one, else (strato's own images, which carry none) the
// installed kernel and initramfs directly. A full-disk image imported with GRUB
// in its master boot record therefore boots its own kernel, and so does an
// instance whose user ran grub-install on its root volume, from its next boot on.
// Only BIOS boot loaders are found: the machine's firmware is SeaBIOS, so a
// GPT disk that boots through UEFI alone does not boot.

// mbrCodeSize is the part of a master boot record that holds boot code; the disk
// signature, the partition table and 0x55AA follow it.
const mbrCodeSize = 440

// hasBootLoader says whether the disk at path has boot code in its master boot
// record: the 0x55AA signature, and code that is not all zeros. strato's images
// have an MBR with an empty code area.
func hasBootLoader(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	mbr := make([]byte, 512)
	if _, err := io.ReadFull(f, mbr); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return false, nil // smaller than a sector: no boot loader
		}
		return false, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return false, nil
	}
	return !bytes.Equal(mbr[:mbrCodeSize], make([]byte, mbrCodeSize)), nil
}
