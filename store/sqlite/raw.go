package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/graphconn/graphconn/store"
)

// rawBatch applies the writer's batches on the driver's connection, with
// UpdateOperation's statement prepared on it. Only the writer uses it.
type rawBatch struct {
	conn  any // the driver connection that stmt was prepared on
	stmt  driver.StmtQueryContext
	named [8]driver.NamedValue
	dest  [5]driver.Value
}

// close closes the statement, on the connection it was prepared on if
// write still holds it (SQLite keeps a closed connection's file open
// until its statements are closed).
func (r *rawBatch) close(write *sql.DB) {
	if r.stmt == nil {
		return
	}
	conn, err := write.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		if dc == r.conn {
			r.stmt.(driver.Stmt).Close()
		}
		return nil
	})
	r.conn, r.stmt = nil, nil
}

type rawConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

// apply applies the batch in one transaction on dc, as applyBatch
// describes; redo reports an update that failed in a way that may have
// undone the whole transaction, which has then been rolled back.
func (r *rawBatch) apply(ctx context.Context, dc any, batch []*pendingUpdate) (redo bool) {
	fail := func(err error) bool {
		for _, p := range batch {
			if p.err == nil {
				p.err = err
			}
		}
		return false
	}
	c, ok := dc.(rawConn)
	if !ok {
		return fail(fmt.Errorf("the SQLite driver's connection %T cannot begin transactions or prepare statements", dc))
	}
	if r.conn != dc {
		// A new connection (database/sql replaced a broken one): the
		// statement of the old one went with it.
		s, err := c.PrepareContext(ctx, updateOperationSQL)
		if err != nil {
			return fail(fmt.Errorf("prepare the update of an operation: %w", err))
		}
		q, ok := s.(driver.StmtQueryContext)
		if !ok {
			s.Close()
			return fail(fmt.Errorf("the SQLite driver's statement %T cannot query with a context", s))
		}
		r.conn, r.stmt = dc, q
	}
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return fail(err)
	}
	applied := 0
	for _, p := range batch {
		if p.err = p.ctx.Err(); p.err != nil {
			continue
		}
		p.err = r.update(ctx, p)
		if p.err == nil {
			applied++
			continue
		}
		if !errors.Is(p.err, sql.ErrNoRows) {
			tx.Rollback()
			return true
		}
	}
	if applied == 0 {
		tx.Rollback() // nothing changed, nothing to lose
		return false
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return false
}

// update runs the statement for p and reads the operation it returns into
// p.op; sql.ErrNoRows when it matched no row.
func (r *rawBatch) update(ctx context.Context, p *pendingUpdate) (err error) {
	for i, a := range p.args {
		r.named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	rows, err := r.stmt.QueryContext(ctx, r.named[:])
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	if err := rows.Next(r.dest[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return sql.ErrNoRows
		}
		return err
	}
	return operationFromValues(r.dest[:], &p.op)
}

// operationFromValues is scanOperation for the driver's values of
// operationColumns.
func operationFromValues(v []driver.Value, op *store.Operation) error {
	status, ok := text(v[0])
	if !ok {
		return fmt.Errorf("operation status is %T, want text", v[0])
	}
	op.Status = store.OperationStatus(status)
	op.Error = nil
	if v[1] != nil {
		errJSON, ok := text(v[1])
		if !ok {
			return fmt.Errorf("operation error is %T, want text", v[1])
		}
		op.Error = new(store.ErrorDetail)
		if err := json.Unmarshal([]byte(errJSON), op.Error); err != nil {
			return fmt.Errorf("decode operation error: %w", err)
		}
	}
	version, ok1 := v[2].(int64)
	created, ok2 := v[3].(int64)
	modified, ok3 := v[4].(int64)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("operation version, created and modified are %T, %T and %T, want integers", v[2], v[3], v[4])
	}
	op.Version, op.Created, op.Modified = version, unixTime(created), unixTime(modified)
	return nil
}

func text(v driver.Value) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}
