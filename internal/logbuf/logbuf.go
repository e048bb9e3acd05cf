// Package logbuf buffers log output: see Writer.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Writer buffers log lines and writes them out together, at most
// interval after the first of them (or at once when maxBuffered bytes are
// waiting). A loaded server logs a line per request, and a write call per
// line costs a system call each, a share of a request's CPU worth saving
// (BENCHMARKS.md). The price: a crash of the process (not a panic in a
// request, which is recovered and logged) loses the lines of its last
// interval. Close writes what is left.
type Writer struct {
	out         io.Writer
	interval    time.Duration
	maxBuffered int

	mu      sync.Mutex
	buf     []byte
	pending bool // a flush is scheduled
	closed  bool
	err     error // of the last write to out
}

// Interval and Size are graphconn serve's settings.
const (
	Interval = 50 * time.Millisecond
	Size     = 64 << 10
)

// New returns a Writer to out.
func New(out io.Writer, interval time.Duration, maxBuffered int) *Writer {
	return &Writer{out: out, interval: interval, maxBuffered: maxBuffered}
}

// Write buffers p; slog's handlers call it once per line.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		// After Close, straight through: nothing would flush it.
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.maxBuffered {
		w.flushLocked()
	}
	w.buf = append(w.buf, p...)
	if !w.pending {
		w.pending = true
		time.AfterFunc(w.interval, w.flush)
	}
	return len(p), nil
}

func (w *Writer) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = false
	w.flushLocked()
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	_, w.err = w.out.Write(w.buf)
	// Keep the buffer unless a burst made it large.
	if cap(w.buf) > 4*w.maxBuffered {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
}

// Close writes out what is buffered; later writes go straight through.
// It returns the error of the last write to the output, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	w.closed = true
	return w.err
}
