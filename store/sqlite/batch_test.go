package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/storetest"
)

func TestGroupCommit(t *testing.T) {
	storetest.RunGroupCommit(t, func(t *testing.T) storetest.GroupCommitter {
		db, err := Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		return groupCommitter{db}
	})
}

// groupCommitter gives storetest.RunGroupCommit the DB's writer.
type groupCommitter struct{ *DB }

// ApplyBatch makes the pendingUpdate of each update as UpdateOperation
// does, and applies them with the writer's applyBatch.
func (g groupCommitter) ApplyBatch(t *testing.T, updates []storetest.Update) []storetest.Result {
	t.Helper()
	batch := make([]*pendingUpdate, len(updates))
	for i, u := range updates {
		errJSON, err := marshal(u.U.Error)
		if err != nil {
			t.Fatalf("marshal(%+v) = %v", u.U.Error, err)
		}
		match, err := versions(u.U.IfMatch)
		if err != nil {
			t.Fatalf("versions(%v) = %v", u.U.IfMatch, err)
		}
		var status any
		if u.U.Status != nil {
			status = string(*u.U.Status)
		}
		batch[i] = &pendingUpdate{
			ctx:  u.Ctx,
			args: [8]any{status, u.U.SetError, errJSON, time.Now().UTC().UnixNano(), storetest.Tenant, u.ConnID, u.ID, match},
			op:   store.Operation{Tenant: storetest.Tenant, ConnectionID: u.ConnID, ID: u.ID},
		}
	}
	g.applyBatch(batch)
	res := make([]storetest.Result, len(batch))
	for i, p := range batch {
		res[i] = storetest.Result{Op: p.op, Err: p.err}
		if errors.Is(p.err, sql.ErrNoRows) {
			res[i].Err = storetest.ErrNoRow
		}
	}
	return res
}

// Refuse adds a trigger that refuses the updates of the operation and
// rolls back their transaction, as SQLite does on a full disk or an I/O
// error.
func (g groupCommitter) Refuse(t *testing.T, id string) {
	t.Helper()
	q := fmt.Sprintf(`CREATE TRIGGER "refuse %[1]s" BEFORE UPDATE ON operations
		WHEN OLD.connection_id = 'c' AND OLD.id = '%[1]s' BEGIN SELECT RAISE(ROLLBACK, 'refused by the test'); END`, id)
	if _, err := g.write.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("Refuse(%s): %v", id, err)
	}
}

func (g groupCommitter) WriterStats() store.WriterStats { return g.writer.Stats() }

func TestItemBatch(t *testing.T) {
	storetest.RunItemBatch(t, func(t *testing.T) storetest.ItemBatcher {
		db, err := Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		return itemBatcher{db}
	})
}

// itemBatcher gives storetest.RunItemBatch the DB's items writer.
type itemBatcher struct{ *DB }

// ApplyItems makes the pendingItem of each put as PutItem does, applies
// them with the writer's applyItems, and returns PutItem's results.
func (b itemBatcher) ApplyItems(t *testing.T, puts []storetest.Put) []storetest.PutResult {
	t.Helper()
	batch := make([]*pendingItem, len(puts))
	for i, p := range puts {
		var err error
		if batch[i], err = newPendingItem(p.Ctx, storetest.Tenant, p.Item, b.indexSchema(p.Ctx, storetest.Tenant, p.Item.ConnectionID)); err != nil {
			t.Fatalf("newPendingItem(%+v) = %v", p.Item, err)
		}
	}
	b.applyItems(batch)
	res := make([]storetest.PutResult, len(batch))
	for i, p := range batch {
		res[i].Created, res[i].Err = p.result(storetest.Tenant, puts[i].Item)
	}
	return res
}

// RefuseItem adds a trigger that refuses the writes of the item and rolls
// back their transaction, as SQLite does on a full disk or an I/O error.
func (b itemBatcher) RefuseItem(t *testing.T, id string) {
	t.Helper()
	for _, op := range []string{"INSERT", "UPDATE"} {
		q := fmt.Sprintf(`CREATE TRIGGER "refuse %[1]s %[2]s" BEFORE %[2]s ON items
			WHEN NEW.id = '%[1]s' BEGIN SELECT RAISE(ROLLBACK, 'refused by the test'); END`, id, op)
		if _, err := b.write.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("RefuseItem(%s): %v", id, err)
		}
	}
}

// RefuseCount adds a trigger that fails the statements that change the
// item count of the connection, as a constraint fails a statement: the
// transaction goes on.
func (b itemBatcher) RefuseCount(t *testing.T, connID string) {
	t.Helper()
	q := fmt.Sprintf(`CREATE TRIGGER "refuse count %[1]s" BEFORE UPDATE OF item_count ON connections
		WHEN NEW.id = '%[1]s' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`, connID)
	if _, err := b.write.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("RefuseCount(%s): %v", connID, err)
	}
}
