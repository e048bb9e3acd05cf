package sqlite

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the checkpointer copies what the WAL holds
// into the database file.
const checkpointEvery = 20 * time.Millisecond

// walAutocheckpoint is how many pages the WAL may hold before a commit of
// the write connection copies them into the database file itself, as SQLite
// does by default (every 1000 pages). The checkpointer does it in the
// background long before: this is only the bound should it fall behind.
// A commit that checkpoints syncs the WAL and the database file first, and
// every write waiting on the writer waits for it.
const walAutocheckpoint = 10_000

// The WAL's bounds under reads that never stop. A writer starts the WAL
// over only when a checkpoint has copied all of it and no reader still
// reads any of it; on a server whose searches overlap, one reader or
// another always does, and the WAL would grow for as long as they go on
// (checkpoint starvation, in SQLite's words). So once the WAL holds
// walRestartFrames pages, the checkpointer runs a RESTART checkpoint: it
// holds writers off, lets the readers that read the WAL finish (new ones
// read the database file, which then holds everything), and so lets the
// next write start the WAL over; journalSizeLimit then cuts the file back.
// Writers wait at most restartWait for it, once per walRestartFrames pages
// written.
var (
	walRestartFrames       = 8192     // 32 MiB of 4 KiB pages
	journalSizeLimit int64 = 64 << 20 // bytes
)

// restartWait bounds how long a RESTART checkpoint waits for the readers
// of the WAL, and so how long it holds writers off; when they take longer
// it gives up, and the checkpointer tries again restartBackoff later: a
// long read (a search of many items on a loaded server) then holds writers
// off for a tenth of its time at most, not at every tick.
const restartWait = 100 * time.Millisecond

var restartBackoff = time.Second // tests shorten it

// checkpointer copies the WAL into the database file on a connection of
// its own, beside the writers (a PASSIVE checkpoint takes no lock that a
// writer or a reader waits on): the copy and its two syncs to disk are no
// longer a commit's, so no write waits for them and the write connection's
// goroutine writes only its own pages.
type checkpointer struct {
	conn     *sql.DB
	quit     chan struct{}
	done     chan struct{}
	restarts atomic.Int64 // RESTART checkpoints tried
}

// startCheckpointer opens the checkpointer's connection to dsn (which
// waits for locks up to restartWait) and starts it.
func startCheckpointer(dsn string) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetConnMaxIdleTime(0)
	c := &checkpointer{conn: conn, quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var nextRestart time.Time
	for {
		select {
		case <-c.quit:
			return
		case now := <-t.C:
			// A WAL that holds nothing new costs a look at its index, no
			// I/O. An error (a busy checkpoint of another connection) is
			// retried at the next tick; the write connection's own
			// checkpoint at walAutocheckpoint pages is the bound.
			frames, _, err := c.checkpoint("PASSIVE")
			if err != nil || frames < walRestartFrames || now.Before(nextRestart) {
				continue
			}
			c.restarts.Add(1)
			if _, busy, err := c.checkpoint("RESTART"); err != nil || busy {
				nextRestart = now.Add(restartBackoff)
			}
		}
	}
}

// checkpoint runs a checkpoint of mode and returns how many pages the WAL
// held, and whether it could not finish (a reader or a writer did not let
// it within restartWait).
func (c *checkpointer) checkpoint(mode string) (frames int, busy bool, err error) {
	var b, copied int
	err = c.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&b, &frames, &copied)
	return frames, b != 0, err
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.quit)
	<-c.done
	return c.conn.Close()
}
