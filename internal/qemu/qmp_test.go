package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file run the client against a fake QEMU: a unix socket
// served by the test, which greets, negotiates and then follows a script.

const greeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2"}, "capabilities": ["oob"]}}`

// command is one line the client sent.
type command struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
	ID        string          `json:"id"`
}

// peer is the fake QEMU's side of one connection.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// next reads the client's next command.
func (p *peer) next() command {
	p.t.Helper()
	line, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Errorf("fake QEMU: reading a command: %v", err)
		return command{}
	}
	var c command
	if err := json.Unmarshal([]byte(line), &c); err != nil {
		p.t.Errorf("fake QEMU: a command that is not JSON: %q", line)
	}
	return c
}

// send writes one line of JSON, formatted like fmt.Sprintf.
func (p *peer) send(format string, args ...any) {
	p.t.Helper()
	if _, err := fmt.Fprintf(p.conn, format+"\r\n", args...); err != nil {
		p.t.Errorf("fake QEMU: writing: %v", err)
	}
}

// waitClose reads until the client closes the connection.
func (p *peer) waitClose() {
	io.Copy(io.Discard, p.r)
}

func (p *peer) reply(c command, ret string) {
	p.t.Helper()
	p.send(`{"return": %s, "id": %q}`, ret, c.ID)
}

// socketDir is a short temporary directory: a unix socket's path must fit
// in 108 bytes, which t.TempDir's long names can exceed.
func socketDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "qmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fakeQEMU listens on a new socket and runs script on the first connection,
// after the greeting and the capabilities negotiation. It returns the socket's
// path. The script's end closes the connection, as QEMU exiting would.
func fakeQEMU(t *testing.T, script func(p *peer)) string {
	t.Helper()
	path := filepath.Join(socketDir(t), "qmp.sock")
	fakeQEMUAt(t, path, script)
	return path
}

// fakeQEMUAt is fakeQEMU on a given path; it may run outside the test's
// goroutine.
func fakeQEMUAt(t *testing.T, path string, script func(p *peer)) {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Error(err)
		return
	}
	served := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-served
	})
	go func() {
		defer close(served)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		p := &peer{t: t, conn: conn, r: bufio.NewReader(conn)}
		p.send(greeting)
		if c := p.next(); c.Execute != "qmp_capabilities" {
			t.Errorf("first command %q, want qmp_capabilities", c.Execute)
			return
		} else {
			p.reply(c, "{}")
		}
		script(p)
	}()
}

// checkGoroutines fails the test if goroutines it started outlive it (the
// connection's reader, subscriptions).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines left running (had %d):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func dial(t *testing.T, path string) *QMP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestExecuteReturnsResult(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		c := p.next()
		if c.Execute != "query-status" || c.Arguments != nil {
			t.Errorf("got %+v, want query-status without arguments", c)
		}
		p.reply(c, `{"status": "prelaunch", "singlestep": false, "running": false}`)
		p.waitClose()
	})
	q := dial(t, path)
	if got := q.Greeting().QEMUVersion(); got != "7.2.22" {
		t.Errorf("version %q, want 7.2.22", got)
	}
	st, err := q.QueryStatus(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if st != (Status{Status: "prelaunch", Running: false}) {
		t.Errorf("status %+v", st)
	}
}

func TestErrorIsTyped(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		c := p.next()
		p.send(`{"id": %q, "error": {"class": "DeviceNotFound", "desc": "Device 'vd9' not found"}}`, c.ID)
		p.waitClose()
	})
	q := dial(t, path)
	err := q.Execute(testContext(t), "device_del", map[string]string{"id": "vd9"}, nil)
	var qe *Error
	if !errors.As(err, &qe) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if qe.Command != "device_del" || qe.Class != ClassDeviceNotFound || qe.Desc != "Device 'vd9' not found" {
		t.Errorf("error %+v", qe)
	}
	if !IsErrorClass(err, ClassDeviceNotFound) || IsErrorClass(err, ClassGenericError) {
		t.Error("IsErrorClass disagrees with the error's class")
	}
}

// TestRepliesMatchedByID sends commands from many goroutines; the fake QEMU
// reads them all, then answers in reverse order with events between the
// replies. Each caller must get its own answer.
func TestRepliesMatchedByID(t *testing.T) {
	checkGoroutines(t)
	const n = 20
	path := fakeQEMU(t, func(p *peer) {
		var cs []command
		for range n {
			cs = append(cs, p.next())
		}
		for i := len(cs) - 1; i >= 0; i-- {
			p.send(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}`)
			p.reply(cs[i], string(cs[i].Arguments))
		}
		p.waitClose()
	})
	q := dial(t, path)
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var got struct{ N int }
			if err := q.Execute(ctx, "echo", map[string]int{"N": i}, &got); err != nil {
				t.Error(err)
			} else if got.N != i {
				t.Errorf("caller %d got the reply to %d", i, got.N)
			}
		})
	}
	wg.Wait()
}

func TestEventsDeliveredInOrderWithoutBlockingTheReader(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		c := p.next()
		p.send(`{"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "POWERDOWN"}`)
		p.send(`{"timestamp": {"seconds": 1700000001, "microseconds": 0}, "event": "STOP"}`)
		p.reply(c, "{}")
		for i := range 100 {
			p.send(`{"timestamp": {"seconds": 1700000002, "microseconds": 0}, "event": "RESET", "data": {"guest": true, "n": %d}}`, i)
		}
		p.send(`{"timestamp": {"seconds": 1700000003, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}`)
		c = p.next()
		p.reply(c, "{}")
		p.waitClose()
	})
	q := dial(t, path)
	ctx := testContext(t)
	// A subscriber that never receives must not hold anything up.
	_, stopIdle := q.Events()
	defer stopIdle()
	resets, stopResets := q.Events("RESET")
	defer stopResets()
	power, stopPower := q.Events("POWERDOWN", "SHUTDOWN")
	defer stopPower()

	if err := q.Execute(ctx, "system_powerdown", nil, nil); err != nil {
		t.Fatal(err)
	}
	ev := <-power
	if ev.Name != "POWERDOWN" || !ev.Time.Equal(time.Unix(1700000000, 250000000)) {
		t.Errorf("first event %+v, want POWERDOWN at 1700000000.25", ev)
	}
	// The reader has queued 100 RESETs nobody received yet; the connection must
	// still answer.
	if err := q.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		ev := <-resets
		var data struct{ N int }
		if err := json.Unmarshal(ev.Data, &data); err != nil || ev.Name != "RESET" || data.N != i {
			t.Fatalf("RESET %d: got %s %s", i, ev.Name, ev.Data)
		}
	}
	if ev := <-power; ev.Name != "SHUTDOWN" {
		t.Errorf("second event %s, want SHUTDOWN (STOP filtered out)", ev.Name)
	}
	stopResets()
	if _, ok := <-resets; ok {
		t.Error("channel still open after stop")
	}
	stopResets() // a second stop is harmless
}

// TestQEMUGoingAway: QEMU sends SHUTDOWN and exits with a command unanswered.
// The waiting command fails, Done closes, Err wraps io.EOF, and the SHUTDOWN
// still reaches its subscriber before the channel closes.
func TestQEMUGoingAway(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		p.next()
		p.send(`{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}`)
		// return: the connection closes without a reply
	})
	q := dial(t, path)
	events, stop := q.Events("SHUTDOWN")
	defer stop()
	err := q.Execute(testContext(t), "query-status", nil, nil)
	if !errors.Is(err, io.EOF) {
		t.Errorf("pending command: %v, want io.EOF", err)
	}
	select {
	case <-q.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after EOF")
	}
	if !errors.Is(q.Err(), io.EOF) {
		t.Errorf("Err() = %v, want io.EOF", q.Err())
	}
	if ev, ok := <-events; !ok || ev.Name != "SHUTDOWN" {
		t.Errorf("got %+v %v, want the SHUTDOWN sent before EOF", ev, ok)
	}
	if _, ok := <-events; ok {
		t.Error("event channel open after EOF")
	}
	if err := q.Execute(testContext(t), "query-status", nil, nil); !errors.Is(err, io.EOF) {
		t.Errorf("command after EOF: %v, want io.EOF", err)
	}
	if ch, _ := q.Events(); ch != nil {
		if _, ok := <-ch; ok {
			t.Error("subscribing after EOF gave an open channel")
		}
	}
}

// TestContextEndsTheWait: a command QEMU does not answer in time returns the
// context's error, and its late reply does not confuse the next command.
func TestContextEndsTheWait(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		slow := p.next()
		next := p.next()
		p.reply(slow, `{"status": "late"}`)
		p.reply(next, `{"status": "running", "running": true}`)
		p.waitClose()
	})
	q := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := q.QueryStatus(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	st, err := q.QueryStatus(testContext(t))
	if err != nil || st.Status != "running" {
		t.Errorf("next command got %+v, %v; want running", st, err)
	}
	if q.Err() != nil {
		t.Errorf("connection ended: %v", q.Err())
	}
}

func TestClose(t *testing.T) {
	checkGoroutines(t)
	received := make(chan struct{})
	path := fakeQEMU(t, func(p *peer) {
		p.next() // never answered
		close(received)
		// The client may be closing already: this write may fail.
		io.WriteString(p.conn, `{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}`+"\n")
		p.waitClose()
	})
	q := dial(t, path)
	events, stop := q.Events()
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- q.Execute(context.Background(), "query-status", nil, nil) }()
	<-received
	q.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("pending command: %v, want ErrClosed", err)
	}
	if !errors.Is(q.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", q.Err())
	}
	for range events { // may or may not hold the STOP; must close
	}
	if err := q.Execute(context.Background(), "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("command after Close: %v, want ErrClosed", err)
	}
	q.Close() // twice is harmless
}

func TestDialHandshake(t *testing.T) {
	checkGoroutines(t)
	serve := func(t *testing.T, handle func(c net.Conn)) string {
		path := filepath.Join(socketDir(t), "qmp.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			handle(c)
		}()
		t.Cleanup(func() { l.Close(); <-done })
		return path
	}
	for _, tc := range []struct {
		name   string
		handle func(c net.Conn)
		want   string
	}{
		{"not QMP", func(c net.Conn) { io.WriteString(c, `{"hello": 1}`+"\n") }, "did not greet"},
		{"not JSON", func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH\r\n") }, "reading the greeting"},
		{"capabilities refused", func(c net.Conn) {
			io.WriteString(c, greeting+"\n")
			bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, `{"id": "capabilities", "error": {"class": "CommandNotFound", "desc": "nope"}}`+"\n")
		}, "CommandNotFound"},
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := serve(t, tc.handle)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			q, err := Dial(ctx, path)
			if err == nil {
				q.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestDialWaitsForTheSocket: QEMU creates its socket a moment after it
// starts; Dial keeps trying until then.
func TestDialWaitsForTheSocket(t *testing.T) {
	checkGoroutines(t)
	dir := socketDir(t)
	path := filepath.Join(dir, "late.sock")
	go func() {
		time.Sleep(100 * time.Millisecond)
		fakeQEMUAt(t, path, func(p *peer) { p.waitClose() })
	}()
	q := dial(t, path)
	q.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, filepath.Join(dir, "never.sock")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("missing socket: %v, want DeadlineExceeded", err)
	}
}

func TestQuitAcceptsQEMUExitingFirst(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		if c := p.next(); c.Execute != "quit" {
			t.Errorf("got %s, want quit", c.Execute)
		}
	})
	q := dial(t, path)
	if err := q.Quit(testContext(t)); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// TestDeviceDelWaitsForItsDevice: DEVICE_DELETED comes first for the device's
// unnamed virtio backend and for other devices; DeviceDel returns on its own.
func TestDeviceDelWaitsForItsDevice(t *testing.T) {
	checkGoroutines(t)
	sentOurs := make(chan struct{})
	path := fakeQEMU(t, func(p *peer) {
		c := p.next()
		if c.Execute != "device_del" || string(c.Arguments) != `{"id":"vol1"}` {
			t.Errorf("got %s %s", c.Execute, c.Arguments)
		}
		p.reply(c, "{}")
		p.send(`{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/vol1/virtio-backend"}}`)
		p.send(`{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "DEVICE_DELETED", "data": {"device": "vol2", "path": "/machine/peripheral/vol2"}}`)
		time.Sleep(50 * time.Millisecond)
		close(sentOurs)
		p.send(`{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "DEVICE_DELETED", "data": {"device": "vol1", "path": "/machine/peripheral/vol1"}}`)
		p.waitClose()
	})
	q := dial(t, path)
	if err := q.DeviceDel(testContext(t), "vol1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sentOurs:
	default:
		t.Error("DeviceDel returned before its device's DEVICE_DELETED")
	}
}

func TestDeviceDelTimesOut(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		p.reply(p.next(), "{}") // the guest never ejects
		p.waitClose()
	})
	q := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.DeviceDel(ctx, "vol1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
}

// TestHelperArguments pins the JSON the typed helpers send: QEMU rejects
// unknown or misspelt members.
func TestHelperArguments(t *testing.T) {
	checkGoroutines(t)
	boot := 0
	calls := []struct {
		call func(q *QMP, ctx context.Context) error
		want string
	}{
		{func(q *QMP, ctx context.Context) error {
			return q.BlockdevAdd(ctx, RawFile{NodeName: "vol1", Filename: "/v/vol1.raw", Discard: true})
		}, `blockdev-add {"node-name":"vol1","driver":"raw","read-only":false,"discard":"unmap","file":{"driver":"file","filename":"/v/vol1.raw"}}`},
		{func(q *QMP, ctx context.Context) error {
			return q.BlockdevAdd(ctx, RawFile{NodeName: "ami", Filename: "/a.raw", ReadOnly: true})
		}, `blockdev-add {"node-name":"ami","driver":"raw","read-only":true,"discard":"ignore","file":{"driver":"file","filename":"/a.raw"}}`},
		{func(q *QMP, ctx context.Context) error {
			return q.BlockdevAdd(ctx, RawFile{NodeName: "enc", Filename: "/dev/mapper/x", HostDevice: true, Discard: true})
		}, `blockdev-add {"node-name":"enc","driver":"raw","read-only":false,"discard":"unmap","file":{"driver":"host_device","filename":"/dev/mapper/x"}}`},
		{func(q *QMP, ctx context.Context) error {
			return q.DeviceAdd(ctx, VirtioBlk{ID: "vd1", Drive: "vol1", Serial: "vol0123456789abcdef0", Bus: "hp1"})
		}, `device_add {"driver":"virtio-blk-pci","id":"vd1","drive":"vol1","serial":"vol0123456789abcdef0","bus":"hp1"}`},
		{func(q *QMP, ctx context.Context) error {
			return q.DeviceAdd(ctx, VirtioBlk{ID: "root", Drive: "vol0", BootIndex: &boot})
		}, `device_add {"driver":"virtio-blk-pci","id":"root","drive":"vol0","bootindex":0}`},
		{func(q *QMP, ctx context.Context) error { return q.BlockdevDel(ctx, "vol1") }, `blockdev-del {"node-name":"vol1"}`},
		{func(q *QMP, ctx context.Context) error { return q.BlockResize(ctx, "vol1", 8<<30) }, `block_resize {"node-name":"vol1","size":8589934592}`},
		{func(q *QMP, ctx context.Context) error { return q.SystemPowerdown(ctx) }, `system_powerdown null`},
		{func(q *QMP, ctx context.Context) error { return q.SystemReset(ctx) }, `system_reset null`},
		{func(q *QMP, ctx context.Context) error { return q.Cont(ctx) }, `cont null`},
	}
	got := make(chan string, len(calls))
	path := fakeQEMU(t, func(p *peer) {
		for range calls {
			c := p.next()
			args := string(c.Arguments)
			if args == "" {
				args = "null"
			}
			got <- c.Execute + " " + args
			p.reply(c, "{}")
		}
		p.waitClose()
	})
	q := dial(t, path)
	ctx := testContext(t)
	for _, c := range calls {
		if err := c.call(q, ctx); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != c.want {
			t.Errorf("sent %s\n want %s", g, c.want)
		}
	}
	if err := q.DeviceAdd(ctx, VirtioBlk{ID: "vd2", Drive: "x", Serial: "vol-0123456789abcdef0"}); err == nil {
		t.Error("DeviceAdd took a serial virtio-blk would cut")
	}
}

func TestQueryBlockDecodes(t *testing.T) {
	checkGoroutines(t)
	path := fakeQEMU(t, func(p *peer) {
		p.reply(p.next(), `[{"io-status": "ok", "device": "", "locked": false, "removable": false, "inserted": {"image": {"virtual-size": 2097152, "filename": "/v/d.raw", "format": "raw", "actual-size": 0}, "ro": false, "node-name": "n1", "drv": "raw", "file": "/v/d.raw"}, "qdev": "/machine/peripheral/vd1/virtio-backend", "type": "unknown"}]`)
		p.waitClose()
	})
	q := dial(t, path)
	bs, err := q.QueryBlock(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Inserted == nil {
		t.Fatalf("got %+v", bs)
	}
	b := bs[0]
	if b.QDev != "/machine/peripheral/vd1/virtio-backend" || b.Inserted.NodeName != "n1" || b.Inserted.Image.VirtualSize != 2<<20 || b.Inserted.File != "/v/d.raw" {
		t.Errorf("got %+v %+v", b, *b.Inserted)
	}
}
