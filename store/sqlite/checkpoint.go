package sqlite

import (
	"context"
	"database/sql"
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

// checkpointer copies the WAL into the database file on a connection of
// its own, beside the writers (a PASSIVE checkpoint takes no lock that a
// writer or a reader waits on): the copy and its two syncs to disk are no
// longer a commit's, so no write waits for them and the write connection's
// goroutine writes only its own pages.
type checkpointer struct {
	conn *sql.DB
	quit chan struct{}
	done chan struct{}
}

// startCheckpointer opens the checkpointer's connection to dsn and starts
// it.
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
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			// A WAL that holds nothing new costs a look at its index, no
			// I/O. An error (a busy checkpoint of another connection) is
			// retried at the next tick; the write connection's own
			// checkpoint at walAutocheckpoint pages is the bound.
			c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.quit)
	<-c.done
	return c.conn.Close()
}
