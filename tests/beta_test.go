package tests

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/graphconn/graphconn/auth"
)

// Beta's connection has more than v1.0's: ingestedItemsCount (null while
// the connection is a draft, then the stored count of its items),
// enabledContentExperiences and complianceSettings, which v1.0 refuses.
func TestBetaConnection(t *testing.T) {
	e := newEnv(t)
	items := "Bearer " + e.mint(auth.TokenOptions{AppID: "connector", Roles: []string{"ExternalConnection.ReadWrite.All", "ExternalItem.ReadWrite.All"}})
	as := map[string]string{"Authorization": items}
	layout := map[string]any{"type": "AdaptiveCard", "version": "1.3"}
	r := e.do(call{method: "POST", path: "/beta/external/connections", header: as, body: map[string]any{
		"id": "contosohr", "name": "Contoso HR",
		"enabledContentExperiences": "search,compliance",
		"complianceSettings": map[string]any{"eDiscoveryResultTemplates": []any{
			map[string]any{"id": "ediscovery", "priority": 1, "layout": layout},
		}},
	}})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /beta/external/connections = %d %s, want 201", r.status, r.body)
	}
	conn := r.json(t)
	if got, ok := conn["ingestedItemsCount"]; !ok || got != nil {
		t.Errorf("ingestedItemsCount of a draft = %v (present %t), want null", got, ok)
	}
	if got, want := conn["enabledContentExperiences"], "search,compliance"; got != want {
		t.Errorf("enabledContentExperiences = %v, want %v", got, want)
	}
	if cs, _ := conn["complianceSettings"].(map[string]any); cs == nil || len(cs["eDiscoveryResultTemplates"].([]any)) != 1 {
		t.Errorf("complianceSettings = %v, want its one template", conn["complianceSettings"])
	}

	// v1.0 has none of them: it does not show them, and refuses them.
	v1 := e.do(call{method: "GET", path: "/v1.0/external/connections/contosohr", header: as}).json(t)
	for _, p := range []string{"ingestedItemsCount", "enabledContentExperiences", "complianceSettings"} {
		if _, ok := v1[p]; ok {
			t.Errorf("v1.0's connection has %s: %v", p, v1[p])
		}
	}
	for _, body := range []map[string]any{
		{"enabledContentExperiences": "search"},
		{"complianceSettings": map[string]any{}},
		{"ingestedItemsCount": 3},
	} {
		if r := e.do(call{method: "PATCH", path: "/v1.0/external/connections/contosohr", header: as, body: body}); r.status != http.StatusBadRequest {
			t.Errorf("PATCH /v1.0 %v = %d %s, want 400", body, r.status, r.body)
		}
	}
	// Read-only on beta too, and the flags are Graph's.
	for _, body := range []map[string]any{
		{"ingestedItemsCount": 3},
		{"enabledContentExperiences": "search,sharing"},
	} {
		if r := e.do(call{method: "PATCH", path: "/beta/external/connections/contosohr", header: as, body: body}); r.status != http.StatusBadRequest {
			t.Errorf("PATCH /beta %v = %d %s, want 400", body, r.status, r.body)
		}
	}

	// Once ready, the count of its items, as they come and go.
	r = e.do(call{method: "PATCH", path: "/beta/external/connections/contosohr/schema", header: as, body: map[string]any{
		"baseType": "microsoft.graph.externalItem", "properties": []any{
			map[string]any{"name": "title", "type": "String", "isSearchable": true, "isRetrievable": true},
		},
	}})
	if r.status != http.StatusAccepted {
		t.Fatalf("PATCH schema = %d %s, want 202", r.status, r.body)
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	if seen, _ := e.pollOperation(loc.Path); seen[len(seen)-1] != "completed" {
		t.Fatalf("registration = %v, want completed", seen)
	}
	count := func() any {
		t.Helper()
		return e.do(call{method: "GET", path: "/beta/external/connections/contosohr?$select=id,ingestedItemsCount", header: as}).json(t)["ingestedItemsCount"]
	}
	if got := count(); got != float64(0) {
		t.Errorf("ingestedItemsCount of a ready connection without items = %v, want 0", got)
	}
	item := map[string]any{
		"acl":        []any{map[string]any{"type": "everyone", "value": "everyone", "accessType": "grant"}},
		"properties": map[string]any{"title": "Payroll"},
	}
	for _, id := range []string{"a1", "a2", "a1"} { // a1 twice: replaced, not added
		if r := e.do(call{method: "PUT", path: "/beta/external/connections/contosohr/items/" + id, header: as, body: item}); r.status != http.StatusOK {
			t.Fatalf("PUT item %s = %d %s, want 200", id, r.status, r.body)
		}
	}
	if got := count(); got != float64(2) {
		t.Errorf("ingestedItemsCount after 2 items = %v, want 2", got)
	}
	if r := e.do(call{method: "DELETE", path: "/beta/external/connections/contosohr/items/a2", header: as}); r.status != http.StatusNoContent {
		t.Fatalf("DELETE item = %d %s, want 204", r.status, r.body)
	}
	if got := count(); got != float64(1) {
		t.Errorf("ingestedItemsCount after a delete = %v, want 1", got)
	}
}
