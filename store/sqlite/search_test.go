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
	all, err := rankNewest(ctx, conn, text, false)
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

// Reading the matches oldest first, when the free text matches no more
// than the window, finds what reading them newest first finds: the same
// hits in the same order, totals and aggregations, for every searcher,
// query and page, with the window above, at and below the number of a
// word's matches.
func TestSearchOldestFirstAgrees(t *testing.T) {
	defer func(w int, o bool) { rankWindow, readOldestFirst = w, o }(rankWindow, readOldestFirst)
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	const tenant = "t1"
	if err := db.CreateConnection(ctx, tenant, &store.Connection{ID: "conn1", Name: "c"}); err != nil {
		t.Fatal(err)
	}
	schema := &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
		{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true},
		{Name: "category", Type: store.TypeString, IsQueryable: true, IsRetrievable: true, IsRefinable: true},
		{Name: "priority", Type: store.TypeInt64, IsQueryable: true, IsRetrievable: true, IsRefinable: true},
	}}
	if _, err := db.RegisterSchema(ctx, tenant, "conn1", schema, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FinishDue(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// 150 items: "common" in all of them, each of ten words in a tenth,
	// repeated for relevance; a third denied to group g1, a fifth granted
	// to user u2 alone.
	const n = 150
	for i := range n {
		w := fmt.Sprintf("w%d", i%10)
		title := "common " + strings.Repeat(w+" ", 1+i%3) + fmt.Sprintf("w%d", (i/10)%10)
		acl := []store.ACE{{Type: "everyone", Value: tenant, AccessType: "grant"}}
		switch {
		case i%5 == 0:
			acl = []store.ACE{{Type: "user", Value: "u2", AccessType: "grant"}}
		case i%3 == 0:
			acl = append(acl, store.ACE{Type: "group", Value: "g1", AccessType: "deny"})
		}
		props := fmt.Sprintf(`{"title":%q,"category":%q,"priority":%d}`, title, []string{"a", "b", "c"}[i%3], i%4)
		it := &store.Item{ConnectionID: "conn1", ID: fmt.Sprint("item", i), Properties: json.RawMessage(props), ACL: acl}
		if _, err := db.PutItem(ctx, tenant, it, 0); err != nil {
			t.Fatal(err)
		}
	}
	txt := func(s string) *store.Query { return &store.Query{Op: store.QueryText, Text: s} }
	queries := map[string]*store.Query{
		"one word":     txt("w3"),
		"two words":    txt("w3 w4"),
		"common":       txt("common"),
		"phrase":       {Op: store.QueryPhrase, Text: "w7 w7"},
		"or":           {Op: store.QueryOr, Children: []*store.Query{txt("w1"), txt("w2")}},
		"not":          {Op: store.QueryAnd, Children: []*store.Query{txt("common"), {Op: store.QueryNot, Children: []*store.Query{txt("w5")}}}},
		"restricted":   {Op: store.QueryAnd, Children: []*store.Query{txt("w3"), {Op: store.QueryEqual, Name: "category", Text: "a"}}},
		"compared":     {Op: store.QueryAnd, Children: []*store.Query{txt("common"), {Op: store.QueryCompare, Name: "priority", Compare: ">=", Num: 2}}},
		"no such word": txt("nothing"),
	}
	searchers := map[string]store.Principals{
		"u1 in g1": {TenantID: tenant, UserID: "u1", Groups: []string{"g1"}},
		"u2":       {TenantID: tenant, UserID: "u2"},
	}
	pages := [][2]int{{0, 25}, {10, 25}, {0, 200}, {0, 0}}
	aggs := []store.AggregationRequest{{Name: "category", Size: 5}, {Name: "priority", Size: 2}}
	for _, window := range []int{store.RankWindow, 15, 14} { // "w3" matches 15 items
		rankWindow = window
		for qn, q := range queries {
			for sn, p := range searchers {
				for i, pg := range pages {
					r := store.SearchRequest{Connections: []string{"conn1"}, Query: q, Principals: p, From: pg[0], Size: pg[1]}
					if i == 0 {
						r.Aggregations = aggs
					}
					readOldestFirst = false
					want, err := db.Search(ctx, tenant, r)
					if err != nil {
						t.Fatalf("Search(%s, %s, %v) newest first = %v", qn, sn, pg, err)
					}
					readOldestFirst = true
					got, err := db.Search(ctx, tenant, r)
					if err != nil {
						t.Fatalf("Search(%s, %s, %v) = %v", qn, sn, pg, err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("Search(%s, %s, from %d size %d) with a window of %d, read oldest first (-newest first +oldest first):\n%s",
							qn, sn, pg[0], pg[1], window, diff)
					}
				}
			}
		}
	}
}
