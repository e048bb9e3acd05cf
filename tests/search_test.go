package tests

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/graphconn/graphconn/auth"
)

// The users of the search tests: their object ids (oid) and Entra groups.
const (
	alice      = "a11ce000-0000-4000-8000-000000000001" // in Entra group "finance", and in external group "auditors" through "leads"
	bob        = "b0b00000-0000-4000-8000-000000000002" // in no group
	carol      = "ca201000-0000-4000-8000-000000000003" // in external group "contractors", which is denied the payroll item
	financeGrp = "f1aa4ce0-0000-4000-8000-00000000000f"
)

// searchEnv is a server with one connection, "tickets", whose schema has
// every flag, and items that different users may see.
type searchEnv struct {
	*env
	writer string // ExternalConnection and ExternalItem ReadWrite.All
}

func newSearchEnv(t *testing.T) *searchEnv {
	e := newEnv(t)
	s := &searchEnv{env: e, writer: e.mint(auth.TokenOptions{AppID: testApp,
		Roles: []string{"ExternalConnection.ReadWrite.All", "ExternalItem.ReadWrite.All"}})}
	s.call(t, "POST", "/v1.0/external/connections", map[string]any{"id": "tickets", "name": "Tickets"}, http.StatusCreated)
	s.call(t, "POST", "/v1.0/external/connections", map[string]any{"id": "wiki", "name": "Wiki"}, http.StatusCreated)
	for _, conn := range []string{"tickets", "wiki"} {
		r := s.call(t, "PATCH", "/v1.0/external/connections/"+conn+"/schema", map[string]any{
			"baseType": "microsoft.graph.externalItem", "properties": []any{
				map[string]any{"name": "title", "type": "String", "isSearchable": true, "isRetrievable": true, "labels": []any{"title"}},
				map[string]any{"name": "team", "type": "String", "isQueryable": true, "isRetrievable": true, "isRefinable": true, "aliases": []any{"squad"}},
				map[string]any{"name": "priority", "type": "Int64", "isQueryable": true, "isRetrievable": true, "isRefinable": true},
				map[string]any{"name": "opened", "type": "DateTime", "isQueryable": true, "isRetrievable": true},
				map[string]any{"name": "closed", "type": "Boolean", "isQueryable": true, "isRetrievable": true},
				map[string]any{"name": "notes", "type": "String", "isRetrievable": false, "isSearchable": false},
				map[string]any{"name": "tags", "type": "StringCollection", "isSearchable": true, "isQueryable": true, "isRetrievable": true},
			}}, http.StatusAccepted)
		loc, _ := url.Parse(r.header.Get("Location"))
		if seen, _ := e.pollOperation(loc.Path); seen[len(seen)-1] != "completed" {
			t.Fatalf("registration of %s = %v, want completed", conn, seen)
		}
	}
	everyone := map[string]any{"type": "everyone", "value": "everyone", "accessType": "grant"}
	ace := func(typ, value, access string) map[string]any {
		return map[string]any{"type": typ, "value": value, "accessType": access}
	}
	long := strings.Repeat("Nothing to see in this sentence. ", 30) + "At last the refund policy appears here. " + strings.Repeat("More filler text. ", 30)
	items := []struct {
		conn, id string
		acl      []any
		props    map[string]any
		content  string
	}{
		{"tickets", "t1", []any{everyone}, map[string]any{"title": "Payment gateway error", "team": "Payments", "priority": 1,
			"opened": "2026-11-30T08:00:00Z", "closed": false, "notes": "gateway secret", "tags@odata.type": "Collection(String)", "tags": []any{"gateway", "outage"}},
			"The payment gateway answers 502 since the morning."},
		{"tickets", "t2", []any{everyone}, map[string]any{"title": "Gateway upgrade", "team": "Payments", "priority": 2,
			"opened": "2026-11-20T08:00:00Z", "closed": true}, "Upgrade the gateway to version 3."},
		{"tickets", "t3", []any{ace("user", alice, "grant")}, map[string]any{"title": "Payroll run failed", "team": "HR", "priority": 3,
			"opened": "2026-10-01T08:00:00Z", "closed": false}, "The payroll run of October failed."},
		{"tickets", "t4", []any{ace("group", financeGrp, "grant"), ace("user", bob, "grant")}, map[string]any{"title": "Budget review", "team": "Finance", "priority": 2,
			"opened": "2026-11-25T08:00:00Z"}, "Review the budget of the payments team."},
		{"tickets", "t5", []any{everyone, ace("externalGroup", "contractors", "deny")}, map[string]any{"title": "Salary bands", "team": "HR", "priority": 1,
			"opened": "2026-11-28T08:00:00Z"}, "Salary bands for next year."},
		{"tickets", "t6", []any{ace("externalGroup", "auditors", "grant")}, map[string]any{"title": "Audit trail", "team": "Finance", "priority": 5,
			"opened": "2026-11-29T08:00:00Z"}, long},
		{"wiki", "w1", []any{everyone}, map[string]any{"title": "How the payment gateway works", "team": "Payments", "priority": 4}, "A page about the gateway."},
	}
	for _, it := range items {
		body := map[string]any{"acl": it.acl, "properties": it.props}
		if it.content != "" {
			body["content"] = map[string]any{"type": "text", "value": it.content}
		}
		s.call(t, "PUT", "/v1.0/external/connections/"+it.conn+"/items/"+it.id, body, http.StatusOK)
	}
	// auditors ∋ leads ∋ alice, and leads ∋ auditors: a cycle.
	for _, g := range []string{"auditors", "leads", "contractors"} {
		s.call(t, "POST", "/v1.0/external/connections/tickets/groups", map[string]any{"id": g, "displayName": g}, http.StatusCreated)
	}
	for _, m := range []struct{ group, id, typ string }{
		{"auditors", "leads", "externalGroup"}, {"leads", alice, "user"}, {"leads", "auditors", "externalGroup"},
		{"contractors", carol, "user"},
	} {
		s.call(t, "POST", "/v1.0/external/connections/tickets/groups/"+m.group+"/members", map[string]any{"id": m.id, "type": m.typ}, http.StatusCreated)
	}
	return s
}

func (s *searchEnv) call(t *testing.T, method, path string, body any, want int) result {
	t.Helper()
	r := s.do(call{method: method, path: path, body: body, header: map[string]string{"Authorization": "Bearer " + s.writer}})
	if r.status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r
}

// user is a token of a user (delegated, ExternalItem.Read.All).
func (s *searchEnv) user(id string, groups ...string) string {
	return s.mint(auth.TokenOptions{AppID: testApp, Scopes: []string{"ExternalItem.Read.All"}, UserID: id, Groups: groups})
}

// search sends one search request and returns the answer.
func (s *searchEnv) search(t *testing.T, version, token string, req map[string]any) result {
	t.Helper()
	if _, ok := req["entityTypes"]; !ok {
		req["entityTypes"] = []any{"externalItem"}
	}
	return s.do(call{method: "POST", path: version + "/search/query", body: map[string]any{"requests": []any{req}},
		header: map[string]string{"Authorization": "Bearer " + token}})
}

// hits is the answer's hit ids, in order, and its container.
func hits(t *testing.T, r result) ([]string, map[string]any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("search = %d %s, want 200", r.status, r.body)
	}
	resp := r.json(t)["value"].([]any)[0].(map[string]any)
	c := resp["hitsContainers"].([]any)[0].(map[string]any)
	var ids []string
	for _, h := range c["hits"].([]any) {
		ids = append(ids, h.(map[string]any)["hitId"].(string))
	}
	return ids, c
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return out
}

func TestSearchQueries(t *testing.T) {
	s := newSearchEnv(t)
	tok := s.user(bob)
	tests := []struct {
		query string
		want  []string // as a set
	}{
		{"gateway", []string{"t1", "t2", "w1"}},
		{"GATEWAY", []string{"t1", "t2", "w1"}},
		{"gate*", []string{"t1", "t2", "w1"}},
		{`"payment gateway"`, []string{"t1", "w1"}},
		{`"gateway payment"`, nil},
		{"gateway upgrade", []string{"t2"}},
		{"gateway AND upgrade", []string{"t2"}},
		{"upgrade OR budget", []string{"t2", "t4"}},
		{"gateway NOT upgrade", []string{"t1", "w1"}},
		{"gateway -upgrade", []string{"t1", "w1"}},
		{"(budget OR salary) review", []string{"t4"}},
		{"secret", nil},                                 // notes is not searchable
		{"outage", []string{"t1"}},                      // a searchable collection
		{"team:payments", []string{"t1", "t2", "w1"}},   // queryable, ignoring case
		{"squad:Payments", []string{"t1", "t2", "w1"}},  // by its alias
		{"team:pay*", []string{"t1", "t2", "w1"}},       // a prefix
		{`team:"Finance"`, []string{"t4"}},              // bob sees t4 as a user
		{"title:gateway", nil},                          // title is not queryable
		{"notes:secret", nil},                           // nor is notes
		{"priority:2", []string{"t2", "t4"}},            // an int64
		{"priority>=2", []string{"t2", "t4", "w1"}},     // compared
		{"priority>3", []string{"w1"}},                  //
		{"priority<2", []string{"t1", "t5"}},            //
		{"priority<=1", []string{"t1", "t5"}},           //
		{"opened>2026-11-26", []string{"t1", "t5"}},     // a day
		{"opened:2026-11-30", []string{"t1"}},           // the whole day
		{"opened<2026-11-21T00:00:00Z", []string{"t2"}}, // an instant
		{"closed:true", []string{"t2"}},                 // a boolean
		{"team:payments gateway -upgrade", []string{"t1", "w1"}},
		{"*", []string{"t1", "t2", "t4", "t5", "w1"}},
		{"", []string{"t1", "t2", "t4", "t5", "w1"}},
		{`it's "quoted" NEAR(x) % _ \ *`, nil}, // never the engines' syntax
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, c := hits(t, s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": tt.query}}))
			if !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("hits = %v, want %v", sorted(got), sorted(tt.want))
			}
			if n := c["total"].(float64); int(n) != len(tt.want) {
				t.Errorf("total = %v, want %d", n, len(tt.want))
			}
		})
	}
}

// A hit is returned only to the people an ACL entry grants and none denies:
// everyone, the user, its Entra groups, external groups holding it directly
// or through others (cycles included); deny wins.
func TestSearchTrimsByACL(t *testing.T) {
	s := newSearchEnv(t)
	tests := []struct {
		who   string
		token string
		want  []string
	}{
		{"alice: user grant, nested external group, finance group", s.user(alice, financeGrp), []string{"t1", "t2", "t3", "t4", "t5", "t6"}},
		{"alice without her groups claim", s.user(alice), []string{"t1", "t2", "t3", "t5", "t6"}},
		{"bob: everyone and his own grant", s.user(bob), []string{"t1", "t2", "t4", "t5"}},
		{"carol: a contractor, denied t5 though everyone is granted it", s.user(carol), []string{"t1", "t2"}},
		{"someone in the finance group", s.user("d0000000-0000-4000-8000-000000000004", financeGrp), []string{"t1", "t2", "t4", "t5"}},
	}
	for _, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			got, _ := hits(t, s.search(t, "/v1.0", tt.token, map[string]any{
				"contentSources": []any{"/external/connections/tickets"}, "query": map[string]any{"queryString": "*"}}))
			if !slices.Equal(sorted(got), tt.want) {
				t.Errorf("hits = %v, want %v", sorted(got), tt.want)
			}
		})
	}
	// A change of ACL, or of membership, counts at the next query.
	s.call(t, "DELETE", "/v1.0/external/connections/tickets/groups/contractors/members/"+carol, nil, http.StatusNoContent)
	if got, _ := hits(t, s.search(t, "/v1.0", s.user(carol), map[string]any{"query": map[string]any{"queryString": "salary"}})); !slices.Equal(got, []string{"t5"}) {
		t.Errorf("carol, no longer a contractor, finds %v, want [t5]", got)
	}
	s.call(t, "PATCH", "/v1.0/external/connections/tickets/items/t5", map[string]any{
		"acl": []any{map[string]any{"type": "user", "value": alice, "accessType": "grant"}}}, http.StatusOK)
	if got, _ := hits(t, s.search(t, "/v1.0", s.user(carol), map[string]any{"query": map[string]any{"queryString": "salary"}})); len(got) != 0 {
		t.Errorf("carol after t5's ACL changed finds %v, want nothing", got)
	}
	// Deleted items and connections leave search at once.
	s.call(t, "DELETE", "/v1.0/external/connections/tickets/items/t1", nil, http.StatusNoContent)
	s.call(t, "DELETE", "/v1.0/external/connections/wiki", nil, http.StatusAccepted)
	if got, _ := hits(t, s.search(t, "/v1.0", s.user(bob), map[string]any{"query": map[string]any{"queryString": "gateway"}})); !slices.Equal(got, []string{"t2"}) {
		t.Errorf("after deletes, gateway finds %v, want [t2]", got)
	}
}

func TestSearchResults(t *testing.T) {
	s := newSearchEnv(t)
	tok := s.user(alice, financeGrp)
	// Retrievable properties only; fields picks some, unknown ones ignored.
	_, c := hits(t, s.search(t, "/beta", tok, map[string]any{"query": map[string]any{"queryString": "\"payment gateway error\""}}))
	h := c["hits"].([]any)[0].(map[string]any)
	res := h["resource"].(map[string]any)
	if got, want := res["@odata.type"], "#microsoft.graph.externalConnectors.externalItem"; got != want {
		t.Errorf("resource @odata.type = %v, want %v", got, want)
	}
	props := res["properties"].(map[string]any)
	if _, ok := props["notes"]; ok {
		t.Errorf("properties hold notes, which is not retrievable: %v", props)
	}
	for _, p := range []string{"title", "team", "priority", "opened", "closed", "tags"} {
		if _, ok := props[p]; !ok {
			t.Errorf("properties lack the retrievable %s: %v", p, props)
		}
	}
	if got, want := h["contentSource"], "tickets"; got != want {
		t.Errorf("contentSource = %v, want %v", got, want)
	}
	if got := h["summary"].(string); !strings.Contains(got, "<c0>payment</c0> <c0>gateway</c0>") {
		t.Errorf("summary = %q, want the matches marked <c0>", got)
	}
	_, c = hits(t, s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": "team:payments"},
		"fields": []any{"title", "squad", "nope", "notes"}}))
	for _, x := range c["hits"].([]any) {
		props := x.(map[string]any)["resource"].(map[string]any)["properties"].(map[string]any)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if want := []string{"team", "title"}; !slices.Equal(keys, want) {
			t.Errorf("fields title, squad (team's alias), nope, notes: properties = %v, want %v", keys, want)
		}
	}
	// A long text is cut around the match.
	_, c = hits(t, s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": "refund"}}))
	if got := c["hits"].([]any)[0].(map[string]any)["summary"].(string); !strings.HasPrefix(got, "<ddd/>") || !strings.HasSuffix(got, "<ddd/>") ||
		!strings.Contains(got, "<c0>refund</c0>") || len(got) > 400 {
		t.Errorf("summary of a long content = %q, want a cut piece with <ddd/> at both ends and <c0>refund</c0>", got)
	}

	// Paging: from and size, total and moreResultsAvailable.
	var all []string
	for from := 0; ; from += 2 {
		ids, c := hits(t, s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": "*"}, "from": from, "size": 2}))
		if got := int(c["total"].(float64)); got != 7 {
			t.Fatalf("total = %d, want 7", got)
		}
		all = append(all, ids...)
		if more := c["moreResultsAvailable"].(bool); more != (from+2 < 7) {
			t.Errorf("from %d: moreResultsAvailable = %t, want %t", from, more, from+2 < 7)
		}
		if from+2 >= 7 {
			break
		}
	}
	if got := sorted(all); !slices.Equal(got, []string{"t1", "t2", "t3", "t4", "t5", "t6", "w1"}) {
		t.Errorf("the pages hold %v, want every item once", got)
	}
	// Ranked: the hits of a query are in rank order, 1 first.
	_, c = hits(t, s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": "gateway"}}))
	for i, x := range c["hits"].([]any) {
		if got := x.(map[string]any)["rank"].(float64); int(got) != i+1 {
			t.Errorf("hit %d has rank %v, want %d", i, got, i+1)
		}
	}

	// Aggregations over all the matches, and filters by their tokens.
	r := s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": "*"},
		"contentSources": []any{"/external/connections/tickets"}, "size": 1,
		"aggregations": []any{map[string]any{"field": "team", "size": 10}}})
	_, c = hits(t, r)
	aggs := c["aggregations"].([]any)
	buckets := aggs[0].(map[string]any)["buckets"].([]any)
	got := map[string]float64{}
	var hrToken string
	for _, b := range buckets {
		b := b.(map[string]any)
		got[b["key"].(string)] = b["count"].(float64)
		if b["key"] == "HR" {
			hrToken = b["aggregationFilterToken"].(string)
		}
	}
	if want := map[string]float64{"Payments": 2, "HR": 2, "Finance": 2}; len(got) != len(want) || got["Payments"] != 2 || got["HR"] != 2 || got["Finance"] != 2 {
		t.Errorf("team buckets = %v, want %v", got, want)
	}
	ids, _ := hits(t, s.search(t, "/v1.0", tok, map[string]any{"query": map[string]any{"queryString": "*"},
		"aggregationFilters": []any{"team:" + hrToken}}))
	if !slices.Equal(sorted(ids), []string{"t3", "t5"}) {
		t.Errorf("filtered by HR's token %s: hits = %v, want [t3 t5]", hrToken, ids)
	}
}

func TestSearchRefusals(t *testing.T) {
	s := newSearchEnv(t)
	user := s.user(bob)
	tests := []struct {
		name   string
		token  string
		req    map[string]any
		status int
		want   string
	}{
		{"an application's token", s.mint(auth.TokenOptions{AppID: testApp, Roles: []string{"ExternalItem.Read.All"}}), map[string]any{"query": map[string]any{"queryString": "x"}}, http.StatusForbidden, "delegated"},
		{"another entity type", user, map[string]any{"entityTypes": []any{"driveItem"}, "query": map[string]any{"queryString": "x"}}, http.StatusBadRequest, "driveItem"},
		{"an aggregation on a property that is not refinable", user, map[string]any{"query": map[string]any{"queryString": "x"},
			"aggregations": []any{map[string]any{"field": "title"}}}, http.StatusBadRequest, "'title' cannot be aggregated"},
		{"sorting", user, map[string]any{"query": map[string]any{"queryString": "x"},
			"sortProperties": []any{map[string]any{"name": "priority"}}}, http.StatusBadRequest, "not supported"},
		{"a query that does not parse", user, map[string]any{"query": map[string]any{"queryString": `"open`}}, http.StatusBadRequest, "closing quote"},
		{"a comparison on text", user, map[string]any{"query": map[string]any{"queryString": "team>a"}}, http.StatusBadRequest, "compares text"},
		{"a number that is not one", user, map[string]any{"query": map[string]any{"queryString": "priority:high"}}, http.StatusBadRequest, "needs a number"},
		{"an unknown connection", user, map[string]any{"query": map[string]any{"queryString": "x"},
			"contentSources": []any{"/external/connections/nope"}}, http.StatusBadRequest, "does not exist"},
		{"a content source that is not a connection", user, map[string]any{"query": map[string]any{"queryString": "x"},
			"contentSources": []any{"/sites/contoso"}}, http.StatusBadRequest, "not one"},
		{"a page past Graph's size", user, map[string]any{"query": map[string]any{"queryString": "x"}, "size": 501}, http.StatusBadRequest, "size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.search(t, "/v1.0", tt.token, tt.req)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			if got := r.errorMessage(t); !strings.Contains(got, tt.want) {
				t.Errorf("message = %q, want it to hold %q", got, tt.want)
			}
		})
	}
}
