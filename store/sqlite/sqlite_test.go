package sqlite_test

import (
	"context"
	"testing"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/store/storetest"
)

// The item tests see into the store through storetest.ItemInspector
// (export_test.go).
var _ storetest.ItemInspector = (*sqlite.DB)(nil)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		return checkedDB{db, t}
	})
}

// checkedDB checks, when the suite closes it, that the full-text index
// holds what the items hold, whatever the test did to them.
type checkedDB struct {
	*sqlite.DB
	t *testing.T
}

func (c checkedDB) Close() error {
	c.CheckIndex(c.t)
	return c.DB.Close()
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if err := db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "contosohr", Name: "HR", State: store.ConnectionDraft}); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// Opening again must not re-run the migrations over the existing tables.
	db, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() again = %v", err)
	}
	defer db.Close()
	if c, err := db.Connection(ctx, storetest.Tenant, "contosohr"); err != nil || c.Name != "HR" {
		t.Errorf("Connection() after reopen = %+v, %v; want the stored connection", c, err)
	}
}
