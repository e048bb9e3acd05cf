package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/internal/kql"
	"github.com/graphconn/graphconn/store"
)

const (
	// defaultSearchSize is Graph's page of hits when size is absent.
	defaultSearchSize = 25
	// maxBuckets is the most buckets an aggregation returns, as in Graph.
	maxBuckets = 100
	// defaultBuckets is an aggregation's buckets when its size is absent.
	defaultBuckets = 10
	// summaryRunes is about how long a hit's summary is.
	summaryRunes = 200
	// tokenPrefix begins Graph's aggregationFilterToken: the bucket's key,
	// in hexadecimal, follows.
	tokenPrefix = "ǂǂ"
)

// searchSource is one connection searched, with its registered schema.
type searchSource struct {
	id     string
	schema *store.Schema
	props  map[string]*store.Property // by lower-case name and alias
}

// V1SearchQuery searches the items of the tenant's connections that the
// signed-in user may see (and /beta/search/query).
func (s *Server) V1SearchQuery(c echo.Context, _ gen.V1SearchQueryParams) error {
	p := principalOf(c)
	if p == nil || !p.Delegated {
		return newError(http.StatusForbidden, "Authorization_RequestDenied",
			"Searching external items needs a user's (delegated) token with ExternalItem.Read.All; an application's token cannot search them.")
	}
	var body gen.MicrosoftGraphSearchQueryRequest
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	r := body.Requests[0]
	for _, t := range r.EntityTypes {
		if t != "externalItem" {
			return badRequest("The entity type '%s' is not served here: graphconn searches externalItem only.", t)
		}
	}
	if r.SortProperties != nil && len(*r.SortProperties) > 0 {
		return badRequest("Sorting by sortProperties is not supported on externalItem, as in Microsoft Search.")
	}
	sources, err := s.searchSources(c, deref(r.ContentSources))
	if err != nil {
		return err
	}
	q := r.Query.QueryString
	if t := deref(r.Query.QueryTemplate); t != "" {
		q = strings.ReplaceAll(t, "{searchTerms}", q)
	}
	parsed, err := kql.Parse(q)
	if err != nil {
		return badRequest("%s", err.Error())
	}
	var terms []string
	query, err := toStoreQuery(parsed, sources, &terms)
	if err != nil {
		return err
	}
	if f := deref(r.AggregationFilters); len(f) > 0 {
		and := &store.Query{Op: store.QueryAnd, Children: []*store.Query{query}}
		for _, filter := range f {
			fq, err := aggregationFilter(filter, sources)
			if err != nil {
				return err
			}
			and.Children = append(and.Children, fq)
		}
		query = and
	}
	req := store.SearchRequest{Query: query, From: int(deref(r.From)), Size: defaultSearchSize,
		Principals: store.Principals{TenantID: p.TenantID, UserID: p.ObjectID, Groups: p.Groups}}
	if r.Size != nil {
		req.Size = int(*r.Size)
	}
	for _, src := range sources {
		req.Connections = append(req.Connections, src.id)
	}
	aggs := deref(r.Aggregations)
	for _, a := range aggs {
		prop := findProperty(sources, a.Field, func(p *store.Property) bool { return p.IsRefinable })
		if prop == nil {
			return badRequest("The field '%s' cannot be aggregated: only refinable properties can.", truncate(a.Field, 128))
		}
		if d := a.BucketDefinition; d != nil && d.Ranges != nil && len(*d.Ranges) > 0 {
			return badRequest("Range buckets are not supported here.")
		}
		size := defaultBuckets
		if a.Size != nil {
			size = min(int(*a.Size), maxBuckets)
		}
		req.Aggregations = append(req.Aggregations, store.AggregationRequest{Name: strings.ToLower(prop.Name), Size: size})
	}
	var res *store.SearchResult
	if len(sources) > 0 {
		if res, err = s.store.Search(c.Request().Context(), tenantOf(c), req); err != nil {
			return err
		}
	} else {
		res = &store.SearchResult{Aggregations: make([][]store.Bucket, len(req.Aggregations))}
	}
	return c.JSON(http.StatusOK, searchResponse(c, r, req, res, sources, terms, aggs))
}

// searchSources are the connections that contentSources names (all of the
// tenant's that the caller may see when it names none), with their
// schemas; a connection without a registered schema has no items.
func (s *Server) searchSources(c echo.Context, names []string) ([]*searchSource, error) {
	ctx := c.Request().Context()
	var ids []string
	if len(names) == 0 {
		for after := ""; ; {
			page, next, err := s.store.Connections(ctx, tenantOf(c), "", store.Page{Limit: 1000, After: after})
			if err != nil {
				return nil, err
			}
			for _, conn := range page {
				ids = append(ids, conn.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		id, ok := strings.CutPrefix(strings.TrimPrefix(n, "/"), "external/connections/")
		if !ok || id == "" || strings.Contains(id, "/") {
			return nil, badRequest("The content source '%s' is not one: name a connection as /external/connections/{id}.", truncate(n, 256))
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var out []*searchSource
	for _, id := range ids {
		sch, err := s.store.Schema(ctx, tenantOf(c), id)
		switch {
		case store.KindOf(err) == store.NotFound:
			if _, err := s.store.Connection(ctx, tenantOf(c), id); store.KindOf(err) == store.NotFound {
				return nil, badRequest("The content source '/external/connections/%s' does not exist.", truncate(id, 128))
			} else if err != nil {
				return nil, err
			}
			continue // no schema, no items
		case err != nil:
			return nil, err
		}
		src := &searchSource{id: id, schema: sch, props: map[string]*store.Property{}}
		for i := range sch.Properties {
			prop := &sch.Properties[i]
			src.props[strings.ToLower(prop.Name)] = prop
			for _, a := range prop.Aliases {
				if _, ok := src.props[strings.ToLower(a)]; !ok {
					src.props[strings.ToLower(a)] = prop
				}
			}
		}
		out = append(out, src)
	}
	return out, nil
}

// findProperty is the property named name (or aliased so) in the first
// source that has one for which ok holds.
func findProperty(sources []*searchSource, name string, ok func(*store.Property) bool) *store.Property {
	for _, src := range sources {
		if p := src.props[strings.ToLower(name)]; p != nil && ok(p) {
			return p
		}
	}
	return nil
}

// nothing matches no item.
func nothing() *store.Query {
	return &store.Query{Op: store.QueryNot, Children: []*store.Query{{Op: store.QueryAll}}}
}

// toStoreQuery resolves a parsed query against the sources' schemas; it
// adds the free-text words to terms, for the summaries and searchTerms.
func toStoreQuery(n *kql.Node, sources []*searchSource, terms *[]string) (*store.Query, error) {
	switch n.Op {
	case kql.And, kql.Or, kql.Not:
		op := map[kql.Op]store.QueryOp{kql.And: store.QueryAnd, kql.Or: store.QueryOr, kql.Not: store.QueryNot}[n.Op]
		out := &store.Query{Op: op}
		for _, ch := range n.Children {
			q, err := toStoreQuery(ch, sources, terms)
			if err != nil {
				return nil, err
			}
			out.Children = append(out.Children, q)
		}
		return out, nil
	case kql.All:
		return &store.Query{Op: store.QueryAll}, nil
	case kql.Word:
		words := textWords(n.Text)
		if len(words) == 0 {
			return &store.Query{Op: store.QueryAll}, nil
		}
		*terms = append(*terms, words...)
		text := strings.Join(words, " ")
		if n.Prefix {
			text += "*"
		}
		return &store.Query{Op: store.QueryText, Text: text}, nil
	case kql.Phrase:
		words := textWords(n.Text)
		if len(words) == 0 {
			return &store.Query{Op: store.QueryAll}, nil
		}
		*terms = append(*terms, words...)
		return &store.Query{Op: store.QueryPhrase, Text: strings.Join(words, " ")}, nil
	}
	prop := findProperty(sources, n.Field, func(p *store.Property) bool { return p.IsQueryable })
	if prop == nil {
		return nothing(), nil // only queryable properties can be restricted
	}
	name := strings.ToLower(prop.Name)
	switch prop.Type {
	case store.TypeString, store.TypeStringCollection:
		if n.Cmp != ":" && n.Cmp != "=" {
			return nil, badRequest("The restriction '%s%s%s' compares text; only numbers and dates compare with %s.", n.Field, n.Cmp, truncate(n.Text, 64), n.Cmp)
		}
		if n.Prefix {
			return &store.Query{Op: store.QueryPrefix, Name: name, Text: strings.ToLower(n.Text)}, nil
		}
		return &store.Query{Op: store.QueryEqual, Name: name, Text: strings.ToLower(n.Text)}, nil
	case store.TypeBoolean:
		b, err := strconv.ParseBool(n.Text)
		if err != nil || n.Cmp != ":" && n.Cmp != "=" {
			return nil, badRequest("The restriction '%s%s%s' must be %s:true or %s:false.", n.Field, n.Cmp, truncate(n.Text, 64), n.Field, n.Field)
		}
		v := 0.0
		if b {
			v = 1
		}
		return &store.Query{Op: store.QueryCompare, Name: name, Compare: "=", Num: v}, nil
	case store.TypeDateTime, store.TypeDateTimeCollection:
		return dateRestriction(n, name)
	case store.TypeInt64, store.TypeInt64Collection, store.TypeDouble, store.TypeDoubleCollection:
		v, err := strconv.ParseFloat(n.Text, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || n.Prefix {
			return nil, badRequest("The restriction '%s%s%s' needs a number.", n.Field, n.Cmp, truncate(n.Text, 64))
		}
		return &store.Query{Op: store.QueryCompare, Name: name, Compare: compareOp(n.Cmp), Num: v}, nil
	}
	return nothing(), nil
}

func compareOp(cmp string) string {
	if cmp == ":" {
		return "="
	}
	return cmp
}

// dateRestriction compares a dateTime property: to an instant (ISO 8601),
// or to a day (2026-11-30), which name:day matches as a whole.
func dateRestriction(n *kql.Node, name string) (*store.Query, error) {
	if t, err := time.Parse(time.RFC3339Nano, n.Text); err == nil && !n.Prefix {
		return &store.Query{Op: store.QueryCompare, Name: name, Compare: compareOp(n.Cmp), Num: unixSeconds(t)}, nil
	}
	day, err := time.Parse("2006-01-02", n.Text)
	if err != nil || n.Prefix {
		return nil, badRequest("The restriction '%s%s%s' needs a date (2026-11-30) or a date and time in ISO 8601.", n.Field, n.Cmp, truncate(n.Text, 64))
	}
	start, end := unixSeconds(day), unixSeconds(day.AddDate(0, 0, 1))
	switch n.Cmp {
	case ":", "=":
		return &store.Query{Op: store.QueryAnd, Children: []*store.Query{
			{Op: store.QueryCompare, Name: name, Compare: ">=", Num: start},
			{Op: store.QueryCompare, Name: name, Compare: "<", Num: end},
		}}, nil
	case ">":
		return &store.Query{Op: store.QueryCompare, Name: name, Compare: ">=", Num: end}, nil
	case "<=":
		return &store.Query{Op: store.QueryCompare, Name: name, Compare: "<", Num: end}, nil
	}
	return &store.Query{Op: store.QueryCompare, Name: name, Compare: n.Cmp, Num: start}, nil
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// textWords are the words of free text, as the full-text index sees them
// (store.Words).
func textWords(s string) []string { return store.Words(s) }

// aggregationFilter is the query of one aggregationFilters entry:
// field:"token", the token an aggregation's bucket gave (or the key
// itself).
func aggregationFilter(f string, sources []*searchSource) (*store.Query, error) {
	field, value, ok := strings.Cut(f, ":")
	if !ok {
		return nil, badRequest("The aggregation filter '%s' is not field:\"token\".", truncate(f, 128))
	}
	prop := findProperty(sources, strings.TrimSpace(field), func(p *store.Property) bool { return p.IsRefinable })
	if prop == nil {
		return nil, badRequest("The aggregation filter '%s' names a field that is not refinable.", truncate(f, 128))
	}
	value = strings.Trim(strings.TrimSpace(value), `"`)
	if hexKey, ok := strings.CutPrefix(value, tokenPrefix); ok {
		key, err := hex.DecodeString(hexKey)
		if err != nil {
			return nil, badRequest("The aggregation filter '%s' has a token that no bucket gave.", truncate(f, 128))
		}
		value = string(key)
	}
	return &store.Query{Op: store.QueryEqual, Name: strings.ToLower(prop.Name), Text: strings.ToLower(value)}, nil
}

type searchHitOut struct {
	HitID         string            `json:"hitId"`
	Rank          int               `json:"rank"`
	Summary       string            `json:"summary"`
	ContentSource string            `json:"contentSource"`
	Resource      searchResourceOut `json:"resource"`
}

type searchResourceOut struct {
	Type       string          `json:"@odata.type"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

type bucketOut struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Token string `json:"aggregationFilterToken"`
}

type aggregationOut struct {
	Field   string      `json:"field"`
	Buckets []bucketOut `json:"buckets"`
}

type hitsContainerOut struct {
	Hits                 []searchHitOut   `json:"hits"`
	Total                int64            `json:"total"`
	MoreResultsAvailable bool             `json:"moreResultsAvailable"`
	Aggregations         []aggregationOut `json:"aggregations,omitempty"`
}

func searchResponse(c echo.Context, r gen.MicrosoftGraphSearchRequest, req store.SearchRequest, res *store.SearchResult,
	sources []*searchSource, terms []string, aggs []gen.MicrosoftGraphAggregationOption) any {
	byID := map[string]*searchSource{}
	for _, src := range sources {
		byID[src.id] = src
	}
	hits := make([]searchHitOut, 0, len(res.Hits))
	for i, h := range res.Hits {
		src := byID[h.Item.ConnectionID]
		hits = append(hits, searchHitOut{
			HitID: h.Item.ID, Rank: req.From + i + 1, ContentSource: h.Item.ConnectionID,
			Summary:  summary(searchText(src, h.Item), terms),
			Resource: searchResourceOut{Type: itemTypeName, Properties: retrievable(src, h.Item, r.Fields)},
		})
	}
	container := hitsContainerOut{Hits: hits, Total: res.Total, MoreResultsAvailable: int64(req.From+len(hits)) < res.Total}
	for i, a := range aggs {
		out := aggregationOut{Field: a.Field, Buckets: []bucketOut{}}
		if i < len(res.Aggregations) {
			for _, b := range sortBuckets(res.Aggregations[i], a.BucketDefinition) {
				out.Buckets = append(out.Buckets, bucketOut{Key: b.Key, Count: b.Count, Token: `"` + tokenPrefix + hex.EncodeToString([]byte(b.Key)) + `"`})
			}
		}
		container.Aggregations = append(container.Aggregations, out)
	}
	if terms == nil {
		terms = []string{}
	}
	return struct {
		Context string `json:"@odata.context"`
		Value   []any  `json:"value"`
	}{contextURL(c, "Collection(microsoft.graph.searchResponse)"), []any{struct {
		SearchTerms    []string           `json:"searchTerms"`
		HitsContainers []hitsContainerOut `json:"hitsContainers"`
	}{terms, []hitsContainerOut{container}}}}
}

// sortBuckets orders buckets as the aggregation's definition asks (by
// count, most first, unless set), keeping those with at least its minimum
// count and its prefix.
func sortBuckets(buckets []store.Bucket, d *gen.MicrosoftGraphBucketAggregationDefinition) []store.Bucket {
	out := make([]store.Bucket, 0, len(buckets))
	for _, b := range buckets {
		if d != nil && d.MinimumCount != nil && b.Count < int64(*d.MinimumCount) {
			continue
		}
		if d != nil && d.PrefixFilter != nil && !strings.HasPrefix(strings.ToLower(b.Key), strings.ToLower(*d.PrefixFilter)) {
			continue
		}
		out = append(out, b)
	}
	by, desc := "count", true
	if d != nil && d.SortBy != nil {
		by, desc = string(*d.SortBy), false
		if d.IsDescending != nil {
			desc = *d.IsDescending
		}
	}
	less := func(i, j int) bool {
		a, b := out[i], out[j]
		switch by {
		case "keyAsString":
			return a.Key < b.Key
		case "keyAsNumber":
			x, _ := strconv.ParseFloat(a.Key, 64)
			y, _ := strconv.ParseFloat(b.Key, 64)
			return x < y
		}
		if a.Count != b.Count {
			return a.Count < b.Count
		}
		return a.Key > b.Key // ties: by key, ascending once reversed
	}
	sort.SliceStable(out, func(i, j int) bool {
		if desc {
			return less(j, i)
		}
		return less(i, j)
	})
	return out
}

// retrievable is the item's properties that the schema lets search
// return, those that fields names only when it names any (unknown ones
// are ignored, as in Graph).
func retrievable(src *searchSource, it *store.Item, fields *[]string) json.RawMessage {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(it.Properties, &props); err != nil || src == nil {
		return json.RawMessage(`{}`)
	}
	want := map[string]bool{}
	if fields != nil {
		for _, f := range *fields {
			if p := src.props[strings.ToLower(f)]; p != nil {
				want[strings.ToLower(p.Name)] = true
			}
		}
	}
	out := map[string]json.RawMessage{}
	for name, v := range props {
		base, _ := strings.CutSuffix(name, "@odata.type")
		p := src.props[strings.ToLower(base)]
		if p == nil || !p.IsRetrievable || !strings.EqualFold(p.Name, base) {
			continue
		}
		if len(want) > 0 && !want[strings.ToLower(p.Name)] {
			continue
		}
		out[name] = v // the value, or its annotation
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return json.RawMessage(`{}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// searchText is the text a summary is cut from: the content, then the
// searchable properties.
func searchText(src *searchSource, it *store.Item) string {
	var parts []string
	if it.Content != nil && it.Content.Value != "" {
		v := it.Content.Value
		if it.Content.Type == "html" {
			v = store.HTMLText(v)
		}
		parts = append(parts, v)
	}
	if src != nil {
		var props map[string]any
		if json.Unmarshal(it.Properties, &props) == nil {
			names := make([]string, 0, len(props))
			for n := range props {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				p := src.props[strings.ToLower(n)]
				if p == nil || !p.IsSearchable {
					continue
				}
				switch v := props[n].(type) {
				case string:
					parts = append(parts, v)
				case []any:
					for _, x := range v {
						if s, ok := x.(string); ok {
							parts = append(parts, s)
						}
					}
				}
			}
		}
	}
	return strings.Join(parts, " … ")
}

// isASCII reports whether s is ASCII: such a word, in lower case, is
// already as store.Words would make it.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// summary is a piece of text around the first of the query's words that it
// holds, each of the words marked <c0>…</c0>, and <ddd/> where text was
// cut, as Microsoft Search writes summaries.
func summary(text string, terms []string) string {
	text = strings.Join(strings.Fields(text), " ")
	runes := []rune(text)
	lower := []rune(strings.ToLower(text))
	if len(lower) != len(runes) {
		lower = runes // a case mapping that changes lengths: match as is
	}
	want := map[string]bool{}
	for _, t := range terms {
		want[t] = true
	}
	// The words of the text, and which ones match.
	type span struct{ start, end int }
	var matches []span
	for i := 0; i < len(runes); {
		if !unicode.IsLetter(runes[i]) && !unicode.IsDigit(runes[i]) {
			i++
			continue
		}
		j := i
		for j < len(runes) && (unicode.IsLetter(runes[j]) || unicode.IsDigit(runes[j])) {
			j++
		}
		word := string(lower[i:j])
		if !isASCII(word) {
			word = strings.Join(store.Words(word), "") // without its diacritics, as the index has it
		}
		for t := range want {
			if word == t || strings.HasPrefix(word, t) && len(t) >= 3 {
				matches = append(matches, span{i, j})
				break
			}
		}
		i = j
	}
	start := 0
	if len(matches) > 0 && matches[0].start > summaryRunes/4 {
		start = matches[0].start - summaryRunes/4
		for start > 0 && runes[start-1] != ' ' {
			start++
		}
	}
	end := min(len(runes), start+summaryRunes)
	for end < len(runes) && end > start && runes[end-1] != ' ' {
		end--
	}
	if end <= start {
		end = min(len(runes), start+summaryRunes)
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("<ddd/>")
	}
	at := start
	for _, m := range matches {
		if m.start < start || m.end > end {
			continue
		}
		b.WriteString(string(runes[at:m.start]))
		b.WriteString("<c0>" + string(runes[m.start:m.end]) + "</c0>")
		at = m.end
	}
	b.WriteString(strings.TrimRight(string(runes[at:end]), " "))
	if end < len(runes) {
		b.WriteString("<ddd/>")
	}
	return b.String()
}
