package vpcnet

import (
	"context"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A virtual machine's interface is a tap device in the router namespace instead of a
// veth pair: the router's end of the "wire" is the tap, named and configured exactly as
// a veth's router end (eniLink, alias, gateway address, proxy ARP, /32 routes), so the
// VPC's table, routes, metadata listener, resolver and DHCP server treat both alike. The
// other end is QEMU's virtio-net device, given a queue of the tap as a file descriptor.
// There is no instance side to configure: the guest's kernel takes its address by DHCP.
//
// The tap is persistent: it stays with its configuration when QEMU exits (a stop, a
// crash, a restart of strato that re-adopts the QEMU holding it), until
// UnplugInterface.

// PlugTap wires an interface for a virtual machine and returns a queue of its tap, for
// QEMU's `-netdev tap,fd=N` (frames carry a virtio-net header; QEMU finds that out from
// the descriptor). p.Netns is not used. Plugging again reconciles the router's side and
// returns another queue of the same tap. The caller owns the file.
func (n *Network) PlugTap(ctx context.Context, p Plug) (*os.File, error) {
	if _, err := p.validate(false); err != nil {
		return nil, err
	}
	if err := n.lock(ctx); err != nil {
		return nil, err
	}
	defer n.mu.Unlock()
	var queue *os.File
	err := n.plug(p, func(router, link string) (int, error) {
		var err error
		if queue, err = openTap(router, link, p.InterfaceID); err != nil {
			return 0, err
		}
		return configureRouterSide(router, link, p)
	})
	if err != nil {
		if queue != nil {
			queue.Close()
		}
		return nil, fmt.Errorf("vpcnet: plugging %s into %s as a tap: %w", p.InterfaceID, p.VpcID, err)
	}
	return queue, nil
}

// openTap opens a queue of the router's tap named link, making it (persistent) when
// there is none. A link of that name that is not a tap (the veth of an interface that
// was a container's) is replaced; one that is another interface's is an error.
func openTap(router, link, interfaceID string) (*os.File, error) {
	if err := withHandle(router, func(h *netlink.Handle) error {
		existing, err := h.LinkByName(link)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if alias := existing.Attrs().Alias; alias != "" && alias != interfaceID {
			return fmt.Errorf("link %s in the router belongs to %s", link, alias)
		}
		if _, tap := existing.(*netlink.Tuntap); tap {
			return nil
		}
		return h.LinkDel(existing)
	}); err != nil {
		return nil, err
	}
	var queue *os.File
	err := inNamespace(router, func() error {
		// TUNSETIFF makes the device in the namespace of the thread that asks, or
		// attaches to the one of that name there.
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("/dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(link)
		if err == nil {
			// Multi-queue, so that plugging again while QEMU holds its queue (strato
			// reconciling after a restart) attaches another queue instead of failing
			// with EBUSY.
			ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR | unix.IFF_MULTI_QUEUE)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err == nil {
			err = unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1)
		}
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("tap %s: %w", link, err)
		}
		// Non-blocking, so that the file takes deadlines; QEMU sets its descriptors so
		// anyway.
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		queue = os.NewFile(uintptr(fd), "tap "+link)
		return nil
	})
	return queue, err
}
