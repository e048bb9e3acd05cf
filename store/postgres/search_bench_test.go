package postgres_test

import (
	"context"
	"testing"

	"github.com/graphconn/graphconn/store/postgres"
	"github.com/graphconn/graphconn/store/postgres/pgtest"
	"github.com/graphconn/graphconn/store/storetest"
)

// BenchmarkSearch is store/sqlite's, on PostgreSQL: see
// storetest.RunSearchBench. The tables are analyzed after the load, as
// autovacuum would: without statistics the planner scans every item.
func BenchmarkSearch(b *testing.B) {
	db, err := postgres.Open(context.Background(), pgtest.DSN(b))
	if err != nil {
		b.Fatalf("Open() = %v", err)
	}
	b.Cleanup(func() { db.Close() })
	vocab := storetest.PutSearchCorpus(b, db, 100_000)
	db.Analyze(b)
	storetest.RunSearchBench(b, db, vocab)
}
