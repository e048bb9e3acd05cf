package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// What the stores' search indexes share, so that both index and match
// alike: the words of text, the tokens of access, and the shape of a query.

// Words are the words of text as the search index holds them and matches
// them: the runs of letters and digits of text in lower case, as the
// server splits a query into words, each without its diacritics ("Café"
// is "cafe"), and cut to MaxWordBytes. The stores index these words,
// joined by spaces, and search for them, whatever their engines'
// tokenizers would have made of the text: SQLite's and PostgreSQL's then
// agree.
func Words(text string) []string {
	var out []string
	text = strings.ToLower(text)
	for start := 0; start < len(text); {
		// The next word: a run of letters and digits, ASCII or not.
		ascii := true
		end := start
		for end < len(text) {
			c := text[end]
			if c < utf8.RuneSelf {
				if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
					break
				}
				end++
				continue
			}
			r, n := utf8.DecodeRuneInString(text[end:])
			if notWordRune(r) {
				break
			}
			ascii = false
			end += n
		}
		switch w := text[start:end]; {
		case w == "":
			_, n := utf8.DecodeRuneInString(text[end:])
			start = end + n
			continue
		case ascii:
			out = append(out, cut(w))
		default:
			for _, p := range strings.FieldsFunc(plain(w), notWordRune) {
				out = append(out, cut(p))
			}
		}
		start = end
	}
	return out
}

// MaxWordBytes is the longest word that the index keeps whole (a longer
// one is cut to it): PostgreSQL's lexemes have at most 2047 bytes, and a
// word that long is no word but an encoded blob.
const MaxWordBytes = 255

func cut(w string) string {
	if len(w) <= MaxWordBytes {
		return w
	}
	n := MaxWordBytes
	for n > 0 && !utf8.RuneStart(w[n]) {
		n--
	}
	return w[:n]
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// plain is w without its diacritics: decomposed, without the nonspacing
// marks, composed again (so that Hangul syllables stay whole).
func plain(w string) string {
	d := norm.NFD.String(w)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

// A Term is a word of a free-text query (QueryText): the item's text must
// hold it, or, when Prefix, a word that begins with it.
type Term struct {
	Word   string
	Prefix bool
}

// Terms are the words of a QueryText's Text: each of its space-separated
// words, as Words makes them; one that ends in '*' is a prefix (its last
// word, when Words splits it).
func Terms(text string) []Term {
	var out []Term
	for _, f := range strings.Fields(text) {
		prefix := strings.HasSuffix(f, "*")
		words := Words(f)
		for i, w := range words {
			out = append(out, Term{Word: w, Prefix: prefix && i == len(words)-1})
		}
	}
	return out
}

// Access tokens. The index keeps an item's ACL as tokens, one per entry,
// that a search matches against the tokens of the searcher: an entry
// matches a principal when their tokens are equal. A token hashes the
// tenant, the connection, whether it grants or denies, the kind of
// principal and its id: everyone (and everyoneExceptGuests, the same to a
// searcher, who is never a guest) of the tenant, a user, a group, or an
// external group of the connection. The hash keeps ids of any characters
// one token for both engines' tokenizers, and the tenant and connection in
// it keep a token from matching another connection's entry. A token is a
// letter, '_' and hexadecimal digits: never one of Words, which are
// letters and digits only, so that no text is ever taken for access.
const (
	grantToken      = 'g'
	denyToken       = 'd'
	connectionToken = 'c'
)

// AccessTokens are the tokens of an item of connection connID, in the
// order of acl: the connection's token (ConnectionToken), then one per
// entry that grants or denies a kind of principal the index knows.
func AccessTokens(tenant, connID string, acl []ACE) []string {
	out := []string{ConnectionToken(tenant, connID)}
	for _, e := range acl {
		grant, ok := AccessOf(e.AccessType)
		if !ok {
			continue
		}
		kind, value, ok := PrincipalOf(e.Type, e.Value)
		if !ok {
			continue
		}
		if tok := AccessToken(grant, tenant, connID, kind, value); !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// AccessOf reports whether an entry of access type t grants (true) or
// denies (false); ok is false for another type, which the index ignores.
func AccessOf(t string) (grant, ok bool) {
	switch t {
	case "grant":
		return true, true
	case "deny":
		return false, true
	}
	return false, false
}

// PrincipalOf is the principal that an entry of type typ and value names,
// as the index keeps it: kind "everyone" (for everyoneExceptGuests too,
// the same to a searcher, who is never a guest) with value "", or "user",
// "group" or "externalGroup" with the entry's value; ok is false for
// another type, which the index ignores. The stores' SQL that lists the
// principals of ACLs (acl_principals) does the same.
func PrincipalOf(typ, value string) (kind, v string, ok bool) {
	switch typ {
	case "everyone", "everyoneExceptGuests":
		return "everyone", "", true
	case "user", "group", "externalGroup":
		return typ, value, true
	}
	return "", "", false
}

// ConnectionToken is the token that every item of the connection has: all
// the items of the connection.
func ConnectionToken(tenant, connID string) string {
	return accessToken(connectionToken, tenant, connID, "", "")
}

// AccessToken is the token of the entries of connection connID that grant
// (or deny) the principal of kind and value (PrincipalOf): a searcher who
// is that principal matches it.
func AccessToken(grant bool, tenant, connID, kind, value string) string {
	if grant {
		return accessToken(grantToken, tenant, connID, kind, value)
	}
	return accessToken(denyToken, tenant, connID, kind, value)
}

// Holds reports whether the principals p, who are in the external groups
// extGroups of the entry's connection, are the principal of kind and
// value (PrincipalOf): every searcher is of everyone of its tenant.
func (p Principals) Holds(kind, value string, extGroups []string) bool {
	switch kind {
	case "everyone":
		return true
	case "user":
		return p.UserID != "" && value == p.UserID
	case "group":
		return slices.Contains(p.Groups, value)
	case "externalGroup":
		return slices.Contains(extGroups, value)
	}
	return false
}

func accessToken(access byte, tenant, connID, kind, value string) string {
	h := sha256.New()
	h.Write([]byte{access})
	for _, s := range []string{tenant, connID, kind, value} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	return string(access) + "_" + hex.EncodeToString(h.Sum(nil)[:12])
}

// RankWindow bounds the work of ranking. Of the items that match a query
// with free text, the stores rank by relevance the RankWindow most
// recently created (best first), and list the others after them, the most
// recently created first: ranking costs the engines a lookup per item, and
// a word that most items hold would otherwise cost a search hundreds of
// milliseconds. A query that matches fewer items is ranked whole.
const RankWindow = 2000

// Bounds of a query, which compiles to SQL whose nesting and parameters
// the engines limit.
const (
	maxQueryDepth = 32
	maxQueryNodes = 1000
)

// Nothing is a query that matches no item.
func Nothing() *Query {
	return &Query{Op: QueryNot, Children: []*Query{{Op: QueryAll}}}
}

// NormalizeQuery returns q in the shape the stores compile: nil is
// QueryAll; And and Or are flattened, without the children that change
// nothing, and with at least two children; a Text or Phrase without words
// is QueryAll, a Phrase of one word a Text; names and the text of Equal
// and Prefix are in lower case. Returns Invalid for a query that is not
// one: a Not without exactly one child, an unknown comparison, a node of
// an unknown kind, or a query too deep or too large to compile.
func NormalizeQuery(q *Query) (*Query, error) {
	nodes := 0
	return normalize(q, 0, &nodes)
}

func normalize(q *Query, depth int, nodes *int) (*Query, error) {
	if q == nil {
		return &Query{Op: QueryAll}, nil
	}
	*nodes++
	if depth > maxQueryDepth || *nodes > maxQueryNodes {
		return nil, E(Invalid, "The query is too complex: it nests more than %d deep or has more than %d parts.", maxQueryDepth, maxQueryNodes)
	}
	switch q.Op {
	case QueryAnd, QueryOr:
		out := &Query{Op: q.Op}
		for _, c := range q.Children {
			n, err := normalize(c, depth+1, nodes)
			if err != nil {
				return nil, err
			}
			switch {
			case n.Op == q.Op:
				out.Children = append(out.Children, n.Children...)
			case n.Op == QueryAll && q.Op == QueryAnd:
				// changes nothing
			case n.Op == QueryAll: // of an Or
				return n, nil
			default:
				out.Children = append(out.Children, n)
			}
		}
		switch len(out.Children) {
		case 0:
			if q.Op == QueryAnd {
				return &Query{Op: QueryAll}, nil
			}
			return Nothing(), nil
		case 1:
			return out.Children[0], nil
		}
		return out, nil
	case QueryNot:
		if len(q.Children) != 1 {
			return nil, E(Invalid, "A NOT of the query has %d operands, not one.", len(q.Children))
		}
		n, err := normalize(q.Children[0], depth+1, nodes)
		if err != nil {
			return nil, err
		}
		if n.Op == QueryNot && n.Children[0].Op != QueryAll {
			return n.Children[0], nil
		}
		return &Query{Op: QueryNot, Children: []*Query{n}}, nil
	case QueryText:
		terms := Terms(q.Text)
		if len(terms) == 0 {
			return &Query{Op: QueryAll}, nil
		}
		words := make([]string, len(terms))
		for i, t := range terms {
			words[i] = t.Word
			if t.Prefix {
				words[i] += "*"
			}
		}
		return &Query{Op: QueryText, Text: strings.Join(words, " ")}, nil
	case QueryPhrase:
		words := Words(q.Text)
		switch len(words) {
		case 0:
			return &Query{Op: QueryAll}, nil
		case 1:
			return &Query{Op: QueryText, Text: words[0]}, nil
		}
		return &Query{Op: QueryPhrase, Text: strings.Join(words, " ")}, nil
	case QueryEqual, QueryPrefix:
		return &Query{Op: q.Op, Name: strings.ToLower(IndexString(q.Name)), Text: strings.ToLower(IndexString(q.Text))}, nil
	case QueryCompare:
		switch q.Compare {
		case "<", "<=", ">", ">=", "=":
		default:
			return nil, E(Invalid, "The comparison '%s' is not one of <, <=, >, >= and =.", truncate(q.Compare))
		}
		return &Query{Op: QueryCompare, Name: strings.ToLower(IndexString(q.Name)), Compare: q.Compare, Num: q.Num}, nil
	case QueryAll:
		return q, nil
	}
	return nil, E(Invalid, "The query has a part of unknown kind %d.", q.Op)
}

// FreeText reports whether the normalized query q is free text alone:
// Text and Phrase under And, Or and Not, which the full-text index
// evaluates by itself.
func FreeText(q *Query) bool {
	switch q.Op {
	case QueryText, QueryPhrase:
		return true
	case QueryAnd, QueryOr, QueryNot:
		for _, c := range q.Children {
			if !FreeText(c) {
				return false
			}
		}
		return true
	}
	return false
}

// A SearchPlan is how a store evaluates a normalized query: Text, the
// conjuncts that are free text, by its full-text index, which ranks the
// items by them; Filters, the others, as conditions on the items.
type SearchPlan struct {
	Text    []*Query
	Filters []*Query
	// Ranked is true when Text has a word that is not negated: then
	// relevance orders the hits, and otherwise the most recently created
	// come first.
	Ranked bool
}

// Plan splits the normalized query q.
func Plan(q *Query) SearchPlan {
	var p SearchPlan
	conj := []*Query{q}
	if q.Op == QueryAnd {
		conj = q.Children
	}
	for _, c := range conj {
		switch {
		case c.Op == QueryAll:
		case FreeText(c):
			p.Text = append(p.Text, c)
			p.Ranked = p.Ranked || positive(c)
		default:
			p.Filters = append(p.Filters, c)
		}
	}
	return p
}

// positive reports whether the free text q has a word outside a Not.
func positive(q *Query) bool {
	switch q.Op {
	case QueryText, QueryPhrase:
		return true
	case QueryAnd, QueryOr:
		return slices.ContainsFunc(q.Children, positive)
	}
	return false
}

// IndexedAlike reports whether items index alike under schemas a and b
// (either nil for none): whether a connection's index must be rebuilt when
// b replaces a.
func IndexedAlike(a, b *Schema) bool {
	return indexKey(a) == indexKey(b)
}

func indexKey(s *Schema) string {
	if s == nil {
		return ""
	}
	var keys []string
	for _, p := range s.Properties {
		if p.IsSearchable || p.IsQueryable || p.IsRefinable {
			keys = append(keys, fmt.Sprintf("%q %s %t %t", strings.ToLower(p.Name), p.Type, p.IsSearchable, p.IsQueryable || p.IsRefinable))
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, "\n")
}
