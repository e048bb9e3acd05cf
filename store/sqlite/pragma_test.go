package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
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
			var limit int64
			if err := db.write.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&limit); err != nil {
				t.Fatal(err)
			}
			if sync != tt.want || mode != "wal" || autocheckpoint != walAutocheckpoint || limit != journalSizeLimit {
				t.Errorf("synchronous, journal_mode, wal_autocheckpoint, journal_size_limit = %d, %q, %d, %d; want %d, \"wal\", %d, %d",
					sync, mode, autocheckpoint, limit, tt.want, walAutocheckpoint, journalSizeLimit)
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

// Under reads that overlap without end, as a searched server's, the WAL
// stays bounded: the checkpointer's RESTART checkpoint lets the next write
// start it over, and journalSizeLimit cuts the file back. Without them the
// WAL file grows by every page written.
func TestWALBoundedUnderEndlessReads(t *testing.T) {
	frames, limit, backoff := walRestartFrames, journalSizeLimit, restartBackoff
	t.Cleanup(func() { walRestartFrames, journalSizeLimit, restartBackoff = frames, limit, backoff }) // after the DB's close
	// 1 MiB of pages; 1 MiB of file. The test writes 8 MiB in a second or
	// two: a RESTART that a busy machine kept from finishing is tried
	// again within a few ticks, not a second later.
	walRestartFrames, journalSizeLimit, restartBackoff = 256, 1<<20, 2*checkpointEvery

	ctx := context.Background()
	dir := t.TempDir()
	db := openFiller(t, dir)

	// Readers whose transactions overlap: at any moment one of them reads.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readErrs := make(chan error, 4)
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			time.Sleep(time.Duration(r) * time.Millisecond)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := readFor(ctx, db, 4*time.Millisecond); err != nil {
					readErrs <- err
					return
				}
			}
		}()
	}

	// 8 MiB written, 16 KiB at a time, over a second or two.
	const written = 8 << 20
	wal := filepath.Join(dir, FileName+"-wal")
	var largest int64
	for range written / 16000 {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO filler VALUES (zeroblob(16000))`); err != nil {
			t.Fatal(err)
		}
		largest = max(largest, fileSize(t, wal))
		time.Sleep(time.Millisecond)
	}
	close(stop)
	readers.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Fatalf("read: %v", err)
	}
	t.Logf("the WAL file reached %d bytes at most", largest)
	if want := int64(4 << 20); largest > want {
		t.Errorf("the WAL file reached %d bytes while %d were written under endless reads, want %d at most", largest, written, want)
	}
}

// readFor reads the database in one transaction that lasts d.
func readFor(ctx context.Context, db *DB, d time.Duration) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// A read that starts the transaction's snapshot, and little more.
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM filler LIMIT 1)`).Scan(&n); err != nil {
		return err
	}
	time.Sleep(d)
	return tx.Commit()
}

// A reader that keeps the WAL from being started over (a long search) is
// not waited for at every tick: after a RESTART checkpoint that could not
// finish, the checkpointer tries again restartBackoff later, so that
// writers are held off for restartWait in a restartBackoff at most.
func TestRestartBacksOffFromLongReads(t *testing.T) {
	frames := walRestartFrames
	t.Cleanup(func() { walRestartFrames = frames }) // after the DB's close
	walRestartFrames = 64

	ctx := context.Background()
	db := openFiller(t, t.TempDir())
	// A reader whose snapshot is older than everything written next.
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM filler`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	before := db.ckpt.restarts.Load()
	for range 40 { // about 160 pages, past walRestartFrames
		if _, err := db.write.ExecContext(ctx, `INSERT INTO filler VALUES (zeroblob(16000))`); err != nil {
			t.Fatal(err)
		}
	}
	const held = 1500 * time.Millisecond
	time.Sleep(held)
	tried := db.ckpt.restarts.Load() - before
	// Once at the first tick, once more after restartBackoff (a third time
	// for a slow machine's slack); without the backoff, at every tick after
	// a wait of restartWait: about 12 times.
	if want := int64(held/restartBackoff) + 2; tried > want {
		t.Errorf("the checkpointer tried %d RESTART checkpoints while a reader held the WAL for %v, want %d at most", tried, held, want)
	}
	if tried == 0 {
		t.Errorf("the checkpointer tried no RESTART checkpoint with %d pages in the WAL, want one at least", 160)
	}
}

// openFiller opens a DB in dir, closed when the test ends, with a table
// filler (b BLOB) to write pages into.
func openFiller(t *testing.T, dir string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE filler (b BLOB) STRICT`); err != nil {
		t.Fatal(err)
	}
	return db
}
