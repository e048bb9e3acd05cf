package store

import "context"

// Search: the stores keep an index of every item, written in the
// transaction that writes the item (PutItem, UpdateItem) and deleted with
// it (DeleteItem, DeleteConnection), so that an item the store has
// acknowledged is findable and a deleted one is not. What the index holds
// comes from the connection's registered schema (IndexOf): the free text of
// the searchable properties and of the content, and the values of the
// queryable and refinable properties. When a registration completes, the
// connection's items are indexed again under the new schema.

// IndexValue is one value of a queryable or refinable property, as the
// index keeps it: Str for strings (and the keys of aggregations), Num for
// numbers, booleans (0, 1) and dates (Unix seconds, with fractions).
type IndexValue struct {
	Name string // the property's registered name, in lower case
	Str  string // in lower case for matching; Key keeps the case
	Key  string // the value as an aggregation bucket's key shows it
	Num  *float64
}

// ItemIndex is what the index holds of one item.
type ItemIndex struct {
	Text   string // searchable properties and content, for full-text search
	Values []IndexValue
}

// QueryOp is the kind of a Query node.
type QueryOp uint8

// The kinds of Query nodes.
const (
	QueryAnd     QueryOp = iota // every child matches
	QueryOr                     // some child matches
	QueryNot                    // the one child does not match
	QueryText                   // free text: every word of Text, in the full-text index
	QueryPhrase                 // free text: the words of Text, in that order
	QueryEqual                  // property Name's value equals Text (ignoring case)
	QueryPrefix                 // property Name's value begins with Text (ignoring case)
	QueryCompare                // property Name's value compares to Num by Compare
	QueryAll                    // every item (an empty query, or "*")
)

// Query is a parsed KQL query, in terms of the index.
type Query struct {
	Op       QueryOp
	Children []*Query // of And, Or, Not
	Name     string   // the property, in lower case, of Equal, Prefix, Compare
	Text     string   // of Text, Phrase, Equal, Prefix
	Compare  string   // of Compare: "<", "<=", ">", ">=", "="
	Num      float64  // of Compare
}

// Principals is who is searching: the ACL entries they match.
type Principals struct {
	TenantID string   // matches everyone and everyoneExceptGuests entries of the tenant
	UserID   string   // the user's Entra object id: user entries, and members of external groups
	Groups   []string // the user's Entra groups: group entries, and members of external groups
}

// SearchRequest asks for one page of the items of some connections that
// match a query and that the principals may see.
type SearchRequest struct {
	Connections  []string // ranked together
	Query        *Query
	Principals   Principals
	From, Size   int
	Aggregations []AggregationRequest
}

// AggregationRequest asks for the most frequent values of a property among
// all the items that match (not only the page's).
type AggregationRequest struct {
	Name string // the property, in lower case
	Size int    // at most this many buckets
}

// SearchResult is a page of hits, best first.
type SearchResult struct {
	Hits         []SearchHit
	Total        int64 // every matching item the principals may see
	Aggregations [][]Bucket
}

// SearchHit is one matching item.
type SearchHit struct {
	Item *Item
	Rank float64 // higher is better; engines rank differently
}

// Bucket is one value of an aggregation and how many matching items have it.
type Bucket struct {
	Key   string
	Count int64
}

// Searcher searches the index. Items a principal is denied (an entry of
// type deny that matches it) are never returned, whatever grants them;
// others are returned when an entry grants them: everyone (and
// everyoneExceptGuests) of the tenant, the user, one of its groups, or an
// external group of the item's connection that holds the user or one of its
// groups, directly or through other external groups (membership cycles
// end).
type Searcher interface {
	Search(ctx context.Context, tenant string, r SearchRequest) (*SearchResult, error)
}
