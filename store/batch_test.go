package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// batches takes every value waiting when a batch starts, up to maxBatch.
func TestBatches(t *testing.T) {
	tests := []struct {
		waiting int
		want    []int // the sizes of the batches
	}{
		{1, []int{1}},
		{5, []int{5}},
		{maxBatch, []int{maxBatch}},
		{maxBatch + 10, []int{maxBatch, 10}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.waiting), func(t *testing.T) {
			in, quit := make(chan int, tt.waiting), make(chan struct{})
			for i := range tt.waiting {
				in <- i
			}
			var sizes, values []int
			batches(in, quit, func(b []int) {
				sizes = append(sizes, len(b))
				values = append(values, b...)
				if len(values) == tt.waiting {
					close(quit)
				}
			})
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("batches of %d waiting values = %v, want %v", tt.waiting, sizes, tt.want)
			}
			for i, v := range values {
				if v != i {
					t.Fatalf("value %d applied at position %d, want in order", v, i)
				}
			}
		})
	}
}

// Every value given to Do reaches apply exactly once, in the order its
// caller gave it, in batches of 1 to maxBatch, and callers that wait at
// the same time share a batch; Do returns only once its value's batch has
// been applied.
func TestWriter(t *testing.T) {
	const senders, each = 8, 200
	var got [senders][]int
	w := NewWriter(func(b [][2]int) {
		if len(b) == 0 || len(b) > maxBatch {
			t.Errorf("batch of %d, want 1 to %d", len(b), maxBatch)
		}
		for _, v := range b {
			got[v[0]] = append(got[v[0]], v[1])
		}
		time.Sleep(100 * time.Microsecond) // a commit: the other senders wait meanwhile
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
	stats := w.Stats()
	w.Close()
	if stats.Values != senders*each || stats.Largest < 2 || stats.Largest > maxBatch {
		t.Errorf("Stats() = %+v, want %d values, and a largest batch of 2 to %d", stats, senders*each, maxBatch)
	}
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
	t.Logf("%d values in %d batches, the largest of %d", stats.Values, stats.Batches, stats.Largest)
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
