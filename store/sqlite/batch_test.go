package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/storetest"
)

// One batch holds updates that succeed, one whose statement fails and one
// that matches no row: each gets its own result, and the failure undoes
// nothing but its own update.
func TestBatchFailsOnlyTheFailingUpdate(t *testing.T) {
	ctx := context.Background()
	db := openWithOperations(t, "a", "broken", "b", "c")
	// An error column that is not JSON: the update of "broken" runs, and
	// fails when its result is read.
	if _, err := db.write.ExecContext(ctx, `UPDATE operations SET error = 'not json' WHERE id = 'broken'`); err != nil {
		t.Fatal(err)
	}
	before := map[string]int64{}
	for _, id := range []string{"a", "b", "c"} {
		op, err := db.Operation(ctx, storetest.Tenant, "c", id)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = op.Version
	}

	inProgress := "inprogress"
	batch := []*pendingUpdate{
		pending(ctx, "a", inProgress, nil),
		pending(ctx, "broken", inProgress, nil),
		pending(ctx, "b", inProgress, nil),
		pending(ctx, "c", inProgress, []int64{1}), // If-Match that does not hold
	}
	db.applyBatch(batch)

	for i, want := range []error{nil, errors.New("decode"), nil, sql.ErrNoRows} {
		got := batch[i].err
		switch {
		case want == nil && got != nil, want != nil && got == nil:
			t.Errorf("update of %s: err = %v, want %v", batch[i].args[5], got, want)
		case errors.Is(want, sql.ErrNoRows) && !errors.Is(got, sql.ErrNoRows):
			t.Errorf("update of %s: err = %v, want %v", batch[i].args[5], got, want)
		}
	}
	for _, id := range []string{"a", "b"} {
		op, err := db.Operation(ctx, storetest.Tenant, "c", id)
		if err != nil {
			t.Fatal(err)
		}
		if op.Status != store.StatusInProgress || op.Version == before[id] {
			t.Errorf("Operation(%s) = %+v, want it updated", id, op)
		}
	}
	var status string
	if err := db.read.QueryRowContext(ctx, `SELECT status FROM operations WHERE id = 'broken'`).Scan(&status); err != nil || status != "unspecified" {
		t.Errorf("status of the failed update = %q, %v; want it unchanged (unspecified)", status, err)
	}
	if op, err := db.Operation(ctx, storetest.Tenant, "c", "c"); err != nil || op.Version != before["c"] || op.Status != store.StatusUnspecified {
		t.Errorf("Operation(c) = %+v, %v; want it unchanged", op, err)
	}
}

// openWithOperations opens a store in a new directory, closed at the end of
// the test, holding connection "c" with an unspecified operation per id.
func openWithOperations(t *testing.T, ids ...string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.Seed(t, db, ids...)
	return db
}

func pending(ctx context.Context, id, status string, ifMatch []int64) *pendingUpdate {
	var match any
	if ifMatch != nil {
		m, _ := versions(ifMatch)
		match = m
	}
	return &pendingUpdate{
		ctx:  ctx,
		args: [8]any{status, false, nil, time.Now().UnixNano(), storetest.Tenant, "c", id, match},
		op:   store.Operation{Tenant: storetest.Tenant, ConnectionID: "c", ID: id},
	}
}

// Concurrent callers share commits, and each gets the result of its own
// update: its own operation, at a version no other caller saw.
func TestConcurrentUpdatesGetTheirOwnResults(t *testing.T) {
	ctx := context.Background()
	const callers, updates = 16, 20
	ids := make([]string, callers)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	db := openWithOperations(t, ids...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for i := range callers {
		wg.Go(func() {
			for n := range updates {
				code := fmt.Sprintf("%d-%d", i, n)
				op, err := db.UpdateOperation(ctx, storetest.Tenant, "c", fmt.Sprint(i), store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Code: code}})
				if err != nil {
					t.Errorf("UpdateOperation(%d) = %v", i, err)
					return
				}
				if op.ID != fmt.Sprint(i) || op.Error == nil || op.Error.Code != code {
					t.Errorf("UpdateOperation(%d, %s) = %+v, want its own update", i, code, op)
				}
				mu.Lock()
				if seen[op.Version] {
					t.Errorf("version %d returned twice", op.Version)
				}
				seen[op.Version] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i := range callers {
		op, err := db.Operation(ctx, storetest.Tenant, "c", fmt.Sprint(i))
		if want := fmt.Sprintf("%d-%d", i, updates-1); err != nil || op.Error == nil || op.Error.Code != want {
			t.Errorf("Operation(%d) = %+v, %v; want the last update, %s", i, op, err, want)
		}
	}
}

// An update whose caller gave up before the writer reached it changes
// nothing; Close lets the updates already handed over finish.
func TestCancelledUpdateChangesNothing(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if err := db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "c", Name: "C"}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateOperation(ctx, storetest.Tenant, &store.Operation{ConnectionID: "c", ID: "o", Status: store.StatusUnspecified}); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	batch := []*pendingUpdate{pending(cancelled, "o", "inprogress", nil)}
	db.applyBatch(batch)
	if !errors.Is(batch[0].err, context.Canceled) {
		t.Errorf("err of a cancelled update = %v, want context.Canceled", batch[0].err)
	}
	if op, err := db.Operation(ctx, storetest.Tenant, "c", "o"); err != nil || op.Status != store.StatusUnspecified {
		t.Errorf("Operation() = %+v, %v; want it unchanged", op, err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close() again = %v", err)
	}
	st := store.StatusInProgress
	if _, err := db.UpdateOperation(ctx, storetest.Tenant, "c", "o", store.OperationUpdate{Status: &st}); err == nil {
		t.Error("UpdateOperation() after Close = nil error, want one")
	}
}
