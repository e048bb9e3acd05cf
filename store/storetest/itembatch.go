package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/graphconn/graphconn/store"
)

// ItemBatcher is a store whose PutItem hands the item to a store.Writer,
// which writes the items of concurrent callers in batches, each in one
// transaction (group commit). Its methods reach into the store: each
// store's tests implement them on a wrapper.
type ItemBatcher interface {
	store.Store
	// ApplyItems writes the items as the writer applies one batch of
	// PutItem calls, in Tenant, and returns each one's result, in order,
	// as PutItem would return it; each put's Item is set as PutItem sets it.
	ApplyItems(t *testing.T, puts []Put) []PutResult
	// RefuseItem makes the database refuse every write of the item id, as
	// it refuses a value that it cannot store, and undo the transaction
	// that the write is in.
	RefuseItem(t *testing.T, id string)
	// RefuseCount makes the database refuse every change of the item
	// count of the connection, which comes after the write of a new item:
	// the statement fails, and the item's write must be undone with it.
	RefuseCount(t *testing.T, connID string)
}

// Put is one PutItem call in a batch.
type Put struct {
	Ctx  context.Context
	Item *store.Item
}

// PutResult is what PutItem would have returned for a Put.
type PutResult struct {
	Created bool
	Err     error
}

// ItemBatchOpener returns a new, empty store for one test; the suite
// closes it.
type ItemBatchOpener func(t *testing.T) ItemBatcher

// RunItemBatch runs the tests of the group commit of PutItem against the
// stores that open returns.
func RunItemBatch(t *testing.T, open ItemBatchOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ItemBatcher)
	}{
		{"BatchGivesEachPutItsResult", testItemBatchResults},
		{"RefusedPutFailsAlone", testItemBatchRefused},
		{"RefusedCountUndoesItsItem", testItemBatchRefusedCount},
		{"PutItemAfterClose", testPutItemAfterClose},
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

// seedItems creates the connections, and an item "old" on the first.
func seedItems(t *testing.T, s store.Store, conns ...string) {
	t.Helper()
	for _, c := range conns {
		mustCreateConnection(t, s, c)
	}
	mustPutItem(t, s, tenant, contosoItem(conns[0], "old"))
}

func put(connID, id string) Put { return Put{Ctx: ctx, Item: contosoItem(connID, id)} }

// A batch of new items, a replace, one item put twice, one on a missing
// connection and one whose caller has given up: each gets its own result,
// the puts of one item apply in the order they came, and the ones that
// fail change nothing.
func testItemBatchResults(t *testing.T, s ItemBatcher) {
	seedItems(t, s, "c")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	givenUp := put("c", "e")
	givenUp.Ctx = cancelled
	second := put("c", "a")
	second.Item.Properties = []byte(`{"title":"a, second"}`)
	batch := []Put{put("c", "a"), put("nope", "b"), put("c", "old"), second, givenUp, put("c", "f")}
	res := s.ApplyItems(t, batch)
	if len(res) != len(batch) {
		t.Fatalf("ApplyItems(%d puts) returned %d results", len(batch), len(res))
	}
	type fails struct {
		kind store.Kind
		err  error // in the chain, if not nil
	}
	want := []struct {
		created bool
		fails   *fails
	}{{true, nil}, {false, &fails{store.NotFound, nil}}, {false, nil}, {false, nil}, {false, &fails{store.Unavailable, context.Canceled}}, {true, nil}}
	for i, w := range want {
		got := res[i]
		switch {
		case w.fails == nil && (got.Err != nil || got.Created != w.created):
			t.Errorf("put %d (%s/%s) = created %v, %v; want %v", i, batch[i].Item.ConnectionID, batch[i].Item.ID, got.Created, got.Err, w.created)
		case w.fails != nil && (store.KindOf(got.Err) != w.fails.kind || w.fails.err != nil && !errors.Is(got.Err, w.fails.err)):
			t.Errorf("put %d (%s/%s) = %v, want kind %v (%v)", i, batch[i].Item.ConnectionID, batch[i].Item.ID, got.Err, w.fails.kind, w.fails.err)
		}
	}
	if first, second := batch[0].Item, batch[3].Item; second.Version <= first.Version || !second.Created.Equal(first.Created) {
		t.Errorf("the puts of a returned version %d, then %d, created %v, then %v; want a later version, the same created",
			first.Version, second.Version, first.Created, second.Created)
	}
	if got, err := s.Item(ctx, tenant, "c", "a"); err != nil || string(got.Properties) != `{"title":"a, second"}` {
		t.Errorf("Item(a) = %+v, %v; want the second put's", got, err)
	}
	for _, id := range []string{"e", "b"} {
		_, err := s.Item(ctx, tenant, "c", id)
		wantKind(t, fmt.Sprintf("Item(%s) that failed", id), err, store.NotFound)
	}
	itemCount(t, s, tenant, "c", 3) // old, a and f
}

// As testItemBatchResults, with a put that the database refuses among the
// others, undoing the transaction it is in: it fails, and the others are
// applied all the same.
func testItemBatchRefused(t *testing.T, s ItemBatcher) {
	seedItems(t, s, "c")
	s.RefuseItem(t, "b")
	batch := []Put{put("c", "a"), put("c", "b"), put("c", "old"), put("nope", "x"), put("c", "f")}
	res := s.ApplyItems(t, batch)
	if len(res) != len(batch) {
		t.Fatalf("ApplyItems(%d puts) returned %d results", len(batch), len(res))
	}
	if err := res[1].Err; err == nil || store.KindOf(err) == store.NotFound {
		t.Errorf("refused put of b = %v, want the database's refusal", err)
	}
	if store.KindOf(res[3].Err) != store.NotFound {
		t.Errorf("put on a missing connection = %v, want NotFound", res[3].Err)
	}
	for _, i := range []int{0, 2, 4} {
		if wantCreated := i != 2; res[i].Err != nil || res[i].Created != wantCreated {
			t.Errorf("put %d (%s) = created %v, %v; want %v", i, batch[i].Item.ID, res[i].Created, res[i].Err, wantCreated)
		}
		if _, err := s.Item(ctx, tenant, "c", batch[i].Item.ID); err != nil {
			t.Errorf("Item(%s) = %v", batch[i].Item.ID, err)
		}
	}
	_, err := s.Item(ctx, tenant, "c", "b")
	wantKind(t, "Item(refused)", err, store.NotFound)
	itemCount(t, s, tenant, "c", 3)
}

// A new item whose count the database refuses is undone, its item with its
// count, and the others of the batch are applied.
func testItemBatchRefusedCount(t *testing.T, s ItemBatcher) {
	seedItems(t, s, "c", "c2")
	s.RefuseCount(t, "c2")
	batch := []Put{put("c", "a"), put("c2", "x"), put("c", "old"), put("c", "f")}
	res := s.ApplyItems(t, batch)
	if len(res) != len(batch) {
		t.Fatalf("ApplyItems(%d puts) returned %d results", len(batch), len(res))
	}
	if err := res[1].Err; err == nil || store.KindOf(err) == store.NotFound {
		t.Errorf("put of x with its count refused = %v, want the database's refusal", err)
	}
	for _, i := range []int{0, 2, 3} {
		if wantCreated := i != 2; res[i].Err != nil || res[i].Created != wantCreated {
			t.Errorf("put %d (%s) = created %v, %v; want %v", i, batch[i].Item.ID, res[i].Created, res[i].Err, wantCreated)
		}
	}
	_, err := s.Item(ctx, tenant, "c2", "x")
	wantKind(t, "Item(x, whose count was refused)", err, store.NotFound)
	itemCount(t, s, tenant, "c", 3)
	itemCount(t, s, tenant, "c2", 0)
}

// PutItem after Close fails, and Close again succeeds.
func testPutItemAfterClose(t *testing.T, s ItemBatcher) {
	seedItems(t, s, "c")
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := s.PutItem(ctx, tenant, contosoItem("c", "old"), 0); err == nil {
		t.Error("PutItem() after Close = nil error, want one")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() again = %v", err)
	}
}
