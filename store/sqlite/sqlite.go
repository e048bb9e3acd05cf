// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite, no cgo) in WAL mode.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
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
type DB struct {
	write *sql.DB
	read  *sql.DB

	createConnection *sql.Stmt
	connection       *sql.Stmt
	createOperation  *sql.Stmt
	operation        *sql.Stmt
	updateOperation  *sql.Stmt
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database in dir and applies its
// migrations.
func Open(ctx context.Context, dir string) (*DB, error) {
	path := filepath.Join(dir, FileName)
	// synchronous(FULL): a transaction is on disk when its commit returns, so
	// an acknowledged write survives a crash of the process or the machine.
	q := url.Values{"_pragma": {
		"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(FULL)",
	}}
	dsn := "file:" + path + "?" + q.Encode()
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
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// migrate applies, in order, each migration newer than the database's
// user_version, each in its own transaction.
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
	for i := version; i < len(names); i++ {
		script, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", names[i], err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", names[i], err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: %w", names[i], err)
		}
	}
	return nil
}

func (db *DB) prepare(ctx context.Context) error {
	stmts := []struct {
		s   **sql.Stmt
		on  *sql.DB
		sql string
	}{
		{&db.createConnection, db.write, `INSERT INTO connections (id, name, description, state, version, created, modified)
			VALUES (?, ?, ?, ?, 1, ?, ?)`},
		{&db.connection, db.read, `SELECT name, description, state, version, created, modified
			FROM connections WHERE id = ?`},
		{&db.createOperation, db.write, `INSERT INTO operations (connection_id, id, status, error, version, created, modified)
			VALUES (?, ?, ?, ?, 1, ?, ?)`},
		{&db.operation, db.read, `SELECT status, error, version, created, modified
			FROM operations WHERE connection_id = ? AND id = ?`},
		// One statement, so the merge is atomic without a transaction around it.
		{&db.updateOperation, db.write, `UPDATE operations SET
				status = coalesce(?1, status),
				error = CASE WHEN ?2 THEN ?3 ELSE error END,
				version = version + 1,
				modified = ?4
			WHERE connection_id = ?5 AND id = ?6
			RETURNING status, error, version, created, modified`},
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

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// CreateConnection implements store.Store.
func (db *DB) CreateConnection(ctx context.Context, c *store.Connection) error {
	now := time.Now().UTC()
	_, err := db.createConnection.ExecContext(ctx, c.ID, c.Name, c.Description, c.State, now.UnixNano(), now.UnixNano())
	if err != nil {
		if code(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return store.E(store.Conflict, "A connection with id '%s' already exists.", c.ID)
		}
		return internal("create connection", err)
	}
	c.Version, c.Created, c.Modified = 1, now, now
	return nil
}

// Connection implements store.Store.
func (db *DB) Connection(ctx context.Context, id string) (*store.Connection, error) {
	c := store.Connection{ID: id}
	var created, modified int64
	err := db.connection.QueryRowContext(ctx, id).Scan(&c.Name, &c.Description, &c.State, &c.Version, &created, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connectionNotFound(id)
	}
	if err != nil {
		return nil, internal("read connection", err)
	}
	c.Created, c.Modified = unixTime(created), unixTime(modified)
	return &c, nil
}

// CreateOperation implements store.Store.
func (db *DB) CreateOperation(ctx context.Context, op *store.Operation) error {
	errJSON, err := marshalError(op.Error)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = db.createOperation.ExecContext(ctx, op.ConnectionID, op.ID, op.Status, errJSON, now.UnixNano(), now.UnixNano())
	switch code(err) {
	case 0:
		op.Version, op.Created, op.Modified = 1, now, now
		return nil
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return connectionNotFound(op.ConnectionID)
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.E(store.Conflict, "The connection '%s' already has an operation with id '%s'.", op.ConnectionID, op.ID)
	default:
		return internal("create operation", err)
	}
}

// Operation implements store.Store.
func (db *DB) Operation(ctx context.Context, connID, id string) (*store.Operation, error) {
	return db.scanOperation(ctx, db.operation.QueryRowContext(ctx, connID, id), connID, id)
}

// UpdateOperation implements store.Store.
func (db *DB) UpdateOperation(ctx context.Context, connID, id string, u store.OperationUpdate) (*store.Operation, error) {
	errJSON, err := marshalError(u.Error)
	if err != nil {
		return nil, err
	}
	var status any
	if u.Status != nil {
		status = string(*u.Status)
	}
	row := db.updateOperation.QueryRowContext(ctx, status, u.SetError, errJSON, time.Now().UTC().UnixNano(), connID, id)
	return db.scanOperation(ctx, row, connID, id)
}

func (db *DB) scanOperation(ctx context.Context, row *sql.Row, connID, id string) (*store.Operation, error) {
	op := store.Operation{ConnectionID: connID, ID: id}
	var errJSON sql.NullString
	var created, modified int64
	err := row.Scan(&op.Status, &errJSON, &op.Version, &created, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		// Say which of the two is missing: a client polling a deleted
		// connection should learn that, not only that the operation is gone.
		if _, cerr := db.Connection(ctx, connID); store.KindOf(cerr) == store.NotFound {
			return nil, cerr
		}
		return nil, store.E(store.NotFound, "The connectionOperation '%s' was not found on connection '%s'.", id, connID)
	}
	if err != nil {
		return nil, internal("read operation", err)
	}
	if errJSON.Valid {
		op.Error = new(store.ErrorDetail)
		if err := json.Unmarshal([]byte(errJSON.String), op.Error); err != nil {
			return nil, internal("decode operation error", err)
		}
	}
	op.Created, op.Modified = unixTime(created), unixTime(modified)
	return &op, nil
}

func marshalError(e *store.ErrorDetail) (any, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, internal("encode operation error", err)
	}
	return string(b), nil
}

func connectionNotFound(id string) error {
	return store.E(store.NotFound, "The connection '%s' was not found.", id)
}

// internal wraps a database failure. SQLITE_BUSY and friends mean another
// process holds the database: the caller may retry.
func internal(what string, err error) error {
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

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
