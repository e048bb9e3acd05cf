package sqlite_test

import (
	"context"
	"testing"

	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/store/storetest"
)

// BenchmarkSearch searches 100,000 items of about 1 KB (five properties,
// a text content from a small vocabulary, ACLs granting everyone, a user
// or an external group): see storetest.RunSearchBench. It must stay well
// under 20 ms a search for typical words.
func BenchmarkSearch(b *testing.B) {
	db, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatalf("Open() = %v", err)
	}
	b.Cleanup(func() { db.Close() })
	vocab := storetest.PutSearchCorpus(b, db, 100_000)
	storetest.RunSearchBench(b, db, vocab)
}
