package guest

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// The qemu driver stops an instance as EC2 does, by pressing its ACPI power button
// (QMP system_powerdown). The kernel's ACPI button driver (module "button") turns the
// press into a key event of an input device named "Power Button", which evdev (module
// "evdev") makes readable as /dev/input/eventN. The helper reads those devices and
// shuts down on KEY_POWER, as systemd-logind and acpid do.

// Input event constants of linux/input-event-codes.h.
const (
	evKey    = 0x01
	keyPower = 116
)

// inputEventSize is sizeof(struct input_event): a struct timeval (two longs), then
// type and code (u16 each) and value (s32).
var inputEventSize = 2*strconv.IntSize/8 + 8

// inputEvent is the part of struct input_event the helper reads.
type inputEvent struct {
	Type, Code uint16
	Value      int32
}

// readInputEvents reads events from r until it fails (or is closed), calling pressed
// for each KEY_POWER press (value 1; 0 is the release, 2 a repeat).
func readInputEvents(r io.Reader, pressed func()) error {
	buf := make([]byte, inputEventSize*16)
	for {
		// evdev returns whole events; a pipe in tests may split them, so read full ones.
		n, err := io.ReadAtLeast(r, buf[:inputEventSize], inputEventSize)
		if err != nil {
			return err
		}
		ev := parseInputEvent(buf[:n])
		if ev.Type == evKey && ev.Code == keyPower && ev.Value == 1 {
			pressed()
		}
	}
}

func parseInputEvent(b []byte) inputEvent {
	off := inputEventSize - 8
	return inputEvent{
		Type:  binary.NativeEndian.Uint16(b[off:]),
		Code:  binary.NativeEndian.Uint16(b[off+2:]),
		Value: int32(binary.NativeEndian.Uint32(b[off+4:])),
	}
}

// findPowerButtons names the event devices (event0 …) of input devices called
// "Power Button": ACPI has two (the fixed-feature button, LNXPWRBN, and PNP0C0C when
// the firmware describes one), and which one QEMU's machine presses depends on it.
func findPowerButtons(sys string) []string {
	matches, _ := filepath.Glob(filepath.Join(sys, "class/input/event*/device/name"))
	var out []string
	for _, m := range matches {
		name, err := os.ReadFile(m)
		if err != nil || strings.TrimSpace(string(name)) != "Power Button" {
			continue
		}
		out = append(out, filepath.Base(filepath.Dir(filepath.Dir(m))))
	}
	return out
}

// powerButtons reads every power button device until closed.
type powerButtons struct {
	sys, dev string
	pressed  func()
	logf     func(format string, args ...any)

	mu     sync.Mutex
	open   map[string]*os.File
	wg     sync.WaitGroup
	closed bool
}

// sync opens the power buttons not open yet (the button module may be loaded after
// the helper starts).
func (p *powerButtons) sync() {
	names := findPowerButtons(p.sys)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.open == nil {
		p.open = map[string]*os.File{}
	}
	for _, name := range names {
		if p.open[name] != nil {
			continue
		}
		path := filepath.Join(p.dev, "input", name)
		f, err := os.Open(path)
		if err != nil {
			p.logf("power button: %v", err)
			continue
		}
		p.open[name] = f
		p.logf("power button: listening on /dev/input/%s", name)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			err := readInputEvents(f, p.pressed)
			p.mu.Lock()
			gone := !p.closed
			if p.open[name] == f {
				delete(p.open, name)
			}
			p.mu.Unlock()
			f.Close()
			if gone && !errors.Is(err, os.ErrClosed) {
				// The device went away (ENODEV); a later sync opens it again if it returns.
				p.logf("power button: /dev/input/%s: %v", name, err)
			}
		}()
	}
}

// close stops every reader and waits for them.
func (p *powerButtons) close() {
	p.mu.Lock()
	p.closed = true
	for _, f := range p.open {
		f.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
