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
