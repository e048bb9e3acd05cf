package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/postgres/pgtest"
	"github.com/graphconn/graphconn/store/storetest"
)

func TestGroupCommit(t *testing.T) {
	storetest.RunGroupCommit(t, func(t *testing.T) storetest.GroupCommitter {
		db, err := Open(context.Background(), pgtest.DSN(t))
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
		var status *string
		if u.U.Status != nil {
			status = new(string(*u.U.Status))
		}
		batch[i] = &pendingUpdate{
			ctx:  u.Ctx,
			args: [8]any{status, u.U.SetError, errJSON, time.Now().UTC().UnixNano(), storetest.Tenant, u.ConnID, u.ID, u.U.IfMatch},
			op:   store.Operation{Tenant: storetest.Tenant, ConnectionID: u.ConnID, ID: u.ID},
		}
	}
	g.applyBatch(batch)
	res := make([]storetest.Result, len(batch))
	for i, p := range batch {
		res[i] = storetest.Result{Op: p.op, Err: p.err}
		if errors.Is(p.err, pgx.ErrNoRows) {
			res[i].Err = storetest.ErrNoRow
		}
	}
	return res
}

// Refuse adds a trigger that raises an exception on the updates of the
// operation.
func (g groupCommitter) Refuse(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE OR REPLACE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
		fmt.Sprintf(`CREATE TRIGGER "refuse %[1]s" BEFORE UPDATE ON operations FOR EACH ROW
			WHEN (OLD.connection_id = 'c' AND OLD.id = '%[1]s') EXECUTE FUNCTION refuse_update()`, id),
	} {
		if _, err := g.pool.Exec(ctx, q); err != nil {
			t.Fatalf("Refuse(%s): %v", id, err)
		}
	}
}

func (g groupCommitter) WriterStats() store.WriterStats { return g.writer.Stats() }

func TestItemBatch(t *testing.T) {
	storetest.RunItemBatch(t, func(t *testing.T) storetest.ItemBatcher {
		db, err := Open(context.Background(), pgtest.DSN(t))
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

// RefuseItem adds a trigger that raises an exception on the writes of the
// item.
func (b itemBatcher) RefuseItem(t *testing.T, id string) {
	t.Helper()
	b.refuse(t, "item "+id, fmt.Sprintf(`BEFORE INSERT OR UPDATE ON items FOR EACH ROW WHEN (NEW.id = '%s')`, id))
}

// RefuseCount adds a trigger that raises an exception on the changes of
// the item count of the connection.
func (b itemBatcher) RefuseCount(t *testing.T, connID string) {
	t.Helper()
	b.refuse(t, "count "+connID, fmt.Sprintf(`BEFORE UPDATE ON connections FOR EACH ROW
		WHEN (NEW.id = '%s' AND NEW.item_count IS DISTINCT FROM OLD.item_count)`, connID))
}

func (b itemBatcher) refuse(t *testing.T, name, when string) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE OR REPLACE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
		fmt.Sprintf(`CREATE TRIGGER "refuse %s" %s EXECUTE FUNCTION refuse_write()`, name, when),
	} {
		if _, err := b.pool.Exec(ctx, q); err != nil {
			t.Fatalf("refuse %s: %v", name, err)
		}
	}
}
