package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// QMP is a connection to one QEMU's monitor. Its methods are safe for
// concurrent use. One goroutine, owned by the connection and ended by Close or
// by QEMU going away, reads everything QEMU sends: replies go to the Execute
// waiting for their id, events to the subscribers of Events.
type QMP struct {
	conn     net.Conn
	greeting Greeting

	writeMu sync.Mutex // one command on the wire at a time

	mu      sync.Mutex
	nextID  uint64
	pending map[string]chan reply // by command id
	subs    map[*subscription]struct{}
	ended   bool  // set with err, before done closes
	cause   error // why we abandoned the connection, if we did

	done   chan struct{} // closed when the reader has stopped
	err    error
	closed chan struct{} // closed by Close
	once   sync.Once
}

// Greeting is what QEMU says when a client connects.
type Greeting struct {
	Version struct {
		QEMU struct {
			Major int `json:"major"`
			Minor int `json:"minor"`
			Micro int `json:"micro"`
		} `json:"qemu"`
		Package string `json:"package"`
	} `json:"version"`
	Capabilities []string `json:"capabilities"`
}

// QEMUVersion is QEMU's version as "major.minor.micro".
func (g Greeting) QEMUVersion() string {
	v := g.Version.QEMU
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
}

// Error is a command's failure as QEMU reports it. Class is one of QEMU's few
// error classes (the constants below); Desc is QEMU's human-readable text,
// which changes between versions, so code should decide on Class only.
type Error struct {
	Command string // the command that failed (filled in by Execute)
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

// QEMU's error classes (qapi/error.json).
const (
	ClassGenericError    = "GenericError"
	ClassCommandNotFound = "CommandNotFound"
	ClassDeviceNotActive = "DeviceNotActive"
	ClassDeviceNotFound  = "DeviceNotFound"
	ClassKVMMissingCap   = "KVMMissingCap"
)

func (e *Error) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// IsErrorClass reports whether err is (or wraps) a QMP error of that class.
func IsErrorClass(err error, class string) bool {
	var qe *Error
	return errors.As(err, &qe) && qe.Class == class
}

// ErrClosed is the connection's error after Close.
var ErrClosed = errors.New("qmp: connection closed")

// message is any JSON object QEMU sends; which fields are set says what it is.
type message struct {
	QMP       *Greeting       `json:"QMP"`
	ID        json.RawMessage `json:"id"`
	Return    json.RawMessage `json:"return"`
	Error     *Error          `json:"error"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

type reply struct {
	ret json.RawMessage
	err *Error
}

// Dial connects to the QMP socket at path (QEMU started with
// -qmp unix:PATH,server=on,wait=off), reads the greeting and leaves
// capabilities-negotiation mode, so that commands and events flow.
//
// QEMU creates the socket a moment after it starts, so while the socket is
// missing or refuses connections Dial tries again every 20 ms until ctx ends;
// give it a ctx with a deadline. ctx bounds the handshake too, not the
// connection's life.
func Dial(ctx context.Context, path string) (*QMP, error) {
	var d net.Dialer
	var conn net.Conn
	for {
		var err error
		conn, err = d.DialContext(ctx, "unix", path)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("qmp: connecting to %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: connecting to %s: %w (last: %v)", path, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	q, err := handshake(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("qmp: %s: %w", path, err)
	}
	return q, nil
}

// handshake runs the greeting and qmp_capabilities synchronously, before the
// reader starts, so that a QEMU that is not speaking QMP fails Dial.
func handshake(ctx context.Context, conn net.Conn) (*QMP, error) {
	// Only ctx's end interrupts the handshake, so that ctxErr can tell why.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	dec := json.NewDecoder(bufio.NewReader(conn))
	var hello message
	if err := dec.Decode(&hello); err != nil {
		return nil, fmt.Errorf("reading the greeting: %w", ctxErr(ctx, err))
	}
	if hello.QMP == nil {
		return nil, errors.New("the peer did not greet as QMP")
	}
	if _, err := conn.Write([]byte(`{"execute":"qmp_capabilities","id":"capabilities"}` + "\n")); err != nil {
		return nil, fmt.Errorf("negotiating capabilities: %w", ctxErr(ctx, err))
	}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("negotiating capabilities: %w", ctxErr(ctx, err))
		}
		if m.Event != "" {
			continue // nobody can have subscribed yet
		}
		if m.Error != nil {
			m.Error.Command = "qmp_capabilities"
			return nil, m.Error
		}
		break
	}
	if !stop() {
		return nil, ctx.Err() // the deadline is already set in the past
	}
	conn.SetDeadline(time.Time{})
	q := &QMP{
		conn:     conn,
		greeting: *hello.QMP,
		pending:  map[string]chan reply{},
		subs:     map[*subscription]struct{}{},
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
	}
	go q.read(dec)
	return q, nil
}

// ctxErr prefers the context's error to the I/O error its cancellation caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Greeting is what QEMU said when we connected (its version, chiefly).
func (q *QMP) Greeting() Greeting { return q.greeting }

// Done is closed when the connection has ended: QEMU exited or closed the
// socket, or Close was called. Err then says why.
func (q *QMP) Done() <-chan struct{} { return q.done }

// Err is why the connection ended (nil while it lasts): ErrClosed after Close,
// an error wrapping io.EOF when QEMU went away.
func (q *QMP) Err() error {
	select {
	case <-q.done:
		return q.err
	default:
		return nil
	}
}

// Close ends the connection and waits for its reader to stop. Pending Execute
// calls return ErrClosed; event channels are closed without delivering what
// their subscribers had not received yet.
func (q *QMP) Close() error {
	q.once.Do(func() {
		close(q.closed)
		q.conn.Close()
	})
	<-q.done
	return nil
}

// Execute runs one command and waits for its reply. args (any value that
// marshals to a JSON object, or nil) become the command's arguments; when
// result is not nil the reply's "return" value is unmarshalled into it. A
// failure QEMU reports comes back as *Error. When ctx ends first, Execute
// returns ctx's error: QEMU may still run the command, and its late reply is
// dropped.
func (q *QMP) Execute(ctx context.Context, command string, args, result any) error {
	return q.execute(ctx, command, args, result, nil)
}

// execute is Execute with oob sent alongside the command (SCM_RIGHTS for getfd).
func (q *QMP) execute(ctx context.Context, command string, args, result any, oob []byte) error {
	q.mu.Lock()
	if q.ended {
		q.mu.Unlock()
		return fmt.Errorf("qmp %s: %w", command, q.err)
	}
	q.nextID++
	id := strconv.FormatUint(q.nextID, 10)
	ch := make(chan reply, 1)
	q.pending[id] = ch
	q.mu.Unlock()
	forget := func() {
		q.mu.Lock()
		delete(q.pending, id)
		q.mu.Unlock()
	}

	line, err := json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        string `json:"id"`
	}{command, args, id})
	if err != nil {
		forget()
		return fmt.Errorf("qmp %s: encoding the arguments: %w", command, err)
	}
	if err := q.write(ctx, append(line, '\n'), oob); err != nil {
		forget()
		return fmt.Errorf("qmp %s: %w", command, err)
	}

	select {
	case r := <-ch:
		return r.decode(command, result)
	case <-q.done:
		// The reader may have delivered the reply just before it stopped.
		select {
		case r := <-ch:
			return r.decode(command, result)
		default:
		}
		return fmt.Errorf("qmp %s: %w", command, q.err)
	case <-ctx.Done():
		forget()
		return fmt.Errorf("qmp %s: %w", command, ctx.Err())
	}
}

func (r reply) decode(command string, result any) error {
	if r.err != nil {
		e := *r.err
		e.Command = command
		return &e
	}
	if result != nil {
		if err := json.Unmarshal(r.ret, result); err != nil {
			return fmt.Errorf("qmp %s: decoding the reply: %w", command, err)
		}
	}
	return nil
}

// write sends one command line. A write that ctx interrupts half-way would
// leave a broken line on the stream, so it ends the connection.
func (q *QMP) write(ctx context.Context, line, oob []byte) error {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { q.conn.SetWriteDeadline(time.Unix(1, 0)) })
	var err error
	if unixConn, ok := q.conn.(*net.UnixConn); ok && oob != nil {
		_, _, err = unixConn.WriteMsgUnix(line, oob, nil)
	} else if oob != nil {
		err = errors.New("qmp: passing a file descriptor needs a unix socket")
	} else {
		_, err = q.conn.Write(line)
	}
	if !stop() {
		// ctx ended during the write: whatever happened, the deadline is now in
		// the past and later writes would fail, so the connection is done.
		q.abandon(errors.New("qmp: a command was interrupted while being sent; connection abandoned"))
		return ctxErr(ctx, err)
	}
	if err != nil {
		q.abandon(fmt.Errorf("qmp: writing to QEMU: %w", err))
		return err
	}
	return nil
}

// abandon ends a connection that can no longer be used, saying why.
func (q *QMP) abandon(why error) {
	q.mu.Lock()
	if q.cause == nil {
		q.cause = why
	}
	q.mu.Unlock()
	q.conn.Close()
}

// read is the connection's reader: it runs until the socket fails.
func (q *QMP) read(dec *json.Decoder) {
	var err error
	for {
		var m message
		if err = dec.Decode(&m); err != nil {
			break
		}
		switch {
		case m.Event != "":
			ev := Event{Name: m.Event, Data: m.Data}
			if m.Timestamp != nil {
				ev.Time = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
			}
			q.publish(ev)
		case m.ID != nil:
			var id string
			if json.Unmarshal(m.ID, &id) != nil {
				continue // not one of ours: we only send string ids
			}
			q.mu.Lock()
			ch := q.pending[id]
			delete(q.pending, id)
			q.mu.Unlock()
			if ch != nil {
				ch <- reply{ret: m.Return, err: m.Error} // buffered: never blocks
			}
		default:
			// A reply without id is QEMU failing to parse a line; we marshal
			// every line ourselves, so there is nobody to give it to.
		}
	}
	q.conn.Close()
	q.mu.Lock()
	switch {
	case q.isClosed():
		err = ErrClosed
	case q.cause != nil:
		err = q.cause
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("qmp: QEMU closed the monitor connection: %w", io.EOF)
	default:
		err = fmt.Errorf("qmp: reading from QEMU: %w", err)
	}
	q.ended = true
	q.err = err
	subs := q.subs
	q.subs = nil
	q.mu.Unlock()
	for s := range subs {
		s.end(q.isClosed())
	}
	close(q.done)
}

func (q *QMP) isClosed() bool {
	select {
	case <-q.closed:
		return true
	default:
		return false
	}
}
