package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/postgres/pgtest"
)

func TestDBErrorKinds(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want store.Kind
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, store.Unavailable},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, store.Unavailable},
		{"starting up", &pgconn.PgError{Code: "57P03"}, store.Unavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, store.Unavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, store.Unavailable},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, store.Unavailable},
		{"wrapped server error", fmt.Errorf("query: %w", &pgconn.PgError{Code: "57P01"}), store.Unavailable},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, store.Unavailable},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), store.Unavailable},
		{"server hung up", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), store.Unavailable},
		{"pool wait timed out", fmt.Errorf("acquire: %w", context.DeadlineExceeded), store.Unavailable},
		{"unique violation", &pgconn.PgError{Code: "23505"}, store.Internal},
		{"syntax error", &pgconn.PgError{Code: "42601"}, store.Internal},
		{"bad password", &pgconn.PgError{Code: "28P01"}, store.Internal},
		{"NUL in text", &pgconn.PgError{Code: "22021"}, store.Invalid},
		{"NUL in jsonb", &pgconn.PgError{Code: "22P05"}, store.Invalid},
		{"anything else", errors.New("boom"), store.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dbError("read connection", tt.err)
			if got := store.KindOf(err); got != tt.want {
				t.Errorf("KindOf(dbError(%v)) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("dbError(%v) = %v, which does not wrap the cause", tt.err, err)
			}
			var se *store.Error
			if errors.As(err, &se) && tt.want == store.Unavailable && se.Message != unavailableMessage {
				t.Errorf("dbError(%v).Message = %q, want %q", tt.err, se.Message, unavailableMessage)
			}
		})
	}
}

func TestPoolConfig(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	const base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	tests := []struct {
		name                             string
		dsn                              string
		connect, ping, healthCheckPeriod time.Duration
	}{
		{"defaults", base, defaultConnectTimeout, defaultPingTimeout, defaultHealthCheckPeriod},
		{"the DSN's own", base + "&connect_timeout=7&pool_ping_timeout=3s&pool_health_check_period=1m", 7 * time.Second, 3 * time.Second, time.Minute},
		{"keyword/value", "host=127.0.0.1 dbname=test connect_timeout=5", 5 * time.Second, defaultPingTimeout, defaultHealthCheckPeriod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := poolConfig(tt.dsn)
			if err != nil {
				t.Fatalf("poolConfig(%q) = %v", tt.dsn, err)
			}
			if got := cfg.ConnConfig.ConnectTimeout; got != tt.connect {
				t.Errorf("poolConfig(%q).ConnectTimeout = %v, want %v", tt.dsn, got, tt.connect)
			}
			if got := cfg.PingTimeout; got != tt.ping {
				t.Errorf("poolConfig(%q).PingTimeout = %v, want %v", tt.dsn, got, tt.ping)
			}
			if got := cfg.HealthCheckPeriod; got != tt.healthCheckPeriod {
				t.Errorf("poolConfig(%q).HealthCheckPeriod = %v, want %v", tt.dsn, got, tt.healthCheckPeriod)
			}
		})
	}
}

// Open waits for the migration lock that another process holds, and takes
// it back to the pool released.
func TestMigrationWaitsForLock(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgx.Connect() = %v", err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		t.Fatalf("pg_advisory_lock() = %v", err)
	}

	type result struct {
		db  *DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		db, err := Open(ctx, dsn)
		done <- result{db, err}
	}()
	select {
	case r := <-done:
		if r.db != nil {
			r.db.Close()
		}
		t.Fatalf("Open() = %v while another session held the migration lock, want it to wait", r.err)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
		t.Fatalf("pg_advisory_unlock() = %v", err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Open() still waits 30s after the migration lock was released")
	}
	if r.err != nil {
		t.Fatalf("Open() = %v", r.err)
	}
	defer r.db.Close()

	// No connection of the pool still holds the lock.
	conns := r.db.pool.AcquireAllIdle(ctx)
	if len(conns) == 0 {
		t.Fatal("after Open(), the pool has no idle connection to check")
	}
	for _, c := range conns {
		var held bool
		err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory')`).Scan(&held)
		c.Release()
		if err != nil {
			t.Fatalf("reading pg_locks: %v", err)
		}
		if held {
			t.Error("after Open(), a connection of the pool still holds the migration lock")
		}
	}
}
