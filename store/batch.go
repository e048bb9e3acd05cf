package store

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// Group commit: a store applies the updates of concurrent callers in one
// transaction, so that they share its commit (and its sync to disk). Each
// store keeps its own transaction; Writer is the rest, which they share.

const (
	// maxBatch bounds the updates committed together: enough to share a
	// commit among every request a loaded server has in flight, few
	// enough that a batch holds its locks for a short while only.
	maxBatch = 256
	// maxYields bounds how many times batches lets other goroutines run to
	// grow a batch before it hands it over.
	maxYields = 4
)

// batches hands what arrives on in to apply, in batches, until quit is
// closed; apply owns the batch until it returns. It takes what is waiting;
// then, while that keeps growing the batch, it lets the other goroutines run
// first (the handlers of requests that have arrived and will send within
// microseconds) and takes what they sent. On a loaded server that doubles
// the batch, and so halves the commits per update; on an idle one it costs
// a few scheduler calls.
func batches[T any](in <-chan T, quit <-chan struct{}, apply func([]T)) {
	batch := make([]T, 0, maxBatch)
	var zero T
	for {
		select {
		case p := <-in:
			batch = append(batch[:0], p)
		case <-quit:
			return
		}
		for yield := 0; ; yield++ {
			n := len(batch)
		collect:
			for len(batch) < maxBatch {
				select {
				case p := <-in:
					batch = append(batch, p)
				default:
					break collect
				}
			}
			if yield == maxYields || len(batch) == maxBatch || yield > 0 && len(batch) == n {
				break
			}
			runtime.Gosched()
		}
		apply(batch)
		for i := range batch {
			batch[i] = zero // nothing keeps a caller's update alive
		}
	}
}

// ErrClosed is what Writer.Do returns after Close.
var ErrClosed = errors.New("the store is closed")

// Writer applies the values of concurrent callers in batches, on one
// goroutine: Do hands a value over and returns once the batch that holds it
// has been applied.
type Writer[T any] struct {
	in        chan *writerCall[T] // unbuffered: a value is either taken or not
	quit      chan struct{}       // closed by Close
	done      chan struct{}       // closed when the writer has stopped
	calls     sync.Pool
	closeOnce sync.Once

	// For Stats; run writes them, once per batch.
	batches, values, largest atomic.Int64
}

// WriterStats counts what a Writer has applied.
type WriterStats struct {
	Batches int64 // batches applied
	Values  int64 // values applied, in all the batches
	Largest int64 // values in the largest batch
}

// Stats returns what w has applied so far, including the batch of every
// Do that has returned: tests use it to see that concurrent callers share
// batches.
func (w *Writer[T]) Stats() WriterStats {
	return WriterStats{Batches: w.batches.Load(), Values: w.values.Load(), Largest: w.largest.Load()}
}

type writerCall[T any] struct {
	v       T
	applied chan struct{} // one send per Do: its batch has been applied
}

// NewWriter starts a writer that applies batches with apply, one at a time,
// each holding a caller's values in the order it gave them. apply owns the
// batch until it returns.
func NewWriter[T any](apply func([]T)) *Writer[T] {
	w := &Writer[T]{in: make(chan *writerCall[T]), quit: make(chan struct{}), done: make(chan struct{})}
	w.calls.New = func() any { return &writerCall[T]{applied: make(chan struct{}, 1)} }
	go w.run(apply)
	return w
}

func (w *Writer[T]) run(apply func([]T)) {
	defer close(w.done)
	var values []T
	batches(w.in, w.quit, func(calls []*writerCall[T]) {
		values = values[:0]
		for _, c := range calls {
			values = append(values, c.v)
		}
		apply(values)
		clear(values) // nothing keeps a caller's value alive
		n := int64(len(calls))
		w.batches.Add(1)
		w.values.Add(n)
		if n > w.largest.Load() {
			w.largest.Store(n)
		}
		for _, c := range calls {
			c.applied <- struct{}{}
		}
	})
}

// Do applies v in a batch and returns once that batch has been applied. It
// returns ctx's error if ctx ends before the writer takes v (once taken, v
// is applied whatever ctx does), and ErrClosed after Close.
func (w *Writer[T]) Do(ctx context.Context, v T) error {
	c := w.calls.Get().(*writerCall[T])
	c.v = v
	defer func() {
		var zero T
		c.v = zero
		w.calls.Put(c)
	}()
	select {
	case w.in <- c:
	case <-w.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-c.applied
	return nil
}

// Close waits for the batch being applied and stops the writer; Do returns
// ErrClosed afterwards.
func (w *Writer[T]) Close() {
	w.closeOnce.Do(func() { close(w.quit) })
	<-w.done
}
