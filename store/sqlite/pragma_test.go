package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The write connection runs with the settings Options ask for, and with the
// WAL settings the latency figures of BENCHMARKS.md depend on.
func TestPragmas(t *testing.T) {
	tests := []struct {
		synchronous string
		want        int64 // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"", 1},
		{"full", 2},
		{"NORMAL", 1},
	}
	for _, tt := range tests {
		t.Run("synchronous="+tt.synchronous, func(t *testing.T) {
			ctx := context.Background()
			db, err := OpenWith(ctx, t.TempDir(), Options{Synchronous: tt.synchronous})
			if err != nil {
				t.Fatalf("OpenWith() = %v", err)
			}
			defer db.Close()
			var sync, autocheckpoint int64
			var mode string
			if err := db.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
				t.Fatal(err)
			}
			if err := db.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if err := db.write.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&autocheckpoint); err != nil {
				t.Fatal(err)
			}
			if sync != tt.want || mode != "wal" || autocheckpoint != walAutocheckpoint {
				t.Errorf("synchronous, journal_mode, wal_autocheckpoint = %d, %q, %d; want %d, \"wal\", %d",
					sync, mode, autocheckpoint, tt.want, walAutocheckpoint)
			}
		})
	}
}

func TestParseSynchronous(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"", "NORMAL", false}, // what graphconn serve uses unless told otherwise
		{"full", "FULL", false},
		{"Normal", "NORMAL", false},
		{"OFF", "", true},
		{"EXTRA", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSynchronous(tt.in)
			if got != tt.want || (err != nil) != tt.err {
				t.Errorf("ParseSynchronous(%q) = %q, %v; want %q, error %t", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

// The checkpointer copies committed pages into the database file in the
// background: the file grows with what is written, long before the write
// connection's own checkpoint at walAutocheckpoint pages, and before Close.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer db.Close()
	file := filepath.Join(dir, FileName)
	before := fileSize(t, file)
	// About 1 MiB in 256 pages: well under walAutocheckpoint.
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE filler (b BLOB) STRICT;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 256)
		INSERT INTO filler SELECT randomblob(4000) FROM n`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fileSize(t, file) < before+1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d bytes 5s after a commit of 1 MiB (%d before), want %d at least: nothing checkpointed it",
				fileSize(t, file), before, before+1<<20)
		}
		time.Sleep(checkpointEvery)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
