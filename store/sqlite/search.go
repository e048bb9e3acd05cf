package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/graphconn/graphconn/store"
)

// Search implements store.Searcher.
//
// One FTS5 query over item_text finds the items (0007_search.sql): the
// free text of the query, each word restricted to search_text, and the
// searcher's access, as tokens of search_acl (store.PrincipalTokens):
//
//	(search_acl : (grants...)) AND (text...) NOT (search_acl : (denies...))
//
// so that the index alone evaluates the ACLs, with no lookup per item, and
// counts the matches. The rest of the query (restrictions on properties)
// are conditions on the FTS5 row's rowid, the item's seq: IN the items
// whose item_values match. The hits are the first of these rows in the
// order of bm25(), the ranked ones (store.RankWindow), or of seq, newest
// first, joined to items.
//
// All of it reads one snapshot of the database, in one transaction.
func (db *DB) Search(ctx context.Context, tenant string, r store.SearchRequest) (*store.SearchResult, error) {
	q, err := store.NormalizeQuery(r.Query)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Hits: []store.SearchHit{}, Aggregations: make([][]store.Bucket, len(r.Aggregations))}
	for i := range res.Aggregations {
		res.Aggregations[i] = []store.Bucket{}
	}
	conns := distinct(r.Connections)
	if len(conns) == 0 {
		return res, nil
	}
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, internal("search", err)
	}
	defer tx.Rollback()

	ext, err := externalGroups(ctx, tx, tenant, conns, r.Principals)
	if err != nil {
		return nil, internal("search: read the external groups", err)
	}
	var grants, denies, universe []string
	for _, c := range conns {
		g, d := store.PrincipalTokens(tenant, c, r.Principals, ext[c])
		grants, denies = append(grants, g...), append(denies, d...)
		universe = append(universe, store.ConnectionToken(tenant, c))
	}
	plan := store.Plan(q)
	w := &where{fts: ftsCompiler{universe: ftsTokens(universe)}, tenant: tenant, conns: conns}
	match := "(" + ftsTokens(grants) + ")"
	for _, t := range plan.Text {
		match += " AND " + w.fts.expr(t)
	}
	match = "(" + match + ") NOT " + ftsTokens(denies)
	cond := "item_text MATCH " + w.param(match)
	for _, f := range plan.Filters {
		cond += " AND " + w.filter(f)
	}

	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM item_text WHERE `+cond, w.args...).Scan(&res.Total); err != nil {
		return nil, internal("search: count", err)
	}
	if r.Size > 0 && int64(max(r.From, 0)) < res.Total {
		if res.Hits, err = hits(ctx, tx, tenant, cond, w.args, plan.Ranked, max(r.From, 0), r.Size); err != nil {
			return nil, internal("search", err)
		}
	}
	for i, a := range r.Aggregations {
		if a.Size <= 0 || res.Total == 0 {
			continue
		}
		if res.Aggregations[i], err = aggregate(ctx, tx, cond, w.args, strings.ToLower(a.Name), a.Size); err != nil {
			return nil, internal("search: aggregate", err)
		}
	}
	return res, nil
}

func distinct(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// externalGroups returns, by connection, the external groups that hold
// the principals, directly or through other groups: UNION, not UNION ALL,
// ends the recursion at a group already found, so that cycles end.
func externalGroups(ctx context.Context, tx *sql.Tx, tenant string, conns []string, p store.Principals) (map[string][]string, error) {
	connsJSON, err := json.Marshal(conns)
	if err != nil {
		return nil, err
	}
	groups := p.Groups
	if groups == nil {
		groups = []string{}
	}
	groupsJSON, err := json.Marshal(groups)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `WITH RECURSIVE
		conns(id) AS (SELECT value FROM json_each(?2)),
		eg(connection_id, id) AS (
			SELECT m.connection_id, m.group_id FROM conns JOIN group_members m
				ON m.tenant = ?1 AND m.connection_id = conns.id AND m.member_id = ?3 AND m.type = 'user'
			UNION
			SELECT m.connection_id, m.group_id FROM conns, json_each(?4) AS g JOIN group_members m
				ON m.tenant = ?1 AND m.connection_id = conns.id AND m.member_id = g.value AND m.type = 'group'
			UNION
			SELECT m.connection_id, m.group_id FROM eg JOIN group_members m
				ON m.tenant = ?1 AND m.connection_id = eg.connection_id AND m.member_id = eg.id AND m.type = 'externalGroup'
		)
		SELECT connection_id, id FROM eg`, tenant, string(connsJSON), nullIfEmpty(p.UserID), string(groupsJSON))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var conn, id string
		if err := rows.Scan(&conn, &id); err != nil {
			return nil, err
		}
		out[conn] = append(out[conn], id)
	}
	return out, rows.Err()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// hits returns the page of the items that match cond: ranked, the first
// store.RankWindow matches (by seq, newest first) in the order of bm25(),
// then the others by seq; unranked, all of them by seq.
func hits(ctx context.Context, tx *sql.Tx, tenant, cond string, args []any, ranked bool, from, size int) ([]store.SearchHit, error) {
	n := len(args)
	limit, offset := fmt.Sprintf("?%d", n+1), fmt.Sprintf("?%d", n+2)
	args = append(args, size, from)
	var page string
	switch {
	case !ranked:
		page = `SELECT item_text.rowid AS doc, 0.0 AS score, 0 AS tier FROM item_text WHERE ` + cond + `
			ORDER BY item_text.rowid DESC LIMIT ` + limit + ` OFFSET ` + offset
	default:
		window := fmt.Sprintf(`SELECT item_text.rowid AS doc, bm25(item_text, 1.0, 0.0) AS score, 0 AS tier FROM item_text
			WHERE %s ORDER BY item_text.rowid DESC LIMIT %d`, cond, store.RankWindow)
		if from+size > store.RankWindow {
			window = `SELECT * FROM (` + window + `) UNION ALL SELECT * FROM (
				SELECT item_text.rowid, 0.0, 1 FROM item_text WHERE ` + cond + fmt.Sprintf(`
				ORDER BY item_text.rowid DESC LIMIT -1 OFFSET %d)`, store.RankWindow)
		}
		page = `SELECT doc, score, tier FROM (` + window + `) ORDER BY tier, score, doc DESC LIMIT ` + limit + ` OFFSET ` + offset
	}
	rows, err := tx.QueryContext(ctx, `SELECT p.score, i.connection_id, i.id, `+prefixed("i.", itemColumns)+`
		FROM (`+page+`) AS p JOIN items AS i ON i.seq = p.doc
		ORDER BY p.tier, p.score, p.doc DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.SearchHit{}
	for rows.Next() {
		it := &store.Item{Tenant: tenant}
		var score float64
		if err := scanItem(hitScanner{rows, &score, it}, it); err != nil {
			return nil, err
		}
		out = append(out, store.SearchHit{Item: it, Rank: -score})
	}
	return out, rows.Err()
}

// hitScanner scans the leading columns of a hit, then the item's as
// scanItem wants.
type hitScanner struct {
	rows  *sql.Rows
	score *float64
	it    *store.Item
}

func (s hitScanner) Scan(dest ...any) error {
	return s.rows.Scan(append([]any{s.score, &s.it.ConnectionID, &s.it.ID}, dest...)...)
}

func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// aggregate returns the buckets of property name's values among the items
// that match cond, the most frequent first.
func aggregate(ctx context.Context, tx *sql.Tx, cond string, args []any, name string, size int) ([]store.Bucket, error) {
	n := len(args)
	// CROSS JOIN keeps item_text first: the full-text query finds the
	// items, then their values.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT min(v.key), count(DISTINCT v.item) AS n
		FROM item_text CROSS JOIN item_values AS v ON v.item = item_text.rowid AND v.name = ?%d
		WHERE %s
		GROUP BY v.str ORDER BY n DESC, v.str LIMIT ?%d`, n+1, cond, n+2), append(args, name, size)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Bucket{}
	for rows.Next() {
		var b store.Bucket
		if err := rows.Scan(&b.Key, &b.Count); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// where builds the condition of a search on item_text and its arguments,
// numbered ?1, ?2, ... in the order it adds them.
type where struct {
	fts    ftsCompiler
	tenant string
	conns  []string
	args   []any
	values string // the condition on item_values of the tenant's connections; "" until first needed
}

func (w *where) param(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("?%d", len(w.args))
}

// scope is the condition that restricts item_values to the searched
// connections.
func (w *where) scope() string {
	if w.values == "" {
		conns := make([]string, len(w.conns))
		for i, c := range w.conns {
			conns[i] = w.param(c)
		}
		w.values = "tenant = " + w.param(w.tenant) + " AND connection_id IN (" + strings.Join(conns, ", ") + ")"
	}
	return w.values
}

// filter is the condition of q, a part of a normalized query that the
// full-text index cannot evaluate alone, on item_text's rows.
func (w *where) filter(q *store.Query) string {
	if store.FreeText(q) {
		return "item_text.rowid IN (SELECT rowid FROM item_text WHERE item_text MATCH " + w.param(w.fts.expr(q)) + ")"
	}
	switch q.Op {
	case store.QueryAnd, store.QueryOr:
		op := " AND "
		if q.Op == store.QueryOr {
			op = " OR "
		}
		parts := make([]string, len(q.Children))
		for i, c := range q.Children {
			parts[i] = w.filter(c)
		}
		return "(" + strings.Join(parts, op) + ")"
	case store.QueryNot:
		return "NOT " + w.filter(q.Children[0])
	case store.QueryAll:
		return "1"
	}
	var cond string
	switch q.Op {
	case store.QueryEqual:
		cond = "str = " + w.param(q.Text)
	case store.QueryPrefix:
		// A range of the index: every string that begins with the
		// prefix is below the prefix and a byte 0xFF, which UTF-8
		// never holds.
		cond = "str >= " + w.param(q.Text) + " AND str < " + w.param(q.Text+"\xff")
	case store.QueryCompare:
		cond = "num IS NOT NULL AND num " + q.Compare + " " + w.param(q.Num) // Compare is one of five, as NormalizeQuery checked
	}
	return "item_text.rowid IN (SELECT item FROM item_values WHERE " + w.scope() + " AND name = " + w.param(q.Name) + " AND " + cond + ")"
}

// ftsCompiler writes free text as an FTS5 query, each word a string in
// double quotes (the words are letters and digits, store.Words, so that
// nothing of the client's is FTS5 syntax), restricted to search_text.
type ftsCompiler struct {
	// universe matches every item of the searched connections: FTS5's NOT
	// has two operands, what to take from and what to take away.
	universe string
}

func (c ftsCompiler) expr(q *store.Query) string {
	switch q.Op {
	case store.QueryText:
		var parts []string
		for _, t := range store.Terms(q.Text) {
			p := "search_text : " + ftsString(t.Word)
			if t.Prefix {
				p += " *"
			}
			parts = append(parts, p)
		}
		return "(" + strings.Join(parts, " AND ") + ")"
	case store.QueryPhrase:
		return "(search_text : " + ftsString(strings.Join(store.Words(q.Text), " ")) + ")"
	case store.QueryAnd:
		var pos, neg []string
		for _, ch := range q.Children {
			if ch.Op == store.QueryNot {
				neg = append(neg, c.expr(ch.Children[0]))
			} else {
				pos = append(pos, c.expr(ch))
			}
		}
		if len(pos) == 0 {
			pos = []string{c.universe}
		}
		s := "(" + strings.Join(pos, " AND ") + ")"
		for _, n := range neg {
			s = "(" + s + " NOT " + n + ")"
		}
		return s
	case store.QueryOr:
		parts := make([]string, len(q.Children))
		for i, ch := range q.Children {
			parts[i] = c.expr(ch)
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	case store.QueryNot:
		return "(" + c.universe + " NOT " + c.expr(q.Children[0]) + ")"
	}
	panic(fmt.Sprintf("sqlite: %d is not free text", q.Op))
}

// ftsTokens matches the items with any of the access tokens.
func ftsTokens(tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		quoted[i] = ftsString(t)
	}
	return "(search_acl : (" + strings.Join(quoted, " OR ") + "))"
}

// ftsString is s as an FTS5 string.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
