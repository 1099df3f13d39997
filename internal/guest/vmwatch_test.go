package guest

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// TestUeventsStartDHCPOnANewNIC runs the device watcher in a namespace: a NIC that
// appears after it started (hot-plugged) is announced by a uevent and gets its lease,
// and the watcher never needed to poll.
func TestUeventsStartDHCPOnANewNIC(t *testing.T) {
	guest, router := newTestNS(t), newTestNS(t)
	logf, stopLog := testLogf(t)
	defer stopLog()
	root := t.TempDir()
	w := &vmWatcher{
		logf:    logf,
		disks:   &diskLinks{sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev"), logf: logf},
		network: testVMNetwork(t, guest, filepath.Join(root, "resolv.conf"), logf),
		power:   &powerButtons{sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev"), logf: logf, pressed: func() {}},
		openUevents: func() (*ueventSocket, error) {
			var s *ueventSocket
			err := inThreadOf(guest.ns, func() error {
				var err error
				s, err = openUevents()
				return err
			})
			return s, err
		},
		pollInterval: time.Hour,
	}
	writeFiles(t, root, map[string]string{"sys/block/.keep": "", "dev/.keep": ""})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	time.Sleep(200 * time.Millisecond) // the first look finds no NIC

	s := &testDHCPServer{addr: netip.MustParsePrefix("10.0.1.5/24"), router: netip.MustParseAddr("10.0.1.1"),
		dns: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, lease: time.Hour}
	vethPair(t, guest, router, "eth0", "r0", net.HardwareAddr{2, 0, 0, 0, 1, 5}, netip.MustParsePrefix("10.0.1.1/24"))
	serveDHCP(t, router, "r0", s)
	select {
	case <-w.network.primaryReady():
	case <-time.After(15 * time.Second):
		t.Fatal("the new eth0 got no lease: its uevent was not seen")
	}
	if !hasAddr(guest.h, "eth0", "10.0.1.5/24") {
		t.Errorf("eth0 addresses: %v", addrs(guest.h, "eth0"))
	}
}
