package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
)

// The search index of the items (0006_search.sql): what it holds of an
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
	if s, ok := db.schemas.Load(connKey{tenant, connID}); ok {
		return s.(*indexSchema)
	}
	s, err := db.readIndexSchema(ctx, db.pool, tenant, connID)
	if err != nil {
		return noSchema
	}
	return s
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readIndexSchema reads the connection's schema through q (the pool, or a
// transaction).
func (db *DB) readIndexSchema(ctx context.Context, q querier, tenant, connID string) (*indexSchema, error) {
	var registered int64
	var raw []byte
	err := q.QueryRow(ctx, `SELECT registered, schema FROM schemas WHERE tenant = $1 AND connection_id = $2`, tenant, connID).Scan(&registered, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		db.schemas.Store(connKey{tenant, connID}, noSchema)
		return noSchema, nil
	}
	if err != nil {
		return nil, err
	}
	return db.decodeIndexSchema(tenant, connID, registered, raw)
}

// decodeIndexSchema is the schema registered at registered, decoded from
// raw unless the store has it already.
func (db *DB) decodeIndexSchema(tenant, connID string, registered int64, raw []byte) (*indexSchema, error) {
	k := connKey{tenant, connID}
	if s, ok := db.schemas.Load(k); ok && s.(*indexSchema).registered == registered {
		return s.(*indexSchema), nil
	}
	var sch store.Schema
	if err := json.Unmarshal(raw, &sch); err != nil {
		return nil, fmt.Errorf("decode the schema of connection %s: %w", connID, err)
	}
	sch.Registered = unixTime(registered)
	s := &indexSchema{registered: registered, schema: &sch}
	db.schemas.Store(k, s)
	return s, nil
}

// itemIndex is what the index holds of an item under a schema: its search
// column, a tsvector literal of its words and of its access tokens, and
// its values, as the columns of item_values.
type itemIndex struct {
	registered        int64 // the schema's (indexSchema.registered)
	search            string
	names, strs, keys []string
	nums              []*float64
}

// indexItem is what the index holds of item it of tenant under s (nil for
// no schema).
func indexItem(s *indexSchema, tenant string, it *store.Item) itemIndex {
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
		search:     searchVector(store.Words(idx.Text), store.AccessTokens(tenant, it.ConnectionID, it.ACL)),
		names:      make([]string, len(idx.Values)),
		strs:       make([]string, len(idx.Values)),
		keys:       make([]string, len(idx.Values)),
		nums:       make([]*float64, len(idx.Values)),
	}
	for i, v := range idx.Values {
		out.names[i], out.strs[i], out.keys[i], out.nums[i] = v.Name, v.Str, v.Key, v.Num
	}
	return out
}

// principals are the principals that the entries of acl grant or deny,
// as the columns of acl_principals: kind, value, access.
func principals(acl []store.ACE) (kinds, values, access []string) {
	seen := map[[3]string]bool{}
	for _, e := range acl {
		if _, ok := store.AccessOf(e.AccessType); !ok {
			continue
		}
		kind, value, ok := store.PrincipalOf(e.Type, e.Value)
		if k := [3]string{kind, value, e.AccessType}; ok && !seen[k] {
			seen[k] = true
			kinds, values, access = append(kinds, kind), append(values, value), append(access, e.AccessType)
		}
	}
	return kinds, values, access
}

// addPrincipalsSQL adds the principals of an ACL (principals: $3 to $5)
// of connection $2 of tenant $1 to acl_principals.
const addPrincipalsSQL = `INSERT INTO acl_principals (tenant, kind, value, connection_id, access)
	SELECT $1, p.kind, p.value, $2, p.access FROM unnest($3::text[], $4::text[], $5::text[]) AS p(kind, value, access)
	ON CONFLICT DO NOTHING`

// PostgreSQL's limits on a tsvector: the positions of a lexeme go up to
// maxPosition (later ones count as it), a lexeme keeps maxPositions of
// them, and its lexemes and positions take less than maxVectorBytes.
const (
	maxPosition    = 16383
	maxPositions   = 256
	maxVectorBytes = 1<<20 - 1
)

// searchVector is the tsvector literal of the words, each with its
// positions (from 1, in order), and of the access tokens, without
// positions (no word is a token: a token has a '_'). Past PostgreSQL's
// limit on a tsvector's size, the words not yet seen are left out: an item
// has that many distinct words only in text that is not prose.
func searchVector(words, tokens []string) string {
	type lexeme struct {
		word string
		pos  []int
	}
	var lexemes []*lexeme
	byWord := map[string]*lexeme{}
	size := 0
	for _, t := range tokens {
		size += len(t) + 3
	}
	for i, w := range words {
		pos := min(i+1, maxPosition)
		l := byWord[w]
		if l == nil {
			// A lexeme takes its bytes, at most one byte of alignment and
			// two of the count of its positions.
			if size+len(w)+3+2 > maxVectorBytes {
				continue
			}
			size += len(w) + 3
			l = &lexeme{word: w}
			byWord[w] = l
			lexemes = append(lexemes, l)
		}
		if n := len(l.pos); n < maxPositions && (n == 0 || l.pos[n-1] != pos) && size+2 <= maxVectorBytes {
			l.pos = append(l.pos, pos)
			size += 2
		}
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString(quoteLexeme(t))
		b.WriteByte(' ')
	}
	for i, l := range lexemes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteLexeme(l.word))
		for j, p := range l.pos {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String()
}

// quoteLexeme is w as a lexeme of a tsvector or tsquery literal, in
// single quotes, in which a quote and a backslash are escaped.
func quoteLexeme(w string) string {
	return "'" + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(w) + "'"
}

// setIndexSQL writes what the index holds of the item $1 (itemIndex:
// search $2, values $5 to $8 of tenant $3 and connection $4). The
// statements of a WITH see the same snapshot: the DELETE removes the
// item's old values, not the new ones of the INSERT.
const setIndexSQL = `WITH indexed AS (
		UPDATE items SET search = $2::tsvector WHERE seq = $1
	), cleared AS (
		DELETE FROM item_values WHERE item = $1
	)
	INSERT INTO item_values (item, tenant, connection_id, name, str, key, num)
	SELECT $1, $3, $4, v.name, v.str, v.key, v.num
	FROM unnest($5::text[], $6::text[], $7::text[], $8::float8[]) AS v(name, str, key, num)`

func setIndexArgs(seq int64, tenant, connID string, idx itemIndex) []any {
	return []any{seq, idx.search, tenant, connID, idx.names, idx.strs, idx.keys, idx.nums}
}

// reindexChunk is how many items reindex reads at a time.
const reindexChunk = 500

// reindex indexes every item of the connection again under s, in tx: when
// a registration changes what the schema indexes, and for the items stored
// before the index was. Each chunk of items is written in one round trip.
func reindex(ctx context.Context, tx pgx.Tx, tenant, connID string, s *indexSchema) error {
	return reindexItems(ctx, tx, tenant, connID, s, false)
}

// reindexItems is reindex, which adds the items' principals to
// acl_principals too when withPrincipals.
func reindexItems(ctx context.Context, tx pgx.Tx, tenant, connID string, s *indexSchema, withPrincipals bool) error {
	for after := ""; ; {
		rows, err := tx.Query(ctx, `SELECT seq, id, acl, properties, content_type, content_value FROM items
			WHERE tenant = $1 AND connection_id = $2 AND id > $3 ORDER BY id LIMIT $4`, tenant, connID, after, reindexChunk)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		n := 0
		for rows.Next() {
			it := store.Item{Tenant: tenant, ConnectionID: connID}
			var seq int64
			var acl []byte
			var props string
			var contentType, contentValue *string
			if err := rows.Scan(&seq, &it.ID, &acl, &props, &contentType, &contentValue); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal(acl, &it.ACL); err != nil {
				rows.Close()
				return fmt.Errorf("decode the acl of item %s: %w", it.ID, err)
			}
			it.Properties = json.RawMessage(props)
			if contentType != nil {
				it.Content = &store.Content{Type: *contentType}
				if contentValue != nil {
					it.Content.Value = *contentValue
				}
			}
			b.Queue(setIndexSQL, setIndexArgs(seq, tenant, connID, indexItem(s, tenant, &it))...)
			if withPrincipals {
				kinds, values, access := principals(it.ACL)
				b.Queue(addPrincipalsSQL, tenant, connID, kinds, values, access)
			}
			after = it.ID
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		if n < reindexChunk {
			return nil
		}
	}
}

// reindexAll indexes every item of every connection, under the
// connection's schema: the migration that makes the index runs it.
func (db *DB) reindexAll(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT tenant, connection_id FROM items`)
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
		if err := reindexItems(ctx, tx, k.tenant, k.id, s, true); err != nil {
			return fmt.Errorf("index the items of connection %s: %w", k.id, err)
		}
	}
	return nil
}
