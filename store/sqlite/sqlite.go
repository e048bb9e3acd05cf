// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite, no cgo) in WAL mode.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/graphconn/graphconn/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the name of the database file in the data directory.
const FileName = "graphconn.db"

// DB is a store.Store on one SQLite file. Writes go through one connection,
// so that they never wait on each other's locks; reads use a pool.
//
// UpdateOperation and PutItem, the hot writes, are group-committed: one
// goroutine each takes the writes that concurrent callers are waiting on and
// applies them in one transaction, so that many share one sync to disk.
// Each caller still waits for the commit of its own write and gets its own
// result.
type DB struct {
	write *sql.DB
	read  *sql.DB

	connection      *sql.Stmt
	operation       *sql.Stmt
	updateOperation *sql.Stmt
	item            *sql.Stmt
	schema          *sql.Stmt // indexSchemaSQL, on the read pool
	putItem         itemStmts // on the write connection, for the items writer

	writer    *store.Writer[*pendingUpdate] // applies UpdateOperation's batches
	items     *store.Writer[*pendingItem]   // applies PutItem's batches
	closeOnce sync.Once
	raw       rawBatch // the writer's
	ckpt      *checkpointer

	// schemas holds the *indexSchema of each connKey that the store has
	// read: PutItem indexes its item under it, and the items writer
	// checks it in its transaction.
	schemas sync.Map
}

var _ store.Store = (*DB)(nil)

// Options tune a DB. The zero value is what Open uses.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "NORMAL" (the default)
	// or "FULL". With NORMAL (in WAL mode) a commit is written to the
	// operating system but synced only at checkpoints: it survives a crash
	// of the process, not a power loss. With FULL, a transaction is on disk
	// when its commit returns, so an acknowledged write survives a crash of
	// the process or of the machine.
	Synchronous string
}

// DefaultSynchronous is the synchronous setting of Options' zero value and
// of graphconn serve: NORMAL, as SQLite advises for WAL mode.
const DefaultSynchronous = "NORMAL"

// ParseSynchronous returns SQLite's synchronous setting named by s, in
// either case: "NORMAL" or "FULL", and DefaultSynchronous for "".
func ParseSynchronous(s string) (string, error) {
	switch u := strings.ToUpper(s); u {
	case "":
		return DefaultSynchronous, nil
	case "FULL", "NORMAL":
		return u, nil
	}
	return "", fmt.Errorf("synchronous must be FULL or NORMAL, not %q", s)
}

// Open opens (creating if needed) the database in dir and applies its
// migrations.
func Open(ctx context.Context, dir string) (*DB, error) {
	return OpenWith(ctx, dir, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dir string, o Options) (*DB, error) {
	path := filepath.Join(dir, FileName)
	synchronous, err := ParseSynchronous(o.Synchronous)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	dsn := dsnOf(path, synchronous, busyTimeout)
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	db := &DB{write: write}
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	if db.read, err = sql.Open("sqlite", dsn); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// A bounded pool that keeps its connections: database/sql keeps only
	// two idle by default, and a connection closed after a burst costs its
	// prepared statements and its page cache when the next burst opens it
	// again. Reads are CPU-bound, so a few per CPU is enough.
	readers := 2 * runtime.GOMAXPROCS(0)
	db.read.SetMaxOpenConns(readers)
	db.read.SetMaxIdleConns(readers)
	db.read.SetConnMaxIdleTime(0)
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.ckpt, err = startCheckpointer(dsnOf(path, synchronous, restartWait)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.writer = store.NewWriter(db.applyBatch)
	db.items = store.NewWriter(db.applyItems)
	return db, nil
}

// busyTimeout is how long a statement waits for a lock that another
// connection holds before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// dsnOf is the data source name of the database file at path, for a
// connection that waits for locks up to busy.
func dsnOf(path, synchronous string, busy time.Duration) string {
	q := url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()), "journal_mode(WAL)", "foreign_keys(1)", "synchronous(" + synchronous + ")",
		// Statement journals in memory: a statement that may fail midway
		// (an item's INSERT, with its triggers) keeps one, which would
		// otherwise go to a file past 64 KiB.
		"temp_store(MEMORY)",
		fmt.Sprintf("wal_autocheckpoint(%d)", walAutocheckpoint),
		// The WAL file is cut back to this size when a writer starts it
		// over (after a checkpoint that copied all of it): without it the
		// file keeps the size of its largest run between two restarts.
		fmt.Sprintf("journal_size_limit(%d)", journalSizeLimit),
	}}
	return "file:" + path + "?" + q.Encode()
}

// afterMigration is the work in Go that completes a migration, in its
// transaction, by the migration's file name.
var afterMigration = map[string]func(db *DB, ctx context.Context, tx *sql.Tx) error{
	// The items stored before the search index are indexed.
	"0007_search.sql": (*DB).reindexAll,
}

// migrate applies, in order, each migration newer than the database's
// user_version, all in one transaction: one sync to disk on a fresh
// database instead of one per migration, and a failed migration leaves the
// database as it was.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var version int
	if err := db.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version >= len(names) {
		return nil
	}
	return db.inTx(ctx, "migrate", func(tx *sql.Tx) error {
		for i := version; i < len(names); i++ {
			script, err := migrations.ReadFile(names[i])
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(script)); err != nil {
				return fmt.Errorf("migrate %s: %w", names[i], err)
			}
			if after := afterMigration[path.Base(names[i])]; after != nil {
				if err := after(db, ctx, tx); err != nil {
					return fmt.Errorf("migrate %s: %w", names[i], err)
				}
			}
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(names)))
		return err
	})
}

const (
	connectionColumns = `name, description, state, owner, version, created, modified, settings, item_count`
	operationColumns  = `status, error, version, created, modified`
	terminal          = `('completed', 'failed')`
	// ifMatch is true when parameter ?N is NULL or a JSON array holding the
	// row's version.
	ifMatch = `(?%[1]d IS NULL OR version IN (SELECT value FROM json_each(?%[1]d)))`
)

// updateOperationSQL is UpdateOperation's one statement: the precondition
// and the merge hold atomically, with no read before the write. A terminal
// status ends the registration the operation was running (due), so that
// the worker leaves it as the client set it. Its arguments are pendingUpdate.args.
var updateOperationSQL = `UPDATE operations SET
		status = coalesce(?1, status),
		error = CASE WHEN ?2 THEN ?3 ELSE error END,
		version = max(version + 1, ?4),
		modified = ?4,
		due = CASE WHEN coalesce(?1, status) IN ` + terminal + ` THEN NULL ELSE due END
	WHERE tenant = ?5 AND connection_id = ?6 AND id = ?7 AND ` + fmt.Sprintf(ifMatch, 8) + `
	RETURNING ` + operationColumns

// The statements of the hot path, prepared once.
func (db *DB) prepare(ctx context.Context) error {
	stmts := []struct {
		s   **sql.Stmt
		on  *sql.DB
		sql string
	}{
		{&db.connection, db.read, `SELECT ` + connectionColumns + `
			FROM connections WHERE tenant = ? AND id = ?`},
		{&db.operation, db.read, `SELECT ` + operationColumns + `
			FROM operations WHERE tenant = ? AND connection_id = ? AND id = ?`},
		{&db.updateOperation, db.write, updateOperationSQL},
		{&db.schema, db.read, indexSchemaSQL},
		{&db.item, db.read, `SELECT ` + itemColumns + `
			FROM items WHERE tenant = ? AND connection_id = ? AND id = ?`},
		{&db.putItem.replace, db.write, replaceItemSQL},
		{&db.putItem.insert, db.write, insertItemSQL},
		{&db.putItem.count, db.write, countItemsSQL},
		{&db.putItem.itemCount, db.write, itemCountSQL},
		{&db.putItem.schema, db.write, indexSchemaSQL},
		{&db.putItem.sync[0], db.write, syncTextSQL[0]},
		{&db.putItem.sync[1], db.write, syncTextSQL[1]},
		{&db.putItem.sync[2], db.write, syncTextSQL[2]},
	}
	for _, st := range stmts {
		s, err := st.on.PrepareContext(ctx, st.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", st.sql, err)
		}
		*st.s = s
	}
	return nil
}

// Close closes the database. It waits for the writes already handed to the
// writers; an UpdateOperation or a PutItem after Close returns an error.
func (db *DB) Close() error {
	var errs []error
	db.closeOnce.Do(func() {
		if db.writer != nil {
			db.writer.Close()
		}
		if db.items != nil {
			db.items.Close()
		}
		db.raw.close(db.write)
		if db.ckpt != nil {
			errs = append(errs, db.ckpt.close())
		}
	})
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// inTx runs f in a write transaction. f's error is returned as it is; a
// failure to begin or commit is wrapped as internal(what, ...).
func (db *DB) inTx(ctx context.Context, what string, f func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return internal(what, err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return internal(what, err)
	}
	return nil
}

// CreateConnection implements store.Store.
func (db *DB) CreateConnection(ctx context.Context, tenant string, c *store.Connection) error {
	settings, err := settingsObject(c.Settings)
	if err != nil {
		return err
	}
	// SQLite stores the text as it is: the settings as stored read back
	// from it.
	stored, err := store.DecodeSettings([]byte(settings))
	if err != nil {
		return internal("create connection", err)
	}
	now := time.Now().UTC()
	_, err = db.write.ExecContext(ctx, `INSERT INTO connections (tenant, id, name, description, state, owner, version, created, modified, settings)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7, ?8)`, tenant, c.ID, c.Name, c.Description, store.ConnectionDraft, c.Owner, now.UnixNano(), settings)
	if err != nil {
		if code(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return store.E(store.Exist, "A connection with id '%s' already exists.", c.ID)
		}
		return internal("create connection", err)
	}
	c.Settings = stored
	c.Tenant, c.State, c.Version, c.Created, c.Modified = tenant, store.ConnectionDraft, now.UnixNano(), now, now
	return nil
}

type scanner interface{ Scan(...any) error }

// scanConnection scans connectionColumns.
func scanConnection(row scanner, c *store.Connection) error {
	var created, modified int64
	var settings []byte
	if err := row.Scan(&c.Name, &c.Description, &c.State, &c.Owner, &c.Version, &created, &modified, &settings, &c.ItemCount); err != nil {
		return err
	}
	var err error
	if c.Settings, err = store.DecodeSettings(settings); err != nil {
		return err
	}
	c.Created, c.Modified = unixTime(created), unixTime(modified)
	return nil
}

// Connection implements store.Store.
func (db *DB) Connection(ctx context.Context, tenant, id string) (*store.Connection, error) {
	c := store.Connection{Tenant: tenant, ID: id}
	err := scanConnection(db.connection.QueryRowContext(pointRead(ctx), tenant, id), &c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ConnectionNotFound(id)
	}
	if err != nil {
		return nil, internal("read connection", err)
	}
	return &c, nil
}

// Connections implements store.Store.
func (db *DB) Connections(ctx context.Context, tenant, owner string, p store.Page) ([]*store.Connection, string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, `+connectionColumns+`
		FROM connections WHERE tenant = ?1 AND id > ?2 AND (?3 = '' OR owner = ?3) ORDER BY id LIMIT ?4`, tenant, p.After, owner, p.Limit+1)
	if err != nil {
		return nil, "", internal("list connections", err)
	}
	defer rows.Close()
	var list []*store.Connection
	for rows.Next() {
		c := store.Connection{Tenant: tenant}
		if err := scanConnection(idScanner{rows, &c.ID}, &c); err != nil {
			return nil, "", internal("list connections", err)
		}
		list = append(list, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", internal("list connections", err)
	}
	if len(list) > p.Limit {
		list = list[:p.Limit]
		return list, list[len(list)-1].ID, nil
	}
	return list, "", nil
}

// UpdateConnection implements store.Store. The settings are merged in the
// UPDATE itself (settingsPatch), with the precondition.
func (db *DB) UpdateConnection(ctx context.Context, tenant, id string, u store.ConnectionUpdate) (*store.Connection, error) {
	match, err := versions(u.IfMatch)
	if err != nil {
		return nil, err
	}
	args := []any{u.Name, u.Description, time.Now().UTC().UnixNano(), tenant, id, match}
	patch, patchArgs, err := settingsPatch(u.Settings, len(args)+1)
	if err != nil {
		return nil, err
	}
	if patch != "" {
		patch = "settings = " + patch + ","
	}
	c := store.Connection{Tenant: tenant, ID: id}
	row := db.write.QueryRowContext(ctx, `UPDATE connections SET
			name = coalesce(?1, name), description = coalesce(?2, description), `+patch+`
			version = max(version + 1, ?3), modified = ?3
		WHERE tenant = ?4 AND id = ?5 AND `+fmt.Sprintf(ifMatch, 6)+`
		RETURNING `+connectionColumns,
		append(args, patchArgs...)...)
	err = scanConnection(row, &c)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.Connection(ctx, tenant, id); err != nil {
			return nil, err
		}
		return nil, preconditionFailed("connection", id)
	}
	if err != nil {
		return nil, internal("update connection", err)
	}
	return &c, nil
}

// DeleteConnection implements store.Store.
func (db *DB) DeleteConnection(ctx context.Context, tenant, id string, ifMatchVersions []int64) error {
	match, err := versions(ifMatchVersions)
	if err != nil {
		return err
	}
	// The connection's items go with it (ON DELETE CASCADE), and from
	// item_text (syncText).
	return db.inTx(ctx, "delete connection", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM connections WHERE tenant = ?1 AND id = ?2 AND `+fmt.Sprintf(ifMatch, 3), tenant, id, match)
		if err != nil {
			return internal("delete connection", err)
		}
		db.schemas.Delete(connKey{tenant, id})
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := db.Connection(ctx, tenant, id); err != nil {
				return err
			}
			return preconditionFailed("connection", id)
		}
		if err := syncText(ctx, tx); err != nil {
			return internal("delete connection", err)
		}
		return nil
	})
}

// CreateOperation implements store.Store.
func (db *DB) CreateOperation(ctx context.Context, tenant string, op *store.Operation) error {
	errJSON, err := marshal(op.Error)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = db.write.ExecContext(ctx, `INSERT INTO operations (tenant, connection_id, id, status, error, version, created, modified)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)`, tenant, op.ConnectionID, op.ID, op.Status, errJSON, now.UnixNano())
	switch code(err) {
	case 0:
		op.Tenant, op.Version, op.Created, op.Modified = tenant, now.UnixNano(), now, now
		return nil
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ConnectionNotFound(op.ConnectionID)
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.E(store.Exist, "The connection '%s' already has an operation with id '%s'.", op.ConnectionID, op.ID)
	default:
		return internal("create operation", err)
	}
}

func scanOperation(row scanner, op *store.Operation) error {
	var errJSON sql.NullString
	var created, modified int64
	if err := row.Scan(&op.Status, &errJSON, &op.Version, &created, &modified); err != nil {
		return err
	}
	op.Error = nil
	if errJSON.Valid {
		op.Error = new(store.ErrorDetail)
		if err := json.Unmarshal([]byte(errJSON.String), op.Error); err != nil {
			return fmt.Errorf("decode operation error: %w", err)
		}
	}
	op.Created, op.Modified = unixTime(created), unixTime(modified)
	return nil
}

// Operation implements store.Store.
func (db *DB) Operation(ctx context.Context, tenant, connID, id string) (*store.Operation, error) {
	op := store.Operation{Tenant: tenant, ConnectionID: connID, ID: id}
	err := scanOperation(db.operation.QueryRowContext(pointRead(ctx), tenant, connID, id), &op)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.operationNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, internal("read operation", err)
	}
	return &op, nil
}

// operationNotFound says which of the two is missing: a client polling an
// operation of a deleted connection should learn that.
func (db *DB) operationNotFound(ctx context.Context, tenant, connID, id string) error {
	if _, err := db.Connection(ctx, tenant, connID); err != nil {
		return err
	}
	return store.E(store.NotFound, "The connectionOperation '%s' was not found on connection '%s'.", id, connID)
}

// Operations implements store.Store.
func (db *DB) Operations(ctx context.Context, tenant, connID string, status *store.OperationStatus, p store.Page) ([]*store.Operation, string, error) {
	afterCreated, afterID := int64(-1), ""
	if p.After != "" {
		ns, id, ok := strings.Cut(p.After, ":")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return nil, "", store.E(store.Invalid, "The page token is invalid.")
		}
		afterCreated, afterID = n, id
	}
	if _, err := db.Connection(ctx, tenant, connID); err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, `+operationColumns+` FROM operations
		WHERE tenant = ?1 AND connection_id = ?2 AND (?3 IS NULL OR status = ?3)
		  AND (created > ?4 OR (created = ?4 AND id > ?5))
		ORDER BY created, id LIMIT ?6`, tenant, connID, status, afterCreated, afterID, p.Limit+1)
	if err != nil {
		return nil, "", internal("list operations", err)
	}
	defer rows.Close()
	var list []*store.Operation
	for rows.Next() {
		op := store.Operation{Tenant: tenant, ConnectionID: connID}
		var id string
		if err := scanOperation(idScanner{rows, &id}, &op); err != nil {
			return nil, "", internal("list operations", err)
		}
		op.ID = id
		list = append(list, &op)
	}
	if err := rows.Err(); err != nil {
		return nil, "", internal("list operations", err)
	}
	if len(list) > p.Limit {
		list = list[:p.Limit]
		last := list[len(list)-1]
		return list, fmt.Sprintf("%d:%s", last.Created.UnixNano(), last.ID), nil
	}
	return list, "", nil
}

// idScanner scans a leading id column, then the rest as the scan functions
// of single rows want.
type idScanner struct {
	rows *sql.Rows
	id   *string
}

func (s idScanner) Scan(dest ...any) error { return s.rows.Scan(append([]any{s.id}, dest...)...) }

// UpdateOperation implements store.Store. The writer applies the update,
// in a transaction it may share with the updates of concurrent callers; the
// call returns once that transaction is committed.
func (db *DB) UpdateOperation(ctx context.Context, tenant, connID, id string, u store.OperationUpdate) (*store.Operation, error) {
	errJSON, err := marshal(u.Error)
	if err != nil {
		return nil, err
	}
	match, err := versions(u.IfMatch)
	if err != nil {
		return nil, err
	}
	var status any
	if u.Status != nil {
		status = string(*u.Status)
	}
	p := &pendingUpdate{
		ctx:  ctx,
		args: [8]any{status, u.SetError, errJSON, time.Now().UTC().UnixNano(), tenant, connID, id, match},
		op:   store.Operation{Tenant: tenant, ConnectionID: connID, ID: id},
	}
	if err := db.writer.Do(ctx, p); err != nil {
		return nil, internal("update operation", err)
	}
	if errors.Is(p.err, sql.ErrNoRows) {
		// Nothing changed; say why.
		cur, err := db.Operation(ctx, tenant, connID, id)
		if err != nil {
			return nil, err
		}
		return nil, preconditionFailed("connectionOperation", cur.ID)
	}
	if p.err != nil {
		return nil, internal("update operation", p.err)
	}
	return &p.op, nil
}

// pendingUpdate is an UpdateOperation waiting for the writer.
type pendingUpdate struct {
	ctx  context.Context // when done before the writer starts the update, it is skipped
	args [8]any          // of db.updateOperation
	op   store.Operation // the operation as stored after the update
	err  error           // sql.ErrNoRows when the update matched no row
}

// applyBatch, the writer's, applies the updates in one transaction, in order, as if one
// after the other: each sees the ones before it. An update that matches no
// row changes nothing and does not affect the others.
//
// The contexts of the callers do not reach SQLite: an update that has
// started is committed, whatever its caller does meanwhile. (A cancellable
// context would also cost the driver a goroutine per statement.)
//
// It runs on the driver's connection itself (rawBatch), not through
// database/sql, whose bookkeeping around each statement and each scanned
// column cost as much CPU as SQLite's own execution of the update.
func (db *DB) applyBatch(batch []*pendingUpdate) {
	ctx := context.Background()
	conn, err := db.write.Conn(ctx)
	if err == nil {
		var redo bool
		err = conn.Raw(func(dc any) error {
			redo = db.raw.apply(ctx, dc, batch)
			return nil
		})
		conn.Close()
		if err == nil && redo {
			// SQLite may have rolled back the whole transaction (it does
			// on a full disk or an I/O error, say), and the updates after
			// the failed one would then commit one by one: start over,
			// each update in its own transaction, so that it fails alone.
			for _, p := range batch {
				db.applyOne(p)
			}
		}
	}
	if err != nil {
		for _, p := range batch {
			p.err = err
		}
	}
}

// applyOne applies one update in a transaction of its own.
func (db *DB) applyOne(p *pendingUpdate) {
	if p.err = p.ctx.Err(); p.err != nil {
		return
	}
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		p.err = err
		return
	}
	p.err = scanOperation(tx.StmtContext(ctx, db.updateOperation).QueryRowContext(ctx, p.args[:]...), &p.op)
	if p.err != nil {
		tx.Rollback()
		return
	}
	p.err = tx.Commit()
}

// DeleteOperation implements store.Store.
func (db *DB) DeleteOperation(ctx context.Context, tenant, connID, id string, ifMatchVersions []int64) error {
	match, err := versions(ifMatchVersions)
	if err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `DELETE FROM operations WHERE tenant = ?1 AND connection_id = ?2 AND id = ?3 AND `+fmt.Sprintf(ifMatch, 4), tenant, connID, id, match)
	if err != nil {
		return internal("delete operation", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.Operation(ctx, tenant, connID, id); err != nil {
			return err
		}
		return preconditionFailed("connectionOperation", id)
	}
	return nil
}

// Schema implements store.Store.
func (db *DB) Schema(ctx context.Context, tenant, connID string) (*store.Schema, error) {
	// The schema of a registration is decoded once (scanIndexSchema):
	// items read it with every PUT.
	s, err := db.scanIndexSchema(db.schema.QueryRowContext(pointRead(ctx), tenant, connID), tenant, connID)
	if err != nil {
		return nil, internal("read schema", err)
	}
	if s.schema == nil {
		if _, err := db.Connection(ctx, tenant, connID); err != nil {
			return nil, err
		}
		return nil, store.E(store.NotFound, "The connection '%s' has no schema yet.", connID)
	}
	out := *s.schema // the caller's own, as if decoded for it
	out.Properties = slices.Clone(out.Properties)
	return &out, nil
}

// RegisterSchema implements store.Store.
func (db *DB) RegisterSchema(ctx context.Context, tenant, connID string, s *store.Schema, failure *store.ErrorDetail, due time.Time) (*store.Operation, error) {
	schemaJSON, err := marshal(s)
	if err != nil {
		return nil, err
	}
	failureJSON, err := marshal(failure)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	op := &store.Operation{Tenant: tenant, ConnectionID: connID, ID: store.NewOperationID(), Status: store.StatusInProgress, Version: now.UnixNano(), Created: now, Modified: now}
	err = db.inTx(ctx, "register schema", func(tx *sql.Tx) error {
		var pending string
		err := tx.QueryRowContext(ctx, `SELECT id FROM operations
			WHERE tenant = ? AND connection_id = ? AND due IS NOT NULL AND status NOT IN `+terminal+` LIMIT 1`, tenant, connID).Scan(&pending)
		switch {
		case err == nil:
			return store.E(store.Conflict, "A schema registration is already in progress on connection '%s': operation '%s'.", connID, pending)
		case !errors.Is(err, sql.ErrNoRows):
			return internal("register schema", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO operations
			(tenant, connection_id, id, status, version, created, modified, pending_schema, pending_failure, due)
			VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6, ?7, ?8)`,
			tenant, connID, op.ID, op.Status, now.UnixNano(), schemaJSON, failureJSON, due.UnixNano())
		if code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
			return store.ConnectionNotFound(connID)
		}
		if err != nil {
			return internal("register schema", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

// NextDue implements store.Store.
func (db *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var due sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT min(due) FROM operations WHERE due IS NOT NULL AND status NOT IN `+terminal).Scan(&due)
	if err != nil {
		return time.Time{}, false, internal("find due operations", err)
	}
	return unixTime(due.Int64), due.Valid, nil
}

// FinishDue implements store.Store. The single write connection serializes
// it with every other write, so a registration cannot finish twice.
func (db *DB) FinishDue(ctx context.Context, now time.Time) (*store.Operation, error) {
	var op *store.Operation
	var registered *indexSchema // the schema the registration stores
	err := db.inTx(ctx, "finish operation", func(tx *sql.Tx) error {
		var tenant, connID, id string
		var schemaJSON string
		var failureJSON sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT tenant, connection_id, id, pending_schema, pending_failure FROM operations
			WHERE due IS NOT NULL AND due <= ? AND status NOT IN `+terminal+`
			ORDER BY due LIMIT 1`, now.UnixNano()).Scan(&tenant, &connID, &id, &schemaJSON, &failureJSON)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return internal("claim due operation", err)
		}
		ts := time.Now().UTC().UnixNano()
		status := store.StatusFailed
		if !failureJSON.Valid {
			status = store.StatusCompleted
			old, err := db.readIndexSchema(ctx, tx, tenant, connID)
			if err != nil {
				return internal("read schema", err)
			}
			var sch store.Schema
			if err := json.Unmarshal([]byte(schemaJSON), &sch); err != nil {
				return internal("decode schema", err)
			}
			sch.Registered = unixTime(ts)
			registered = &indexSchema{registered: ts, schema: &sch}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schemas (tenant, connection_id, schema, registered) VALUES (?1, ?2, ?3, ?4)
				ON CONFLICT (tenant, connection_id) DO UPDATE SET schema = excluded.schema, registered = excluded.registered`,
				tenant, connID, schemaJSON, ts); err != nil {
				return internal("store schema", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE connections SET state = ?1, version = max(version + 1, ?2), modified = ?2
				WHERE tenant = ?3 AND id = ?4`, store.ConnectionReady, ts, tenant, connID); err != nil {
				return internal("make connection ready", err)
			}
			// The items are indexed under the new schema, in this
			// transaction: the registration completes with them.
			if !store.IndexedAlike(old.schema, &sch) {
				if err := reindex(ctx, tx, tenant, connID, registered); err != nil {
					return internal("index the connection's items", err)
				}
				if err := syncText(ctx, tx); err != nil {
					return internal("index the connection's items", err)
				}
			}
		}
		op = &store.Operation{Tenant: tenant, ConnectionID: connID, ID: id}
		row := tx.QueryRowContext(ctx, `UPDATE operations SET status = ?1, error = ?2, version = max(version + 1, ?3), modified = ?3,
				due = NULL, pending_schema = NULL, pending_failure = NULL
			WHERE tenant = ?4 AND connection_id = ?5 AND id = ?6 RETURNING `+operationColumns,
			status, failureJSON, ts, tenant, connID, id)
		if err := scanOperation(row, op); err != nil {
			return internal("finish operation", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if registered != nil {
		db.schemas.Store(connKey{op.Tenant, op.ConnectionID}, registered)
	}
	return op, nil
}

// A connection's settings are one JSON object in its settings column, which
// holds the properties whose value is not null. SQLite keeps the text of
// each value as it was given; decodeSettings gives it the canonical form of
// store.Connection.Settings on the way out.

// maxSetPairs bounds the paths and values of one call of json_set, well
// below SQLite's limit on the arguments of a function.
const maxSetPairs = 50

// settingsObject returns the settings column's value for a new connection:
// the properties of m whose value is not null, as a JSON object.
func settingsObject(m map[string]json.RawMessage) (string, error) {
	kept := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if store.IsNull(v) {
			continue
		}
		if !json.Valid(v) {
			return "", invalidSetting(k)
		}
		kept[k] = v
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return "", internal("encode settings", err)
	}
	return string(b), nil
}

// settingsPatch returns the expression that applies m to the settings
// column, and its arguments, numbered from n: json_remove takes the
// properties whose value is null away, json_set replaces the others
// whole; "" when m changes nothing. (json_patch would not do: it merges
// objects into objects, and takes the nulls out of the values, as RFC 7396
// says.) The paths quote each name as a JSON string, which SQLite's paths
// accept with the escapes of JSON.
func settingsPatch(m map[string]json.RawMessage, n int) (string, []any, error) {
	if len(m) == 0 {
		return "", nil, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // one statement per set of names
	var args []any
	var remove, set []string
	for _, k := range keys {
		path, err := jsonPath(k)
		if err != nil {
			return "", nil, err
		}
		v := m[k]
		if store.IsNull(v) {
			remove = append(remove, fmt.Sprintf("?%d", n+len(args)))
			args = append(args, path)
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return "", nil, invalidSetting(k)
		}
		set = append(set, fmt.Sprintf("?%d, json(?%d)", n+len(args), n+len(args)+1))
		args = append(args, path, b.String())
	}
	expr := "settings"
	for len(remove) > 0 {
		chunk := remove[:min(len(remove), maxSetPairs)]
		remove = remove[len(chunk):]
		expr = "json_remove(" + expr + ", " + strings.Join(chunk, ", ") + ")"
	}
	for len(set) > 0 {
		chunk := set[:min(len(set), maxSetPairs)]
		set = set[len(chunk):]
		expr = "json_set(" + expr + ", " + strings.Join(chunk, ", ") + ")"
	}
	return expr, args, nil
}

// jsonPath is SQLite's JSON path of the member name of the top object.
func jsonPath(name string) (string, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(name); err != nil {
		return "", internal("encode settings", err)
	}
	return "$." + strings.TrimSuffix(b.String(), "\n"), nil
}

func invalidSetting(name string) error {
	return store.E(store.Invalid, "The value of the connection's property '%s' is not JSON.", name)
}

func marshal(v any) (any, error) {
	switch x := v.(type) {
	case *store.ErrorDetail:
		if x == nil {
			return nil, nil
		}
	case *store.Schema:
		if x == nil {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, internal("encode", err)
	}
	return string(b), nil
}

// versions encodes an If-Match list for json_each: NULL when there is none.
func versions(v []int64) (any, error) {
	if v == nil {
		return nil, nil
	}
	return marshal(v)
}

func preconditionFailed(what, id string) error {
	return store.E(store.PreconditionFailed, "The %s '%s' has changed since the ETag in If-Match was read.", what, id)
}

// internal wraps a database failure. SQLITE_BUSY and friends mean another
// process holds the database: the caller may retry. A call whose context
// ended (its client went away, or a deadline passed) is Unavailable too, as
// on PostgreSQL.
func internal(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &store.Error{Kind: store.Unavailable, Message: "The request ended before the database completed it; retry the request.", Err: fmt.Errorf("%s: %w", what, err)}
	}
	switch code(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &store.Error{Kind: store.Unavailable, Message: "The database is busy; retry the request.", Err: fmt.Errorf("%s: %w", what, err)}
	}
	return &store.Error{Kind: store.Internal, Message: "The database failed to " + what + ".", Err: err}
}

func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	if err != nil {
		return -1
	}
	return 0
}

// pointRead is the context of a read of one row by its key, which takes
// microseconds and never waits on a lock in WAL mode: not worth cancelling,
// since with a cancellable context database/sql and the driver each start a
// goroutine per statement to watch it.
func pointRead(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
