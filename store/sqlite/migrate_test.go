package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/store"
)

// createAt creates the database in dir as the first n migrations left it,
// and runs seed on it; Open then applies the rest.
func createAt(t *testing.T, dir string, n int, seed string) {
	t.Helper()
	ctx := context.Background()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) < n {
		t.Fatalf("Glob(migrations) = %v, %v; want at least %d", names, err, n)
	}
	sort.Strings(names)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range names[:n] {
		script, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, string(script)); err != nil {
			t.Fatalf("migrate %s: %v", name, err)
		}
	}
	if _, err := db.ExecContext(ctx, seed); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", n)); err != nil {
		t.Fatal(err)
	}
}

// The connections stored before tenants were recorded go to the
// development tenant, with their operations, their schema and the
// registration in progress; no other tenant sees them.
func TestMigrateToTenants(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	createAt(t, dir, 3, `
		INSERT INTO connections (id, name, description, state, version, created, modified, owner)
			VALUES ('contosohr', 'Contoso HR', 'HR', 'ready', 5, 1, 2, 'app1'),
			       ('fabrikam', 'Fabrikam', '', 'draft', 7, 3, 4, '');
		INSERT INTO operations (connection_id, id, status, error, version, created, modified)
			VALUES ('contosohr', 'op1', 'failed', '{"errorCode":"E","message":"m"}', 6, 5, 6);
		INSERT INTO operations (connection_id, id, status, version, created, modified, pending_schema, due)
			VALUES ('fabrikam', 'reg', 'inprogress', 8, 7, 8, '{"baseType":"microsoft.graph.externalItem","properties":[]}', 9);
		INSERT INTO schemas (connection_id, schema, registered)
			VALUES ('contosohr', '{"baseType":"microsoft.graph.externalItem","properties":[{"name":"title","type":"String"}]}', 3);`)

	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	dev := auth.DevTenantID
	conns, _, err := db.Connections(ctx, dev, "", store.Page{Limit: 10})
	if err != nil {
		t.Fatalf("Connections(dev tenant) = %v", err)
	}
	want := []*store.Connection{
		{Tenant: dev, ID: "contosohr", Name: "Contoso HR", Description: "HR", State: store.ConnectionReady, Owner: "app1", Version: 5, Created: unixTime(1), Modified: unixTime(2)},
		{Tenant: dev, ID: "fabrikam", Name: "Fabrikam", State: store.ConnectionDraft, Version: 7, Created: unixTime(3), Modified: unixTime(4)},
	}
	if diff := cmp.Diff(want, conns); diff != "" {
		t.Errorf("Connections(dev tenant) after the migration mismatch (-want +got):\n%s", diff)
	}
	op, err := db.Operation(ctx, dev, "contosohr", "op1")
	if err != nil || op.Status != store.StatusFailed || op.Error == nil || op.Error.Code != "E" || op.Version != 6 {
		t.Errorf("Operation(dev tenant, op1) = %+v, %v; want it as it was", op, err)
	}
	if s, err := db.Schema(ctx, dev, "contosohr"); err != nil || len(s.Properties) != 1 {
		t.Errorf("Schema(dev tenant) = %+v, %v; want the stored schema", s, err)
	}
	const other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	if list, _, err := db.Connections(ctx, other, "", store.Page{Limit: 10}); err != nil || len(list) != 0 {
		t.Errorf("Connections(another tenant) = %v, %v; want none", list, err)
	}
	if _, err := db.Connection(ctx, other, "contosohr"); store.KindOf(err) != store.NotFound {
		t.Errorf("Connection(another tenant) = %v, want NotFound", err)
	}

	// The registration in progress finishes, in its tenant.
	done, err := db.FinishDue(ctx, time.Now())
	if err != nil || done == nil || done.Tenant != dev || done.ConnectionID != "fabrikam" || done.Status != store.StatusCompleted {
		t.Fatalf("FinishDue() = %+v, %v; want fabrikam's registration completed in the dev tenant", done, err)
	}
	if c, err := db.Connection(ctx, dev, "fabrikam"); err != nil || c.State != store.ConnectionReady {
		t.Errorf("Connection(fabrikam) after FinishDue = %+v, %v; want ready", c, err)
	}
	// The foreign keys hold, and cascade, in the new tables.
	var violations int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_check").Scan(&violations); err != nil || violations != 0 {
		t.Errorf("foreign_key_check = %d violations, %v; want none", violations, err)
	}
	if err := db.DeleteConnection(ctx, dev, "contosohr", nil); err != nil {
		t.Fatalf("DeleteConnection() = %v", err)
	}
	var left int
	if err := db.read.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM operations WHERE connection_id = 'contosohr') + (SELECT count(*) FROM schemas WHERE connection_id = 'contosohr')").Scan(&left); err != nil || left != 0 {
		t.Errorf("after DeleteConnection, %d operations and schemas left, %v; want none", left, err)
	}
	// A new connection with an id of the development tenant's can be made
	// in another tenant.
	if err := db.CreateConnection(ctx, other, &store.Connection{ID: "fabrikam", Name: "Other"}); err != nil {
		t.Errorf("CreateConnection(another tenant, fabrikam) = %v", err)
	}
}

// The connections stored before settings were recorded have none, and get
// some by UpdateConnection.
func TestMigrateToSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dev := auth.DevTenantID
	createAt(t, dir, 4, `
		INSERT INTO connections (tenant, id, name, description, state, version, created, modified, owner)
			VALUES ('`+dev+`', 'contosohr', 'Contoso HR', 'HR', 'ready', 5, 1, 2, 'app1');`)

	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	want := &store.Connection{Tenant: dev, ID: "contosohr", Name: "Contoso HR", Description: "HR", State: store.ConnectionReady, Owner: "app1", Version: 5, Created: unixTime(1), Modified: unixTime(2)}
	got, err := db.Connection(ctx, dev, "contosohr")
	if err != nil {
		t.Fatalf("Connection() = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Connection() after the migration mismatch (-want +got):\n%s", diff)
	}
	conns, _, err := db.Connections(ctx, dev, "", store.Page{Limit: 10})
	if err != nil {
		t.Fatalf("Connections() = %v", err)
	}
	if diff := cmp.Diff([]*store.Connection{want}, conns); diff != "" {
		t.Errorf("Connections() after the migration mismatch (-want +got):\n%s", diff)
	}
	upd, err := db.UpdateConnection(ctx, dev, "contosohr", store.ConnectionUpdate{
		Settings: map[string]json.RawMessage{"connectorId": json.RawMessage(`"c1"`)}, IfMatch: []int64{5},
	})
	if err != nil || string(upd.Settings["connectorId"]) != `"c1"` || len(upd.Settings) != 1 {
		t.Errorf("UpdateConnection(settings) after the migration = %+v, %v; want connectorId set", upd, err)
	}
}

// The items stored before the search index are indexed by the migration
// that makes it, under their connection's schema, and keep their
// activities.
func TestMigrateToSearch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dev := auth.DevTenantID
	createAt(t, dir, 6, `
		INSERT INTO connections (tenant, id, name, description, state, version, created, modified, owner, item_count)
			VALUES ('`+dev+`', 'contosohr', 'Contoso HR', '', 'ready', 5, 1, 2, '', 2),
			       ('`+dev+`', 'fabrikam', 'Fabrikam', '', 'draft', 5, 1, 2, '', 1);
		INSERT INTO schemas (tenant, connection_id, schema, registered) VALUES ('`+dev+`', 'contosohr',
			'{"baseType":"microsoft.graph.externalItem","properties":[{"name":"title","type":"string","isSearchable":true},{"name":"category","type":"string","isQueryable":true}]}', 3);
		INSERT INTO items (tenant, connection_id, id, acl, properties, content_type, content_value, label, version, created, modified) VALUES
			('`+dev+`', 'contosohr', 'a', '[{"type":"everyone","value":"`+dev+`","accessType":"grant"}]', '{"title":"Early bird","category":"Birds"}', 'text', 'worm', NULL, 1, 1, 1),
			('`+dev+`', 'contosohr', 'b', '[{"type":"user","value":"bob","accessType":"grant"}]', '{"title":"Early fish"}', NULL, NULL, NULL, 2, 2, 2),
			('`+dev+`', 'fabrikam', 'c', '[{"type":"everyone","value":"`+dev+`","accessType":"grant"}]', '{"title":"Unregistered"}', 'html', '<p>content</p>', NULL, 3, 3, 3);
		INSERT INTO activities (tenant, connection_id, item_id, type, start_time, performed_by_type, performed_by_id)
			VALUES ('`+dev+`', 'contosohr', 'a', 'viewed', 1, 'user', 'u1'), ('`+dev+`', 'contosohr', 'b', 'viewed', 2, 'user', 'u1');`)

	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	checkIndex(t, db)
	search := func(p store.Principals, conns []string, q *store.Query) []string {
		t.Helper()
		res, err := db.Search(ctx, dev, store.SearchRequest{Connections: conns, Query: q, Principals: p, Size: 10})
		if err != nil {
			t.Fatalf("Search() = %v", err)
		}
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, h.Item.ID)
		}
		return ids
	}
	alice := store.Principals{TenantID: dev, UserID: "alice"}
	bob := store.Principals{TenantID: dev, UserID: "bob"}
	for _, tt := range []struct {
		p     store.Principals
		conns []string
		q     *store.Query
		want  []string
	}{
		{alice, []string{"contosohr"}, &store.Query{Op: store.QueryText, Text: "early"}, []string{"a"}},
		{bob, []string{"contosohr"}, &store.Query{Op: store.QueryText, Text: "early"}, []string{"b", "a"}},
		{bob, []string{"contosohr"}, &store.Query{Op: store.QueryText, Text: "worm"}, []string{"a"}},
		{bob, []string{"contosohr"}, &store.Query{Op: store.QueryEqual, Name: "category", Text: "birds"}, []string{"a"}},
		{bob, []string{"fabrikam"}, &store.Query{Op: store.QueryText, Text: "content"}, []string{"c"}},
		{bob, []string{"fabrikam"}, &store.Query{Op: store.QueryText, Text: "unregistered"}, nil},
	} {
		if got := search(tt.p, tt.conns, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("Search(%+v) by %s after the migration = %v, want %v", tt.q, tt.p.UserID, got, tt.want)
		}
	}
	var activities int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM activities`).Scan(&activities); err != nil || activities != 2 {
		t.Errorf("after the migration, %d activities, %v; want 2", activities, err)
	}
	if it, err := db.Item(ctx, dev, "contosohr", "a"); err != nil || string(it.Properties) != `{"title":"Early bird","category":"Birds"}` || it.Version != 1 {
		t.Errorf("Item(a) after the migration = %+v, %v; want it as it was", it, err)
	}
	// The foreign keys hold, and cascade, in the new tables.
	var violations int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_check").Scan(&violations); err != nil || violations != 0 {
		t.Errorf("foreign_key_check = %d violations, %v; want none", violations, err)
	}
	if err := db.DeleteItem(ctx, dev, "contosohr", "a"); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM activities`).Scan(&activities); err != nil || activities != 1 {
		t.Errorf("after DeleteItem, %d activities, %v; want 1", activities, err)
	}
	if got := search(bob, []string{"contosohr"}, &store.Query{Op: store.QueryAll}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Search(*) after DeleteItem = %v, want [b]", got)
	}
	it := &store.Item{ConnectionID: "contosohr", ID: "new", ACL: []store.ACE{{Type: "everyone", Value: dev, AccessType: "grant"}}, Properties: json.RawMessage(`{"title":"late bird"}`)}
	if _, err := db.PutItem(ctx, dev, it, 0); err != nil {
		t.Fatalf("PutItem() = %v", err)
	}
	if got := search(bob, []string{"contosohr"}, &store.Query{Op: store.QueryAll}); !slices.Equal(got, []string{"new", "b"}) {
		t.Errorf("Search(*) after PutItem = %v, want the new item first, [new b]", got)
	}
	checkIndex(t, db)
}
