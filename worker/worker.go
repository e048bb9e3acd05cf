// Package worker finishes the long-running operations that the API starts:
// schema registrations fall due after a delay, and the worker completes or
// fails each one exactly once. Pending work lives in the store, so a restarted
// worker resumes what a stopped one left.
package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/graphconn/graphconn/store"
)

// DefaultPoll is how often the worker looks for due work that it was not
// told about, such as work queued by another replica.
const DefaultPoll = time.Second

// Worker finishes due operations of a store.
type Worker struct {
	store store.Store
	log   *slog.Logger
	poll  time.Duration
	wake  chan struct{}
}

// New returns a worker for s that polls every poll (DefaultPoll when zero).
func New(s store.Store, log *slog.Logger, poll time.Duration) *Worker {
	if poll <= 0 {
		poll = DefaultPoll
	}
	return &Worker{store: s, log: log, poll: poll, wake: make(chan struct{}, 1)}
}

// Notify tells the worker that work was queued; it never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run finishes due operations until ctx is done. An operation being
// finished when ctx ends is finished or left whole: each one is one
// transaction of the store.
func (w *Worker) Run(ctx context.Context) {
	w.log.Info("worker started", slog.Duration("poll", w.poll))
	defer w.log.Info("worker stopped")
	for {
		w.finishDue(ctx)
		wait := w.poll
		if next, ok, err := w.store.NextDue(ctx); err != nil {
			if ctx.Err() == nil {
				w.log.Error("find due operations", slog.Any("error", err))
			}
		} else if ok {
			wait = min(wait, max(time.Until(next), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func (w *Worker) finishDue(ctx context.Context) {
	for ctx.Err() == nil {
		op, err := w.store.FinishDue(context.WithoutCancel(ctx), time.Now())
		if err != nil {
			w.log.Error("finish operation", slog.Any("error", err))
			return
		}
		if op == nil {
			return
		}
		w.log.Info("operation finished", slog.String("tenant", op.Tenant), slog.String("connection", op.ConnectionID),
			slog.String("operation", op.ID), slog.String("status", string(op.Status)))
	}
}
