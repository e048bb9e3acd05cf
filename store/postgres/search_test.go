package postgres

import (
	"context"
	"testing"

	"github.com/graphconn/graphconn/store/postgres/pgtest"
	"github.com/graphconn/graphconn/store/storetest"
)

func TestRankWindow(t *testing.T) {
	dsn := pgtest.DSN(t)
	defer func(w int) { rankWindow = w }(rankWindow)
	rankWindow = 5
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	storetest.RunRankWindow(t, db, rankWindow)
}
