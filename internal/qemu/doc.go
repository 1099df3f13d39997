// Package qemu holds what the qemu compute driver needs from QEMU and from the
// host, kept apart from the driver so that each piece can be tested alone:
//
//   - a client of the QEMU Machine Protocol (QMP): Dial a monitor socket,
//     Execute commands (concurrently, each reply matched by its id), receive
//     asynchronous events (Events), notice the end of QEMU (Done, Err), and thin
//     typed helpers for what a driver does to a running machine: power-off,
//     reset, quit, hot-plugging a raw file as a virtio-blk-pci disk and taking
//     it away again, growing it;
//   - the accelerator probe (DetectAccel): whether KVM really runs a guest on
//     this host, or QEMU must use TCG. Some nested hosts open /dev/kvm and
//     create vCPUs, yet a guest hangs as soon as it leaves real mode; the probe
//     runs a tiny guest of its own through that switch, in a child process that
//     is killed when it hangs.
//
// We write our own QMP client because the module proxy refuses the usual ones
// (go-qemu, go-libvirt); QMP is a short line-oriented JSON protocol.
package qemu
