package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
)

// GroupCommitter is a store whose UpdateOperation hands the update to a
// store.Writer, which applies the updates of concurrent callers in batches,
// each in one transaction (group commit). Its methods reach into the
// store: each store's tests implement them on a wrapper.
type GroupCommitter interface {
	store.Store
	// ApplyBatch applies the updates as the writer applies one batch of
	// UpdateOperation calls, and returns each one's result, in order.
	ApplyBatch(t *testing.T, updates []Update) []Result
	// Refuse makes the database refuse every update of the operation id
	// of connection "c", as it refuses a value that it cannot store, and
	// undo the transaction that the update is in.
	Refuse(t *testing.T, id string)
	// WriterStats returns the statistics of the store's writer.
	WriterStats() store.WriterStats
}

// Update is one UpdateOperation call in a batch.
type Update struct {
	Ctx        context.Context
	ConnID, ID string
	U          store.OperationUpdate
}

// Result is what the writer made of an Update.
type Result struct {
	Op  store.Operation // as stored after the update, when Err is nil
	Err error           // ErrNoRow when the update matched no row
}

// ErrNoRow is the Result.Err of an update that matched no row: one whose
// If-Match does not hold.
var ErrNoRow = errors.New("the update matched no row")

// GroupCommitOpener returns a new, empty store for one test; the suite
// closes it.
type GroupCommitOpener func(t *testing.T) GroupCommitter

// RunGroupCommit runs the tests of group commit against the stores that
// open returns.
func RunGroupCommit(t *testing.T, open GroupCommitOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s GroupCommitter)
	}{
		{"BatchGivesEachUpdateItsResult", testBatchResults},
		{"RefusedUpdateFailsAlone", testBatchRefused},
		{"ConcurrentCallersShareBatches", testConcurrentCallersShareBatches},
		{"UpdateAfterClose", testUpdateAfterClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// A batch of updates that succeed, one whose If-Match does not hold, two of
// one operation and one whose caller has given up: each gets its own
// result, the updates of one operation apply in the order they came, and
// the update given up changes nothing.
func testBatchResults(t *testing.T, s GroupCommitter) {
	testBatch(t, s, false)
}

// As testBatchResults, with an update that the database refuses among the
// others, undoing the transaction it is in: it fails, and the others are
// applied all the same.
func testBatchRefused(t *testing.T, s GroupCommitter) {
	testBatch(t, s, true)
}

func testBatch(t *testing.T, s GroupCommitter, refuse bool) {
	seed(t, s, "a", "b", "c", "d", "e")
	before := map[string]*store.Operation{}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		op, err := s.Operation(ctx, tenant, "c", id)
		if err != nil {
			t.Fatalf("Operation(%s) = %v", id, err)
		}
		before[id] = op
	}
	if refuse {
		s.Refuse(t, "b")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	set := func(id string, st store.OperationStatus) Update {
		return Update{Ctx: ctx, ConnID: "c", ID: id, U: store.OperationUpdate{Status: ptr(st)}}
	}
	ifMatch := set("c", store.StatusInProgress)
	ifMatch.U.IfMatch = []int64{before["c"].Version + 1}
	givenUp := set("e", store.StatusInProgress)
	givenUp.Ctx = cancelled
	batch := []Update{
		set("d", store.StatusInProgress),
		set("a", store.StatusInProgress),
		{Ctx: ctx, ConnID: "c", ID: "b", U: store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Message: "b's"}}},
		ifMatch,
		set("d", store.StatusFailed), // after the first update of d
		givenUp,
	}
	res := s.ApplyBatch(t, batch)
	if len(res) != len(batch) {
		t.Fatalf("ApplyBatch(%d updates) returned %d results", len(batch), len(res))
	}

	wantErr := []error{nil, nil, nil, ErrNoRow, nil, context.Canceled}
	if refuse {
		wantErr[2] = errRefused
	}
	for i, want := range wantErr {
		got := res[i].Err
		switch {
		case want == errRefused:
			if got == nil || errors.Is(got, ErrNoRow) || errors.Is(got, context.Canceled) {
				t.Errorf("refused update %d (of %s): err = %v, want the database's refusal", i, batch[i].ID, got)
			}
		case !errors.Is(got, want):
			t.Errorf("update %d (of %s): err = %v, want %v", i, batch[i].ID, got, want)
		}
	}
	if res[0].Op.Status != store.StatusInProgress || res[4].Op.Status != store.StatusFailed || res[4].Op.Version <= res[0].Op.Version {
		t.Errorf("updates of d returned %+v, then %+v; want inprogress, then failed at a later version", res[0].Op, res[4].Op)
	}
	if res[1].Op.ID != "a" || res[1].Op.Status != store.StatusInProgress {
		t.Errorf("update of a returned %+v, want a inprogress", res[1].Op)
	}

	want := map[string]*store.Operation{}
	for id, op := range before {
		cp := *op
		want[id] = &cp
	}
	want["a"].Status, want["a"].Version, want["a"].Modified = store.StatusInProgress, res[1].Op.Version, res[1].Op.Modified
	want["d"].Status, want["d"].Version, want["d"].Modified = store.StatusFailed, res[4].Op.Version, res[4].Op.Modified
	if !refuse {
		want["b"].Error, want["b"].Version, want["b"].Modified = &store.ErrorDetail{Message: "b's"}, res[2].Op.Version, res[2].Op.Modified
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		got, err := s.Operation(ctx, tenant, "c", id)
		if err != nil {
			t.Errorf("Operation(%s) = %v", id, err)
			continue
		}
		if diff := cmp.Diff(want[id], got, approx); diff != "" {
			t.Errorf("Operation(%s) after the batch mismatch (-want +got):\n%s", id, diff)
		}
	}
}

// seed creates connection "c" on s, with an unspecified operation per id:
// the starting point of the tests of group commit.
func seed(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	if err := s.CreateConnection(ctx, tenant, &store.Connection{ID: "c", Name: "C"}); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	for _, id := range ids {
		if err := s.CreateOperation(ctx, tenant, &store.Operation{ConnectionID: "c", ID: id, Status: store.StatusUnspecified}); err != nil {
			t.Fatalf("CreateOperation(%q) = %v", id, err)
		}
	}
}

// errRefused stands for whatever error the database refused an update with.
var errRefused = errors.New("refused")

// Concurrent callers share batches, and each gets the result of its own
// update: its own operation, at a version later than its last update's.
func testConcurrentCallersShareBatches(t *testing.T, s GroupCommitter) {
	const callers, updates = 16, 20
	ids := make([]string, callers)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	seed(t, s, ids...)
	before := s.WriterStats()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			id := ids[i]
			var last int64
			for n := range updates {
				code := fmt.Sprintf("%d-%d", i, n)
				op, err := s.UpdateOperation(ctx, tenant, "c", id, store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Code: code}})
				if err != nil {
					t.Errorf("UpdateOperation(%s, %s) = %v", id, code, err)
					return
				}
				if op.ID != id || op.Error == nil || op.Error.Code != code || op.Version <= last {
					t.Errorf("UpdateOperation(%s, %s) = %+v, want its own update at a version after %d", id, code, op, last)
				}
				last = op.Version
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		op, err := s.Operation(ctx, tenant, "c", id)
		if want := id + "-" + fmt.Sprint(updates-1); err != nil || op.Error == nil || op.Error.Code != want {
			t.Errorf("Operation(%s) = %+v, %v; want its last update, %s", id, op, err, want)
		}
	}
	after := s.WriterStats()
	batches, values := after.Batches-before.Batches, after.Values-before.Values
	if values != callers*updates || after.Largest < 2 {
		t.Errorf("the writer applied %d updates in %d batches, the largest of %d; want %d, and a batch of more than one",
			values, batches, after.Largest, callers*updates)
	}
	t.Logf("%d updates in %d batches, the largest of %d", values, batches, after.Largest)
}

// UpdateOperation after Close fails, and Close again succeeds.
func testUpdateAfterClose(t *testing.T, s GroupCommitter) {
	seed(t, s, "o")
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := s.UpdateOperation(ctx, tenant, "c", "o", store.OperationUpdate{Status: ptr(store.StatusInProgress)}); err == nil {
		t.Error("UpdateOperation() after Close = nil error, want one")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() again = %v", err)
	}
}
