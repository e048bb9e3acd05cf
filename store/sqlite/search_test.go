package sqlite

import (
	"context"
	"testing"

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
