package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
)

// Search implements store.Searcher.
//
// One tsquery over items.search finds the items, as store/sqlite's FTS5
// query does: the free text of the query, a tsquery of its words, and the
// searcher's access tokens (of the principals that the ACLs name),
//
//	(text...) & ('grant' | ...) & !('deny' | ...)
//
// so that the GIN index alone evaluates the ACLs, with no visit of the
// items it leaves out. The rest of the query (restrictions on properties)
// are conditions on the item's seq: IN the items whose item_values match.
//
// As store/sqlite's, the first query takes the newest store.RankWindow
// matches, and counts them all (count(*) OVER (), in the same pass). With
// free text, ts_rank() ranks them; the page
// is taken from them, and from the older matches, newest first, past the
// window. The page's items are read by their seq.
//
// All of it reads one snapshot of the database, in one read-only
// transaction at REPEATABLE READ.
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
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		ext, err := externalGroups(ctx, tx, tenant, conns, r.Principals)
		if err != nil {
			return err
		}
		grants, denies, err := accessTokens(ctx, tx, tenant, conns, r.Principals, ext)
		if err != nil {
			return err
		}
		if len(grants) == 0 {
			return nil // no item grants the searcher anything
		}
		plan := store.Plan(q)
		w := &where{}
		match := tsOr(grants)
		if len(denies) > 0 {
			match += " & !" + tsOr(denies)
		}
		var text string
		if len(plan.Text) > 0 {
			parts := make([]string, len(plan.Text))
			for i, t := range plan.Text {
				parts[i] = tsExpr(t)
			}
			text = strings.Join(parts, " & ")
			match = text + " & " + match
		}
		cond := "i.tenant = " + w.param(tenant) + " AND i.connection_id = ANY(" + w.param(conns) + ")" +
			" AND i.search @@ " + w.param(match) + "::tsquery"
		for _, f := range plan.Filters {
			cond += " AND " + w.filter(f)
		}

		newest, total, err := newestMatches(ctx, tx, cond, w.args)
		if err != nil {
			return err
		}
		res.Total = total
		from, size := max(r.From, 0), max(r.Size, 0)
		if size > 0 && int64(from) < res.Total {
			window := make([]scored, len(newest))
			for i, seq := range newest {
				window[i] = scored{seq: seq}
			}
			if plan.Ranked {
				if err := rank(ctx, tx, text, window); err != nil {
					return err
				}
			}
			var page []scored
			if from < len(window) {
				page = window[from:min(from+size, len(window))]
			}
			if end := from + size; end > len(window) && res.Total > int64(len(window)) {
				// Past the window: the older matches, newest first.
				start := max(from, len(window))
				older, err := seqs(ctx, tx, cond, w.args, end-start, start)
				if err != nil {
					return err
				}
				for _, seq := range older {
					page = append(page, scored{seq: seq})
				}
			}
			if res.Hits, err = hits(ctx, tx, tenant, page); err != nil {
				return err
			}
		}
		// The items to aggregate: all the matches, which the window
		// holds when they are fewer.
		matches, args := `SELECT i.seq FROM items i WHERE `+cond, w.args
		if res.Total == int64(len(newest)) {
			matches, args = `SELECT unnest($1::bigint[])`, []any{newest}
		}
		for i, a := range r.Aggregations {
			if a.Size <= 0 || res.Total == 0 {
				continue
			}
			if res.Aggregations[i], err = aggregate(ctx, tx, matches, args, strings.ToLower(a.Name), a.Size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, dbError("search", err)
	}
	return res, nil
}

// rankWindow is store.RankWindow; tests lower it.
var rankWindow = store.RankWindow

// newestMatches returns the seq of the newest rankWindow items that match
// cond, newest first, and the number of all the items that match, in one
// pass over them. MATERIALIZED keeps the planner from walking items in
// the order of seq, testing each against the tsquery, to stop at the
// window's last: the GIN index finds the matches, and a sort orders them.
func newestMatches(ctx context.Context, tx pgx.Tx, cond string, args []any) ([]int64, int64, error) {
	rows, err := tx.Query(ctx, fmt.Sprintf(`WITH m AS MATERIALIZED (SELECT i.seq FROM items i WHERE %s)
		SELECT seq, count(*) OVER () FROM m ORDER BY seq DESC LIMIT $%d`, cond, len(args)+1),
		append(args, rankWindow)...)
	if err != nil {
		return nil, 0, err
	}
	var out []int64
	var seq, total int64
	_, err = pgx.ForEachRow(rows, []any{&seq, &total}, func() error {
		out = append(out, seq)
		return nil
	})
	return out, total, err
}

// seqs returns the seq of the items that match cond, newest first: limit
// of them, past the first offset.
func seqs(ctx context.Context, tx pgx.Tx, cond string, args []any, limit, offset int) ([]int64, error) {
	n := len(args)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT i.seq FROM items i WHERE %s ORDER BY i.seq DESC LIMIT $%d OFFSET $%d`, cond, n+1, n+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// scored is an item's seq and its ts_rank() (higher is better).
type scored struct {
	seq   int64
	score float32
}

// rank sets the score of the items of the window, the newest matches, by
// the tsquery text, and sorts them, best first (then newest first).
func rank(ctx context.Context, tx pgx.Tx, text string, window []scored) error {
	ids := make([]int64, len(window))
	for i, s := range window {
		ids[i] = s.seq
	}
	rows, err := tx.Query(ctx, `SELECT seq, ts_rank(search, $1::tsquery) FROM items WHERE seq = ANY($2)`, text, ids)
	if err != nil {
		return err
	}
	scores := make(map[int64]float32, len(window))
	var seq int64
	var score float32
	if _, err := pgx.ForEachRow(rows, []any{&seq, &score}, func() error {
		scores[seq] = score
		return nil
	}); err != nil {
		return err
	}
	for i := range window {
		window[i].score = scores[window[i].seq]
	}
	slices.SortFunc(window, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(b.seq, a.seq))
	})
	return nil
}

// accessTokens returns the access tokens that the principals p, in the
// external groups ext (by connection), match among those that the ACLs of
// the connections name (acl_principals): those of the searcher's
// principals that an entry grants, and those that an entry denies. Only
// those are hashed, and only those go into the tsquery.
func accessTokens(ctx context.Context, tx pgx.Tx, tenant string, conns []string, p store.Principals, ext map[string][]string) (grants, denies []string, err error) {
	var user *string
	if p.UserID != "" {
		user = &p.UserID
	}
	groups := p.Groups
	if groups == nil {
		groups = []string{}
	}
	extGroups := []string{}
	for _, g := range ext {
		extGroups = append(extGroups, g...)
	}
	rows, err := tx.Query(ctx, `SELECT connection_id, kind, value, access FROM acl_principals
		WHERE tenant = $1 AND connection_id = ANY($2) AND (
			(kind = 'everyone' AND value = '') OR (kind = 'user' AND value = $3)
			OR (kind = 'group' AND value = ANY($4)) OR (kind = 'externalGroup' AND value = ANY($5)))`,
		tenant, conns, user, groups, extGroups)
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
func externalGroups(ctx context.Context, tx pgx.Tx, tenant string, conns []string, p store.Principals) (map[string][]string, error) {
	var user *string
	if p.UserID != "" {
		user = &p.UserID
	}
	groups := p.Groups
	if groups == nil {
		groups = []string{}
	}
	rows, err := tx.Query(ctx, `WITH RECURSIVE eg(connection_id, id) AS (
			SELECT m.connection_id, m.group_id FROM group_members m
			WHERE m.tenant = $1 AND m.connection_id = ANY($2)
				AND ((m.type = 'user' AND m.member_id = $3) OR (m.type = 'group' AND m.member_id = ANY($4)))
			UNION
			SELECT m.connection_id, m.group_id FROM eg JOIN group_members m
				ON m.tenant = $1 AND m.connection_id = eg.connection_id AND m.member_id = eg.id AND m.type = 'externalGroup'
		)
		SELECT connection_id, id FROM eg`, tenant, conns, user, groups)
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

// hits reads the items of the page, in its order.
func hits(ctx context.Context, tx pgx.Tx, tenant string, page []scored) ([]store.SearchHit, error) {
	out := []store.SearchHit{}
	if len(page) == 0 {
		return out, nil
	}
	ids := make([]int64, len(page))
	for i, s := range page {
		ids[i] = s.seq
	}
	rows, err := tx.Query(ctx, `SELECT seq, connection_id, id, `+itemColumns+` FROM items WHERE seq = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := make(map[int64]*store.Item, len(page))
	for rows.Next() {
		it := &store.Item{Tenant: tenant}
		var seq int64
		if err := scanItem(hitRow{rows, &seq, it}, it); err != nil {
			return nil, err
		}
		items[seq] = it
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, s := range page {
		if it := items[s.seq]; it != nil {
			out = append(out, store.SearchHit{Item: it, Rank: float64(s.score)})
		}
	}
	return out, nil
}

// hitRow scans the leading columns of a hit, then the item's as scanItem
// wants.
type hitRow struct {
	rows pgx.Rows
	seq  *int64
	it   *store.Item
}

func (r hitRow) Scan(dest ...any) error {
	return r.rows.Scan(append([]any{r.seq, &r.it.ConnectionID, &r.it.ID}, dest...)...)
}

// aggregate returns the buckets of property name's values among the items
// whose seq matches selects, the most frequent first.
func aggregate(ctx context.Context, tx pgx.Tx, matches string, args []any, name string, size int) ([]store.Bucket, error) {
	n := len(args)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT min(v.key), count(DISTINCT v.item) AS n
		FROM (%s) AS m(item) JOIN item_values v ON v.item = m.item AND v.name = $%d
		GROUP BY v.str ORDER BY n DESC, v.str LIMIT $%d`, matches, n+1, n+2), append(args, name, size)...)
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

// where builds the condition of a search on items (as i) and its
// arguments, numbered $1, $2, ... in the order it adds them; the first two
// are the tenant and the connections.
type where struct {
	args []any
}

func (w *where) param(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

// filter is the condition of q, a part of a normalized query that is not
// free text alone, on the items.
func (w *where) filter(q *store.Query) string {
	if store.FreeText(q) {
		return "i.search @@ " + w.param(tsExpr(q)) + "::tsquery"
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
		return "true"
	}
	var cond string
	switch q.Op {
	case store.QueryEqual:
		cond = "str = " + w.param(q.Text)
	case store.QueryPrefix:
		cond = "str LIKE " + w.param(likePrefix(q.Text))
	case store.QueryCompare:
		cond = "num " + q.Compare + " " + w.param(q.Num) + "::float8" // Compare is one of five, as NormalizeQuery checked
	}
	// $1 and $2 are the tenant and the connections.
	return "i.seq IN (SELECT item FROM item_values WHERE tenant = $1 AND connection_id = ANY($2) AND name = " + w.param(q.Name) + " AND " + cond + ")"
}

// likePrefix is the LIKE pattern of the strings that begin with p: its
// wildcards and the escape character (a backslash) escaped.
func likePrefix(p string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p) + "%"
}

// tsExpr writes free text as a tsquery, each word a quoted lexeme (the
// words are letters and digits, store.Words, so that nothing of the
// client's is tsquery syntax).
func tsExpr(q *store.Query) string {
	switch q.Op {
	case store.QueryText:
		var parts []string
		for _, t := range store.Terms(q.Text) {
			p := quoteLexeme(t.Word)
			if t.Prefix {
				p += ":*"
			}
			parts = append(parts, p)
		}
		return "(" + strings.Join(parts, " & ") + ")"
	case store.QueryPhrase:
		words := store.Words(q.Text)
		for i, w := range words {
			words[i] = quoteLexeme(w)
		}
		return "(" + strings.Join(words, " <-> ") + ")"
	case store.QueryAnd, store.QueryOr:
		op := " & "
		if q.Op == store.QueryOr {
			op = " | "
		}
		parts := make([]string, len(q.Children))
		for i, c := range q.Children {
			parts[i] = tsExpr(c)
		}
		return "(" + strings.Join(parts, op) + ")"
	case store.QueryNot:
		return "!" + tsExpr(q.Children[0])
	}
	panic(fmt.Sprintf("postgres: %d is not free text", q.Op))
}

// tsOr matches the tsvectors with any of the tokens.
func tsOr(tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		quoted[i] = quoteLexeme(t)
	}
	return "(" + strings.Join(quoted, " | ") + ")"
}
