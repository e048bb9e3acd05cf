package sqlite

import (
	"context"
	"testing"
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
