package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
)

const (
	itemColumns  = `acl, properties, content_type, content_value, label, version, created, modified`
	groupColumns = `display_name, description, version, created, modified`
)

// Every transaction that writes a connection's items locks the
// connection's row first (FOR NO KEY UPDATE), and a batch locks its
// connections in key order: the writers of one connection's items take
// turns, its item count cannot lose an update, and two batches, or a batch
// and DeleteItem or DeleteConnection, cannot deadlock. A lock FOR NO KEY
// UPDATE lets the inserts of other rows that refer to the connection (their
// foreign-key checks lock it FOR KEY SHARE) pass.
const lockConnectionSQL = `SELECT 1 FROM connections WHERE tenant = $1 AND id = $2 FOR NO KEY UPDATE`

// putItemSQL is PutItem's statement, whose arguments are pendingItem.args:
// $1 tenant, $2 connection, $3 item, $4 acl, $5 properties, $6 and $7 the
// content's type and value, $8 label, $9 the time of the write, and what
// the search index holds of the item (itemIndex): $10 search, $11 to $14
// its values, $15 to $17 its ACL's principals (principals), $18 the most
// items the connection may hold (none when not positive). It writes
// nothing, and returns no row, when the connection does not exist, or
// holds $18 items and the item is a new one (the statements before it in
// the transaction counted theirs). A replace keeps created and moves the
// version past the stored one, as an update of a connection does. xmax is
// 0 on the row of an insert only (an update leaves its lock in it): the
// statement counts the items it creates on their connection. The
// statements of a WITH see one snapshot: cleared deletes the item's old
// values, not those that valued inserts.
const putItemSQL = `WITH put AS (
		INSERT INTO items AS i (tenant, connection_id, id, acl, properties, content_type, content_value, label, version, created, modified, search)
		SELECT $1, $2, $3::text, $4::jsonb, $5::text, $6::text, $7::text, $8::text, $9::bigint, $9::bigint, $9::bigint, $10::tsvector
		FROM connections WHERE tenant = $1 AND id = $2
			AND ($18::bigint <= 0 OR item_count < $18::bigint
				OR EXISTS (SELECT 1 FROM items WHERE tenant = $1 AND connection_id = $2 AND id = $3::text))
		ON CONFLICT (tenant, connection_id, id) DO UPDATE SET
			acl = excluded.acl, properties = excluded.properties,
			content_type = excluded.content_type, content_value = excluded.content_value, label = excluded.label,
			version = GREATEST(i.version + 1, excluded.version), modified = excluded.modified,
			search = excluded.search
		RETURNING i.seq, i.version, i.created, i.xmax = 0 AS inserted
	), counted AS (
		UPDATE connections SET item_count = item_count + 1
		WHERE tenant = $1 AND id = $2 AND (SELECT inserted FROM put)
	), cleared AS (
		DELETE FROM item_values WHERE item = (SELECT seq FROM put)
	), valued AS (
		INSERT INTO item_values (item, tenant, connection_id, name, str, key, num)
		SELECT put.seq, $1, $2, v.name, v.str, v.key, v.num
		FROM put, unnest($11::text[], $12::text[], $13::text[], $14::float8[]) AS v(name, str, key, num)
	), principals AS (
		INSERT INTO acl_principals (tenant, kind, value, connection_id, access)
		SELECT $1, p.kind, p.value, $2, p.access
		FROM put, unnest($15::text[], $16::text[], $17::text[]) AS p(kind, value, access)
		ON CONFLICT DO NOTHING
	)
	SELECT version, created, inserted FROM put`

// lockIndexSQL locks the connection's row (lockConnectionSQL) and reads
// when its schema was registered (NULL when none is): no registration can
// complete while the lock is held (FinishDue locks the row too), so that
// the items written under the lock are indexed under that schema.
const lockIndexSQL = `SELECT (SELECT registered FROM schemas s WHERE s.tenant = $1 AND s.connection_id = $2)
	FROM connections WHERE tenant = $1 AND id = $2 FOR NO KEY UPDATE OF connections`

// pendingItem is a PutItem waiting for the items writer.
type pendingItem struct {
	ctx     context.Context // when done before the writer starts the write, it is skipped
	item    *store.Item
	args    [18]any // of putItemSQL
	now     int64   // args[8]
	index   itemIndex
	created bool  // the write created the item
	version int64 // the item's, after the write
	since   int64 // the item's created, after the write
	err     error // pgx.ErrNoRows when the connection does not exist, errFull when it is full
}

// errFull is a pendingItem's error when its connection holds the most
// items it may, and the item is a new one.
var errFull = errors.New("the item's connection is full")

func (p *pendingItem) key() (tenant, connID, id string) {
	return p.args[0].(string), p.args[1].(string), p.args[2].(string)
}

// setIndex makes idx p's index.
func (p *pendingItem) setIndex(idx itemIndex) {
	p.index = idx
	p.args[9], p.args[10], p.args[11], p.args[12], p.args[13] = idx.search, idx.names, idx.strs, idx.keys, idx.nums
}

// PutItem implements store.Store. The items writer applies the write, in a
// transaction it may share with the PutItems of concurrent callers; the
// call returns once that transaction is committed.
//
// PutItem indexes the item here, under the schema it last saw of the
// connection, which the writer checks in its transaction: it indexes the
// item again under the registered one if they differ.
func (db *DB) PutItem(ctx context.Context, tenant string, it *store.Item, maxItems int64) (bool, error) {
	p, err := newPendingItem(ctx, tenant, it, db.indexSchema(ctx, tenant, it.ConnectionID))
	if err != nil {
		return false, err
	}
	p.args[17] = maxItems
	switch err := db.items.Do(ctx, p); {
	case errors.Is(err, store.ErrClosed):
		return false, &store.Error{Kind: store.Internal, Message: "The database failed to put item.", Err: err}
	case err != nil:
		return false, dbError("put item", err)
	}
	return p.result(tenant, it)
}

// newPendingItem returns PutItem's write of it, indexed under s (nil for
// a connection without a registered schema).
func newPendingItem(ctx context.Context, tenant string, it *store.Item, s *indexSchema) (*pendingItem, error) {
	acl, err := json.Marshal(it.ACL)
	if err != nil {
		return nil, dbError("encode the item's acl", err)
	}
	var contentType, contentValue *string
	if it.Content != nil {
		contentType, contentValue = &it.Content.Type, &it.Content.Value
	}
	now := time.Now().UTC().UnixNano()
	p := &pendingItem{
		ctx:  ctx,
		item: it,
		now:  now,
	}
	kinds, values, access := principals(it.ACL)
	copy(p.args[:], []any{tenant, it.ConnectionID, it.ID, acl, string(it.Properties), contentType, contentValue, nullableJSON(it.Label), now})
	p.args[14], p.args[15], p.args[16], p.args[17] = kinds, values, access, int64(0) // no limit unless PutItem's
	p.setIndex(indexItem(s, tenant, it))
	return p, nil
}

// result is PutItem's result once the writer has applied p, the write of
// it: it sets the fields of it as stored.
func (p *pendingItem) result(tenant string, it *store.Item) (bool, error) {
	switch {
	case errors.Is(p.err, pgx.ErrNoRows):
		return false, store.ConnectionNotFound(it.ConnectionID)
	case errors.Is(p.err, errFull):
		return false, store.ItemLimitReached(it.ConnectionID, p.args[17].(int64))
	case p.err != nil:
		return false, dbError("put item", p.err)
	}
	it.Tenant, it.Version, it.Created, it.Modified = tenant, p.version, unixTime(p.since), unixTime(p.now)
	return p.created, nil
}

// nullableJSON is the parameter of JSON that may be absent: NULL for none.
func nullableJSON(v json.RawMessage) *string {
	if v == nil {
		return nil
	}
	return new(string(v))
}

// applyItems, the items writer's, writes the items of a batch in one
// transaction, as applyBatch applies updates: in the order of their keys
// (stably, so that one item's writes keep their order), each seeing the
// ones before it. An item whose connection does not exist changes nothing
// and does not affect the others. A statement that fails aborts the
// transaction: then each item is written in a transaction of its own, so
// that the failure stays with its own request.
func (db *DB) applyItems(batch []*pendingItem) {
	var live []*pendingItem
	for _, p := range batch {
		if p.err = p.ctx.Err(); p.err == nil {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	slices.SortStableFunc(live, func(a, b *pendingItem) int {
		at, ac, ai := a.key()
		bt, bc, bi := b.key()
		return cmp.Or(strings.Compare(at, bt), strings.Compare(ac, bc), strings.Compare(ai, bi))
	})
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		for _, p := range live {
			p.err = err
		}
		return
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	if failed := db.putItems(ctx, tx, live); failed != nil {
		tx.Rollback(ctx)
		if unavailable(failed) {
			// The database is gone: one by one would only wait longer.
			for _, p := range live {
				p.err = failed
			}
			return
		}
		for _, p := range live {
			p.err = db.putItemAlone(ctx, p)
		}
		return
	}
	if err := tx.Commit(ctx); err != nil {
		// Whether it committed is unknown when the connection died during
		// COMMIT: the caller gets Unavailable, as for any write.
		for _, p := range live {
			p.err = err
		}
	}
}

// putItemAlone writes p's item in a transaction of its own.
func (db *DB) putItemAlone(ctx context.Context, p *pendingItem) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	p.err = nil
	if err := db.putItems(ctx, tx, []*pendingItem{p}); err != nil {
		return err
	}
	if p.err != nil {
		return p.err // nothing to commit
	}
	return tx.Commit(ctx)
}

// putItems writes the items, in key order, in tx, in two round trips:
// the first locks their connections (lockIndexSQL) and reads their
// schemas' registrations, the second writes each item, setting its
// result, pgx.ErrNoRows when its connection does not exist, or errFull
// when it is full and the item a new one. An item that PutItem indexed
// under another schema than its connection's is indexed again in
// between. The item's writes are all here, in tx, so that what must
// change with an item changes with it. It returns the first error of a
// statement, which has aborted tx.
func (db *DB) putItems(ctx context.Context, tx pgx.Tx, items []*pendingItem) error {
	type conn struct {
		key        connKey
		exists     bool
		registered *int64
		schema     *indexSchema // read when an item needs it
	}
	var conns []*conn
	b := &pgx.Batch{}
	for i, p := range items {
		tenant, connID, _ := p.key()
		if i > 0 {
			if prevTenant, prevConn, _ := items[i-1].key(); tenant == prevTenant && connID == prevConn {
				continue
			}
		}
		c := &conn{key: connKey{tenant, connID}}
		conns = append(conns, c)
		b.Queue(lockIndexSQL, tenant, connID).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&c.registered)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			c.exists = err == nil
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	byKey := make(map[connKey]*conn, len(conns))
	for _, c := range conns {
		byKey[c.key] = c
	}
	b = &pgx.Batch{}
	for _, p := range items {
		tenant, connID, _ := p.key()
		c := byKey[connKey{tenant, connID}]
		if !c.exists {
			p.err = pgx.ErrNoRows
			continue
		}
		if registered := ptrValue(c.registered); registered != p.index.registered {
			if c.schema == nil {
				var err error
				if c.schema, err = db.readIndexSchema(ctx, tx, tenant, connID); err != nil {
					return err
				}
			}
			p.setIndex(indexItem(c.schema, tenant, p.item))
		}
		b.Queue(putItemSQL, p.args[:]...).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&p.version, &p.since, &p.created)
			if errors.Is(err, pgx.ErrNoRows) {
				p.err = errFull // the connection exists, locked since putItems read it
				return nil
			}
			return err
		})
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// scanItem scans itemColumns.
func scanItem(row pgx.Row, it *store.Item) error {
	var acl []byte
	var props string
	var contentType, contentValue, label *string
	var created, modified int64
	if err := row.Scan(&acl, &props, &contentType, &contentValue, &label, &it.Version, &created, &modified); err != nil {
		return err
	}
	it.ACL = nil
	if err := json.Unmarshal(acl, &it.ACL); err != nil {
		return fmt.Errorf("decode the item's acl: %w", err)
	}
	it.Properties, it.Content, it.Label = nil, nil, nil
	if props != "" {
		it.Properties = json.RawMessage(props)
	}
	if contentType != nil {
		it.Content = &store.Content{Type: *contentType}
		if contentValue != nil {
			it.Content.Value = *contentValue
		}
	}
	if label != nil {
		it.Label = json.RawMessage(*label)
	}
	it.Created, it.Modified = unixTime(created), unixTime(modified)
	return nil
}

// Item implements store.Store.
func (db *DB) Item(ctx context.Context, tenant, connID, id string) (*store.Item, error) {
	it := store.Item{Tenant: tenant, ConnectionID: connID, ID: id}
	err := scanItem(db.pool.QueryRow(ctx, `SELECT `+itemColumns+`
		FROM items WHERE tenant = $1 AND connection_id = $2 AND id = $3`, tenant, connID, id), &it)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.itemNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, dbError("read item", err)
	}
	return &it, nil
}

// itemNotFound says which of the two is missing, the connection or the item.
func (db *DB) itemNotFound(ctx context.Context, tenant, connID, id string) error {
	if _, err := db.Connection(ctx, tenant, connID); err != nil {
		return err
	}
	return store.ItemNotFound(id)
}

// UpdateItem implements store.Store. It locks the connection first, as
// every writer of its items does (see lockConnectionSQL), reads the item,
// applies u, and writes the item and its index, in one transaction.
func (db *DB) UpdateItem(ctx context.Context, tenant, connID, id string, u store.ItemUpdate) (*store.Item, error) {
	it := store.Item{Tenant: tenant, ConnectionID: connID, ID: id}
	err := db.inTx(ctx, "update item", func(tx pgx.Tx) error {
		var registered *int64
		err := tx.QueryRow(ctx, lockIndexSQL, tenant, connID).Scan(&registered)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ConnectionNotFound(connID)
		}
		if err != nil {
			return dbError("update item", err)
		}
		var seq int64
		err = scanItem(seqRow{tx.QueryRow(ctx, `SELECT seq, `+itemColumns+`
			FROM items WHERE tenant = $1 AND connection_id = $2 AND id = $3`, tenant, connID, id), &seq}, &it)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ItemNotFound(id)
		}
		if err != nil {
			return dbError("update item", err)
		}
		u.Apply(&it)
		acl, err := json.Marshal(it.ACL)
		if err != nil {
			return dbError("encode the item's acl", err)
		}
		var contentType, contentValue *string
		if it.Content != nil {
			contentType, contentValue = &it.Content.Type, &it.Content.Value
		}
		s := db.indexSchema(ctx, tenant, connID)
		if s.registered != ptrValue(registered) {
			if s, err = db.readIndexSchema(ctx, tx, tenant, connID); err != nil {
				return dbError("update item", err)
			}
		}
		idx := indexItem(s, tenant, &it)
		var modified int64
		err = tx.QueryRow(ctx, `UPDATE items SET
				acl = $1::jsonb, properties = $2::text, content_type = $3::text, content_value = $4::text, label = $5::text,
				version = GREATEST(version + 1, $6::bigint), modified = $6::bigint
			WHERE seq = $7
			RETURNING version, modified`,
			acl, string(it.Properties), contentType, contentValue, nullableJSON(it.Label), time.Now().UTC().UnixNano(), seq).Scan(&it.Version, &modified)
		if err != nil {
			return dbError("update item", err)
		}
		it.Modified = unixTime(modified)
		if _, err := tx.Exec(ctx, setIndexSQL, setIndexArgs(seq, tenant, connID, idx)...); err != nil {
			return dbError("update item", err)
		}
		if u.ACL != nil {
			kinds, values, access := principals(it.ACL)
			if _, err := tx.Exec(ctx, addPrincipalsSQL, tenant, connID, kinds, values, access); err != nil {
				return dbError("update item", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// seqRow scans a leading seq column, then the rest as the scan functions
// of single rows want.
type seqRow struct {
	row pgx.Row
	seq *int64
}

func (r seqRow) Scan(dest ...any) error { return r.row.Scan(append([]any{r.seq}, dest...)...) }

// DeleteItem implements store.Store. It locks the connection first, as
// every writer of its items does (see lockConnectionSQL); the item's
// activities go with it by ON DELETE CASCADE.
func (db *DB) DeleteItem(ctx context.Context, tenant, connID, id string) error {
	return db.inTx(ctx, "delete item", func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, lockConnectionSQL, tenant, connID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ConnectionNotFound(connID)
		}
		if err != nil {
			return dbError("delete item", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM items WHERE tenant = $1 AND connection_id = $2 AND id = $3`, tenant, connID, id)
		if err != nil {
			return dbError("delete item", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ItemNotFound(id)
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET item_count = item_count - 1 WHERE tenant = $1 AND id = $2`, tenant, connID); err != nil {
			return dbError("delete item", err)
		}
		return nil
	})
}

// CountItems implements store.Store. It reads the count that PutItem and
// DeleteItem keep.
func (db *DB) CountItems(ctx context.Context, tenant, connID string) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT item_count FROM connections WHERE tenant = $1 AND id = $2`, tenant, connID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, store.ConnectionNotFound(connID)
	}
	if err != nil {
		return 0, dbError("count items", err)
	}
	return n, nil
}

// CreateGroup implements store.Store.
func (db *DB) CreateGroup(ctx context.Context, tenant string, g *store.ExternalGroup) error {
	now := time.Now().UTC()
	_, err := db.pool.Exec(ctx, `INSERT INTO external_groups (tenant, connection_id, id, display_name, description, version, created, modified)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $6)`, tenant, g.ConnectionID, g.ID, g.DisplayName, g.Description, now.UnixNano())
	switch sqlState(err) {
	case "":
		g.Tenant, g.Version, g.Created, g.Modified = tenant, now.UnixNano(), now, now
		return nil
	case foreignKeyViolation:
		return store.ConnectionNotFound(g.ConnectionID)
	case uniqueViolation:
		return store.E(store.Exist, "The connection '%s' already has an external group with id '%s'.", g.ConnectionID, g.ID)
	default:
		return dbError("create external group", err)
	}
}

// scanGroup scans groupColumns.
func scanGroup(row pgx.Row, g *store.ExternalGroup) error {
	var created, modified int64
	if err := row.Scan(&g.DisplayName, &g.Description, &g.Version, &created, &modified); err != nil {
		return err
	}
	g.Created, g.Modified = unixTime(created), unixTime(modified)
	return nil
}

// Group implements store.Store.
func (db *DB) Group(ctx context.Context, tenant, connID, id string) (*store.ExternalGroup, error) {
	g := store.ExternalGroup{Tenant: tenant, ConnectionID: connID, ID: id}
	err := scanGroup(db.pool.QueryRow(ctx, `SELECT `+groupColumns+`
		FROM external_groups WHERE tenant = $1 AND connection_id = $2 AND id = $3`, tenant, connID, id), &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.groupNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, dbError("read external group", err)
	}
	return &g, nil
}

// groupNotFound says which of the two is missing, the connection or the
// group.
func (db *DB) groupNotFound(ctx context.Context, tenant, connID, id string) error {
	if _, err := db.Connection(ctx, tenant, connID); err != nil {
		return err
	}
	return store.GroupNotFound(id)
}

// UpdateGroup implements store.Store.
func (db *DB) UpdateGroup(ctx context.Context, tenant, connID, id string, u store.GroupUpdate) (*store.ExternalGroup, error) {
	g := store.ExternalGroup{Tenant: tenant, ConnectionID: connID, ID: id}
	row := db.pool.QueryRow(ctx, `UPDATE external_groups SET
			display_name = coalesce($1, display_name), description = coalesce($2, description),
			version = GREATEST(version + 1, $3), modified = $3
		WHERE tenant = $4 AND connection_id = $5 AND id = $6
		RETURNING `+groupColumns,
		u.DisplayName, u.Description, time.Now().UTC().UnixNano(), tenant, connID, id)
	err := scanGroup(row, &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.groupNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, dbError("update external group", err)
	}
	return &g, nil
}

// DeleteGroup implements store.Store. Its members go with it by ON DELETE
// CASCADE; the rows that name it as a member of other groups stay.
func (db *DB) DeleteGroup(ctx context.Context, tenant, connID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM external_groups WHERE tenant = $1 AND connection_id = $2 AND id = $3`, tenant, connID, id)
	if err != nil {
		return dbError("delete external group", err)
	}
	if tag.RowsAffected() == 0 {
		return db.groupNotFound(ctx, tenant, connID, id)
	}
	return nil
}

// AddMember implements store.Store.
func (db *DB) AddMember(ctx context.Context, tenant, connID, groupID string, m *store.Member) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO group_members (tenant, connection_id, group_id, member_id, type, identity_source)
		VALUES ($1, $2, $3, $4, $5, $6)`, tenant, connID, groupID, m.ID, m.Type, m.IdentitySource)
	switch sqlState(err) {
	case "":
		return nil
	case foreignKeyViolation:
		return db.groupNotFound(ctx, tenant, connID, groupID)
	case uniqueViolation:
		return store.E(store.Exist, "The external group '%s' already has a member '%s'.", groupID, m.ID)
	default:
		return dbError("add member", err)
	}
}

// hasGroup returns nil if the group exists, and its NotFound otherwise.
func (db *DB) hasGroup(ctx context.Context, tenant, connID, id string) error {
	var one int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM external_groups WHERE tenant = $1 AND connection_id = $2 AND id = $3`,
		tenant, connID, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.groupNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return dbError("read external group", err)
	}
	return nil
}

// Members implements store.Store. Its page token is the id of the last
// member returned, as Connections' is the last connection's, and as
// SQLite's.
func (db *DB) Members(ctx context.Context, tenant, connID, groupID string, p store.Page) ([]*store.Member, string, error) {
	if !store.ValidMemberAfter(p.After) {
		return nil, "", store.E(store.Invalid, "The page token is invalid.")
	}
	if err := db.hasGroup(ctx, tenant, connID, groupID); err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT member_id, type, identity_source FROM group_members
		WHERE tenant = $1 AND connection_id = $2 AND group_id = $3 AND member_id > $4
		ORDER BY member_id LIMIT $5`, tenant, connID, groupID, p.After, p.Limit+1)
	if err != nil {
		return nil, "", dbError("list members", err)
	}
	defer rows.Close()
	var list []*store.Member
	for rows.Next() {
		var m store.Member
		if err := rows.Scan(&m.ID, &m.Type, &m.IdentitySource); err != nil {
			return nil, "", dbError("list members", err)
		}
		list = append(list, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbError("list members", err)
	}
	if len(list) > p.Limit {
		list = list[:p.Limit]
		return list, list[len(list)-1].ID, nil
	}
	return list, "", nil
}

// CountMembers implements store.Store.
func (db *DB) CountMembers(ctx context.Context, tenant, connID, groupID string) (int64, error) {
	if err := db.hasGroup(ctx, tenant, connID, groupID); err != nil {
		return 0, err
	}
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM group_members WHERE tenant = $1 AND connection_id = $2 AND group_id = $3`,
		tenant, connID, groupID).Scan(&n)
	if err != nil {
		return 0, dbError("count members", err)
	}
	return n, nil
}

// RemoveMember implements store.Store.
func (db *DB) RemoveMember(ctx context.Context, tenant, connID, groupID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM group_members WHERE tenant = $1 AND connection_id = $2 AND group_id = $3 AND member_id = $4`,
		tenant, connID, groupID, id)
	if err != nil {
		return dbError("remove member", err)
	}
	if tag.RowsAffected() == 0 {
		if err := db.hasGroup(ctx, tenant, connID, groupID); err != nil {
			return err
		}
		return store.MemberNotFound(groupID, id)
	}
	return nil
}

// AddActivities implements store.Store. Locking the item (FOR KEY SHARE,
// as the foreign keys of the activities would) keeps it from going before
// they are in; one statement inserts them all, in order.
func (db *DB) AddActivities(ctx context.Context, tenant, connID, itemID string, acts []store.Activity) error {
	return db.inTx(ctx, "add activities", func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM items WHERE tenant = $1 AND connection_id = $2 AND id = $3 FOR KEY SHARE`,
			tenant, connID, itemID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return db.itemNotFound(ctx, tenant, connID, itemID)
		}
		if err != nil {
			return dbError("add activities", err)
		}
		if len(acts) == 0 {
			return nil
		}
		types, starts := make([]string, len(acts)), make([]int64, len(acts))
		byType, byID, bySource := make([]string, len(acts)), make([]string, len(acts)), make([]string, len(acts))
		for i, a := range acts {
			types[i], starts[i] = a.Type, a.StartDateTime.UnixNano()
			byType[i], byID[i], bySource[i] = a.PerformedBy.Type, a.PerformedBy.ID, a.PerformedBy.IdentitySource
		}
		_, err = tx.Exec(ctx, `INSERT INTO activities
			(tenant, connection_id, item_id, type, start_time, performed_by_type, performed_by_id, performed_by_source)
			SELECT $1, $2, $3, a.type, a.start_time, a.by_type, a.by_id, a.by_source FROM unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
				AS a(type, start_time, by_type, by_id, by_source, n) ORDER BY n`,
			tenant, connID, itemID, types, starts, byType, byID, bySource)
		if err != nil {
			return dbError("add activities", err)
		}
		return nil
	})
}
