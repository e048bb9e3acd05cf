// Package pgtest gives each test a PostgreSQL schema of its own, so that
// tests (and concurrent runs of them) on one database never see each
// other's tables.
//
// Tests run against the server that the environment variable named by Env
// points to, and are skipped when it is not set:
//
//	GRAPHCONN_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the environment variable that holds the URL (or keyword/value
// string) of the PostgreSQL database that tests may use.
const Env = "GRAPHCONN_TEST_POSTGRES"

// DSN creates a new, empty schema with a random name in the database of
// Env, drops it (CASCADE) when t ends, and returns a DSN whose connections
// use that schema as their search_path: a store opened on it creates its
// tables there. It skips t when Env is not set.
//
// Close what you open on the DSN in a cleanup registered after calling DSN,
// or before t ends, so that it closes before the schema is dropped.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skip(Env + " is not set; set it to a PostgreSQL URL to run the PostgreSQL tests")
	}
	name := "gc_test_" + randomHex(8)
	schema := pgx.Identifier{name}.Sanitize()
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	dsn, err := withSearchPath(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// exec runs one statement on a connection of its own.
func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to the database of %s: %w", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// withSearchPath returns dsn with the runtime parameter search_path set to
// schema; pgx sends the query parameters it does not know to the server as
// runtime parameters.
func withSearchPath(dsn, schema string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// url.Error quotes the URL, password and all.
			return "", fmt.Errorf("%s does not hold a valid URL", Env)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// A keyword/value string: a later keyword wins over an earlier one.
	return dsn + " search_path=" + schema, nil
}

// randomHex returns n random bytes in hex: schema names that concurrent
// runs do not share.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
