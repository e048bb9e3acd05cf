package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
)

// searchTests are the cases of the conformance suite about search
// (store.Searcher): both stores must find the same items for the same
// requests.
var searchTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SearchFreeText", testSearchFreeText},
	{"SearchPrefixesAndPhrases", testSearchPrefixesAndPhrases},
	{"SearchProperties", testSearchProperties},
	{"SearchBooleans", testSearchBooleans},
	{"SearchACL", testSearchACL},
	{"SearchExternalGroups", testSearchExternalGroups},
	{"SearchManyGroups", testSearchManyGroups},
	{"SearchPaging", testSearchPaging},
	{"SearchRanking", testSearchRanking},
	{"SearchAggregations", testSearchAggregations},
	{"SearchConnectionsAndTenants", testSearchConnectionsAndTenants},
	{"SearchFollowsWrites", testSearchFollowsWrites},
	{"SearchReindexesOnRegistration", testSearchReindexes},
	{"SearchHostileText", testSearchHostileText},
	{"SearchInvalidQuery", testSearchInvalidQuery},
}

// searchSchema has a property of each kind that the index treats apart.
func searchSchema() *store.Schema {
	return &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
		{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true, Labels: []string{"title"}},
		{Name: "tags", Type: store.TypeStringCollection, IsSearchable: true, IsRetrievable: true},
		{Name: "secret", Type: store.TypeString, IsRetrievable: true},
		{Name: "Category", Type: store.TypeString, IsQueryable: true, IsRefinable: true, IsRetrievable: true},
		{Name: "labels", Type: store.TypeStringCollection, IsQueryable: true, IsRefinable: true},
		{Name: "priority", Type: store.TypeInt64, IsQueryable: true, IsRefinable: true},
		{Name: "score", Type: store.TypeDouble, IsQueryable: true},
		{Name: "due", Type: store.TypeDateTime, IsQueryable: true},
		{Name: "done", Type: store.TypeBoolean, IsQueryable: true},
	}}
}

// register registers schema sch on the connection and completes the
// registration.
func register(t *testing.T, s store.Store, tn, connID string, sch *store.Schema) {
	t.Helper()
	op, err := s.RegisterSchema(ctx, tn, connID, sch, nil, time.Now())
	if err != nil {
		t.Fatalf("RegisterSchema(%s) = %v", connID, err)
	}
	done, err := s.FinishDue(ctx, time.Now().Add(time.Second))
	if err != nil || done == nil || done.ID != op.ID || done.Status != store.StatusCompleted {
		t.Fatalf("FinishDue() = %+v, %v; want the registration of %s completed", done, err, connID)
	}
}

// searchConnection creates the connection with searchSchema registered.
func searchConnection(t *testing.T, s store.Store, tn, connID string) {
	t.Helper()
	if err := s.CreateConnection(ctx, tn, &store.Connection{ID: connID, Name: connID}); err != nil {
		t.Fatalf("CreateConnection(%s) = %v", connID, err)
	}
	register(t, s, tn, connID, searchSchema())
}

// The principals of the tests: alice is in two Entra groups, bob in none.
var (
	alice = store.Principals{TenantID: tenant, UserID: "alice", Groups: []string{"eng", "all-staff"}}
	bob   = store.Principals{TenantID: tenant, UserID: "bob"}
	carol = store.Principals{TenantID: tenant, UserID: "carol", Groups: []string{"legal"}}
	dave  = store.Principals{TenantID: tenant, UserID: "dave"}
)

// Entries of ACLs.
var (
	everyone = store.ACE{Type: "everyone", Value: tenant, AccessType: "grant"}
)

func grant(typ, value string) store.ACE {
	return store.ACE{Type: typ, Value: value, AccessType: "grant"}
}
func deny(typ, value string) store.ACE { return store.ACE{Type: typ, Value: value, AccessType: "deny"} }

// doc is an item of the connection with the properties (a JSON object),
// the content (text, or html when it begins with '<'; none when empty)
// and the ACL (everyone when none is given).
func doc(connID, id, props, content string, acl ...store.ACE) *store.Item {
	if acl == nil {
		acl = []store.ACE{everyone}
	}
	it := &store.Item{ConnectionID: connID, ID: id, ACL: acl, Properties: json.RawMessage(props)}
	switch {
	case strings.HasPrefix(content, "<"):
		it.Content = &store.Content{Type: "html", Value: content}
	case content != "":
		it.Content = &store.Content{Type: "text", Value: content}
	}
	return it
}

func putAll(t *testing.T, s store.Store, tn string, items ...*store.Item) {
	t.Helper()
	for _, it := range items {
		mustPutItem(t, s, tn, it)
	}
}

// Queries.
func text(s string) *store.Query   { return &store.Query{Op: store.QueryText, Text: s} }
func phrase(s string) *store.Query { return &store.Query{Op: store.QueryPhrase, Text: s} }
func equal(name, v string) *store.Query {
	return &store.Query{Op: store.QueryEqual, Name: name, Text: v}
}
func prefix(name, v string) *store.Query {
	return &store.Query{Op: store.QueryPrefix, Name: name, Text: v}
}
func compare(name, op string, n float64) *store.Query {
	return &store.Query{Op: store.QueryCompare, Name: name, Compare: op, Num: n}
}
func and(qs ...*store.Query) *store.Query { return &store.Query{Op: store.QueryAnd, Children: qs} }
func or(qs ...*store.Query) *store.Query  { return &store.Query{Op: store.QueryOr, Children: qs} }
func not(q *store.Query) *store.Query {
	return &store.Query{Op: store.QueryNot, Children: []*store.Query{q}}
}
func all() *store.Query { return &store.Query{Op: store.QueryAll} }

func unixSeconds(s string) float64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return float64(t.UnixNano()) / 1e9
}

func showQuery(q *store.Query) string {
	if q == nil {
		return "<nil>"
	}
	switch q.Op {
	case store.QueryAnd, store.QueryOr:
		op := map[store.QueryOp]string{store.QueryAnd: " AND ", store.QueryOr: " OR "}[q.Op]
		parts := make([]string, len(q.Children))
		for i, c := range q.Children {
			parts[i] = showQuery(c)
		}
		return "(" + strings.Join(parts, op) + ")"
	case store.QueryNot:
		parts := make([]string, len(q.Children))
		for i, c := range q.Children {
			parts[i] = showQuery(c)
		}
		return "NOT(" + strings.Join(parts, ", ") + ")"
	case store.QueryText:
		return fmt.Sprintf("%q", q.Text)
	case store.QueryPhrase:
		return fmt.Sprintf("phrase %q", q.Text)
	case store.QueryEqual:
		return fmt.Sprintf("%s=%q", q.Name, q.Text)
	case store.QueryPrefix:
		return fmt.Sprintf("%s=%q*", q.Name, q.Text)
	case store.QueryCompare:
		return fmt.Sprintf("%s%s%v", q.Name, q.Compare, q.Num)
	case store.QueryAll:
		return "*"
	}
	return fmt.Sprintf("op%d", q.Op)
}

func mustSearch(t *testing.T, s store.Store, tn string, r store.SearchRequest) *store.SearchResult {
	t.Helper()
	res, err := s.Search(ctx, tn, r)
	if err != nil {
		t.Fatalf("Search(%s, %v) = %v", showQuery(r.Query), r.Connections, err)
	}
	return res
}

// hitIDs are the ids of the hits, in order, each "connection/id" when
// the hits are of more than one connection.
func hitIDs(res *store.SearchResult, withConn bool) []string {
	ids := []string{}
	for _, h := range res.Hits {
		if withConn {
			ids = append(ids, h.Item.ConnectionID+"/"+h.Item.ID)
		} else {
			ids = append(ids, h.Item.ID)
		}
	}
	return ids
}

// wantFound checks that the search of q over the connections by p finds
// exactly the items want (in any order), and counts them.
func wantFound(t *testing.T, s store.Store, conns []string, p store.Principals, q *store.Query, want ...string) {
	t.Helper()
	res := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: q, Principals: p, Size: 1000})
	got := hitIDs(res, len(conns) > 1)
	slices.Sort(got)
	want = append([]string{}, want...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Search(%s) by %s finds %v, want %v", showQuery(q), p.UserID, got, want)
	}
	if res.Total != int64(len(want)) {
		t.Errorf("Search(%s) by %s: Total = %d, want %d", showQuery(q), p.UserID, res.Total, len(want))
	}
}

// Free text: the words of the searchable properties and of the content
// (the text of html), in any case and without diacritics; not those of
// other properties, nor html's markup.
func testSearchFreeText(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "a", `{"title":"Error in the payment gateway","tags":["billing","Urgent"],"secret":"hidden treasure"}`, "The gateway rejects cards"),
		doc("contosohr", "b", `{"title":"Quarterly report"}`,
			`<html><head><style>.payment{color:red}</style><script>var payment = 1;</script></head><body><p>Revenue &amp; <b>growth</b> in Zürich&nbsp;office</p></body></html>`),
		doc("contosohr", "c", `{"title":"Café au lait","Category":"Payment"}`, ""),
		doc("contosohr", "d", `{"notInTheSchema":"payment","title":"Ünïcødé ✓ 日本語"}`, ""),
	)
	conns := []string{"contosohr"}
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"payment", []string{"a"}},
		{"PAYMENT", []string{"a"}},
		{"gateway rejects", []string{"a"}},      // title and content
		{"gateway revenue", nil},                // every word
		{"urgent", []string{"a"}},               // a collection
		{"hidden", nil},                         // not searchable
		{"revenue", []string{"b"}},              // html's text
		{"growth zurich office", []string{"b"}}, // diacritics, entities
		{"Zürich", []string{"b"}},
		{"color", nil}, // style
		{"var", nil},   // script
		{"html", nil},  // markup
		{"amp", nil},   // an entity is its character
		{"nbsp", nil},
		{"cafe", []string{"c"}},
		{"CAFÉ lait", []string{"c"}},
		{"unicode", nil}, // ø is a letter of its own
		{"UNICØDE", []string{"d"}},
		{"ünïcødé", []string{"d"}},
		{"日本語", []string{"d"}},
		{"quarterly, report!", []string{"b"}},
	} {
		wantFound(t, s, conns, alice, text(tt.q), tt.want...)
	}
}

// A word ending in '*' is a prefix; a phrase holds its words in order.
func testSearchPrefixesAndPhrases(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "a", `{"title":"Error in the payment gateway"}`, ""),
		doc("contosohr", "b", `{"title":"The gateway of payments"}`, ""),
		doc("contosohr", "c", `{"title":"Paymaster general"}`, "Le café est fermé"),
	)
	conns := []string{"contosohr"}
	wantFound(t, s, conns, alice, text("pay*"), "a", "b", "c")
	wantFound(t, s, conns, alice, text("payment*"), "a", "b")
	wantFound(t, s, conns, alice, text("payments*"), "b")
	wantFound(t, s, conns, alice, text("gate* err*"), "a")
	wantFound(t, s, conns, alice, text("caf*"), "c")
	wantFound(t, s, conns, alice, text("fermé*"), "c")
	wantFound(t, s, conns, alice, text("gatewa"))
	wantFound(t, s, conns, alice, phrase("payment gateway"), "a")
	wantFound(t, s, conns, alice, phrase("gateway payment"))
	wantFound(t, s, conns, alice, phrase("gateway of payments"), "b")
	wantFound(t, s, conns, alice, phrase("the gateway"), "b")
	wantFound(t, s, conns, alice, phrase("The Payment, Gateway!"), "a")
	wantFound(t, s, conns, alice, phrase("cafe est"), "c")
	wantFound(t, s, conns, alice, phrase("gateway"), "a", "b")
}

// Restrictions on queryable properties: equal and prefix ignoring case,
// and comparisons of numbers, dates and booleans.
func testSearchProperties(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "a", `{"title":"a","Category":"Finance","labels@odata.type":"Collection(String)","labels":["Q3","Budget"],"priority":1,"score":2.5,"due":"2026-01-15T10:00:00Z","done":true}`, ""),
		doc("contosohr", "b", `{"title":"b","category":"finance ops","labels":["q3"],"priority":5,"score":-1,"due":"2026-03-01T00:00:00Z","done":false}`, ""),
		doc("contosohr", "c", `{"title":"c","Category":"HR","priority":10,"score":100.25,"due":"2025-12-31T23:59:59.5Z"}`, ""),
		doc("contosohr", "d", `{"title":"d","Category":"50% off_sale \\ 'now'","priority":3}`, ""),
		doc("contosohr", "e", `{"title":"e","Category":"5x% off"}`, ""),
	)
	conns := []string{"contosohr"}
	for _, tt := range []struct {
		q    *store.Query
		want []string
	}{
		{equal("category", "finance"), []string{"a"}},
		{equal("Category", "FINANCE"), []string{"a"}},
		{equal("category", "fin"), nil},
		{equal("labels", "q3"), []string{"a", "b"}},
		{equal("labels", "budget"), []string{"a"}},
		{equal("title", "a"), nil}, // searchable, not queryable
		{equal("missing", "a"), nil},
		{prefix("category", "fin"), []string{"a", "b"}},
		{prefix("category", "finance "), []string{"b"}},
		{prefix("category", ""), []string{"a", "b", "c", "d", "e"}},
		{prefix("category", "50%"), []string{"d"}},
		{prefix("category", "5_%"), nil},
		{prefix("category", "5%"), nil},
		{prefix("category", "%"), nil},
		{prefix("category", "50% off_sale \\ 'n"), []string{"d"}},
		{equal("category", "50% off_sale \\ 'now'"), []string{"d"}},
		{prefix("labels", "b"), []string{"a"}},
		{compare("priority", ">", 3), []string{"b", "c"}},
		{compare("priority", ">=", 5), []string{"b", "c"}},
		{compare("priority", "<", 3), []string{"a"}},
		{compare("priority", "<=", 3), []string{"a", "d"}},
		{compare("priority", "=", 10), []string{"c"}},
		{compare("score", "<", 0), []string{"b"}},
		{compare("score", ">", 100.2), []string{"c"}},
		{compare("score", "=", 2.5), []string{"a"}},
		{compare("due", ">=", unixSeconds("2026-01-01T00:00:00Z")), []string{"a", "b"}},
		{compare("due", "<", unixSeconds("2026-01-01T00:00:00Z")), []string{"c"}},
		{compare("due", "=", unixSeconds("2025-12-31T23:59:59.5Z")), []string{"c"}},
		{compare("done", "=", 1), []string{"a"}},
		{compare("done", "=", 0), []string{"b"}},
		{and(compare("priority", ">", 1), compare("priority", "<", 10)), []string{"b", "d"}},
	} {
		wantFound(t, s, conns, alice, tt.q, tt.want...)
	}
}

// And, Or and Not, of free text and of restrictions, nested.
func testSearchBooleans(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "a", `{"title":"apple banana","priority":1}`, ""),
		doc("contosohr", "b", `{"title":"apple cherry","priority":2}`, ""),
		doc("contosohr", "c", `{"title":"banana cherry","priority":3}`, ""),
		doc("contosohr", "d", `{"title":"date","priority":4}`, ""),
	)
	conns := []string{"contosohr"}
	apple, banana, cherry, date := text("apple"), text("banana"), text("cherry"), text("date")
	for _, tt := range []struct {
		q    *store.Query
		want []string
	}{
		{nil, []string{"a", "b", "c", "d"}},
		{all(), []string{"a", "b", "c", "d"}},
		{not(all()), nil},
		{text("apple banana"), []string{"a"}},
		{and(apple, banana), []string{"a"}},
		{or(apple, date), []string{"a", "b", "d"}},
		{not(apple), []string{"c", "d"}},
		{and(cherry, not(apple)), []string{"c"}},
		{and(not(apple), not(date)), []string{"c"}},
		{or(apple, not(cherry)), []string{"a", "b", "d"}},
		{not(or(apple, banana)), []string{"d"}},
		{not(not(apple)), []string{"a", "b"}},
		{and(apple, compare("priority", ">", 1)), []string{"b"}},
		{or(date, compare("priority", "<=", 1)), []string{"a", "d"}},
		{not(or(apple, compare("priority", "=", 4))), []string{"c"}},
		{and(not(apple), not(compare("priority", "=", 3))), []string{"d"}},
		{or(and(apple, not(banana)), and(date, all())), []string{"b", "d"}},
		{and(or(apple, banana), or(cherry, compare("priority", "=", 1))), []string{"a", "b", "c"}},
		{and(all(), not(and(banana, not(compare("priority", ">", 2))))), []string{"b", "c", "d"}},
		{or(phrase("banana cherry"), and(), or()), []string{"a", "b", "c", "d"}}, // And() is everything, Or() nothing
		{and(apple, or()), nil},
	} {
		wantFound(t, s, conns, alice, tt.q, tt.want...)
	}
}

// ACLs: an item is visible when an entry grants it to the searcher and no
// entry denies it.
func testSearchACL(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	items := []*store.Item{
		doc("contosohr", "everyone", `{"title":"doc"}`, "", everyone),
		doc("contosohr", "exceptGuests", `{"title":"doc"}`, "", grant("everyoneExceptGuests", tenant)),
		doc("contosohr", "alice", `{"title":"doc"}`, "", grant("user", "alice")),
		doc("contosohr", "eng", `{"title":"doc"}`, "", grant("group", "eng")),
		doc("contosohr", "deniedAlice", `{"title":"doc"}`, "", everyone, deny("user", "alice")),
		doc("contosohr", "deniedEng", `{"title":"doc"}`, "", deny("group", "eng"), everyone),
		doc("contosohr", "deniedEveryone", `{"title":"doc"}`, "", grant("user", "alice"), grant("user", "bob"), deny("everyone", tenant)),
		doc("contosohr", "grantAndDenyAlice", `{"title":"doc"}`, "", grant("user", "alice"), deny("user", "alice")),
		doc("contosohr", "onlyDeny", `{"title":"doc"}`, "", deny("user", "bob")),
		doc("contosohr", "empty", `{"title":"doc"}`, ""),
		doc("contosohr", "carol", `{"title":"doc"}`, "", grant("user", "carol"), grant("group", "legal")),
		doc("contosohr", "unknown", `{"title":"doc"}`, "", grant("unknownFutureValue", "alice"), store.ACE{Type: "user", Value: "alice", AccessType: "unknownFutureValue"}),
		doc("contosohr", "caseMatters", `{"title":"doc"}`, "", grant("user", "ALICE"), grant("group", "Eng")),
	}
	items[9].ACL = []store.ACE{} // doc's default is everyone
	putAll(t, s, tenant, items...)
	conns := []string{"contosohr"}
	for _, q := range []*store.Query{all(), text("doc")} {
		wantFound(t, s, conns, alice, q, "everyone", "exceptGuests", "alice", "eng")
		// A user in no group sees the items granted to everyone, and those
		// granted to them, but for those denied to them.
		wantFound(t, s, conns, bob, q, "everyone", "exceptGuests", "deniedAlice", "deniedEng")
		wantFound(t, s, conns, carol, q, "everyone", "exceptGuests", "deniedAlice", "deniedEng", "carol")
		wantFound(t, s, conns, store.Principals{TenantID: tenant}, q, "everyone", "exceptGuests", "deniedAlice", "deniedEng")
		wantFound(t, s, conns, store.Principals{TenantID: tenant, UserID: "x", Groups: []string{"legal", "eng"}}, q,
			"everyone", "exceptGuests", "eng", "deniedAlice", "carol")
	}
}

// External groups: the items they are granted or denied to are for the
// users and groups they hold, directly or through other external groups of
// the connection, even in cycles; membership applies at once.
func testSearchExternalGroups(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	searchConnection(t, s, tenant, "fabrikam")
	groups := map[string][]*store.Member{
		"direct":  {{ID: "alice", Type: "user"}},
		"viaEng":  {{ID: "eng", Type: "group"}},
		"outer":   {{ID: "direct", Type: "externalGroup"}},
		"outer2":  {{ID: "outer", Type: "externalGroup"}, {ID: "carol", Type: "user"}},
		"cycleA":  {{ID: "cycleB", Type: "externalGroup"}, {ID: "dave", Type: "user"}},
		"cycleB":  {{ID: "cycleA", Type: "externalGroup"}},
		"cycleC":  {{ID: "cycleC", Type: "externalGroup"}},
		"lonely":  {{ID: "carol", Type: "user"}},
		"typo":    {{ID: "alice", Type: "group"}, {ID: "eng", Type: "user"}}, // the type must match
		"dangles": {{ID: "nowhere", Type: "externalGroup"}},
	}
	for id, members := range groups {
		mustCreateGroup(t, s, "contosohr", id)
		for _, m := range members {
			if err := s.AddMember(ctx, tenant, "contosohr", id, m); err != nil {
				t.Fatalf("AddMember(%s, %s) = %v", id, m.ID, err)
			}
		}
	}
	// fabrikam has a group "direct" of its own, of bob.
	mustCreateGroup(t, s, "fabrikam", "direct")
	if err := s.AddMember(ctx, tenant, "fabrikam", "direct", &store.Member{ID: "bob", Type: "user"}); err != nil {
		t.Fatalf("AddMember(fabrikam, direct, bob) = %v", err)
	}
	ext := func(id string) store.ACE { return grant("externalGroup", id) }
	putAll(t, s, tenant,
		doc("contosohr", "direct", `{"title":"doc"}`, "", ext("direct")),
		doc("contosohr", "viaEng", `{"title":"doc"}`, "", ext("viaEng")),
		doc("contosohr", "nested1", `{"title":"doc"}`, "", ext("outer")),
		doc("contosohr", "nested2", `{"title":"doc"}`, "", ext("outer2")),
		doc("contosohr", "cycleA", `{"title":"doc"}`, "", ext("cycleA")),
		doc("contosohr", "cycleB", `{"title":"doc"}`, "", ext("cycleB")),
		doc("contosohr", "cycleC", `{"title":"doc"}`, "", ext("cycleC")),
		doc("contosohr", "lonely", `{"title":"doc"}`, "", ext("lonely")),
		doc("contosohr", "typo", `{"title":"doc"}`, "", ext("typo")),
		doc("contosohr", "dangles", `{"title":"doc"}`, "", ext("dangles")),
		doc("contosohr", "missingGroup", `{"title":"doc"}`, "", ext("missing")),
		doc("contosohr", "deniedNested", `{"title":"doc"}`, "", everyone, deny("externalGroup", "outer2")),
		doc("contosohr", "deniedCycle", `{"title":"doc"}`, "", everyone, deny("externalGroup", "cycleB")),
		doc("fabrikam", "direct", `{"title":"doc"}`, "", ext("direct")),
	)
	both := []string{"contosohr", "fabrikam"}
	wantFound(t, s, both, alice, all(),
		"contosohr/direct", "contosohr/viaEng", "contosohr/nested1", "contosohr/nested2", "contosohr/deniedCycle")
	wantFound(t, s, both, bob, text("doc"), "contosohr/deniedNested", "contosohr/deniedCycle", "fabrikam/direct")
	wantFound(t, s, both, carol, all(), "contosohr/nested2", "contosohr/lonely", "contosohr/deniedCycle")
	wantFound(t, s, both, dave, all(), "contosohr/cycleA", "contosohr/cycleB", "contosohr/deniedNested")
	wantFound(t, s, both, store.Principals{TenantID: tenant, UserID: "eve", Groups: []string{"eng"}}, all(),
		"contosohr/viaEng", "contosohr/deniedNested", "contosohr/deniedCycle")

	// Membership changes apply to the next search: outer loses direct,
	// so alice is no longer in outer nor in outer2.
	if err := s.RemoveMember(ctx, tenant, "contosohr", "outer", "direct"); err != nil {
		t.Fatalf("RemoveMember() = %v", err)
	}
	wantFound(t, s, both, alice, all(), "contosohr/direct", "contosohr/viaEng", "contosohr/deniedNested", "contosohr/deniedCycle")
	if err := s.DeleteGroup(ctx, tenant, "contosohr", "direct"); err != nil {
		t.Fatalf("DeleteGroup() = %v", err)
	}
	wantFound(t, s, both, alice, all(), "contosohr/viaEng", "contosohr/deniedNested", "contosohr/deniedCycle")
}

// A user in thousands of groups (Graph allows 10,000 external groups per
// user) searches as one in a few.
func testSearchManyGroups(t *testing.T, s store.Store) {
	conns := []string{"c0", "c1", "c2"}
	for _, c := range conns {
		searchConnection(t, s, tenant, c)
	}
	p := store.Principals{TenantID: tenant, UserID: "many"}
	for i := range 3000 {
		p.Groups = append(p.Groups, fmt.Sprintf("entra-%04d", i))
	}
	mustCreateGroup(t, s, "c1", "ext")
	for i := range 500 {
		if err := s.AddMember(ctx, tenant, "c1", "ext", &store.Member{ID: fmt.Sprintf("entra-%04d", i*5), Type: "group"}); err != nil {
			t.Fatalf("AddMember() = %v", err)
		}
	}
	putAll(t, s, tenant,
		doc("c0", "byGroup", `{"title":"doc"}`, "", grant("group", "entra-2999")),
		doc("c1", "byExternalGroup", `{"title":"doc"}`, "", grant("externalGroup", "ext")),
		doc("c2", "denied", `{"title":"doc"}`, "", everyone, deny("group", "entra-1234")),
		doc("c2", "other", `{"title":"doc"}`, "", grant("group", "entra-3000")),
	)
	wantFound(t, s, conns, p, text("doc"), "c0/byGroup", "c1/byExternalGroup")
	wantFound(t, s, conns, p, all(), "c0/byGroup", "c1/byExternalGroup")
}

// Pages: From and Size take a page of one order, the same from page to
// page; Total counts all the matches. Without free text to rank by, the
// most recently created items come first.
func testSearchPaging(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	const n = 30
	var created []string
	for i := range n {
		id := fmt.Sprintf("item%02d", i)
		words := strings.Repeat("page ", 1+i%4) + strings.Repeat("filler ", 3-i%4)
		mustPutItem(t, s, tenant, doc("contosohr", id, fmt.Sprintf(`{"title":%q}`, words), ""))
		created = append(created, id)
	}
	// A replace keeps the item's place.
	mustPutItem(t, s, tenant, doc("contosohr", "item00", `{"title":"page filler filler filler"}`, ""))
	newest := slices.Clone(created)
	slices.Reverse(newest)
	conns := []string{"contosohr"}
	for _, q := range []*store.Query{all(), text("page"), and(text("page"), compare("priority", "<", 5)), or(text("page"), equal("category", "x"))} {
		whole := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: q, Principals: alice, Size: 100})
		wantTotal := int64(n)
		if q.Op == store.QueryAnd {
			wantTotal = 0 // no item has a priority
		}
		if whole.Total != wantTotal || len(whole.Hits) != int(wantTotal) {
			t.Fatalf("Search(%s) = %d hits of %d, want %d", showQuery(q), len(whole.Hits), whole.Total, wantTotal)
		}
		if wantTotal == 0 {
			continue
		}
		if q.Op == store.QueryAll {
			if got := hitIDs(whole, false); !slices.Equal(got, newest) {
				t.Errorf("Search(*) = %v, want the newest first, %v", got, newest)
			}
		}
		var paged []string
		for from := 0; from < n+7; from += 7 {
			page := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: q, Principals: alice, From: from, Size: 7})
			if page.Total != n {
				t.Errorf("Search(%s, from %d).Total = %d, want %d", showQuery(q), from, page.Total, n)
			}
			paged = append(paged, hitIDs(page, false)...)
		}
		if want := hitIDs(whole, false); !slices.Equal(paged, want) {
			t.Errorf("Search(%s) in pages of 7 = %v, want the whole list's order %v", showQuery(q), paged, want)
		}
		for i := 1; i < len(whole.Hits); i++ {
			if whole.Hits[i].Rank > whole.Hits[i-1].Rank {
				t.Errorf("Search(%s): hit %d ranks %v, above hit %d's %v", showQuery(q), i, whole.Hits[i].Rank, i-1, whole.Hits[i-1].Rank)
			}
		}
	}
	none := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: all(), Principals: alice, Size: 0})
	if len(none.Hits) != 0 || none.Total != n {
		t.Errorf("Search(size 0) = %d hits of %d, want none of %d", len(none.Hits), none.Total, n)
	}
	past := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: text("page"), Principals: alice, From: n, Size: 10})
	if len(past.Hits) != 0 || past.Total != n {
		t.Errorf("Search(from past the end) = %d hits of %d, want none of %d", len(past.Hits), past.Total, n)
	}
	// The hits are the items as stored.
	hit := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: text("page"), Principals: alice, Size: 1}).Hits[0].Item
	stored, err := s.Item(ctx, tenant, "contosohr", hit.ID)
	if err != nil || !cmp.Equal(hit, stored, approx) {
		t.Errorf("a hit's item = %+v, want the stored item %+v (%v)", hit, stored, err)
	}
}

// Relevance: an item that holds the query's words more often ranks above
// one that holds them less, and a rarer word counts for more.
func testSearchRanking(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "once", `{"title":"apple pear pear pear"}`, ""),
		doc("contosohr", "thrice", `{"title":"apple apple apple pear"}`, ""),
		doc("contosohr", "twice", `{"title":"apple apple pear pear"}`, ""),
	)
	for i := range 10 {
		mustPutItem(t, s, tenant, doc("contosohr", fmt.Sprint("other", i), `{"title":"plum fig kiwi lime"}`, ""))
	}
	res := mustSearch(t, s, tenant, store.SearchRequest{Connections: []string{"contosohr"}, Query: text("apple"), Principals: alice, Size: 10})
	if got, want := hitIDs(res, false), []string{"thrice", "twice", "once"}; !slices.Equal(got, want) {
		t.Errorf("Search(apple) = %v, want %v", got, want)
	}
	if len(res.Hits) == 3 && !(res.Hits[0].Rank > res.Hits[1].Rank && res.Hits[1].Rank > res.Hits[2].Rank) {
		t.Errorf("Search(apple) ranks %v, %v, %v; want them falling", res.Hits[0].Rank, res.Hits[1].Rank, res.Hits[2].Rank)
	}
}

// Aggregations: the values of a property among all the matches, grouped
// ignoring case, each with the number of items that have it, the most
// frequent first.
func testSearchAggregations(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "a", `{"title":"doc","Category":"Finance","labels":["x","y"],"priority":1}`, ""),
		doc("contosohr", "b", `{"title":"doc","Category":"finance","labels":["x"],"priority":1}`, ""),
		doc("contosohr", "c", `{"title":"doc","Category":"hr","labels":["x","x"],"priority":2}`, ""),
		doc("contosohr", "d", `{"title":"doc","Category":"HR","priority":2.5}`, ""),
		doc("contosohr", "e", `{"title":"doc other","Category":"HR"}`, ""),
		doc("contosohr", "f", `{"title":"doc other","Category":"Legal","labels":["z"]}`, ""),
		doc("contosohr", "g", `{"title":"doc other","Category":"zeta"}`, ""),
		doc("contosohr", "hidden", `{"title":"doc","Category":"Legal","labels":["z"]}`, "", grant("user", "carol")),
	)
	aggs := []store.AggregationRequest{{Name: "category", Size: 10}, {Name: "labels", Size: 1}, {Name: "priority", Size: 10}, {Name: "title", Size: 10}, {Name: "Category", Size: 2}}
	res := mustSearch(t, s, tenant, store.SearchRequest{Connections: []string{"contosohr"}, Query: text("doc"), Principals: alice, Size: 1, Aggregations: aggs})
	want := [][]store.Bucket{
		{{Key: "HR", Count: 3}, {Key: "Finance", Count: 2}, {Key: "Legal", Count: 1}, {Key: "zeta", Count: 1}},
		{{Key: "x", Count: 3}},
		{{Key: "1", Count: 2}, {Key: "2", Count: 1}, {Key: "2.5", Count: 1}},
		{}, // not refinable
		{{Key: "HR", Count: 3}, {Key: "Finance", Count: 2}},
	}
	if diff := cmp.Diff(want, res.Aggregations); diff != "" {
		t.Errorf("Search(doc) aggregations mismatch (-want +got):\n%s", diff)
	}
	if res.Total != 7 || len(res.Hits) != 1 {
		t.Errorf("Search(doc) = %d hits of %d, want 1 of 7", len(res.Hits), res.Total)
	}
	res = mustSearch(t, s, tenant, store.SearchRequest{Connections: []string{"contosohr"}, Query: text("other"), Principals: carol, Size: 0, Aggregations: aggs[:1]})
	want = [][]store.Bucket{{{Key: "HR", Count: 1}, {Key: "Legal", Count: 1}, {Key: "zeta", Count: 1}}}
	if diff := cmp.Diff(want, res.Aggregations); diff != "" {
		t.Errorf("Search(other) aggregations mismatch (-want +got):\n%s", diff)
	}
	res = mustSearch(t, s, tenant, store.SearchRequest{Connections: []string{"contosohr"}, Query: text("nothing"), Principals: alice, Size: 10, Aggregations: aggs[:2]})
	if diff := cmp.Diff([][]store.Bucket{{}, {}}, res.Aggregations); diff != "" {
		t.Errorf("Search(nothing) aggregations mismatch (-want +got):\n%s", diff)
	}
}

// Connections are ranked together, and only those asked for; a tenant
// sees only its own.
func testSearchConnectionsAndTenants(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	searchConnection(t, s, tenant, "fabrikam")
	searchConnection(t, s, tenant, "northwind")
	searchConnection(t, s, tenantB, "contosohr")
	putAll(t, s, tenant,
		doc("contosohr", "a", `{"title":"shared words"}`, ""),
		doc("contosohr", "b", `{"title":"shared shared shared"}`, ""),
		doc("fabrikam", "a", `{"title":"shared"}`, ""),
		doc("northwind", "a", `{"title":"shared"}`, ""),
	)
	putAll(t, s, tenantB, doc("contosohr", "b2", `{"title":"shared"}`, ""))
	wantFound(t, s, []string{"contosohr", "fabrikam"}, alice, text("shared"), "contosohr/a", "contosohr/b", "fabrikam/a")
	wantFound(t, s, []string{"fabrikam", "contosohr", "fabrikam"}, alice, all(), "contosohr/a", "contosohr/b", "fabrikam/a")
	wantFound(t, s, []string{"contosohr"}, alice, text("shared"), "a", "b")
	wantFound(t, s, []string{"nope"}, alice, all())
	wantFound(t, s, nil, alice, all())
	res := mustSearch(t, s, tenant, store.SearchRequest{Connections: []string{"contosohr", "fabrikam", "northwind"}, Query: text("shared"), Principals: alice, Size: 10})
	if len(res.Hits) != 4 || res.Hits[0].Item.ConnectionID != "contosohr" || res.Hits[0].Item.ID != "b" {
		t.Errorf("Search(shared) over three connections = %v, want 4 hits, contosohr/b first", hitIDs(res, true))
	}
	other := store.Principals{TenantID: tenantB, UserID: "alice", Groups: alice.Groups}
	res = mustSearch(t, s, tenantB, store.SearchRequest{Connections: []string{"contosohr", "fabrikam"}, Query: text("shared"), Principals: other, Size: 10})
	if got := hitIDs(res, true); !slices.Equal(got, []string{"contosohr/b2"}) || res.Total != 1 || res.Hits[0].Item.Tenant != tenantB {
		t.Errorf("Search(shared) in the other tenant = %v (%d), want only its own contosohr/b2", got, res.Total)
	}
}

// The index follows the items: a replaced item is found by its new text
// and values only, an updated one likewise, and a deleted one, or one of
// a deleted connection, not at all.
func testSearchFollowsWrites(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	conns := []string{"contosohr"}
	mustPutItem(t, s, tenant, doc("contosohr", "x", `{"title":"alpha","Category":"one"}`, "gamma"))
	mustPutItem(t, s, tenant, doc("contosohr", "y", `{"title":"unrelated"}`, ""))
	wantFound(t, s, conns, alice, text("alpha"), "x")
	wantFound(t, s, conns, alice, text("gamma"), "x")
	wantFound(t, s, conns, alice, equal("category", "one"), "x")

	mustPutItem(t, s, tenant, doc("contosohr", "x", `{"title":"beta","Category":"two"}`, ""))
	wantFound(t, s, conns, alice, text("alpha"))
	wantFound(t, s, conns, alice, text("gamma"))
	wantFound(t, s, conns, alice, text("beta"), "x")
	wantFound(t, s, conns, alice, equal("category", "one"))
	wantFound(t, s, conns, alice, equal("category", "two"), "x")
	// The same again changes nothing.
	mustPutItem(t, s, tenant, doc("contosohr", "x", `{"title":"beta","Category":"two"}`, ""))
	wantFound(t, s, conns, alice, text("beta"), "x")
	wantFound(t, s, conns, alice, equal("category", "two"), "x")

	update := func(u store.ItemUpdate) {
		t.Helper()
		if _, err := s.UpdateItem(ctx, tenant, "contosohr", "x", u); err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
	}
	update(store.ItemUpdate{SetContent: true, Content: &store.Content{Type: "html", Value: "<b>delta</b>"}})
	wantFound(t, s, conns, alice, text("delta beta"), "x")
	update(store.ItemUpdate{Properties: json.RawMessage(`{"title":"epsilon","Category":"three"}`)})
	wantFound(t, s, conns, alice, text("beta"))
	wantFound(t, s, conns, alice, text("epsilon delta"), "x")
	wantFound(t, s, conns, alice, equal("category", "two"))
	wantFound(t, s, conns, alice, equal("category", "three"), "x")
	update(store.ItemUpdate{ACL: []store.ACE{everyone, deny("user", "alice")}})
	wantFound(t, s, conns, alice, text("epsilon"))
	wantFound(t, s, conns, bob, text("epsilon"), "x")
	update(store.ItemUpdate{SetLabel: true, Label: json.RawMessage(`{"sensitivityLabelId":"x"}`)})
	wantFound(t, s, conns, bob, text("epsilon"), "x")
	update(store.ItemUpdate{ACL: []store.ACE{grant("group", "a-new-group")}}) // a principal no ACL named before
	wantFound(t, s, conns, bob, text("epsilon"))
	wantFound(t, s, conns, store.Principals{TenantID: tenant, UserID: "x", Groups: []string{"a-new-group"}}, text("epsilon"), "x")
	update(store.ItemUpdate{ACL: []store.ACE{everyone, deny("user", "alice")}})

	if err := s.DeleteItem(ctx, tenant, "contosohr", "x"); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	wantFound(t, s, conns, bob, text("epsilon"))
	wantFound(t, s, conns, bob, equal("category", "three"))
	wantFound(t, s, conns, bob, all(), "y")
	mustPutItem(t, s, tenant, doc("contosohr", "x", `{"title":"zeta"}`, ""))
	wantFound(t, s, conns, bob, all(), "x", "y")

	if err := s.DeleteConnection(ctx, tenant, "contosohr", nil); err != nil {
		t.Fatalf("DeleteConnection() = %v", err)
	}
	wantFound(t, s, conns, bob, all())
	searchConnection(t, s, tenant, "contosohr")
	wantFound(t, s, conns, bob, all())
	wantFound(t, s, conns, bob, text("zeta"))
	mustPutItem(t, s, tenant, doc("contosohr", "x", `{"title":"eta"}`, ""))
	wantFound(t, s, conns, bob, text("zeta"))
	wantFound(t, s, conns, bob, text("eta"), "x")
}

// A registration indexes the connection's items again under the new
// schema, those put before any schema too.
func testSearchReindexes(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	conns := []string{"contosohr"}
	mustPutItem(t, s, tenant, doc("contosohr", "early", `{"title":"early bird","Category":"Morning"}`, "worm"))
	wantFound(t, s, conns, alice, text("worm"), "early") // the content, before any schema
	wantFound(t, s, conns, alice, text("bird"))
	register(t, s, tenant, "contosohr", searchSchema())
	wantFound(t, s, conns, alice, text("bird"), "early")
	wantFound(t, s, conns, alice, equal("category", "morning"), "early")
	mustPutItem(t, s, tenant, doc("contosohr", "late", `{"title":"late bird","Category":"Evening","secret":"owl"}`, ""))
	wantFound(t, s, conns, alice, text("bird"), "early", "late")

	changed := searchSchema()
	for i, p := range changed.Properties {
		switch p.Name {
		case "title": // now queryable, not searchable
			changed.Properties[i].IsSearchable, changed.Properties[i].IsQueryable = false, true
		case "Category":
			changed.Properties[i].IsQueryable, changed.Properties[i].IsRefinable = false, false
		case "secret":
			changed.Properties[i].IsSearchable = true
		}
	}
	register(t, s, tenant, "contosohr", changed)
	wantFound(t, s, conns, alice, text("bird"))
	wantFound(t, s, conns, alice, text("worm"), "early")
	wantFound(t, s, conns, alice, text("owl"), "late")
	wantFound(t, s, conns, alice, equal("title", "late bird"), "late")
	wantFound(t, s, conns, alice, equal("category", "morning"))
	// A put after the registration indexes under the new schema too.
	mustPutItem(t, s, tenant, doc("contosohr", "later", `{"title":"later bird","secret":"owl"}`, ""))
	wantFound(t, s, conns, alice, text("owl"), "late", "later")
	wantFound(t, s, conns, alice, text("bird"))
	res := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: all(), Principals: alice,
		Aggregations: []store.AggregationRequest{{Name: "category", Size: 5}}})
	if diff := cmp.Diff([][]store.Bucket{{}}, res.Aggregations); diff != "" {
		t.Errorf("aggregations of a property no longer refinable mismatch (-want +got):\n%s", diff)
	}
}

// hostile is text that is syntax to SQL, to FTS5 or to tsquery.
var hostile = []string{
	`"`, `""`, `"hello"`, `*`, `**`, `-`, `-x*`, `NEAR`, `NEAR/3`, `NEAR(a b)`, `OR`, `AND`, `NOT`, `(`, `)`, `()`, `(a OR b`,
	`\`, `\\`, `%`, `_`, `'`, `''`, `'; DROP TABLE items; --`, `a"b`, `^`, `{search_text}:x`, `search_acl : "x"`, `search_text:*`,
	`:*`, `!`, `&`, `|`, `<->`, `a <-> b`, `a:*`, `a:B`, `x' | 'y`, `$1`, `?1`, `?`, `'a':*`, "\x00", "a\x00b", "\xff\xfe",
	`日本語`, `😀`, `Ünïcødé`, `İstanbul`, `ﬁ`, "\u0301", `+`, `~`, `#`, `@`, `[`, `]`, `{`, `}`, `;`, `/*`, `*/`, `--`,
}

// Hostile text is never syntax: a query of it never fails, and finds its
// words, or its text, literally.
func testSearchHostileText(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	const title = `He said "hello" (NEAR) OR -x* AND 'quote' \back\slash 100% _under_ a:B search_acl 日本語 😀 İstanbul`
	props, err := json.Marshal(map[string]any{"title": title, "Category": title, "labels": hostile})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, s, tenant,
		&store.Item{ConnectionID: "contosohr", ID: "hostile", ACL: []store.ACE{everyone}, Properties: props},
		doc("contosohr", "plain", `{"title":"plain words","Category":"plain"}`, ""),
	)
	conns := []string{"contosohr"}
	for _, h := range hostile {
		for _, q := range []*store.Query{text(h), phrase(h), text("said " + h), phrase("said " + h), equal("category", h), prefix("category", h),
			equal("labels", h), prefix("labels", h), or(text(h), equal("category", h)), not(text(h))} {
			if _, err := s.Search(ctx, tenant, store.SearchRequest{Connections: conns, Query: q, Principals: alice, Size: 10,
				Aggregations: []store.AggregationRequest{{Name: "labels", Size: 3}}}); err != nil {
				t.Errorf("Search(%s) = %v", showQuery(q), err)
			}
		}
	}
	for _, tt := range []struct {
		q    *store.Query
		want []string
	}{
		{text(`"hello"`), []string{"hostile"}},
		{text(`NEAR`), []string{"hostile"}},
		{text(`OR AND`), []string{"hostile"}},
		{text(`-x*`), []string{"hostile"}},
		{text(`(near)`), []string{"hostile"}},
		{text(`'quote'`), []string{"hostile"}},
		{text(`\back\slash`), []string{"hostile"}},
		{text(`search_acl`), []string{"hostile"}},
		{text(`a:B`), []string{"hostile"}},
		{text(`日本語 😀`), []string{"hostile"}},
		{text(`istanbul`), []string{"hostile"}},
		{text(`İSTANBUL`), []string{"hostile"}},
		{phrase(`said "hello" (NEAR) OR`), []string{"hostile"}},
		{phrase(`hello said`), nil},
		{text(`(`), []string{"hostile", "plain"}}, // no words: everything
		{text(`*`), []string{"hostile", "plain"}},
		{text(`NOT`), nil},
		{text(`%`), []string{"hostile", "plain"}},
		{equal("category", strings.ToLower(title)), []string{"hostile"}},
		{prefix("category", `he said "hello" (near`), []string{"hostile"}},
		{prefix("category", `%`), nil},
		{prefix("category", `_`), nil},
		{prefix("category", `he said "hello" (near) or -x* and 'quote' \back`), []string{"hostile"}},
		{equal("labels", `'; drop table items; --`), []string{"hostile"}},
		{equal("labels", `%`), []string{"hostile"}},
		{prefix("labels", `\`), []string{"hostile"}},
		{prefix("labels", `'`), []string{"hostile"}},
	} {
		wantFound(t, s, conns, alice, tt.q, tt.want...)
	}
	if n := len(mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: all(), Principals: alice, Size: 10}).Hits); n != 2 {
		t.Errorf("after the hostile searches, Search(*) finds %d items, want 2", n)
	}
}

// A query that is not one is Invalid, not a failure of the database.
func testSearchInvalidQuery(t *testing.T, s store.Store) {
	searchConnection(t, s, tenant, "contosohr")
	mustPutItem(t, s, tenant, doc("contosohr", "a", `{"title":"a"}`, ""))
	deep := text("a")
	for range 100 {
		deep = not(deep)
	}
	wide := or()
	for i := range 5000 {
		wide.Children = append(wide.Children, equal("category", fmt.Sprint(i)))
	}
	for _, q := range []*store.Query{
		compare("priority", "LIKE", 1),
		compare("priority", "; DROP TABLE items", 1),
		{Op: store.QueryNot},
		{Op: store.QueryNot, Children: []*store.Query{text("a"), text("b")}},
		{Op: 200},
		deep,
		wide,
	} {
		_, err := s.Search(ctx, tenant, store.SearchRequest{Connections: []string{"contosohr"}, Query: q, Principals: alice, Size: 10})
		wantKind(t, "Search("+showQuery(q)+")", err, store.Invalid)
	}
}

// RunRankWindow checks the ranking of a store whose rank window (see
// store.RankWindow) its test has lowered to window: of the items that
// match free text, the newest window ones come first, the most relevant
// first, then the others, the newest first; pages follow that order.
func RunRankWindow(t *testing.T, s store.Store, window int) {
	t.Helper()
	searchConnection(t, s, tenant, "contosohr")
	n := 3*window + 2
	tf := func(i int) int { return 1 + i*7%4 } // how often item i holds the word
	for i := range n {
		words := strings.Repeat("apple ", tf(i)) + strings.Repeat("pear ", 4-tf(i))
		parity := []string{"Even", "Odd"}[i%2]
		mustPutItem(t, s, tenant, doc("contosohr", fmt.Sprintf("item%02d", i), fmt.Sprintf(`{"title":%q,"Category":%q}`, words, parity), ""))
	}
	mustPutItem(t, s, tenant, doc("contosohr", "other", `{"title":"plum plum plum plum"}`, ""))
	var newest []int
	for i := n - 1; i >= 0; i-- {
		newest = append(newest, i)
	}
	ranked := slices.Clone(newest[:window])
	slices.SortStableFunc(ranked, func(a, b int) int { return tf(b) - tf(a) }) // the same relevance: the newest first
	var want []string
	for _, i := range append(ranked, newest[window:]...) {
		want = append(want, fmt.Sprintf("item%02d", i))
	}
	conns := []string{"contosohr"}
	whole := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: text("apple"), Principals: alice, Size: 100,
		Aggregations: []store.AggregationRequest{{Name: "category", Size: 5}}})
	if got := hitIDs(whole, false); !slices.Equal(got, want) || whole.Total != int64(n) {
		t.Errorf("Search(apple) = %v of %d, want %v of %d", got, whole.Total, want, n)
	}
	// Aggregations count all the matches, past the window too.
	wantBuckets := [][]store.Bucket{{{Key: "Even", Count: int64(n+1) / 2}, {Key: "Odd", Count: int64(n) / 2}}}
	if diff := cmp.Diff(wantBuckets, whole.Aggregations); diff != "" {
		t.Errorf("Search(apple) aggregations mismatch (-want +got):\n%s", diff)
	}
	for _, size := range []int{1, 3, window + 1} {
		var paged []string
		for from := 0; from < n+size; from += size {
			page := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: text("apple"), Principals: alice, From: from, Size: size})
			if page.Total != int64(n) {
				t.Errorf("Search(apple, from %d, size %d).Total = %d, want %d", from, size, page.Total, n)
			}
			paged = append(paged, hitIDs(page, false)...)
		}
		if !slices.Equal(paged, want) {
			t.Errorf("Search(apple) in pages of %d = %v, want %v", size, paged, want)
		}
	}
	// Unranked, the newest first, past the window too.
	res := mustSearch(t, s, tenant, store.SearchRequest{Connections: conns, Query: all(), Principals: alice, From: window, Size: 100})
	if got := hitIDs(res, false); len(got) != n+1-window || got[0] != fmt.Sprintf("item%02d", n-window) {
		t.Errorf("Search(*, from %d) = %v, want the %d items past the %d newest, newest first", window, got, n+1-window, window)
	}
}
