package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
)

// pendingUpdate is an UpdateOperation waiting for the writer.
type pendingUpdate struct {
	ctx  context.Context // when done before the writer starts the update, it is skipped
	args [8]any          // of updateOperationSQL
	op   store.Operation // the operation as stored after the update
	err  error           // pgx.ErrNoRows when the update matched no row
}

// batchTimeout bounds a batch: past it, its updates fail with Unavailable
// (the database is not answering).
const batchTimeout = 10 * time.Second

// applyBatch, the writer's (store.Writer), applies the updates of a batch
// in one transaction, as store/sqlite's does. On the benchmark's hot row
// this turns one commit, and one WAL flush, per request into one per batch;
// rows that different requests update no longer wait for each other's
// flushes either.
//
// It applies the updates in one transaction, as if one after the
// other in the order they arrived for each row: each sees the ones before
// it. An update that matches no row changes nothing and does not affect the
// others. The contexts of the callers do not reach the database: an update
// that has started is committed, whatever its caller does meanwhile.
//
// The updates are applied in the order of their rows' keys (stably, so that
// one row's updates keep their order): every replica's writer then locks
// rows in the same order, and two batches cannot deadlock.
func (db *DB) applyBatch(batch []*pendingUpdate) {
	var live []*pendingUpdate
	for _, p := range batch {
		if p.err = p.ctx.Err(); p.err == nil {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	slices.SortStableFunc(live, func(a, b *pendingUpdate) int {
		return cmp.Or(cmp.Compare(a.args[4].(string), b.args[4].(string)), // tenant
			cmp.Compare(a.args[5].(string), b.args[5].(string)), // connection
			cmp.Compare(a.args[6].(string), b.args[6].(string))) // operation
	})
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	fail := func(err error) {
		for _, p := range live {
			if p.err == nil {
				p.err = err
			}
		}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	b := &pgx.Batch{}
	for _, p := range live {
		b.Queue(updateOperationSQL, p.args[:]...)
	}
	results := tx.SendBatch(ctx, b)
	var failed error
	for _, p := range live {
		p.err = scanOperation(results.QueryRow(), &p.op)
		if p.err != nil && !errors.Is(p.err, pgx.ErrNoRows) {
			failed = p.err
			break
		}
	}
	if err := results.Close(); failed == nil {
		failed = err
	}
	if failed != nil {
		tx.Rollback(ctx)
		if unavailable(failed) {
			// The database is gone: one by one would only wait longer.
			for _, p := range live {
				p.err = failed
			}
			return
		}
		// A statement failed (a value the database cannot store, say),
		// which aborted the transaction: apply each update on its own, so
		// that the failure stays with its own request.
		for _, p := range live {
			p.err = scanOperation(db.pool.QueryRow(ctx, updateOperationSQL, p.args[:]...), &p.op)
		}
		return
	}
	if err := tx.Commit(ctx); err != nil {
		// Whether it committed is unknown when the connection died during
		// COMMIT: the caller gets Unavailable, as for any write.
		for _, p := range live {
			p.err = err
		}
	}
}
