package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/graphconn/graphconn/store"
)

// The search index of the items (0007_search.sql): what it holds of an
// item, written with the item, and rewritten when a registration changes
// the connection's schema.

// connKey names a connection.
type connKey struct{ tenant, id string }

// indexSchema is a connection's registered schema, as the index uses it.
type indexSchema struct {
	registered int64         // when it was registered, in Unix nanoseconds; 0 when none is
	schema     *store.Schema // nil when none is registered
}

// noSchema is the indexSchema of a connection without a registered schema.
var noSchema = &indexSchema{}

// indexSchema is the connection's schema as the store last read it: a
// hint, which the items writer checks in its transaction. A failure to
// read it is left to the writer too.
func (db *DB) indexSchema(ctx context.Context, tenant, connID string) *indexSchema {
	k := connKey{tenant, connID}
	if s, ok := db.schemas.Load(k); ok {
		return s.(*indexSchema)
	}
	s, err := db.scanIndexSchema(db.schema.QueryRowContext(pointRead(ctx), tenant, connID), tenant, connID)
	if err != nil {
		return noSchema
	}
	return s
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readIndexSchema reads the connection's schema through q (the read pool,
// or a transaction), decoding it only when the store has not already.
func (db *DB) readIndexSchema(ctx context.Context, q queryRower, tenant, connID string) (*indexSchema, error) {
	return db.scanIndexSchema(q.QueryRowContext(ctx, indexSchemaSQL, tenant, connID), tenant, connID)
}

// scanIndexSchema scans indexSchemaSQL's row.
func (db *DB) scanIndexSchema(row *sql.Row, tenant, connID string) (*indexSchema, error) {
	var registered int64
	var raw string
	err := row.Scan(&registered, &raw)
	k := connKey{tenant, connID}
	if errors.Is(err, sql.ErrNoRows) {
		db.schemas.Store(k, noSchema)
		return noSchema, nil
	}
	if err != nil {
		return nil, err
	}
	if s, ok := db.schemas.Load(k); ok && s.(*indexSchema).registered == registered {
		return s.(*indexSchema), nil
	}
	var sch store.Schema
	if err := json.Unmarshal([]byte(raw), &sch); err != nil {
		return nil, fmt.Errorf("decode the schema of connection %s: %w", connID, err)
	}
	sch.Registered = unixTime(registered)
	s := &indexSchema{registered: registered, schema: &sch}
	db.schemas.Store(k, s)
	return s, nil
}

// itemIndex is what the index holds of an item under a schema.
type itemIndex struct {
	registered int64  // the schema's (indexSchema.registered)
	text       string // items.search_text
	access     string // items.search_acl
	values     any    // items.search_values: a JSON array of [name, str, key, num]; nil for none
}

// indexItem is what the index holds of item it of tenant under s (nil for
// no schema).
func indexItem(s *indexSchema, tenant string, it *store.Item) (itemIndex, error) {
	if s == nil {
		s = noSchema
	}
	sch := s.schema
	if sch == nil {
		sch = &store.Schema{}
	}
	idx := store.IndexOf(sch, it)
	out := itemIndex{
		registered: s.registered,
		text:       strings.Join(store.Words(idx.Text), " "),
		access:     strings.Join(store.AccessTokens(tenant, it.ConnectionID, it.ACL), " "),
	}
	if len(idx.Values) > 0 {
		rows := make([][4]any, len(idx.Values))
		for i, v := range idx.Values {
			rows[i] = [4]any{v.Name, v.Str, v.Key, v.Num}
		}
		b, err := json.Marshal(rows)
		if err != nil {
			return out, internal("index the item", err)
		}
		out.values = string(b)
	}
	return out, nil
}

// writeIndex writes the index of the item seq in tx: its columns in items,
// which triggers bring to item_values, and syncText to item_text.
func writeIndex(ctx context.Context, tx *sql.Tx, seq int64, idx itemIndex) error {
	_, err := tx.ExecContext(ctx, `UPDATE items SET search_text = ?, search_acl = ?, search_values = ? WHERE seq = ?`,
		idx.text, idx.access, idx.values, seq)
	return err
}

// syncTextSQL brings item_text in step with the items whose search columns
// the transaction has changed (item_text_changes, which triggers fill):
// the rows that item_text holds of them go, the rows of them as they are
// now come, and the changes are emptied. Every transaction that writes
// items runs it before it commits (syncText), so that item_text changes in
// one segment per transaction.
var syncTextSQL = [...]string{
	`INSERT INTO item_text (item_text, rowid, search_text, search_acl)
		SELECT 'delete', seq, old_text, old_acl FROM item_text_changes WHERE indexed`,
	`INSERT INTO item_text (rowid, search_text, search_acl)
		SELECT i.seq, i.search_text, i.search_acl FROM item_text_changes AS c JOIN items AS i ON i.seq = c.seq`,
	`DELETE FROM item_text_changes`,
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// syncText runs syncTextSQL.
func syncText(ctx context.Context, ex execer) error {
	for _, q := range syncTextSQL {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// reindexChunk is how many items reindex reads at a time.
const reindexChunk = 500

// reindex indexes every item of the connection again under s, in tx: when
// a registration changes what the schema indexes, and for the items stored
// before the index was.
func reindex(ctx context.Context, tx *sql.Tx, tenant, connID string, s *indexSchema) error {
	type row struct {
		seq int64
		it  store.Item
	}
	for after := ""; ; {
		rows, err := tx.QueryContext(ctx, `SELECT seq, id, acl, properties, content_type, content_value FROM items
			WHERE tenant = ? AND connection_id = ? AND id > ? ORDER BY id LIMIT ?`, tenant, connID, after, reindexChunk)
		if err != nil {
			return err
		}
		var chunk []row
		for rows.Next() {
			r := row{it: store.Item{Tenant: tenant, ConnectionID: connID}}
			var acl, props string
			var contentType, contentValue sql.NullString
			if err := rows.Scan(&r.seq, &r.it.ID, &acl, &props, &contentType, &contentValue); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal([]byte(acl), &r.it.ACL); err != nil {
				rows.Close()
				return fmt.Errorf("decode the acl of item %s: %w", r.it.ID, err)
			}
			r.it.Properties = json.RawMessage(props)
			if contentType.Valid {
				r.it.Content = &store.Content{Type: contentType.String, Value: contentValue.String}
			}
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range chunk {
			idx, err := indexItem(s, tenant, &r.it)
			if err != nil {
				return err
			}
			if err := writeIndex(ctx, tx, r.seq, idx); err != nil {
				return err
			}
		}
		if len(chunk) < reindexChunk {
			return nil
		}
		after = chunk[len(chunk)-1].it.ID
	}
}

// reindexAll indexes every item of every connection, under the
// connection's schema: the migration that makes the index runs it.
func (db *DB) reindexAll(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT tenant, connection_id FROM items`)
	if err != nil {
		return err
	}
	var conns []connKey
	for rows.Next() {
		var k connKey
		if err := rows.Scan(&k.tenant, &k.id); err != nil {
			rows.Close()
			return err
		}
		conns = append(conns, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range conns {
		s, err := db.readIndexSchema(ctx, tx, k.tenant, k.id)
		if err != nil {
			return err
		}
		if err := reindex(ctx, tx, k.tenant, k.id, s); err != nil {
			return fmt.Errorf("index the items of connection %s: %w", k.id, err)
		}
	}
	return syncText(ctx, tx)
}
