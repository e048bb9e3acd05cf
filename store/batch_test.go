package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// Every value given to Do reaches apply exactly once, in the order its
// caller gave it, in batches of 1 to maxBatch; Do returns only once its
// value's batch has been applied.
func TestWriter(t *testing.T) {
	const senders, each = 8, 200
	var got [senders][]int
	var batches int
	w := NewWriter(func(b [][2]int) {
		if len(b) == 0 || len(b) > maxBatch {
			t.Errorf("batch of %d, want 1 to %d", len(b), maxBatch)
		}
		batches++
		for _, v := range b {
			got[v[0]] = append(got[v[0]], v[1])
		}
	})
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				if err := w.Do(context.Background(), [2]int{s, i}); err != nil {
					t.Errorf("Do() = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	w.Close()
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

// Do gives up when its context ends before the writer takes the value, and
// after Close; neither value is applied.
func TestWriterGivesUp(t *testing.T) {
	applying, release := make(chan struct{}), make(chan struct{})
	var applied []string
	w := NewWriter(func(b []string) {
		applied = append(applied, b...)
		if b[0] == "first" {
			close(applying)
			<-release // the writer is busy: the next Do waits to be taken
		}
	})
	first := make(chan error)
	go func() { first <- w.Do(context.Background(), "first") }()
	<-applying
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Do(ctx, "cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("Do(cancelled context) = %v, want %v", err, context.Canceled)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("Do(first) = %v, want nil", err)
	}
	w.Close()
	if err := w.Do(context.Background(), "closed"); !errors.Is(err, ErrClosed) {
		t.Errorf("Do() after Close = %v, want %v", err, ErrClosed)
	}
	w.Close() // twice is fine
	if len(applied) != 1 || applied[0] != "first" {
		t.Errorf("applied %q, want only [first]", applied)
	}
}
