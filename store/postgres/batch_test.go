package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/postgres/pgtest"
	"github.com/graphconn/graphconn/store/storetest"
)

// openWithOperations opens the store on a schema of its own, closed at the
// end of the test, holding connection "c" with an unspecified operation per
// id.
func openWithOperations(t *testing.T, ids ...string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.Seed(t, db, ids...)
	return db
}

func pending(ctx context.Context, conn, id string, status *string, setError bool, errJSON []byte, ifMatch []int64) *pendingUpdate {
	return &pendingUpdate{
		ctx:  ctx,
		args: [8]any{status, setError, errJSON, time.Now().UnixNano(), storetest.Tenant, conn, id, ifMatch},
		op:   store.Operation{Tenant: storetest.Tenant, ConnectionID: conn, ID: id},
	}
}

// One batch holds updates that succeed, one whose statement the database
// refuses (a NUL in jsonb) and one that matches no row: each gets its own
// result, the refusal undoes nothing but its own update, and the updates of
// one row apply in the order they came even though the batch runs in the
// order of the rows' keys.
func TestBatchFailsOnlyTheFailingUpdate(t *testing.T) {
	ctx := context.Background()
	db := openWithOperations(t, "a", "b", "c", "d")
	inProgress, failed := "inprogress", "failed"
	batch := []*pendingUpdate{
		pending(ctx, "c", "d", &inProgress, false, nil, nil),
		pending(ctx, "c", "b", nil, true, []byte(`{"message":"a\u0000b"}`), nil), // refused: NUL in jsonb
		pending(ctx, "c", "a", &inProgress, false, nil, nil),
		pending(ctx, "c", "c", &inProgress, false, nil, []int64{1}), // If-Match that does not hold
		pending(ctx, "c", "d", &failed, false, nil, nil),            // after the first update of d
	}
	db.applyBatch(batch)

	for i, want := range []error{nil, errors.New("refused"), nil, pgx.ErrNoRows, nil} {
		got := batch[i].err
		switch {
		case want == nil && got != nil, want != nil && got == nil:
			t.Errorf("update %d of %s: err = %v, want %v", i, batch[i].args[5], got, want)
		case errors.Is(want, pgx.ErrNoRows) && !errors.Is(got, pgx.ErrNoRows):
			t.Errorf("update %d of %s: err = %v, want %v", i, batch[i].args[5], got, want)
		}
	}
	for id, want := range map[string]store.OperationStatus{"a": store.StatusInProgress, "b": store.StatusUnspecified, "c": store.StatusUnspecified, "d": store.StatusFailed} {
		if op, err := db.Operation(ctx, storetest.Tenant, "c", id); err != nil || op.Status != want {
			t.Errorf("Operation(%s) = %+v, %v; want status %s", id, op, err, want)
		}
	}
	if batch[0].op.Status != store.StatusInProgress || batch[4].op.Status != store.StatusFailed || batch[4].op.Version <= batch[0].op.Version {
		t.Errorf("updates of d returned %+v then %+v; want inprogress, then failed at a later version", batch[0].op, batch[4].op)
	}
}

// Concurrent callers share commits, and each gets the result of its own
// update: its own operation, at a version no other caller saw.
func TestConcurrentUpdatesGetTheirOwnResults(t *testing.T) {
	ctx := context.Background()
	db := openWithOperations(t, "o")
	const callers, updates = 16, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for i := range callers {
		wg.Go(func() {
			for n := range updates {
				msg := string(rune('a'+i)) + string(rune('a'+n))
				op, err := db.UpdateOperation(ctx, storetest.Tenant, "c", "o", store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Message: msg}})
				if err != nil {
					t.Errorf("UpdateOperation() = %v", err)
					return
				}
				if op.Error == nil || op.Error.Message != msg {
					t.Errorf("UpdateOperation(%s) = %+v, want its own update", msg, op)
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
	if len(seen) != callers*updates {
		t.Errorf("%d versions for %d updates", len(seen), callers*updates)
	}
}
