package guest

import "testing"

func TestParseUevent(t *testing.T) {
	msg := "add@/devices/pci0000:00/0000:00:03.0/virtio1/block/vdb\x00ACTION=add\x00" +
		"DEVPATH=/devices/pci0000:00/0000:00:03.0/virtio1/block/vdb\x00SUBSYSTEM=block\x00" +
		"MAJOR=254\x00MINOR=16\x00DEVNAME=vdb\x00DEVTYPE=disk\x00DISKSEQ=9\x00SEQNUM=2051\x00"
	ev, err := parseUevent([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "add" || ev.Subsystem != "block" || ev.Env["DEVNAME"] != "vdb" ||
		ev.DevPath != "/devices/pci0000:00/0000:00:03.0/virtio1/block/vdb" {
		t.Errorf("%+v", ev)
	}
	if _, err := parseUevent([]byte("libudev\x00\xfe\xed\xca\xfe")); err == nil {
		t.Error("a udev message was taken for the kernel's")
	}
}
