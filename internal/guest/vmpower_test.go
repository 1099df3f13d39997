package guest

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inputEventBytes is one struct input_event as the kernel writes it.
func inputEventBytes(typ, code uint16, value int32) []byte {
	b := make([]byte, inputEventSize)
	// The timestamp, which the helper does not read.
	binary.NativeEndian.PutUint64(b, 1700000000)
	off := inputEventSize - 8
	binary.NativeEndian.PutUint16(b[off:], typ)
	binary.NativeEndian.PutUint16(b[off+2:], code)
	binary.NativeEndian.PutUint32(b[off+4:], uint32(value))
	return b
}

func TestInputEventsOnlyAPowerKeyPressCounts(t *testing.T) {
	if inputEventSize != 24 && inputEventSize != 16 {
		t.Fatalf("struct input_event is %d bytes here", inputEventSize)
	}
	var stream bytes.Buffer
	stream.Write(inputEventBytes(evKey, 28, 1))       // Enter pressed
	stream.Write(inputEventBytes(0, 0, 0))            // EV_SYN
	stream.Write(inputEventBytes(evKey, keyPower, 1)) // the press
	stream.Write(inputEventBytes(0, 0, 0))
	stream.Write(inputEventBytes(evKey, keyPower, 2)) // auto-repeat
	stream.Write(inputEventBytes(evKey, keyPower, 0)) // the release
	stream.Write(inputEventBytes(0x04, keyPower, 1))  // EV_MSC with the same code
	presses := 0
	err := readInputEvents(&stream, func() { presses++ })
	if err != io.EOF {
		t.Errorf("ended with %v", err)
	}
	if presses != 1 {
		t.Errorf("%d presses, want 1", presses)
	}
}

// TestPowerButtonIsFoundAndRead: the input device named "Power Button" is found in
// sysfs, its event device opened and read; a press written to it (a FIFO here, as
// evdev would deliver it, in two writes) is seen, and close ends the reader.
func TestPowerButtonIsFoundAndRead(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	writeFiles(t, sys, map[string]string{
		"class/input/event0/device/name": "AT Translated Set 2 keyboard\n",
		"class/input/event2/device/name": "Power Button\n",
		"class/input/event3/device/name": "Sleep Button\n",
	})
	if got := findPowerButtons(sys); len(got) != 1 || got[0] != "event2" {
		t.Fatalf("power buttons %v, want [event2]", got)
	}
	os.MkdirAll(filepath.Join(dev, "input"), 0o755)
	fifo := filepath.Join(dev, "input/event2")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opened for writing (and reading, so that neither side's open waits) first.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var presses atomic.Int32
	logf, stopLog := testLogf(t)
	defer stopLog()
	p := &powerButtons{sys: sys, dev: dev, logf: logf, pressed: func() { presses.Add(1) }}
	p.sync()
	p.sync() // already open: not opened twice
	press := inputEventBytes(evKey, keyPower, 1)
	w.Write(press[:10])
	time.Sleep(50 * time.Millisecond)
	w.Write(press[10:])
	waitFor(t, "the press", func() bool { return presses.Load() == 1 })

	done := make(chan struct{})
	go func() {
		p.close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not end the reader")
	}
}
