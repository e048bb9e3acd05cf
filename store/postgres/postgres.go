// Package postgres implements store.Store on PostgreSQL (pgx), for servers
// that run as several replicas over one database. Every write that a client
// can race is one SQL statement or one transaction whose locks decide the
// race, so the replicas need no coordination of their own.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/graphconn/graphconn/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockKey is the pg_advisory_lock key that serializes the migration
// step of every graphconn process on a database ("graphcon" in ASCII).
const migrationLockKey int64 = 0x67726170_68636f6e

// Pool settings that a DSN does not set. A request that finds the database
// gone must fail fast with Unavailable, not wait for the kernel's TCP
// timeouts, and the pool must drop dead connections soon after an outage.
const (
	defaultConnectTimeout    = 2 * time.Second
	defaultPingTimeout       = 2 * time.Second
	defaultHealthCheckPeriod = 10 * time.Second
	// cleanupTimeout bounds a rollback or an unlock that runs after the
	// caller's context is done: past it, pgx closes the connection, which
	// ends the transaction or the session lock as well.
	cleanupTimeout = 5 * time.Second
)

// unavailableMessage is what a client is told when the database cannot be
// reached; the HTTP layer answers 503 with Retry-After.
const unavailableMessage = "The database is unavailable; retry the request."

// DB is a store.Store on a PostgreSQL database, through a pool of connections.
//
// UpdateOperation and PutItem, the hot writes, are group-committed as in
// store/sqlite (see batch.go and item.go): one goroutine each applies the
// writes that concurrent callers are waiting on in one transaction, and each
// caller gets its own result once that transaction is committed.
type DB struct {
	pool *pgxpool.Pool

	writer    *store.Writer[*pendingUpdate] // applies UpdateOperation's batches
	items     *store.Writer[*pendingItem]   // applies PutItem's batches
	closeOnce sync.Once

	// schemas holds the *indexSchema of each connKey that the store has
	// read: PutItem indexes its item under it, and the items writer
	// checks it in its transaction.
	schemas sync.Map
}

var _ store.Store = (*DB)(nil)

// Open connects to the database that dsn names (a postgres:// URL or
// keyword/value string, as pgx accepts, including its pool_* settings) and
// applies the migrations it lacks. Tables are created in the first schema
// of the connection's search_path.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := poolConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.writer = store.NewWriter(db.applyBatch)
	db.items = store.NewWriter(db.applyItems)
	return db, nil
}

// poolConfig parses dsn and fills in the settings it leaves to pgx's
// defaults where those defaults would let requests hang on a dead database.
func poolConfig(dsn string) (*pgxpool.Config, error) {
	// pgxpool.ParseConfig consumes its pool_* keys; a plain parse tells
	// which of them the DSN set, so that an explicit choice is kept.
	raw, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := raw.RuntimeParams["pool_ping_timeout"]; !ok {
		cfg.PingTimeout = defaultPingTimeout
	}
	if _, ok := raw.RuntimeParams["pool_health_check_period"]; !ok {
		cfg.HealthCheckPeriod = defaultHealthCheckPeriod
	}
	return cfg, nil
}

// afterMigration is the work in Go that completes a migration, in its
// transaction, by the migration's file name.
var afterMigration = map[string]func(db *DB, ctx context.Context, tx pgx.Tx) error{
	// The items stored before the search index are indexed.
	"0006_search.sql": (*DB).reindexAll,
}

// migrate applies, in order and each in its own transaction, the migrations
// past the highest version that graphconn_migrations lists. It holds an
// advisory lock for the whole step, so that processes opening the database
// at once apply each migration once. A database newer than this program is
// left as it is, as SQLite's: during a rolling upgrade, replicas of the old
// version keep running on the new schema.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)

	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		// A session lock outlives a failed unlock: close the connection
		// rather than hand it back to the pool still holding the lock.
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
			conn.Conn().Close(ctx)
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS graphconn_migrations (
			version integer     NOT NULL PRIMARY KEY,
			name    text        NOT NULL,
			applied timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var applied int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM graphconn_migrations").Scan(&applied); err != nil {
		return fmt.Errorf("migrate: read the schema version: %w", err)
	}
	for i := applied; i < len(names); i++ {
		script, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: pgx sends the script with the simple protocol,
			// which runs a script of several statements.
			if _, err := tx.Exec(ctx, string(script)); err != nil {
				return err
			}
			if after := afterMigration[path.Base(names[i])]; after != nil {
				if err := after(db, ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "INSERT INTO graphconn_migrations (version, name) VALUES ($1, $2)", i+1, path.Base(names[i]))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", names[i], err)
		}
	}
	return nil
}

// Close stops the writers, once the writes handed to them are applied, and
// closes the pool, waiting for the connections in use to come back. An
// UpdateOperation or a PutItem after Close returns an error.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.writer != nil {
			db.writer.Close()
		}
		if db.items != nil {
			db.items.Close()
		}
		db.pool.Close()
	})
	return nil
}

const (
	connectionColumns = `name, description, state, owner, version, created, modified, settings, item_count`
	operationColumns  = `status, error, version, created, modified`
	terminal          = `('completed', 'failed')`
)

// ifMatch is true when parameter $N is NULL (no If-Match) or an array
// holding the row's version; an empty array matches nothing.
func ifMatch(n int) string {
	return fmt.Sprintf("($%[1]d::bigint[] IS NULL OR version = ANY($%[1]d::bigint[]))", n)
}

// inTx runs f in a transaction and commits it. f returns store errors; a
// failure to begin or commit is classified here.
func (db *DB) inTx(ctx context.Context, what string, f func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return dbError(what, err)
	}
	defer func() {
		// After a commit this is a no-op; after a failure it ends the
		// transaction even when ctx is done.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		tx.Rollback(ctx)
	}()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError(what, err)
	}
	return nil
}

// CreateConnection implements store.Store.
func (db *DB) CreateConnection(ctx context.Context, tenant string, c *store.Connection) error {
	settings, err := settingsObject(c.Settings, false)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	var stored []byte
	err = db.pool.QueryRow(ctx, `INSERT INTO connections (tenant, id, name, description, state, owner, version, created, modified, settings)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, $8::jsonb) RETURNING settings`,
		tenant, c.ID, c.Name, c.Description, string(store.ConnectionDraft), c.Owner, now.UnixNano(), settings).Scan(&stored)
	if err != nil {
		if sqlState(err) == uniqueViolation {
			return store.E(store.Exist, "A connection with id '%s' already exists.", c.ID)
		}
		return dbError("create connection", err)
	}
	if c.Settings, err = store.DecodeSettings(stored); err != nil {
		return dbError("create connection", err)
	}
	c.Tenant, c.State, c.Version, c.Created, c.Modified = tenant, store.ConnectionDraft, now.UnixNano(), now, now
	return nil
}

// scanConnection scans connectionColumns.
func scanConnection(row pgx.Row, c *store.Connection) error {
	var state string
	var created, modified int64
	var settings []byte
	if err := row.Scan(&c.Name, &c.Description, &state, &c.Owner, &c.Version, &created, &modified, &settings, &c.ItemCount); err != nil {
		return err
	}
	var err error
	if c.Settings, err = store.DecodeSettings(settings); err != nil {
		return err
	}
	c.State, c.Created, c.Modified = store.ConnectionState(state), unixTime(created), unixTime(modified)
	return nil
}

// Connection implements store.Store.
func (db *DB) Connection(ctx context.Context, tenant, id string) (*store.Connection, error) {
	c := store.Connection{Tenant: tenant, ID: id}
	err := scanConnection(db.pool.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections WHERE tenant = $1 AND id = $2`, tenant, id), &c)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ConnectionNotFound(id)
	}
	if err != nil {
		return nil, dbError("read connection", err)
	}
	return &c, nil
}

// Connections implements store.Store.
func (db *DB) Connections(ctx context.Context, tenant, owner string, p store.Page) ([]*store.Connection, string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, `+connectionColumns+`
		FROM connections WHERE tenant = $1 AND id > $2 AND ($3 = '' OR owner = $3) ORDER BY id LIMIT $4`, tenant, p.After, owner, p.Limit+1)
	if err != nil {
		return nil, "", dbError("list connections", err)
	}
	defer rows.Close()
	var list []*store.Connection
	for rows.Next() {
		c := store.Connection{Tenant: tenant}
		if err := scanConnection(idScanner{rows, &c.ID}, &c); err != nil {
			return nil, "", dbError("list connections", err)
		}
		list = append(list, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbError("list connections", err)
	}
	if len(list) > p.Limit {
		list = list[:p.Limit]
		return list, list[len(list)-1].ID, nil
	}
	return list, "", nil
}

// UpdateConnection implements store.Store. The precondition is part of the
// UPDATE, so that two replicas cannot both pass it, and so is the merge of
// the settings: the patch ($7, a JSON object of the properties to replace
// or, with null, to remove) replaces the stored properties of its names
// whole (||), and then the keys whose patch value is null go.
func (db *DB) UpdateConnection(ctx context.Context, tenant, id string, u store.ConnectionUpdate) (*store.Connection, error) {
	patch, err := settingsObject(u.Settings, true)
	if err != nil {
		return nil, err
	}
	c := store.Connection{Tenant: tenant, ID: id}
	row := db.pool.QueryRow(ctx, `UPDATE connections SET
			name = coalesce($1, name), description = coalesce($2, description),
			settings = (settings || $7::jsonb) - ARRAY(SELECT key FROM jsonb_each($7::jsonb) WHERE value = 'null'::jsonb),
			version = GREATEST(version + 1, $3), modified = $3
		WHERE tenant = $4 AND id = $5 AND `+ifMatch(6)+`
		RETURNING `+connectionColumns,
		u.Name, u.Description, time.Now().UTC().UnixNano(), tenant, id, u.IfMatch, patch)
	err = scanConnection(row, &c)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := db.Connection(ctx, tenant, id); err != nil {
			return nil, err
		}
		return nil, preconditionFailed("connection", id)
	}
	if err != nil {
		return nil, dbError("update connection", err)
	}
	return &c, nil
}

// DeleteConnection implements store.Store. The operations, the schema, the
// items and the external groups go with the connection by ON DELETE
// CASCADE, in the same statement, and with them the activities and the
// members. Its lock on the connection's row waits for the writers of the
// connection's items, which lock it first (see lockConnectionSQL).
func (db *DB) DeleteConnection(ctx context.Context, tenant, id string, ifMatchVersions []int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM connections WHERE tenant = $1 AND id = $2 AND `+ifMatch(3), tenant, id, ifMatchVersions)
	if err != nil {
		return dbError("delete connection", err)
	}
	db.schemas.Delete(connKey{tenant, id})
	if tag.RowsAffected() == 0 {
		if _, err := db.Connection(ctx, tenant, id); err != nil {
			return err
		}
		return preconditionFailed("connection", id)
	}
	return nil
}

// CreateOperation implements store.Store.
func (db *DB) CreateOperation(ctx context.Context, tenant string, op *store.Operation) error {
	errJSON, err := marshal(op.Error)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = db.pool.Exec(ctx, `INSERT INTO operations (tenant, connection_id, id, status, error, version, created, modified)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $6)`, tenant, op.ConnectionID, op.ID, string(op.Status), errJSON, now.UnixNano())
	switch sqlState(err) {
	case "":
		op.Tenant, op.Version, op.Created, op.Modified = tenant, now.UnixNano(), now, now
		return nil
	case foreignKeyViolation:
		return store.ConnectionNotFound(op.ConnectionID)
	case uniqueViolation:
		return store.E(store.Exist, "The connection '%s' already has an operation with id '%s'.", op.ConnectionID, op.ID)
	default:
		return dbError("create operation", err)
	}
}

func scanOperation(row pgx.Row, op *store.Operation) error {
	var status string
	var errJSON []byte
	var created, modified int64
	if err := row.Scan(&status, &errJSON, &op.Version, &created, &modified); err != nil {
		return err
	}
	op.Status, op.Error = store.OperationStatus(status), nil
	if errJSON != nil {
		op.Error = new(store.ErrorDetail)
		if err := json.Unmarshal(errJSON, op.Error); err != nil {
			return fmt.Errorf("decode operation error: %w", err)
		}
	}
	op.Created, op.Modified = unixTime(created), unixTime(modified)
	return nil
}

// Operation implements store.Store.
func (db *DB) Operation(ctx context.Context, tenant, connID, id string) (*store.Operation, error) {
	op := store.Operation{Tenant: tenant, ConnectionID: connID, ID: id}
	err := scanOperation(db.pool.QueryRow(ctx, `SELECT `+operationColumns+`
		FROM operations WHERE tenant = $1 AND connection_id = $2 AND id = $3`, tenant, connID, id), &op)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.operationNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, dbError("read operation", err)
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

// Operations implements store.Store. Its page token is "created:id" of the
// last operation returned, as SQLite's.
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
	var statusParam *string
	if status != nil {
		statusParam = new(string(*status))
	}
	rows, err := db.pool.Query(ctx, `SELECT id, `+operationColumns+` FROM operations
		WHERE tenant = $1 AND connection_id = $2 AND ($3::text IS NULL OR status = $3::text)
		  AND (created > $4 OR (created = $4 AND id > $5))
		ORDER BY created, id LIMIT $6`, tenant, connID, statusParam, afterCreated, afterID, p.Limit+1)
	if err != nil {
		return nil, "", dbError("list operations", err)
	}
	defer rows.Close()
	var list []*store.Operation
	for rows.Next() {
		op := store.Operation{Tenant: tenant, ConnectionID: connID}
		if err := scanOperation(idScanner{rows, &op.ID}, &op); err != nil {
			return nil, "", dbError("list operations", err)
		}
		list = append(list, &op)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbError("list operations", err)
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
	rows pgx.Rows
	id   *string
}

func (s idScanner) Scan(dest ...any) error { return s.rows.Scan(append([]any{s.id}, dest...)...) }

// UpdateOperation implements store.Store. One statement holds the
// precondition and the merge: a row lock decides
// between racing replicas, and the loser re-evaluates the WHERE clause
// against the winner's row.
func (db *DB) UpdateOperation(ctx context.Context, tenant, connID, id string, u store.OperationUpdate) (*store.Operation, error) {
	errJSON, err := marshal(u.Error)
	if err != nil {
		return nil, err
	}
	var status *string
	if u.Status != nil {
		status = new(string(*u.Status))
	}
	p := &pendingUpdate{
		ctx:  ctx,
		args: [8]any{status, u.SetError, errJSON, time.Now().UTC().UnixNano(), tenant, connID, id, u.IfMatch},
		op:   store.Operation{Tenant: tenant, ConnectionID: connID, ID: id},
	}
	switch err := db.writer.Do(ctx, p); {
	case errors.Is(err, store.ErrClosed):
		return nil, &store.Error{Kind: store.Internal, Message: "The database failed to update operation.", Err: err}
	case err != nil:
		return nil, dbError("update operation", err)
	}
	err = p.err
	if errors.Is(err, pgx.ErrNoRows) {
		// Nothing changed; say why.
		cur, err := db.Operation(ctx, tenant, connID, id)
		if err != nil {
			return nil, err
		}
		return nil, preconditionFailed("connectionOperation", cur.ID)
	}
	if err != nil {
		return nil, dbError("update operation", err)
	}
	return &p.op, nil
}

// updateOperationSQL is UpdateOperation's one statement: the precondition
// and the merge hold atomically, with no read before the write. A terminal
// status ends the registration the operation was running (due), so that
// the worker leaves it as the client set it. Its arguments are pendingUpdate.args.
var updateOperationSQL = `UPDATE operations SET
		status = coalesce($1::text, status),
		error = CASE WHEN $2::boolean THEN $3::jsonb ELSE error END,
		version = GREATEST(version + 1, $4::bigint),
		modified = $4::bigint,
		due = CASE WHEN coalesce($1::text, status) IN ` + terminal + ` THEN NULL ELSE due END
	WHERE tenant = $5 AND connection_id = $6 AND id = $7 AND ` + ifMatch(8) + `
	RETURNING ` + operationColumns

// DeleteOperation implements store.Store.
func (db *DB) DeleteOperation(ctx context.Context, tenant, connID, id string, ifMatchVersions []int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM operations WHERE tenant = $1 AND connection_id = $2 AND id = $3 AND `+ifMatch(4),
		tenant, connID, id, ifMatchVersions)
	if err != nil {
		return dbError("delete operation", err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := db.Operation(ctx, tenant, connID, id); err != nil {
			return err
		}
		return preconditionFailed("connectionOperation", id)
	}
	return nil
}

// Schema implements store.Store.
func (db *DB) Schema(ctx context.Context, tenant, connID string) (*store.Schema, error) {
	var data []byte
	var registered int64
	err := db.pool.QueryRow(ctx, `SELECT schema, registered FROM schemas WHERE tenant = $1 AND connection_id = $2`, tenant, connID).Scan(&data, &registered)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := db.Connection(ctx, tenant, connID); err != nil {
			return nil, err
		}
		return nil, store.E(store.NotFound, "The connection '%s' has no schema yet.", connID)
	}
	if err != nil {
		return nil, dbError("read schema", err)
	}
	var s store.Schema
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, dbError("decode schema", err)
	}
	s.Registered = unixTime(registered)
	return &s, nil
}

// RegisterSchema implements store.Store. Locking the connection's row makes
// concurrent registrations on one connection take turns, so that the second
// sees the first's operation and names it in its Conflict; the partial
// unique index operations_one_registration backs this up.
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
	err = db.inTx(ctx, "register schema", func(tx pgx.Tx) error {
		// FOR NO KEY UPDATE: registrations exclude each other, while
		// CreateOperation's foreign-key check (KEY SHARE) still passes.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM connections WHERE tenant = $1 AND id = $2 FOR NO KEY UPDATE`, tenant, connID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ConnectionNotFound(connID)
		}
		if err != nil {
			return dbError("register schema", err)
		}
		var pending string
		err = tx.QueryRow(ctx, `SELECT id FROM operations
			WHERE tenant = $1 AND connection_id = $2 AND due IS NOT NULL AND status NOT IN `+terminal+` LIMIT 1`, tenant, connID).Scan(&pending)
		switch {
		case err == nil:
			return store.E(store.Conflict, "A schema registration is already in progress on connection '%s': operation '%s'.", connID, pending)
		case !errors.Is(err, pgx.ErrNoRows):
			return dbError("register schema", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO operations
			(tenant, connection_id, id, status, version, created, modified, pending_schema, pending_failure, due)
			VALUES ($1, $2, $3, $4, $5, $5, $5, $6, $7, $8)`,
			tenant, connID, op.ID, string(op.Status), now.UnixNano(), schemaJSON, failureJSON, due.UnixNano())
		switch sqlState(err) {
		case "":
			return nil
		case foreignKeyViolation:
			return store.ConnectionNotFound(connID)
		case uniqueViolation:
			return store.E(store.Conflict, "A schema registration is already in progress on connection '%s'.", connID)
		default:
			return dbError("register schema", err)
		}
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

// PendingOperations implements store.Store.
func (db *DB) PendingOperations(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM operations WHERE due IS NOT NULL AND status NOT IN `+terminal).Scan(&n)
	if err != nil {
		return 0, dbError("count pending operations", err)
	}
	return n, nil
}

// NextDue implements store.Store.
func (db *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var due *int64
	err := db.pool.QueryRow(ctx, `SELECT min(due) FROM operations WHERE due IS NOT NULL AND status NOT IN `+terminal).Scan(&due)
	if err != nil {
		return time.Time{}, false, dbError("find due operations", err)
	}
	if due == nil {
		return time.Time{}, false, nil
	}
	return unixTime(*due), true, nil
}

// FinishDue implements store.Store. It claims the earliest due registration
// with SKIP LOCKED, so that racing callers (on any replica) each take a
// different one or none, and applies it in the same transaction; a claim
// whose transaction fails is released for the next caller.
//
// The claim locks the connection's row as well as the operation's, and
// skips registrations whose connection another transaction holds: then
// FinishDue never waits for a lock while holding one, and cannot deadlock
// with DeleteConnection, which locks the connection before its operations.
func (db *DB) FinishDue(ctx context.Context, now time.Time) (*store.Operation, error) {
	var op *store.Operation
	var registered *indexSchema // the schema the registration stores
	err := db.inTx(ctx, "finish operation", func(tx pgx.Tx) error {
		var tenant, connID, id string
		var schemaJSON, failureJSON []byte
		err := tx.QueryRow(ctx, `SELECT o.tenant, o.connection_id, o.id, o.pending_schema, o.pending_failure
			FROM operations o JOIN connections c ON c.tenant = o.tenant AND c.id = o.connection_id
			WHERE o.due IS NOT NULL AND o.due <= $1 AND o.status NOT IN `+terminal+`
			ORDER BY o.due LIMIT 1
			FOR NO KEY UPDATE OF o, c SKIP LOCKED`, now.UnixNano()).Scan(&tenant, &connID, &id, &schemaJSON, &failureJSON)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return dbError("claim due operation", err)
		}
		ts := time.Now().UTC().UnixNano()
		status := store.StatusFailed
		if failureJSON == nil {
			status = store.StatusCompleted
			old, err := db.readIndexSchema(ctx, tx, tenant, connID)
			if err != nil {
				return dbError("read schema", err)
			}
			var sch store.Schema
			if err := json.Unmarshal(schemaJSON, &sch); err != nil {
				return dbError("decode schema", err)
			}
			sch.Registered = unixTime(ts)
			registered = &indexSchema{registered: ts, schema: &sch}
			if _, err := tx.Exec(ctx, `INSERT INTO schemas (tenant, connection_id, schema, registered) VALUES ($1, $2, $3, $4)
				ON CONFLICT (tenant, connection_id) DO UPDATE SET schema = excluded.schema, registered = excluded.registered`,
				tenant, connID, schemaJSON, ts); err != nil {
				return dbError("store schema", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE connections SET state = $1, version = GREATEST(version + 1, $2), modified = $2
				WHERE tenant = $3 AND id = $4`, string(store.ConnectionReady), ts, tenant, connID); err != nil {
				return dbError("make connection ready", err)
			}
			// The items are indexed under the new schema, in this
			// transaction, which holds the connection's lock: the
			// registration completes with them.
			if !store.IndexedAlike(old.schema, &sch) {
				if err := reindex(ctx, tx, tenant, connID, registered); err != nil {
					return dbError("index the connection's items", err)
				}
			}
		}
		op = &store.Operation{Tenant: tenant, ConnectionID: connID, ID: id}
		row := tx.QueryRow(ctx, `UPDATE operations SET status = $1, error = pending_failure,
				version = GREATEST(version + 1, $2), modified = $2,
				due = NULL, pending_schema = NULL, pending_failure = NULL
			WHERE tenant = $3 AND connection_id = $4 AND id = $5 RETURNING `+operationColumns,
			string(status), ts, tenant, connID, id)
		if err := scanOperation(row, op); err != nil {
			return dbError("finish operation", err)
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
// holds the properties whose value is not null. PostgreSQL's jsonb sorts and
// spaces the members of objects its own way; decodeSettings gives them the
// canonical form of store.Connection.Settings on the way out, the same as
// store/sqlite's.

// settingsObject encodes m as a JSON object for a jsonb parameter: with the
// properties whose value is null as null when nulls is true (a patch),
// without them otherwise.
func settingsObject(m map[string]json.RawMessage, nulls bool) ([]byte, error) {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		switch {
		case store.IsNull(v):
			if nulls {
				out[k] = json.RawMessage("null")
			}
		case !json.Valid(v):
			return nil, store.E(store.Invalid, "The value of the connection's property '%s' is not JSON.", k)
		default:
			out[k] = v
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, dbError("encode settings", err)
	}
	return b, nil
}

// marshal encodes v as JSON for a jsonb parameter: nil (SQL NULL) for a nil
// pointer.
func marshal[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, dbError("encode", err)
	}
	return b, nil
}

func preconditionFailed(what, id string) error {
	return store.E(store.PreconditionFailed, "The %s '%s' has changed since the ETag in If-Match was read.", what, id)
}

// SQLSTATE codes that the store turns into kinds of its own.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// sqlState returns err's SQLSTATE, "" for nil and "?" for an error that did
// not come from the server.
func sqlState(err error) string {
	if err == nil {
		return ""
	}
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return "?"
}

// dbError wraps a database failure in a store error of the right kind: a
// client may retry after Unavailable; Internal keeps its cause from clients.
func dbError(what string, err error) error {
	switch {
	case unavailable(err):
		return &store.Error{Kind: store.Unavailable, Message: unavailableMessage, Err: fmt.Errorf("%s: %w", what, err)}
	case unstorable(err):
		return &store.Error{Kind: store.Invalid, Message: "The request holds text that the database cannot store, such as a NUL character.", Err: err}
	}
	return &store.Error{Kind: store.Internal, Message: "The database failed to " + what + ".", Err: err}
}

// unstorable reports whether the server refused a value for its characters:
// PostgreSQL's text and jsonb cannot hold U+0000 (nor text invalid UTF-8),
// which a client's JSON can carry. That is the client's to fix, not ours.
func unstorable(err error) bool {
	switch sqlState(err) {
	case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
		return true
	}
	return false
}

// unavailable reports whether err means that the database could not be
// reached or could not serve the request for now, so that the same request
// may succeed later: a refused, reset or timed-out connection, a server
// shutting down or starting up, or too many connections.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection_exception
			return true
		case strings.HasPrefix(pgErr.Code, "53"): // insufficient_resources: too many connections, out of memory
			return true
		}
		switch pgErr.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case "57014": // query_canceled: by the caller's context or a statement_timeout
			return true
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
		// Any other answer from the server (a bad password among them) is
		// not a matter of waiting.
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return true
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
