package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/graphconn/graphconn/store"
)

// Search implements store.Searcher.
//
// The items that match are those of the searched connections whose access
// tokens (items.access) match the searcher's, as store/sqlite's index
// matches them,
//
//	access @@ ('grant' | ...) & !('deny' | ...)
//
// and whose words (items.search) match the free text of the query, as a
// tsquery of its words, so that GIN indexes find both, with no lookup per
// item. The rest of the query (restrictions on properties) are conditions
// on the item's seq: IN the items whose item_values match. The hits are
// the first of these rows in the order of ts_rank(), the ranked ones
// (store.RankWindow), or of seq, newest first.
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
		access := tsOr(grants)
		if len(denies) > 0 {
			access += " & !" + tsOr(denies)
		}
		cond := "i.tenant = " + w.param(tenant) + " AND i.connection_id = ANY(" + w.param(conns) + ")" +
			" AND i.access @@ " + w.param(access) + "::tsquery"
		var text string
		if len(plan.Text) > 0 {
			parts := make([]string, len(plan.Text))
			for i, t := range plan.Text {
				parts[i] = tsExpr(t)
			}
			text = w.param(strings.Join(parts, " & ")) + "::tsquery"
			cond += " AND i.search @@ " + text
		}
		for _, f := range plan.Filters {
			cond += " AND " + w.filter(f)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM items i WHERE `+cond, w.args...).Scan(&res.Total); err != nil {
			return err
		}
		if r.Size > 0 && int64(max(r.From, 0)) < res.Total {
			rank := ""
			if plan.Ranked {
				rank = text
			}
			if res.Hits, err = hits(ctx, tx, tenant, cond, w.args, rank, max(r.From, 0), r.Size); err != nil {
				return err
			}
		}
		for i, a := range r.Aggregations {
			if a.Size <= 0 || res.Total == 0 {
				continue
			}
			if res.Aggregations[i], err = aggregate(ctx, tx, cond, w.args, strings.ToLower(a.Name), a.Size); err != nil {
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

// rankWindow is store.RankWindow; tests lower it.
var rankWindow = store.RankWindow

// hits returns the page of the items that match cond: ranked (rank, the
// tsquery's parameter, is not ""), the first store.RankWindow matches (by
// seq, newest first) in the order of ts_rank(), then the others by seq;
// unranked, all of them by seq.
func hits(ctx context.Context, tx pgx.Tx, tenant, cond string, args []any, rank string, from, size int) ([]store.SearchHit, error) {
	n := len(args)
	limit, offset := fmt.Sprintf("$%d", n+1), fmt.Sprintf("$%d", n+2)
	args = append(args, size, from)
	var page string
	if rank == "" {
		page = `SELECT i.seq, 0::real AS score, 0 AS tier FROM items i WHERE ` + cond + `
			ORDER BY i.seq DESC LIMIT ` + limit + ` OFFSET ` + offset
	} else {
		// ts_rank() of the window's rows only: the subquery limits them
		// before the outer query ranks them.
		window := fmt.Sprintf(`SELECT w.seq, ts_rank(w.search, %s) AS score, 0 AS tier FROM (
				SELECT i.seq, i.search FROM items i WHERE %s ORDER BY i.seq DESC LIMIT %d) w`, rank, cond, rankWindow)
		if from+size > rankWindow {
			window += fmt.Sprintf(` UNION ALL SELECT t.seq, 0, 1 FROM (
				SELECT i.seq FROM items i WHERE %s ORDER BY i.seq DESC OFFSET %d) t`, cond, rankWindow)
		}
		page = `SELECT seq, score, tier FROM (` + window + `) AS r ORDER BY tier, score DESC, seq DESC LIMIT ` + limit + ` OFFSET ` + offset
	}
	rows, err := tx.Query(ctx, `SELECT p.score, i.connection_id, i.id, `+prefixed("i.", itemColumns)+`
		FROM (`+page+`) AS p JOIN items i ON i.seq = p.seq
		ORDER BY p.tier, p.score DESC, p.seq DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.SearchHit{}
	for rows.Next() {
		it := &store.Item{Tenant: tenant}
		var score float32
		if err := scanItem(hitRow{rows, &score, it}, it); err != nil {
			return nil, err
		}
		out = append(out, store.SearchHit{Item: it, Rank: float64(score)})
	}
	return out, rows.Err()
}

// hitRow scans the leading columns of a hit, then the item's as scanItem
// wants.
type hitRow struct {
	rows  pgx.Rows
	score *float32
	it    *store.Item
}

func (r hitRow) Scan(dest ...any) error {
	return r.rows.Scan(append([]any{r.score, &r.it.ConnectionID, &r.it.ID}, dest...)...)
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
func aggregate(ctx context.Context, tx pgx.Tx, cond string, args []any, name string, size int) ([]store.Bucket, error) {
	n := len(args)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT min(v.key), count(DISTINCT v.item) AS n
		FROM items i JOIN item_values v ON v.item = i.seq AND v.name = $%d
		WHERE %s
		GROUP BY v.str ORDER BY n DESC, v.str LIMIT $%d`, n+1, cond, n+2), append(args, name, size)...)
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
