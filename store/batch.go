package store

import "runtime"

// Group commit: a store applies the updates of concurrent callers in one
// transaction, so that they share its commit (and its sync to disk). Each
// store keeps its own transaction; Batches is the loop they share.

const (
	// maxBatch bounds the updates committed together: enough to share a
	// commit among every request a loaded server has in flight, few
	// enough that a batch holds its locks for a short while only.
	maxBatch = 256
	// maxYields bounds how many times Batches lets other goroutines run to
	// grow a batch before it hands it over.
	maxYields = 4
)

// Batches hands what arrives on in to apply, in batches, until quit is
// closed; apply owns the batch until it returns. It takes what is waiting;
// then, while that keeps growing the batch, it lets the other goroutines run
// first (the handlers of requests that have arrived and will send within
// microseconds) and takes what they sent. On a loaded server that doubles
// the batch, and so halves the commits per update; on an idle one it costs
// a few scheduler calls.
func Batches[T any](in <-chan T, quit <-chan struct{}, apply func([]T)) {
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
