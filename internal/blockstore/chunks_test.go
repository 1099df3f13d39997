package blockstore

import "testing"

// The chunk buffer list keeps a bounded number for reuse, whatever the peak.
func TestChunkBuffersKeptAreBounded(t *testing.T) {
	l := bufferList{free: make(chan *[]byte, 2)}
	var held []*[]byte
	for range 5 {
		held = append(held, l.Get())
	}
	for _, b := range held {
		l.Put(b)
	}
	if len(l.free) != 2 {
		t.Fatalf("%d buffers kept, want 2", len(l.free))
	}
	if b := l.Get(); b != held[0] || cap(*b) != ChunkSize+1 {
		t.Fatalf("Get did not reuse a kept buffer")
	}
}
