package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/postgres"
	"github.com/graphconn/graphconn/store/postgres/pgtest"
	"github.com/graphconn/graphconn/store/storetest"
)

// open opens a store on dsn that closes when t ends.
func open(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The item tests see into the store through storetest.ItemInspector
// (export_test.go).
var _ storetest.ItemInspector = (*postgres.DB)(nil)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := postgres.Open(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		return db
	})
}

func TestConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("Glob(migrations) = %v, %v; want the migration files", files, err)
	}

	const n = 2
	var dbs [n]*postgres.DB
	var errs [n]error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = postgres.Open(ctx, dsn)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("concurrent Open() #%d = %v", i, errs[i])
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		t.FailNow()
	}
	if err := dbs[0].CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "contosohr", Name: "HR"}); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	if c, err := dbs[1].Connection(ctx, storetest.Tenant, "contosohr"); err != nil || c.Name != "HR" {
		t.Errorf("Connection() on the other store = %+v, %v; want the connection", c, err)
	}

	// Opening again finds the migrations applied and keeps the data.
	again := open(t, dsn)
	if c, err := again.Connection(ctx, storetest.Tenant, "contosohr"); err != nil || c.Name != "HR" {
		t.Errorf("Connection() after reopening = %+v, %v; want the connection", c, err)
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgx.Connect() = %v", err)
	}
	defer conn.Close(ctx)
	var rows, versions int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM graphconn_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatalf("reading graphconn_migrations: %v", err)
	}
	if rows != len(files) || versions != len(files) {
		t.Errorf("graphconn_migrations has %d rows of %d versions, want %d of %d: each migration applied once", rows, versions, len(files), len(files))
	}
}

// Two replicas race to register a schema on one connection: one wins and
// every other gets Conflict.
func TestConcurrentRegistrations(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	replicas := []*postgres.DB{open(t, dsn), open(t, dsn)}
	if err := replicas[0].CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "contosohr", Name: "HR"}); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = replicas[i%len(replicas)].RegisterSchema(ctx, storetest.Tenant, "contosohr", &store.Schema{BaseType: "microsoft.graph.externalItem"}, nil, time.Now().Add(time.Hour))
		})
	}
	wg.Wait()
	var wins, conflicts int
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case store.KindOf(err) == store.Conflict:
			conflicts++
		default:
			t.Errorf("RegisterSchema() = %v, want success or Conflict", err)
		}
	}
	if wins != 1 || conflicts != n-1 {
		t.Errorf("%d concurrent RegisterSchema() on two replicas: %d won and %d conflicted, want 1 and %d", n, wins, conflicts, n-1)
	}
}

// PostgreSQL cannot store U+0000 in text or jsonb, which a client's JSON may
// hold: that is the client's error, not a failure of the store.
func TestUnstorableText(t *testing.T) {
	ctx := context.Background()
	db := open(t, pgtest.DSN(t))
	if err := db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "contosohr", Name: "HR"}); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	if err := db.CreateOperation(ctx, storetest.Tenant, &store.Operation{ConnectionID: "contosohr", ID: "op1", Status: store.StatusInProgress}); err != nil {
		t.Fatalf("CreateOperation() = %v", err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"CreateConnection(NUL in the name)", func() error {
			return db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "other", Name: "a\x00b"})
		}},
		{"UpdateConnection(NUL in the description)", func() error {
			_, err := db.UpdateConnection(ctx, storetest.Tenant, "contosohr", store.ConnectionUpdate{Description: new("a\x00b")})
			return err
		}},
		{"CreateConnection(NUL in a setting)", func() error {
			return db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "other", Name: "x",
				Settings: map[string]json.RawMessage{"connectorId": json.RawMessage(`"a\u0000b"`)}})
		}},
		{"UpdateConnection(NUL in a setting)", func() error {
			_, err := db.UpdateConnection(ctx, storetest.Tenant, "contosohr", store.ConnectionUpdate{
				Settings: map[string]json.RawMessage{"configuration": json.RawMessage(`{"a":["\u0000"]}`)}})
			return err
		}},
		{"UpdateOperation(NUL in the error)", func() error {
			_, err := db.UpdateOperation(ctx, storetest.Tenant, "contosohr", "op1", store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Message: "a\x00b"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := store.KindOf(err); err == nil || got != store.Invalid {
				t.Errorf("%s = %v (kind %v), want kind %v", tt.name, err, got, store.Invalid)
			}
		})
	}
}

func TestOutageAndRecovery(t *testing.T) {
	dsn := pgtest.DSN(t)
	p, proxied := pgtest.StartProxy(t, dsn)
	db := open(t, proxied)

	ctx := context.Background()
	if err := db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "contosohr", Name: "HR"}); err != nil {
		t.Fatalf("CreateConnection() through the proxy = %v", err)
	}
	if err := db.CreateOperation(ctx, storetest.Tenant, &store.Operation{ConnectionID: "contosohr", ID: "op", Status: store.StatusUnspecified}); err != nil {
		t.Fatalf("CreateOperation() through the proxy = %v", err)
	}

	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"Connection", func(ctx context.Context) error {
			_, err := db.Connection(ctx, storetest.Tenant, "contosohr")
			return err
		}},
		{"UpdateConnection", func(ctx context.Context) error {
			_, err := db.UpdateConnection(ctx, storetest.Tenant, "contosohr", store.ConnectionUpdate{Description: new("during the outage")})
			return err
		}},
		{"FinishDue", func(ctx context.Context) error {
			_, err := db.FinishDue(ctx, time.Now())
			return err
		}},
		{"UpdateOperation", func(ctx context.Context) error {
			_, err := db.UpdateOperation(ctx, storetest.Tenant, "contosohr", "op", store.OperationUpdate{Status: new(store.StatusInProgress)})
			return err
		}},
	}
	// The outage: first the server hangs up on every connection and refuses
	// new ones; then it accepts connections and never answers, which only
	// the store's connect timeout ends.
	for _, m := range []pgtest.Mode{pgtest.Refuse, pgtest.Stall} {
		p.Set(m)
		for _, c := range calls {
			t.Run(fmt.Sprintf("%s/%s", m, c.name), func(t *testing.T) {
				// The deadline is a backstop: the store must give up sooner.
				ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				start := time.Now()
				err := c.call(ctx)
				elapsed := time.Since(start)
				if got := store.KindOf(err); err == nil || got != store.Unavailable {
					t.Errorf("%s() with the database down = %v (kind %v), want kind %v", c.name, err, got, store.Unavailable)
				}
				var se *store.Error
				if errors.As(err, &se) && se.Message != "The database is unavailable; retry the request." {
					t.Errorf("%s() message = %q, want the retry message", c.name, se.Message)
				}
				if elapsed > 5*time.Second {
					t.Errorf("%s() took %v to fail, want at most 5s", c.name, elapsed)
				}
				t.Logf("%s() = %v after %v", c.name, err, elapsed.Round(time.Millisecond))
			})
		}
	}

	// The server is back: the same store recovers without reopening.
	p.Set(pgtest.Up)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for {
		if _, err = db.Connection(ctx, storetest.Tenant, "contosohr"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Connection() 10s after the database came back = %v, want success", err)
	}
	got, err := db.UpdateConnection(ctx, storetest.Tenant, "contosohr", store.ConnectionUpdate{Description: new("after the outage")})
	if err != nil || got.Description != "after the outage" {
		t.Errorf("UpdateConnection() after recovery = %+v, %v; want the update applied", got, err)
	}
}
