package store

import (
	"sync"
	"testing"
)

// Every value sent reaches apply exactly once, in the order it was sent by
// its sender, and Batches returns once quit is closed.
func TestBatches(t *testing.T) {
	const senders, each = 8, 200
	in, quit := make(chan [2]int), make(chan struct{})
	var got [senders][]int
	var batches int
	done := make(chan struct{})
	go func() {
		defer close(done)
		Batches(in, quit, func(b [][2]int) {
			if len(b) == 0 || len(b) > maxBatch {
				t.Errorf("batch of %d, want 1 to %d", len(b), maxBatch)
			}
			batches++
			for _, v := range b {
				got[v[0]] = append(got[v[0]], v[1])
			}
		})
	}()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				in <- [2]int{s, i}
			}
		})
	}
	wg.Wait()
	close(quit)
	<-done
	for s := range senders {
		if len(got[s]) != each {
			t.Fatalf("sender %d: %d values applied, want %d", s, len(got[s]), each)
		}
		for i, v := range got[s] {
			if v != i {
				t.Fatalf("sender %d: value %d applied at position %d, want in order", s, v, i)
			}
		}
	}
	t.Logf("%d values in %d batches", senders*each, batches)
}
