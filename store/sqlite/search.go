package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/graphconn/graphconn/store"
)

// Search implements store.Searcher.
//
// One FTS5 query over item_text finds the items (0007_search.sql): the
// free text of the query and the searcher's access, as tokens of
// search_acl (store.AccessToken, of the principals that the ACLs name),
//
//	((grants...) AND (text...)) NOT (denies...)
//
// so that the index alone evaluates the ACLs, with no lookup per item. The
// rest of the query (restrictions on properties) are conditions on the
// FTS5 row's rowid, the item's seq: IN the items whose item_values match.
//
// The first query takes the newest store.RankWindow matches, which are
// all of them for most queries: their number is then the total, with no
// count. With free text, bm25() ranks them by a query of the text alone;
// the page is taken from them, and from the older matches, newest first,
// past the window. The page's items are read by their seq.
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
	grants, denies, err := accessTokens(ctx, tx, tenant, conns, r.Principals, ext)
	if err != nil {
		return nil, internal("search: read the principals of the ACLs", err)
	}
	if len(grants) == 0 {
		return res, nil // no item grants the searcher anything
	}
	var universe []string
	for _, c := range conns {
		universe = append(universe, store.ConnectionToken(tenant, c))
	}
	plan := store.Plan(q)
	w := &where{fts: ftsCompiler{universe: ftsTokens(universe)}, tenant: tenant, conns: conns}
	var text []string
	for _, t := range plan.Text {
		text = append(text, w.fts.expr(t))
	}
	textOnly := strings.Join(text, " AND ") // the free text alone, which ranks
	match := "(" + strings.Join(append([]string{ftsTokens(grants)}, text...), " AND ") + ")"
	if len(denies) > 0 {
		match = "(" + match + " NOT " + ftsTokens(denies) + ")"
	}
	cond := "item_text MATCH " + w.param(match)
	for _, f := range plan.Filters {
		cond += " AND " + w.filter(f)
	}

	// When the free text alone matches no more than the window, so do the
	// searcher's matches: all of them are read, oldest first, which FTS5
	// does at about half the cost of newest first (it reads each page of
	// a list of items backwards by reading it forwards first).
	few := false
	if len(text) > 0 && readOldestFirst {
		if few, err = atMost(ctx, tx, textOnly, rankWindow); err != nil {
			return nil, internal("search", err)
		}
	}
	// Without restrictions on properties, the text's newest matches are
	// ranked on another connection while this one finds the searcher's:
	// the two take about as long, and a search the time of one.
	var early *earlyRank
	if plan.Ranked && len(plan.Filters) == 0 && r.Size > 0 {
		early = db.rankEarly(ctx, textOnly, few)
		defer early.stop()
	}
	var newest []int64
	if few {
		newest, err = allDocs(ctx, tx, cond, w.args)
	} else {
		newest, err = docs(ctx, tx, cond, w.args, rankWindow, 0)
	}
	if err != nil {
		return nil, internal("search", err)
	}
	res.Total = int64(len(newest))
	if !few && len(newest) == rankWindow {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM item_text WHERE `+cond, w.args...).Scan(&res.Total); err != nil {
			return nil, internal("search: count", err)
		}
	}
	from, size := max(r.From, 0), max(r.Size, 0)
	if size > 0 && int64(from) < res.Total {
		window := make([]scored, len(newest))
		for i, doc := range newest {
			window[i] = scored{doc: doc}
		}
		if plan.Ranked {
			var known map[int64]float64
			if early != nil {
				known = early.scores()
			}
			if err := rank(ctx, tx, textOnly, window, known); err != nil {
				return nil, internal("search: rank", err)
			}
		}
		var page []scored
		if from < len(window) {
			page = window[from:min(from+size, len(window))]
		}
		if end := from + size; end > len(window) && res.Total > int64(len(window)) {
			// Past the window: the older matches, newest first.
			start := max(from, len(window))
			older, err := docs(ctx, tx, cond, w.args, end-start, start)
			if err != nil {
				return nil, internal("search", err)
			}
			for _, doc := range older {
				page = append(page, scored{doc: doc})
			}
		}
		if res.Hits, err = hits(ctx, tx, tenant, page); err != nil {
			return nil, internal("search: read the hits", err)
		}
	}
	// The items to aggregate: all the matches, which the window holds
	// when they are fewer.
	matches, args := `SELECT item_text.rowid AS item FROM item_text WHERE `+cond, w.args
	if res.Total == int64(len(newest)) {
		ids, err := json.Marshal(newest)
		if err != nil {
			return nil, internal("search: aggregate", err)
		}
		matches, args = `SELECT value AS item FROM json_each(?1)`, []any{string(ids)}
	}
	for i, a := range r.Aggregations {
		if a.Size <= 0 || res.Total == 0 {
			continue
		}
		if res.Aggregations[i], err = aggregate(ctx, tx, matches, args, strings.ToLower(a.Name), a.Size); err != nil {
			return nil, internal("search: aggregate", err)
		}
	}
	return res, nil
}

// rankWindow is store.RankWindow; tests lower it.
var rankWindow = store.RankWindow

// readOldestFirst lets Search read the matches of free text that matches
// no more than the window oldest first; tests turn it off to hold it to
// reading them newest first.
var readOldestFirst = true

// docs returns the seq of the items that match cond, newest first: limit
// of them, past the first offset.
func docs(ctx context.Context, tx *sql.Tx, cond string, args []any, limit, offset int) ([]int64, error) {
	n := len(args)
	return scanDocs(tx.QueryContext(ctx, fmt.Sprintf(`SELECT item_text.rowid FROM item_text WHERE %s
		ORDER BY item_text.rowid DESC LIMIT ?%d OFFSET ?%d`, cond, n+1, n+2), append(args, limit, offset)...))
}

// allDocs returns the seq of all the items that match cond, newest first,
// which it reads oldest first.
func allDocs(ctx context.Context, tx *sql.Tx, cond string, args []any) ([]int64, error) {
	out, err := scanDocs(tx.QueryContext(ctx, `SELECT item_text.rowid FROM item_text WHERE `+cond+` ORDER BY item_text.rowid`, args...))
	slices.Reverse(out)
	return out, err
}

// scanDocs reads rows of seq and closes them.
func scanDocs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var doc int64
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	return out, rows.Err()
}

// atMost reports whether no more than n items match the FTS5 query text.
func atMost(ctx context.Context, tx *sql.Tx, text string, n int) (bool, error) {
	var count int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM item_text WHERE item_text MATCH ?1 LIMIT ?2)`,
		text, n+1).Scan(&count)
	return count <= n, err
}

// scored is an item's seq and its bm25() (lower is better).
type scored struct {
	doc   int64
	score float64
}

// rank sets the score of the items of the window, the newest matches, by
// the FTS5 query text, and sorts them, best first (then newest first).
// bm25() ranks them by the text alone, not by the whole query, because it
// reads the whole list of the items of each word of its query (for the
// words' frequencies), and the access tokens' lists hold most items. The
// scores in known (rankNewest's, from another snapshot) are taken as they
// are; the window's items without one are ranked here, in tx.
func rank(ctx context.Context, tx *sql.Tx, text string, window []scored, known map[int64]float64) error {
	var rest []int64
	for _, s := range window {
		if _, ok := known[s.doc]; !ok {
			rest = append(rest, s.doc)
		}
	}
	scores := known
	if len(rest) > 0 {
		more, err := rankDocs(ctx, tx, text, rest)
		if err != nil {
			return err
		}
		if scores == nil {
			scores = more
		} else {
			maps.Copy(scores, more)
		}
	}
	for i := range window {
		window[i].score = scores[window[i].doc]
	}
	slices.SortFunc(window, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(b.doc, a.doc))
	})
	return nil
}

// rankDocs returns the bm25() of the items docs (newest first) by the FTS5
// query text.
func rankDocs(ctx context.Context, tx *sql.Tx, text string, docs []int64) (map[int64]float64, error) {
	ids, err := json.Marshal(docs)
	if err != nil {
		return nil, err
	}
	// The items are the text's matches from the oldest of them on that
	// are IN docs (the unary + keeps SQLite from looking each of them up
	// in FTS5 by its rowid).
	rows, err := tx.QueryContext(ctx, `SELECT item_text.rowid, bm25(item_text, 1.0, 0.0) FROM item_text
		WHERE item_text MATCH ?1 AND item_text.rowid >= ?2 AND +item_text.rowid IN (SELECT value FROM json_each(?3))`,
		text, slices.Min(docs), string(ids))
	if err != nil {
		return nil, err
	}
	return scanScores(rows, len(docs))
}

// earlyRank is rankNewest, run beside a search.
type earlyRank struct {
	started  chan struct{}   // closed once it has its connection
	done     chan rankedText // its answer, once started
	finished chan struct{}   // closed when it has given its connection back
	cancel   context.CancelFunc
}

type rankedText struct {
	scores map[int64]float64
	err    error
}

// rankEarly starts rankNewest of text on a connection of the read pool;
// few when the search's snapshot holds no more than the window of the
// text's matches.
func (db *DB) rankEarly(ctx context.Context, text string, few bool) *earlyRank {
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyRank{started: make(chan struct{}), done: make(chan rankedText, 1), finished: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(e.finished)
		conn, err := db.read.Conn(ctx)
		if err != nil {
			return // cancelled while it waited
		}
		defer conn.Close()
		close(e.started)
		scores, err := rankNewest(ctx, conn, text, few)
		e.done <- rankedText{scores, err}
	}()
	return e
}

// stop ends it, if it has not ended, and waits until it has: a search
// leaves nothing running behind it (and no connection in use when the
// store closes).
func (e *earlyRank) stop() {
	e.cancel()
	<-e.finished
}

// scores returns rankNewest's scores, or nil when it failed or has not
// started: it waits for a connection of the read pool, which the searches
// in flight (this one too) may hold all of, so the search ranks its items
// itself rather than wait for one.
func (e *earlyRank) scores() map[int64]float64 {
	select {
	case <-e.started:
		if r := <-e.done; r.err == nil {
			return r.scores
		}
	default:
		e.cancel()
	}
	return nil
}

// rankNewest returns the bm25() of the newest store.RankWindow items that
// match the FTS5 query text, which is free text alone: the items that a
// search ranks, when the searcher may see them, and the restrictions keep
// them all. It reads a snapshot of its own, on conn: an item that it does
// not see (written since), rank ranks in the search's. With few (the text
// matched no more than the window in the search's snapshot) it reads them
// oldest first, at about half the cost, and up to twice the window: a
// newer snapshot may hold a few more, and should it hold many more, the
// newest of them that it leaves out are ranked by rank.
func rankNewest(ctx context.Context, conn *sql.Conn, text string, few bool) (map[int64]float64, error) {
	order, limit := "DESC", rankWindow
	if few {
		order, limit = "ASC", 2*rankWindow
	}
	rows, err := conn.QueryContext(ctx, `SELECT rowid, bm25(item_text, 1.0, 0.0) FROM item_text
		WHERE item_text MATCH ?1 ORDER BY rowid `+order+` LIMIT ?2`, text, limit)
	if err != nil {
		return nil, err
	}
	return scanScores(rows, rankWindow)
}

// scanScores reads rows of (seq, score) and closes them.
func scanScores(rows *sql.Rows, n int) (map[int64]float64, error) {
	defer rows.Close()
	scores := make(map[int64]float64, n)
	for rows.Next() {
		var doc int64
		var score float64
		if err := rows.Scan(&doc, &score); err != nil {
			return nil, err
		}
		scores[doc] = score
	}
	return scores, rows.Err()
}

func seqs(page []scored) []int64 {
	out := make([]int64, len(page))
	for i, s := range page {
		out[i] = s.doc
	}
	return out
}

// accessTokens returns the access tokens that the principals p, in the
// external groups ext (by connection), match among those that the ACLs of
// the connections name (acl_principals): those of the searcher's
// principals that an entry grants, and those that an entry denies. Only
// those are hashed, and only those go into the full-text query.
func accessTokens(ctx context.Context, tx *sql.Tx, tenant string, conns []string, p store.Principals, ext map[string][]string) (grants, denies []string, err error) {
	var extGroups []string
	for _, g := range ext {
		extGroups = append(extGroups, g...)
	}
	var args [3]string
	for i, v := range [][]string{conns, p.Groups, extGroups} {
		if v == nil {
			v = []string{}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, err
		}
		args[i] = string(b)
	}
	const principals = `SELECT connection_id, kind, value, access FROM acl_principals WHERE tenant = ?1 AND connection_id IN (SELECT value FROM json_each(?2))`
	rows, err := tx.QueryContext(ctx, principals+` AND kind = 'everyone' AND value = ''
		UNION ALL `+principals+` AND kind = 'user' AND value = ?5
		UNION ALL `+principals+` AND kind = 'group' AND value IN (SELECT value FROM json_each(?3))
		UNION ALL `+principals+` AND kind = 'externalGroup' AND value IN (SELECT value FROM json_each(?4))`,
		tenant, args[0], args[1], args[2], nullIfEmpty(p.UserID))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var conn, kind, value, access string
		if err := rows.Scan(&conn, &kind, &value, &access); err != nil {
			return nil, nil, err
		}
		if !p.Holds(kind, value, ext[conn]) {
			continue // an external group of another connection
		}
		grant, _ := store.AccessOf(access)
		if tok := store.AccessToken(grant, tenant, conn, kind, value); grant {
			grants = append(grants, tok)
		} else {
			denies = append(denies, tok)
		}
	}
	return grants, denies, rows.Err()
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

// hits reads the items of the page, in its order.
func hits(ctx context.Context, tx *sql.Tx, tenant string, page []scored) ([]store.SearchHit, error) {
	out := []store.SearchHit{}
	if len(page) == 0 {
		return out, nil
	}
	ids, err := json.Marshal(seqs(page))
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, connection_id, id, `+itemColumns+`
		FROM items WHERE seq IN (SELECT value FROM json_each(?))`, string(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := make(map[int64]*store.Item, len(page))
	for rows.Next() {
		it := &store.Item{Tenant: tenant}
		var seq int64
		if err := scanItem(hitScanner{rows, &seq, it}, it); err != nil {
			return nil, err
		}
		items[seq] = it
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, s := range page {
		if it := items[s.doc]; it != nil {
			out = append(out, store.SearchHit{Item: it, Rank: -s.score})
		}
	}
	return out, nil
}

// hitScanner scans the leading columns of a hit, then the item's as
// scanItem wants.
type hitScanner struct {
	rows *sql.Rows
	seq  *int64
	it   *store.Item
}

func (s hitScanner) Scan(dest ...any) error {
	return s.rows.Scan(append([]any{s.seq, &s.it.ConnectionID, &s.it.ID}, dest...)...)
}

// aggregate returns the buckets of property name's values among the items
// whose seq matches selects (as item), the most frequent first.
func aggregate(ctx context.Context, tx *sql.Tx, matches string, args []any, name string, size int) ([]store.Bucket, error) {
	n := len(args)
	// CROSS JOIN keeps the matches first: then their values, by the
	// primary key of item_values.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT min(v.key), count(DISTINCT v.item) AS n
		FROM (%s) AS m CROSS JOIN item_values AS v ON v.item = m.item AND v.name = ?%d
		GROUP BY v.str ORDER BY n DESC, v.str LIMIT ?%d`, matches, n+1, n+2), append(args, name, size)...)
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
	// The unary + keeps SQLite from looking each item of an IN list up in
	// FTS5 by its rowid, which evaluates the MATCH once per item: the
	// MATCH finds the items, and IN tests each.
	if store.FreeText(q) {
		return "+item_text.rowid IN (SELECT rowid FROM item_text WHERE item_text MATCH " + w.param(w.fts.expr(q)) + ")"
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
	return "+item_text.rowid IN (SELECT item FROM item_values WHERE " + w.scope() + " AND name = " + w.param(q.Name) + " AND " + cond + ")"
}

// ftsCompiler writes free text as an FTS5 query, each word a string in
// double quotes (the words are letters and digits, store.Words, so that
// nothing of the client's is FTS5 syntax). A word never matches an access
// token (they have a '_'), in whichever column, but a prefix may: a prefix
// is restricted to search_text. (A column filter costs FTS5 a pass over
// the positions of each item that it finds.)
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
			p := ftsString(t.Word)
			if t.Prefix {
				p = "search_text : " + p + " *"
			}
			parts = append(parts, p)
		}
		return "(" + strings.Join(parts, " AND ") + ")"
	case store.QueryPhrase:
		return ftsString(strings.Join(store.Words(q.Text), " "))
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
	return "(" + strings.Join(quoted, " OR ") + ")"
}

// ftsString is s as an FTS5 string.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
