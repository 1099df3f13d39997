package qemu

import (
	"encoding/json"
	"sync"
	"time"
)

// Event is an asynchronous message from QEMU: SHUTDOWN (guest power-off or
// quit), POWERDOWN (ACPI power button pressed), RESET, STOP, RESUME,
// DEVICE_DELETED (a hot-unplug finished), BLOCK_IO_ERROR, and so on
// (qapi/*.json in QEMU's sources list them).
type Event struct {
	Name string
	Data json.RawMessage // the event's "data" object, null when it has none
	Time time.Time       // QEMU's timestamp
}

// Events subscribes to the events named (every event when names is empty), from
// now on. They arrive on the channel in the order QEMU sent them.
//
// The connection's reader never waits for a subscriber: each subscription
// queues what its subscriber has not received yet, without bound (QEMU sends a
// handful of events per guest action, and a subscriber that stops receiving
// must call stop). The channel is closed when stop is called, when Close is
// called (queued events are dropped), or when QEMU has gone away and every
// queued event was received — so a SHUTDOWN that QEMU sent just before exiting
// is still delivered. Call stop when done with the channel; calling it more
// than once is harmless. Each subscription has one goroutine, which stop ends.
func (q *QMP) Events(names ...string) (events <-chan Event, stop func()) {
	s := &subscription{
		out:  make(chan Event),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	if len(names) > 0 {
		s.names = map[string]bool{}
		for _, n := range names {
			s.names[n] = true
		}
	}
	q.mu.Lock()
	if q.ended {
		q.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	q.subs[s] = struct{}{}
	q.mu.Unlock()
	go s.run()
	return s.out, func() {
		q.mu.Lock()
		delete(q.subs, s)
		q.mu.Unlock()
		s.cancel()
	}
}

// publish hands an event to every subscriber that wants it, without waiting.
func (q *QMP) publish(ev Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for s := range q.subs {
		if s.names == nil || s.names[ev.Name] {
			s.push(ev)
		}
	}
}

type subscription struct {
	names map[string]bool // nil: all
	out   chan Event
	wake  chan struct{} // capacity 1: "the queue or final changed"
	stop  chan struct{}
	once  sync.Once

	mu    sync.Mutex
	queue []Event
	final bool // nothing more will be queued
}

func (s *subscription) push(ev Event) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	s.poke()
}

// end says no more events will come; drop discards what is queued (Close),
// otherwise the subscriber still receives it (QEMU went away).
func (s *subscription) end(drop bool) {
	if drop {
		s.cancel()
		return
	}
	s.mu.Lock()
	s.final = true
	s.mu.Unlock()
	s.poke()
}

func (s *subscription) cancel() { s.once.Do(func() { close(s.stop) }) }

func (s *subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default: // already poked; run will look at the queue anyway
	}
}

// run moves queued events to the subscriber's channel.
func (s *subscription) run() {
	defer close(s.out)
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			ev := s.queue[0]
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			s.mu.Unlock()
			select {
			case s.out <- ev:
			case <-s.stop:
				return
			}
			continue
		}
		final := s.final
		s.mu.Unlock()
		if final {
			return
		}
		select {
		case <-s.wake:
		case <-s.stop:
			return
		}
	}
}
