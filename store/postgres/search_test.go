package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

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

func TestSearchVector(t *testing.T) {
	if got, want := searchVector([]string{"a", "b", "a", "it's"}, []string{"c_1", "g_2"}), `'c_1' 'g_2' 'a':1,3 'b':2 'it''s':4`; got != want {
		t.Errorf("searchVector() = %s, want %s", got, want)
	}
	// Past position 16383, PostgreSQL's last, words are at 16383, once.
	words := make([]string, 20000)
	for i := range words {
		words[i] = "w"
	}
	words[19999] = "last"
	got := searchVector(words, nil)
	if !strings.HasPrefix(got, "'w':1,2,3,") || !strings.HasSuffix(got, "'last':16383") || strings.Count(got, ",") != maxPositions-1 {
		t.Errorf("searchVector(20000 words) = %.40s…%s with %d positions of w, want 256 of w and last at 16383", got, got[len(got)-20:], strings.Count(got, ",")+1)
	}
}

// A tsvector that PostgreSQL takes, whatever the words: too many distinct
// ones are left out, past its limit on a tsvector's size.
func TestSearchVectorLimits(t *testing.T) {
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Connect() = %v", err)
	}
	defer conn.Close(context.Background())
	var words []string
	for i := range 300_000 {
		words = append(words, fmt.Sprintf("word%07d", i))
	}
	vec := searchVector(words, []string{"c_1"})
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT length($1::tsvector)`, vec).Scan(&n); err != nil {
		t.Fatalf("SELECT $1::tsvector of 300,000 distinct words = %v", err)
	}
	if n < 50_000 || n >= 300_000 {
		t.Errorf("the tsvector of 300,000 distinct words holds %d lexemes, want as many as 1 MB holds", n)
	}
}
