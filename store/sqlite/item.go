package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/graphconn/graphconn/store"
)

const (
	itemColumns  = `acl, properties, content_type, content_value, label, version, created, modified`
	groupColumns = `display_name, description, version, created, modified`
)

// The statements of PutItem, whose arguments are pendingItem.args: ?1
// tenant, ?2 connection, ?3 item, ?4 acl, ?5 properties, ?6 and ?7 the
// content's type and value, ?8 label, ?9 the time of the write, ?10 to
// ?12 what the search index holds of the item (its search_text,
// search_acl and search_values, see 0007_search.sql). A replace keeps
// created and moves the version past the stored one, as an update of a
// connection does.
const (
	replaceItemSQL = `UPDATE items SET acl = ?4, properties = ?5, content_type = ?6, content_value = ?7, label = ?8,
			version = max(version + 1, ?9), modified = ?9, search_text = ?10, search_acl = ?11, search_values = ?12
		WHERE tenant = ?1 AND connection_id = ?2 AND id = ?3
		RETURNING version, created`
	insertItemSQL = `INSERT INTO items (tenant, connection_id, id, acl, properties, content_type, content_value, label, version, created, modified,
			search_text, search_acl, search_values)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10, ?11, ?12)
		ON CONFLICT (tenant, connection_id, id) DO NOTHING`
	// countItemsSQL adds ?3 to the item count of connection ?2 of tenant ?1.
	countItemsSQL = `UPDATE connections SET item_count = item_count + ?3 WHERE tenant = ?1 AND id = ?2`
	// itemCountSQL reads the item count of a connection.
	itemCountSQL = `SELECT item_count FROM connections WHERE tenant = ? AND id = ?`
	// indexSchemaSQL reads the schema that the connection's items are
	// indexed under, and when it was registered.
	indexSchemaSQL = `SELECT registered, schema FROM schemas WHERE tenant = ? AND connection_id = ?`
)

// itemStmts are PutItem's statements, prepared on the write connection.
type itemStmts struct {
	replace, insert, count, schema, itemCount *sql.Stmt
	sync                                      [len(syncTextSQL)]*sql.Stmt
}

// in returns the statements bound to tx, which index the items under the
// schemas that tx reads, once per connection.
func (s *itemStmts) in(ctx context.Context, tx *sql.Tx, db *DB) *itemTx {
	t := &itemTx{
		itemStmts: itemStmts{
			replace: tx.StmtContext(ctx, s.replace), insert: tx.StmtContext(ctx, s.insert), count: tx.StmtContext(ctx, s.count),
			schema: tx.StmtContext(ctx, s.schema), itemCount: tx.StmtContext(ctx, s.itemCount),
		},
		db:      db,
		schemas: map[connKey]*indexSchema{},
		counts:  map[connKey]int64{},
		created: map[connKey]int64{},
	}
	for i, st := range s.sync {
		t.sync[i] = tx.StmtContext(ctx, st)
	}
	return t
}

// syncText runs syncTextSQL, prepared.
func (s *itemTx) syncText(ctx context.Context) error {
	for _, st := range s.sync {
		if _, err := st.ExecContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// itemTx writes items in a transaction.
type itemTx struct {
	itemStmts
	db      *DB
	schemas map[connKey]*indexSchema // as the transaction read them
	counts  map[connKey]int64        // item_count as the transaction read it, before created
	created map[connKey]int64        // the items the transaction created, to count (countCreated)
}

// errNoConnection is a pendingItem's error when its connection does not
// exist; errFull when its connection holds maxItems items and the item is
// a new one.
var (
	errNoConnection = errors.New("the item's connection does not exist")
	errFull         = errors.New("the item's connection is full")
)

// pendingItem is a PutItem waiting for the items writer.
type pendingItem struct {
	ctx      context.Context // when done before the writer starts the write, it is skipped
	item     *store.Item
	maxItems int64   // PutItem's: none when not positive
	args     [12]any // of the statements of PutItem
	now      int64   // args[8]
	index    itemIndex
	created  bool  // the write created the item
	version  int64 // the item's, after the write
	since    int64 // the item's created, after the write
	err      error // errNoConnection when the connection does not exist, errFull when it is full
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
	p.maxItems = maxItems
	if err := db.items.Do(ctx, p); err != nil {
		return false, internal("put item", err)
	}
	return p.result(tenant, it)
}

// newPendingItem returns PutItem's write of it, indexed under s (nil for
// a connection without a registered schema).
func newPendingItem(ctx context.Context, tenant string, it *store.Item, s *indexSchema) (*pendingItem, error) {
	acl, err := json.Marshal(it.ACL)
	if err != nil {
		return nil, internal("encode the item's acl", err)
	}
	var contentType, contentValue any
	if it.Content != nil {
		contentType, contentValue = it.Content.Type, it.Content.Value
	}
	index, err := indexItem(s, tenant, it)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().UnixNano()
	return &pendingItem{
		ctx:  ctx,
		item: it,
		args: [12]any{tenant, it.ConnectionID, it.ID, string(acl), string(it.Properties), contentType, contentValue, nullableJSON(it.Label), now,
			index.text, index.access, index.values},
		now:   now,
		index: index,
	}, nil
}

// result is PutItem's result once the writer has applied p, the write of
// it: it sets the fields of it as stored.
func (p *pendingItem) result(tenant string, it *store.Item) (bool, error) {
	switch {
	case errors.Is(p.err, errNoConnection):
		return false, store.ConnectionNotFound(it.ConnectionID)
	case errors.Is(p.err, errFull):
		return false, store.ItemLimitReached(it.ConnectionID, p.maxItems)
	case p.err != nil:
		return false, internal("put item", p.err)
	}
	it.Tenant, it.Version, it.Created, it.Modified = tenant, p.version, unixTime(p.since), unixTime(p.now)
	return p.created, nil
}

// nullableJSON is the column value of JSON that may be absent: NULL for none.
func nullableJSON(v json.RawMessage) any {
	if v == nil {
		return nil
	}
	return string(v)
}

// applyItems, the items writer's, writes the items of a batch in one
// transaction, in order, as if one after the other, and counts the items
// it created on their connections once per batch. An item whose
// connection does not exist, or is full, fails alone: it is refused by a
// read, or by its INSERT, and SQLite undoes a failed statement whole
// (with its triggers), so it leaves no trace and does not affect the
// others. Any other failure leaves the transaction in doubt (SQLite rolls
// it back on a full disk or an I/O error): it sends every item to a
// transaction of its own, so that it fails alone.
//
// The contexts of the callers do not reach SQLite, as in applyBatch.
func (db *DB) applyItems(batch []*pendingItem) {
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		for _, p := range batch {
			p.err = err
		}
		return
	}
	s := db.putItem.in(ctx, tx, db)
	applied := 0
	alone := func() {
		tx.Rollback()
		for _, p := range batch {
			db.putItemAlone(p)
		}
	}
	for _, p := range batch {
		if p.err = p.ctx.Err(); p.err != nil {
			continue
		}
		p.err = s.put(ctx, p)
		switch {
		case errors.Is(p.err, errNoConnection), errors.Is(p.err, errFull):
			continue
		case p.err != nil:
			alone()
			return
		}
		applied++
	}
	if applied == 0 {
		tx.Rollback() // nothing changed, nothing to lose
		return
	}
	if err := s.countCreated(ctx); err != nil {
		alone()
		return
	}
	if err := s.syncText(ctx); err != nil {
		alone()
		return
	}
	if err := tx.Commit(); err != nil {
		for _, p := range batch {
			if p.err == nil {
				p.err = err
			}
		}
	}
}

// countCreated adds the items the transaction created to their
// connections' item_count.
func (s *itemTx) countCreated(ctx context.Context) error {
	for k, n := range s.created {
		if _, err := s.count.ExecContext(ctx, k.tenant, k.id, n); err != nil {
			return err
		}
	}
	return nil
}

// putItemAlone writes p's item in a transaction of its own.
func (db *DB) putItemAlone(p *pendingItem) {
	if p.err = p.ctx.Err(); p.err != nil {
		return
	}
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		p.err = err
		return
	}
	s := db.putItem.in(ctx, tx, db)
	if p.err = s.put(ctx, p); p.err == nil {
		p.err = s.countCreated(ctx)
	}
	if p.err == nil {
		p.err = s.syncText(ctx)
	}
	if p.err != nil {
		tx.Rollback()
		return
	}
	p.err = tx.Commit()
}

// put writes p's item: it replaces the stored one, or creates it, with its
// index (which triggers write, see 0007_search.sql); the caller counts
// the items it creates (countCreated). The item's writes are all here, in
// the transaction of the caller, so that what must change with an item
// changes with it.
func (s *itemTx) put(ctx context.Context, p *pendingItem) error {
	if err := s.indexUnder(ctx, p); err != nil {
		return err
	}
	k := connKey{p.args[0].(string), p.args[1].(string)}
	if p.maxItems > 0 {
		n, err := s.itemsOf(ctx, k)
		if err != nil {
			return err
		}
		if n >= p.maxItems {
			// Full: only a replace passes.
			err := s.replace.QueryRowContext(ctx, p.args[:]...).Scan(&p.version, &p.since)
			if errors.Is(err, sql.ErrNoRows) {
				return errFull
			}
			p.created = false
			return err
		}
	}
	// The INSERT first: a connector's first push of an item, the most
	// common write, is one statement.
	res, err := s.insert.ExecContext(ctx, p.args[:]...)
	if code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return errNoConnection
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		p.created, p.version, p.since = true, p.now, p.now
		s.created[k]++
		return nil
	}
	// The item exists: it is replaced.
	p.created = false
	return s.replace.QueryRowContext(ctx, p.args[:]...).Scan(&p.version, &p.since)
}

// itemsOf is how many items connection k holds in the transaction: its
// item_count, and the items the transaction created. errNoConnection when
// it does not exist.
func (s *itemTx) itemsOf(ctx context.Context, k connKey) (int64, error) {
	n, ok := s.counts[k]
	if !ok {
		err := s.itemCount.QueryRowContext(ctx, k.tenant, k.id).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, errNoConnection
		}
		if err != nil {
			return 0, err
		}
		s.counts[k] = n
	}
	return n + s.created[k], nil
}

// indexUnder makes sure that p's item is indexed under the schema that
// the transaction reads for its connection, indexing it again if PutItem
// indexed it under another.
func (s *itemTx) indexUnder(ctx context.Context, p *pendingItem) error {
	tenant, connID := p.args[0].(string), p.args[1].(string)
	k := connKey{tenant, connID}
	cur := s.schemas[k]
	if cur == nil {
		var err error
		if cur, err = s.db.scanIndexSchema(s.schema.QueryRowContext(ctx, tenant, connID), tenant, connID); err != nil {
			return err
		}
		s.schemas[k] = cur
	}
	if cur.registered == p.index.registered {
		return nil
	}
	index, err := indexItem(cur, tenant, p.item)
	if err != nil {
		return err
	}
	p.index = index
	p.args[9], p.args[10], p.args[11] = index.text, index.access, index.values
	return nil
}

// scanItem scans itemColumns.
func scanItem(row scanner, it *store.Item) error {
	var acl, props string
	var contentType, contentValue, label sql.NullString
	var created, modified int64
	if err := row.Scan(&acl, &props, &contentType, &contentValue, &label, &it.Version, &created, &modified); err != nil {
		return err
	}
	it.ACL = nil
	if err := json.Unmarshal([]byte(acl), &it.ACL); err != nil {
		return fmt.Errorf("decode the item's acl: %w", err)
	}
	it.Properties, it.Content, it.Label = nil, nil, nil
	if props != "" {
		it.Properties = json.RawMessage(props)
	}
	if contentType.Valid {
		it.Content = &store.Content{Type: contentType.String, Value: contentValue.String}
	}
	if label.Valid {
		it.Label = json.RawMessage(label.String)
	}
	it.Created, it.Modified = unixTime(created), unixTime(modified)
	return nil
}

// Item implements store.Store.
func (db *DB) Item(ctx context.Context, tenant, connID, id string) (*store.Item, error) {
	it := store.Item{Tenant: tenant, ConnectionID: connID, ID: id}
	err := scanItem(db.item.QueryRowContext(pointRead(ctx), tenant, connID, id), &it)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.itemNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, internal("read item", err)
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

// UpdateItem implements store.Store. It reads the item, applies u, and
// writes the item and its index, in one transaction.
func (db *DB) UpdateItem(ctx context.Context, tenant, connID, id string, u store.ItemUpdate) (*store.Item, error) {
	it := store.Item{Tenant: tenant, ConnectionID: connID, ID: id}
	err := db.inTx(ctx, "update item", func(tx *sql.Tx) error {
		var seq int64
		err := scanItem(seqScanner{tx.QueryRowContext(ctx, `SELECT seq, `+itemColumns+`
			FROM items WHERE tenant = ? AND connection_id = ? AND id = ?`, tenant, connID, id), &seq}, &it)
		if errors.Is(err, sql.ErrNoRows) {
			return db.itemNotFound(ctx, tenant, connID, id)
		}
		if err != nil {
			return internal("update item", err)
		}
		u.Apply(&it)
		acl, err := json.Marshal(it.ACL)
		if err != nil {
			return internal("encode the item's acl", err)
		}
		var contentType, contentValue any
		if it.Content != nil {
			contentType, contentValue = it.Content.Type, it.Content.Value
		}
		s, err := db.readIndexSchema(ctx, tx, tenant, connID)
		if err != nil {
			return internal("update item", err)
		}
		idx, err := indexItem(s, tenant, &it)
		if err != nil {
			return err
		}
		var modified int64
		err = tx.QueryRowContext(ctx, `UPDATE items SET acl = ?1, properties = ?2, content_type = ?3, content_value = ?4, label = ?5,
				version = max(version + 1, ?6), modified = ?6, search_text = ?7, search_acl = ?8, search_values = ?9
			WHERE seq = ?10
			RETURNING version, modified`,
			string(acl), string(it.Properties), contentType, contentValue, nullableJSON(it.Label), time.Now().UTC().UnixNano(),
			idx.text, idx.access, idx.values, seq).Scan(&it.Version, &modified)
		if err != nil {
			return internal("update item", err)
		}
		it.Modified = unixTime(modified)
		if err := syncText(ctx, tx); err != nil {
			return internal("update item", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// seqScanner scans a leading seq column, then the rest as the scan
// functions of single rows want.
type seqScanner struct {
	row *sql.Row
	seq *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.row.Scan(append([]any{s.seq}, dest...)...) }

// DeleteItem implements store.Store. The item's activities go with it by ON
// DELETE CASCADE.
func (db *DB) DeleteItem(ctx context.Context, tenant, connID, id string) error {
	return db.inTx(ctx, "delete item", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM items WHERE tenant = ? AND connection_id = ? AND id = ?`, tenant, connID, id)
		if err != nil {
			return internal("delete item", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return db.itemNotFound(ctx, tenant, connID, id)
		}
		if _, err := tx.ExecContext(ctx, countItemsSQL, tenant, connID, -1); err != nil {
			return internal("delete item", err)
		}
		if err := syncText(ctx, tx); err != nil {
			return internal("delete item", err)
		}
		return nil
	})
}

// CountItems implements store.Store. It reads the count that PutItem and
// DeleteItem keep.
func (db *DB) CountItems(ctx context.Context, tenant, connID string) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(pointRead(ctx), `SELECT item_count FROM connections WHERE tenant = ? AND id = ?`, tenant, connID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ConnectionNotFound(connID)
	}
	if err != nil {
		return 0, internal("count items", err)
	}
	return n, nil
}

// CreateGroup implements store.Store.
func (db *DB) CreateGroup(ctx context.Context, tenant string, g *store.ExternalGroup) error {
	now := time.Now().UTC()
	_, err := db.write.ExecContext(ctx, `INSERT INTO external_groups (tenant, connection_id, id, display_name, description, version, created, modified)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)`, tenant, g.ConnectionID, g.ID, g.DisplayName, g.Description, now.UnixNano())
	switch code(err) {
	case 0:
		g.Tenant, g.Version, g.Created, g.Modified = tenant, now.UnixNano(), now, now
		return nil
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ConnectionNotFound(g.ConnectionID)
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return groupExists(g.ConnectionID, g.ID)
	default:
		return internal("create external group", err)
	}
}

func groupExists(connID, id string) error {
	return store.E(store.Exist, "The connection '%s' already has an external group with id '%s'.", connID, id)
}

// scanGroup scans groupColumns.
func scanGroup(row scanner, g *store.ExternalGroup) error {
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
	err := scanGroup(db.read.QueryRowContext(pointRead(ctx), `SELECT `+groupColumns+`
		FROM external_groups WHERE tenant = ? AND connection_id = ? AND id = ?`, tenant, connID, id), &g)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.groupNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, internal("read external group", err)
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
	row := db.write.QueryRowContext(ctx, `UPDATE external_groups SET
			display_name = coalesce(?1, display_name), description = coalesce(?2, description),
			version = max(version + 1, ?3), modified = ?3
		WHERE tenant = ?4 AND connection_id = ?5 AND id = ?6
		RETURNING `+groupColumns,
		u.DisplayName, u.Description, time.Now().UTC().UnixNano(), tenant, connID, id)
	err := scanGroup(row, &g)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.groupNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return nil, internal("update external group", err)
	}
	return &g, nil
}

// DeleteGroup implements store.Store. Its members go with it by ON DELETE
// CASCADE; the rows that name it as a member of other groups stay.
func (db *DB) DeleteGroup(ctx context.Context, tenant, connID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM external_groups WHERE tenant = ? AND connection_id = ? AND id = ?`, tenant, connID, id)
	if err != nil {
		return internal("delete external group", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.groupNotFound(ctx, tenant, connID, id)
	}
	return nil
}

// AddMember implements store.Store.
func (db *DB) AddMember(ctx context.Context, tenant, connID, groupID string, m *store.Member) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO group_members (tenant, connection_id, group_id, member_id, type, identity_source)
		VALUES (?, ?, ?, ?, ?, ?)`, tenant, connID, groupID, m.ID, m.Type, m.IdentitySource)
	switch code(err) {
	case 0:
		return nil
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return db.groupNotFound(ctx, tenant, connID, groupID)
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.E(store.Exist, "The external group '%s' already has a member '%s'.", groupID, m.ID)
	default:
		return internal("add member", err)
	}
}

// hasGroup returns nil if the group exists, and its NotFound otherwise.
func (db *DB) hasGroup(ctx context.Context, tenant, connID, id string) error {
	var one int
	err := db.read.QueryRowContext(pointRead(ctx), `SELECT 1 FROM external_groups WHERE tenant = ? AND connection_id = ? AND id = ?`,
		tenant, connID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return db.groupNotFound(ctx, tenant, connID, id)
	}
	if err != nil {
		return internal("read external group", err)
	}
	return nil
}

// Members implements store.Store. Its page token is the id of the last
// member returned, as Connections' is the last connection's.
func (db *DB) Members(ctx context.Context, tenant, connID, groupID string, p store.Page) ([]*store.Member, string, error) {
	if !store.ValidMemberAfter(p.After) {
		return nil, "", store.E(store.Invalid, "The page token is invalid.")
	}
	if err := db.hasGroup(ctx, tenant, connID, groupID); err != nil {
		return nil, "", err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT member_id, type, identity_source FROM group_members
		WHERE tenant = ? AND connection_id = ? AND group_id = ? AND member_id > ?
		ORDER BY member_id LIMIT ?`, tenant, connID, groupID, p.After, p.Limit+1)
	if err != nil {
		return nil, "", internal("list members", err)
	}
	defer rows.Close()
	var list []*store.Member
	for rows.Next() {
		var m store.Member
		if err := rows.Scan(&m.ID, &m.Type, &m.IdentitySource); err != nil {
			return nil, "", internal("list members", err)
		}
		list = append(list, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", internal("list members", err)
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
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM group_members WHERE tenant = ? AND connection_id = ? AND group_id = ?`,
		tenant, connID, groupID).Scan(&n)
	if err != nil {
		return 0, internal("count members", err)
	}
	return n, nil
}

// RemoveMember implements store.Store.
func (db *DB) RemoveMember(ctx context.Context, tenant, connID, groupID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM group_members WHERE tenant = ? AND connection_id = ? AND group_id = ? AND member_id = ?`,
		tenant, connID, groupID, id)
	if err != nil {
		return internal("remove member", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if err := db.hasGroup(ctx, tenant, connID, groupID); err != nil {
			return err
		}
		return store.MemberNotFound(groupID, id)
	}
	return nil
}

// AddActivities implements store.Store.
func (db *DB) AddActivities(ctx context.Context, tenant, connID, itemID string, acts []store.Activity) error {
	return db.inTx(ctx, "add activities", func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM items WHERE tenant = ? AND connection_id = ? AND id = ?`, tenant, connID, itemID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return db.itemNotFound(ctx, tenant, connID, itemID)
		}
		if err != nil {
			return internal("add activities", err)
		}
		if len(acts) == 0 {
			return nil
		}
		insert, err := tx.PrepareContext(ctx, `INSERT INTO activities
			(tenant, connection_id, item_id, type, start_time, performed_by_type, performed_by_id, performed_by_source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return internal("add activities", err)
		}
		defer insert.Close()
		for _, a := range acts {
			if _, err := insert.ExecContext(ctx, tenant, connID, itemID, a.Type, a.StartDateTime.UnixNano(),
				a.PerformedBy.Type, a.PerformedBy.ID, a.PerformedBy.IdentitySource); err != nil {
				return internal("add activities", err)
			}
		}
		return nil
	})
}
