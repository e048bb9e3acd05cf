package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/storetest"
)

func TestRankWindow(t *testing.T) {
	defer func(w int) { rankWindow = w }(rankWindow)
	rankWindow = 5
	db, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	storetest.RunRankWindow(t, db, rankWindow)
	checkIndex(t, db)
}

// checkIndex checks that the full-text index holds what items hold
// (FTS5's integrity-check of an external content table compares them),
// and that no transaction left changes to it behind.
func checkIndex(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.write.ExecContext(ctx, `INSERT INTO item_text (item_text, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("integrity-check of item_text: %v", err)
	}
	var pending int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM item_text_changes`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("item_text_changes holds %d rows, %v; want none between transactions", pending, err)
	}
}

// rank takes the scores that rankNewest found beside the search as they
// are, ranks the window's other items itself, and so orders the window
// as it does with no scores given; scores of items outside the window
// change nothing.
func TestRankTakesEarlyScores(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	if err := db.CreateConnection(ctx, "t1", &store.Connection{ID: "conn1", Name: "c"}); err != nil {
		t.Fatal(err)
	}
	schema := &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
		{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true}}}
	if _, err := db.RegisterSchema(ctx, "t1", "conn1", schema, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FinishDue(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		title := strings.Repeat("alpha ", 1+i%7) + strings.Repeat("beta ", i%5)
		it := &store.Item{ConnectionID: "conn1", ID: fmt.Sprint("item", i), Properties: json.RawMessage(`{"title":"` + title + `"}`),
			ACL: []store.ACE{{Type: "everyone", Value: "everyone", AccessType: "grant"}}}
		if _, err := db.PutItem(ctx, "t1", it, 0); err != nil {
			t.Fatal(err)
		}
	}
	text := `("alpha")`
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	newest, err := docs(ctx, tx, "item_text MATCH ?1", []any{text}, 20, 0)
	if err != nil || len(newest) != 20 {
		t.Fatalf("docs() = %d items, %v; want 20", len(newest), err)
	}
	window := func() []scored {
		w := make([]scored, len(newest))
		for i, d := range newest {
			w[i] = scored{doc: d}
		}
		return w
	}
	want := window()
	if err := rank(ctx, tx, text, want, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := db.read.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	all, err := rankNewest(ctx, conn, text)
	if err != nil || len(all) != 30 {
		t.Fatalf("rankNewest() = %d scores, %v; want 30", len(all), err)
	}
	some := map[int64]float64{}
	for i, d := range newest {
		if i%2 == 0 {
			some[d] = all[d]
		}
	}
	some[newest[len(newest)-1]-100] = -1e9 // not in the window
	for name, known := range map[string]map[int64]float64{"all": all, "some": some} {
		got := window()
		if err := rank(ctx, tx, text, got, known); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(scored{})); diff != "" {
			t.Errorf("rank() with %s of the scores given (-without +with):\n%s", name, diff)
		}
	}
}
