package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
)

// The methods of storetest.ItemInspector, on the DB itself so that the
// conformance suite of postgres_test sees them; postgres_test checks that
// the DB has them.

func (db *DB) ItemWriterStats() store.WriterStats { return db.items.Stats() }

func (db *DB) Rows(t *testing.T, table string) int64 {
	t.Helper()
	var n int64
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatalf("count the rows of %s: %v", table, err)
	}
	return n
}

// Analyze brings the planner's statistics, and the GIN indexes' lists of
// pending entries, up to date, as autovacuum does some time after a bulk
// load.
func (db *DB) Analyze(tb testing.TB) {
	tb.Helper()
	for _, table := range []string{"items", "item_values", "acl_principals"} {
		if _, err := db.pool.Exec(context.Background(), `VACUUM ANALYZE `+pgx.Identifier{table}.Sanitize()); err != nil {
			tb.Fatalf("VACUUM ANALYZE %s: %v", table, err)
		}
	}
}
