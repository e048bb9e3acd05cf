package sqlite

import (
	"context"
	"testing"

	"github.com/graphconn/graphconn/store"
)

// The methods of storetest.ItemInspector, on the DB itself so that the
// conformance suite of sqlite_test sees them; sqlite_test checks that the
// DB has them.

func (db *DB) ItemWriterStats() store.WriterStats { return db.items.Stats() }

func (db *DB) Rows(t *testing.T, table string) int64 {
	t.Helper()
	var n int64
	if err := db.read.QueryRowContext(context.Background(), `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
		t.Fatalf("count the rows of %s: %v", table, err)
	}
	return n
}

// CheckIndex checks that the full-text index holds what the items hold
// (FTS5's integrity-check of an external content table compares them),
// and that no transaction left changes to it behind.
func (db *DB) CheckIndex(t *testing.T) {
	t.Helper()
	checkIndex(t, db)
}
