package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphconn/graphconn/store"
)

// The corpus of the stores' BenchmarkSearch: items of about 1 KB, whose
// words come from a vocabulary of vocabularySize words, drawn as words of
// a language are (Zipf's law: the word of rank r is about r times rarer
// than the first).
const vocabularySize = 2_000

// RunSearchBench runs the search benchmark on s, after PutSearchCorpus:
// searches as a user in two Entra groups and, directly or through another,
// in two external groups, for a page of 25 hits:
//
//   - word/frequent: the vocabulary's first word, in nearly every item
//   - word/common: its 30th, in about a third of the items
//   - word/typical: a word drawn at random from the vocabulary
//   - two-terms/typical, two-terms/frequent: two words, both required
//   - all: every item the user may see, the newest first
//   - typical+filter: a typical word and a restriction on a property
//   - typical+aggregation: a typical word and the buckets of a property
//
// It reports the hits' total per search (matches).
func RunSearchBench(b *testing.B, s store.Store, vocab []string) {
	ctx := context.Background()
	user := store.Principals{TenantID: Tenant, UserID: "user7", Groups: []string{"entra1", "entra2"}}
	rng := rand.New(rand.NewPCG(1, 2))
	typical := func() string { return vocab[rng.IntN(len(vocab))] }
	text := func(s string) *store.Query { return &store.Query{Op: store.QueryText, Text: s} }
	for _, bm := range []struct {
		name  string
		query func() *store.Query
		aggs  []store.AggregationRequest
	}{
		{"word/frequent", func() *store.Query { return text(vocab[0]) }, nil},
		{"word/common", func() *store.Query { return text(vocab[29]) }, nil},
		{"word/typical", func() *store.Query { return text(typical()) }, nil},
		{"two-terms/typical", func() *store.Query { return text(typical() + " " + typical()) }, nil},
		{"two-terms/frequent", func() *store.Query { return text(vocab[0] + " " + vocab[1]) }, nil},
		{"all", func() *store.Query { return &store.Query{Op: store.QueryAll} }, nil},
		{"typical+filter", func() *store.Query {
			return &store.Query{Op: store.QueryAnd, Children: []*store.Query{text(typical()),
				{Op: store.QueryEqual, Name: "category", Text: "category3"}}}
		}, nil},
		{"typical+aggregation", func() *store.Query { return text(typical()) },
			[]store.AggregationRequest{{Name: "category", Size: 10}}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			var matches int64
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Search(ctx, Tenant, store.SearchRequest{
					Connections: []string{"bench"}, Query: bm.query(), Principals: user, Size: 25, Aggregations: bm.aggs,
				})
				if err != nil {
					b.Fatalf("Search() = %v", err)
				}
				matches += res.Total
			}
			b.ReportMetric(float64(matches)/float64(b.N), "matches")
		})
	}
}

// PutSearchCorpus puts n items of the corpus on connection "bench" of s,
// which it creates with five properties (title and tags searchable,
// category, priority and due queryable), through PutItem by concurrent
// callers, and returns the vocabulary, the most frequent word first. A
// third of the items are granted to everyone, a third to one of 100 users,
// a third to one of 20 external groups; a tenth of them deny user7.
func PutSearchCorpus(b *testing.B, s store.Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	if err := s.CreateConnection(ctx, Tenant, &store.Connection{ID: "bench", Name: "Bench"}); err != nil {
		b.Fatalf("CreateConnection() = %v", err)
	}
	schema := &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
		{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true, Labels: []string{"title"}},
		{Name: "tags", Type: store.TypeStringCollection, IsSearchable: true, IsRetrievable: true},
		{Name: "category", Type: store.TypeString, IsQueryable: true, IsRefinable: true, IsRetrievable: true},
		{Name: "priority", Type: store.TypeInt64, IsQueryable: true, IsRetrievable: true},
		{Name: "due", Type: store.TypeDateTime, IsQueryable: true, IsRetrievable: true},
	}}
	if _, err := s.RegisterSchema(ctx, Tenant, "bench", schema, nil, time.Now()); err != nil {
		b.Fatalf("RegisterSchema() = %v", err)
	}
	if _, err := s.FinishDue(ctx, time.Now().Add(time.Second)); err != nil {
		b.Fatalf("FinishDue() = %v", err)
	}
	// External groups: ext0 to ext19; user7 is in ext3 directly and in
	// ext5 through ext4, and entra1 is in ext6.
	for i := range 20 {
		if err := s.CreateGroup(ctx, Tenant, &store.ExternalGroup{ConnectionID: "bench", ID: fmt.Sprint("ext", i), DisplayName: "g"}); err != nil {
			b.Fatalf("CreateGroup() = %v", err)
		}
	}
	for _, m := range []struct{ group, id, typ string }{
		{"ext3", "user7", "user"}, {"ext4", "user7", "user"}, {"ext5", "ext4", "externalGroup"}, {"ext6", "entra1", "group"},
		{"ext8", "user9", "user"}, {"ext9", "ext8", "externalGroup"},
	} {
		if err := s.AddMember(ctx, Tenant, "bench", m.group, &store.Member{ID: m.id, Type: m.typ}); err != nil {
			b.Fatalf("AddMember() = %v", err)
		}
	}

	vocab := vocabulary()
	start := time.Now()
	const callers = 64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			zipf := rand.NewZipf(rng, 1.1, 1, vocabularySize-1)
			for i := c; i < n; i += callers {
				if _, err := s.PutItem(ctx, Tenant, corpusItem(i, rng, zipf, vocab), 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("PutItem() = %v", err)
	}
	b.Logf("put %d items in %v", n, time.Since(start).Round(time.Millisecond))
	return vocab
}

// vocabulary is vocabularySize distinct made-up words of 3 to 9 letters.
func vocabulary() []string {
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[string]bool{}
	var out []string
	for len(out) < vocabularySize {
		w := make([]byte, 3+rng.IntN(7))
		for i := range w {
			w[i] = "abcdefghijklmnoprstuvwyz"[rng.IntN(24)]
		}
		if !seen[string(w)] {
			seen[string(w)] = true
			out = append(out, string(w))
		}
	}
	return out
}

// corpusItem is the i-th item of the corpus: about 1 KB, of which 800
// bytes of content.
func corpusItem(i int, rng *rand.Rand, zipf *rand.Zipf, vocab []string) *store.Item {
	words := func(n int) string {
		w := make([]string, n)
		for j := range w {
			w[j] = vocab[zipf.Uint64()]
		}
		return strings.Join(w, " ")
	}
	var content strings.Builder
	for content.Len() < 800 {
		content.WriteString(words(1) + " ")
	}
	props, err := json.Marshal(map[string]any{
		"title":    words(6),
		"tags":     []string{words(1), words(1), words(1)},
		"category": fmt.Sprint("category", rng.IntN(20)),
		"priority": rng.IntN(5),
		"due":      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
	})
	if err != nil {
		panic(err)
	}
	var acl []store.ACE
	switch i % 3 {
	case 0:
		acl = []store.ACE{{Type: "everyone", Value: Tenant, AccessType: "grant"}}
	case 1:
		acl = []store.ACE{{Type: "user", Value: fmt.Sprint("user", i%100), AccessType: "grant"}}
	case 2:
		acl = []store.ACE{{Type: "externalGroup", Value: fmt.Sprint("ext", i%20), AccessType: "grant"}}
	}
	if i%10 == 0 {
		acl = append(acl, store.ACE{Type: "user", Value: "user7", AccessType: "deny"})
	}
	return &store.Item{
		ConnectionID: "bench",
		ID:           fmt.Sprint("item", i),
		ACL:          acl,
		Properties:   props,
		Content:      &store.Content{Type: "text", Value: content.String()},
	}
}
