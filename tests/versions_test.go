package tests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// A connector's first calls on /v1.0 (and /beta), in today's shapes:
// namespaced @odata.type in and out, the version in @odata.context and
// Location, publicError on operations, property types spelt as Graph's
// examples spell them, and evolvable enumerations.
func TestVersionedSurface(t *testing.T) {
	for _, v := range []string{"/v1.0", "/beta"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t)
			base := e.srv.URL
			conns := v + "/external/connections"
			r := e.do(call{method: "POST", path: conns, body: map[string]any{
				"@odata.type": "#microsoft.graph.externalConnectors.externalConnection",
				"id":          "contosohr", "name": "Contoso HR", "description": "HR tickets",
			}})
			if r.status != http.StatusCreated {
				t.Fatalf("POST %s = %d %s, want 201", conns, r.status, r.body)
			}
			conn := r.json(t)
			if got, want := conn["@odata.type"], "#microsoft.graph.externalConnectors.externalConnection"; got != want {
				t.Errorf("@odata.type = %v, want %v", got, want)
			}
			if got, want := conn["@odata.context"], base+v+"/$metadata#external/connections/$entity"; got != want {
				t.Errorf("@odata.context = %v, want %v", got, want)
			}
			// Without the leading #, as some clients send it.
			if r := e.do(call{method: "PATCH", path: conns + "/contosohr", body: map[string]any{
				"@odata.type": "microsoft.graph.externalConnectors.externalConnection", "description": "HR tickets, all of them",
			}}); r.status != http.StatusNoContent {
				t.Errorf("PATCH connection = %d %s, want 204", r.status, r.body)
			}
			// The early beta's type is not today's.
			if r := e.do(call{method: "PATCH", path: conns + "/contosohr", body: map[string]any{
				"@odata.type": "#microsoft.graph.externalConnection",
			}}); r.status != http.StatusBadRequest {
				t.Errorf("PATCH with the early beta's @odata.type = %d %s, want 400", r.status, r.body)
			}

			// The schema as Graph's examples send it.
			schema := map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{
				map[string]any{"name": "ticketTitle", "type": "String", "isSearchable": true, "isRetrievable": true, "labels": []any{"title"}},
				map[string]any{"name": "opened", "type": "DateTime", "isQueryable": true, "isRetrievable": true, "labels": []any{"createdDateTime"}},
				map[string]any{"name": "icon", "type": "string", "isRetrievable": true, "labels": []any{"iconUrl"}},
				map[string]any{"name": "owner", "type": "principal", "isRetrievable": true},
			}}
			r = e.do(call{method: "PATCH", path: conns + "/contosohr/schema", body: schema})
			if r.status != http.StatusAccepted {
				t.Fatalf("PATCH schema = %d %s, want 202", r.status, r.body)
			}
			loc, err := url.Parse(r.header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), base+v+"/external/connections/contosohr/operations/") {
				t.Fatalf("Location = %q, want an operation under %s", r.header.Get("Location"), base+v)
			}
			if r := e.do(call{method: "PATCH", path: conns + "/contosohr/schema", body: schema}); r.status != http.StatusConflict {
				t.Errorf("a second registration meanwhile = %d %s, want 409", r.status, r.body)
			}
			seen, op := e.pollOperation(loc.Path)
			if seen[len(seen)-1] != "completed" || op["error"] != nil {
				t.Fatalf("registration = %v, error %v; want completed, error null", seen, op["error"])
			}
			if got, want := op["@odata.type"], "#microsoft.graph.externalConnectors.connectionOperation"; got != want {
				t.Errorf("operation @odata.type = %v, want %v", got, want)
			}

			// Types come back in camel case; the members of evolvable
			// enumerations after unknownFutureValue only when asked for.
			for _, tt := range []struct {
				prefer          string
				wantIcon, owner string
			}{
				{"", "unknownFutureValue", "unknownFutureValue"},
				{"include-unknown-enum-members", "iconUrl", "principal"},
				{"return=minimal, include-unknown-enum-members", "iconUrl", "principal"},
			} {
				r := e.do(call{method: "GET", path: conns + "/contosohr/schema", header: map[string]string{"Prefer": tt.prefer}})
				if r.status != http.StatusOK {
					t.Fatalf("GET schema = %d %s", r.status, r.body)
				}
				var got struct {
					Type       string `json:"@odata.type"`
					Context    string `json:"@odata.context"`
					Properties []struct {
						Name, Type string
						Labels     []string
					}
				}
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				types := map[string]string{}
				labels := map[string][]string{}
				for _, p := range got.Properties {
					types[p.Name], labels[p.Name] = p.Type, p.Labels
				}
				want := map[string]string{"ticketTitle": "string", "opened": "dateTime", "icon": "string", "owner": tt.owner}
				if !reflect.DeepEqual(types, want) {
					t.Errorf("Prefer %q: types = %v, want %v", tt.prefer, types, want)
				}
				if !reflect.DeepEqual(labels["icon"], []string{tt.wantIcon}) {
					t.Errorf("Prefer %q: labels of icon = %v, want [%s]", tt.prefer, labels["icon"], tt.wantIcon)
				}
				if got.Type != "#microsoft.graph.externalConnectors.schema" || got.Context != base+v+"/$metadata#external/connections('contosohr')/schema/$entity" {
					t.Errorf("schema @odata.type %q, @odata.context %q", got.Type, got.Context)
				}
			}

			// The early beta's shape leaves out what it cannot say.
			var seedSchema struct {
				Properties []struct {
					Name   string
					Labels []string
				}
			}
			if err := json.Unmarshal(e.do(call{method: "GET", path: "/external/connections/contosohr/schema"}).body, &seedSchema); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range seedSchema.Properties {
				names = append(names, p.Name)
				if p.Name == "icon" && !reflect.DeepEqual(p.Labels, []string{"iconUrl"}) {
					t.Errorf("unprefixed schema: icon's labels = %v, want [iconUrl], which the early beta has", p.Labels)
				}
			}
			if !reflect.DeepEqual(names, []string{"ticketTitle", "opened", "icon"}) {
				t.Errorf("unprefixed schema's properties = %v, want all but the principal", names)
			}

			// An operation's error is a publicError, as an SDK writes it; the
			// early beta's paths read it as an errorDetail.
			opPath := loc.Path
			pub := map[string]any{
				"code": "ContentTooLarge", "message": "An item was too large.", "target": "items/42",
				"details":    []any{map[string]any{"code": "Size", "message": "4 MiB at most", "target": "content"}},
				"innerError": map[string]any{"code": "Inner", "message": "inner"},
			}
			r = e.do(call{method: "PATCH", path: opPath, body: map[string]any{"status": "failed", "error": pub}})
			if r.status != http.StatusOK {
				t.Fatalf("PATCH operation with a publicError = %d %s, want 200", r.status, r.body)
			}
			gotErr, _ := r.json(t)["error"].(map[string]any)
			delete(gotErr, "@odata.type")
			if d, ok := gotErr["details"].([]any); ok && len(d) == 1 {
				delete(d[0].(map[string]any), "@odata.type")
			}
			if in, ok := gotErr["innerError"].(map[string]any); ok {
				delete(in, "@odata.type")
			}
			if !reflect.DeepEqual(gotErr, pub) {
				t.Errorf("error = %v, want %v", gotErr, pub)
			}
			opID := opPath[strings.LastIndex(opPath, "/")+1:]
			r = e.do(call{method: "GET", path: "/external/connections/contosohr/operations/" + opID})
			seed := r.json(t)
			if seed["@odata.type"] != "#microsoft.graph.connectionOperation" {
				t.Errorf("unprefixed @odata.type = %v", seed["@odata.type"])
			}
			if e, _ := seed["error"].(map[string]any); e["errorCode"] != "ContentTooLarge" ||
				e["details"].([]any)[0].(map[string]any)["source"] != "content" {
				t.Errorf("unprefixed error = %v, want errorCode ContentTooLarge, details[0].source content", seed["error"])
			}
			// And the status goes on changing: no status is final.
			if r := e.do(call{method: "PATCH", path: opPath, body: map[string]any{"status": "completed", "error": nil}}); r.status != http.StatusOK {
				t.Errorf("PATCH failed → completed = %d %s, want 200", r.status, r.body)
			}
			if r := e.do(call{method: "GET", path: opPath}); r.json(t)["status"] != "completed" || r.json(t)["error"] != nil {
				t.Errorf("after PATCH: %s, want completed without an error", r.body)
			}
			if v == "/beta" {
				r := e.do(call{method: "GET", path: "/beta/connections/contosohr/operations/" + opID})
				if got, want := r.json(t)["@odata.context"], base+"/beta/$metadata#connections('contosohr')/operations/$entity"; r.status != http.StatusOK || got != want {
					t.Errorf("GET /beta/connections/… = %d, @odata.context %v; want 200, %v", r.status, got, want)
				}
			}
		})
	}
	// /v1.0 has no /connections family.
	e := newEnv(t)
	if r := e.do(call{method: "GET", path: "/v1.0/connections/contosohr/operations"}); r.status != http.StatusNotFound {
		t.Errorf("GET /v1.0/connections/… = %d, want 404", r.status)
	}
}

// The whole externalConnection of today's Graph: created with the settings
// that public connector samples send, read back, changed by PATCH, checked
// by Graph's rules; the early beta's paths do not show them.
func TestConnectionSettings(t *testing.T) {
	e := newEnv(t)
	resolver := map[string]any{
		"@odata.type":  "#microsoft.graph.externalConnectors.itemIdResolver",
		"urlMatchInfo": map[string]any{"baseUrls": []any{"https://contoso.com"}, "urlPattern": "/tickets/(?<ticketId>[0-9]+)"},
		"itemId":       "{ticketId}", "priority": float64(1),
	}
	template := map[string]any{
		"id": "tickets", "priority": float64(1),
		"layout": map[string]any{"type": "AdaptiveCard", "version": "1.3", "body": []any{map[string]any{"type": "TextBlock", "text": "${title}"}}},
		"rules":  []any{map[string]any{"property": "ticketTitle", "operation": "contains", "values": []any{"a"}, "valuesJoinedBy": "or"}},
	}
	body := map[string]any{
		"id": "tickets", "name": "Tickets", "description": "d", "connectorId": "e5b9e2ec-7d8e-4bde-9b8b-97ec4a2bbd3b",
		"activitySettings": map[string]any{"urlToItemResolvers": []any{resolver}},
		"searchSettings":   map[string]any{"searchResultTemplates": []any{template}},
		"configuration":    map[string]any{"authorizedAppIds": []any{"a8b3e0c1-0000-4000-8000-000000000001"}},
	}
	r := e.do(call{method: "POST", path: "/v1.0/external/connections", body: body,
		header: map[string]string{"GraphConnectors-Ticket": "opaque-ticket"}})
	if r.status != http.StatusCreated {
		t.Fatalf("POST with settings = %d %s, want 201", r.status, r.body)
	}
	check := func(what string, got map[string]any, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if k == "id" || k == "name" || k == "description" {
				continue
			}
			g := got[k]
			stripTypes(g)
			stripTypes(v)
			if !reflect.DeepEqual(g, v) {
				t.Errorf("%s: %s = %v, want %v", what, k, g, v)
			}
		}
	}
	check("POST", r.json(t), body)
	if got := r.json(t)["contentCategory"]; got != "uncategorized" {
		t.Errorf("contentCategory = %v, want uncategorized by default", got)
	}
	for _, path := range []string{"/v1.0/external/connections/tickets", "/beta/external/connections/tickets"} {
		check("GET "+path, e.do(call{method: "GET", path: path}).json(t), body)
	}
	// PATCH replaces configuration and keeps the rest.
	if r := e.do(call{method: "PATCH", path: "/v1.0/external/connections/tickets", body: map[string]any{
		"configuration": map[string]any{"authorizedAppIds": []any{}}, "contentCategory": "qna",
	}}); r.status != http.StatusNoContent {
		t.Fatalf("PATCH configuration = %d %s", r.status, r.body)
	}
	got := e.do(call{method: "GET", path: "/v1.0/external/connections/tickets"}).json(t)
	body["configuration"] = map[string]any{"authorizedAppIds": []any{}}
	body["contentCategory"] = "qna"
	check("after PATCH", got, body)
	// The early beta's shape has none of them.
	seed := e.do(call{method: "GET", path: "/external/connections/tickets"}).json(t)
	for _, k := range []string{"activitySettings", "searchSettings", "configuration", "connectorId", "contentCategory"} {
		if _, ok := seed[k]; ok {
			t.Errorf("unprefixed GET has %s", k)
		}
	}

	// Graph's rules, each a 400 that names what is wrong; nothing changes.
	bad := func(name string, mutate func(map[string]any), wantInMsg string) {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			b := map[string]any{"id": "badsettings", "name": "n"}
			mutate(b)
			r := e.do(call{method: "POST", path: "/v1.0/external/connections", body: b})
			if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), wantInMsg) {
				t.Errorf("POST = %d %s, want 400 saying %q", r.status, r.body, wantInMsg)
			}
		})
	}
	withResolver := func(pattern, itemID string) func(map[string]any) {
		return func(b map[string]any) {
			b["activitySettings"] = map[string]any{"urlToItemResolvers": []any{map[string]any{
				"urlMatchInfo": map[string]any{"urlPattern": pattern}, "itemId": itemID, "priority": 1}}}
		}
	}
	bad("an invalid urlPattern", withResolver("/tickets/(?<id>[0-9+", "{id}"), "is not a valid regular expression")
	bad("an itemId naming a missing group", withResolver("/tickets/(?<id>[0-9]+)", "{ticket}"), "names the group 'ticket'")
	bad("three result templates", func(b map[string]any) {
		b["searchSettings"] = map[string]any{"searchResultTemplates": []any{template, template, template}}
	}, "maximum number of items is 2")
	bad("a layout past 32 KiB", func(b map[string]any) {
		t := map[string]any{"id": "big", "layout": map[string]any{"text": strings.Repeat("x", 33000)}}
		b["searchSettings"] = map[string]any{"searchResultTemplates": []any{t}}
	}, "larger than 32768 bytes")
	bad("an unknown contentCategory", func(b map[string]any) { b["contentCategory"] = "gossip" }, "contentCategory")
	if r := e.do(call{method: "GET", path: "/v1.0/external/connections/badsettings"}); r.status != http.StatusNotFound {
		t.Errorf("a refused connection was stored: GET = %d", r.status)
	}
}

// stripTypes removes @odata.type annotations, which responses add, from m
// and what it holds.
func stripTypes(v any) {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "@odata.type")
		for _, x := range v {
			stripTypes(x)
		}
	case []any:
		for _, x := range v {
			stripTypes(x)
		}
	}
}

// $count on every collection: the /$count segment as plain text, and
// $count=true adding @odata.count to a page.
func TestCount(t *testing.T) {
	e := newEnv(t)
	f := e.fixture() // a connection with an operation
	for _, prefix := range []string{"", "/v1.0", "/beta"} {
		conns := prefix + "/external/connections"
		families := []string{conns + "/" + f.conn + "/operations"}
		if prefix != "/v1.0" {
			families = append(families, prefix+"/connections/"+f.conn+"/operations")
		}
		tests := []struct {
			path, want string
		}{{conns + "/$count", "1"}}
		for _, ops := range families {
			tests = append(tests,
				struct{ path, want string }{ops + "/$count", "1"},
				struct{ path, want string }{ops + "/$count?" + url.Values{"$filter": {"status eq 'completed'"}}.Encode(), "0"})
		}
		for _, tt := range tests {
			r := e.do(call{method: "GET", path: tt.path})
			if r.status != http.StatusOK || string(r.body) != tt.want || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
				t.Errorf("GET %s = %d %q (%s), want 200 %q as text/plain", tt.path, r.status, r.body, r.header.Get("Content-Type"), tt.want)
			}
			// A system query option that $count does not take.
			path, _, _ := strings.Cut(tt.path, "?")
			if r := e.do(call{method: "GET", path: path + "?$orderby=id"}); r.status != http.StatusBadRequest {
				t.Errorf("GET %s?$orderby=id = %d, want 400", path, r.status)
			}
		}
		for _, list := range append([]string{conns}, families...) {
			r := e.do(call{method: "GET", path: list + "?$count=true&$top=1"})
			if got := r.json(t)["@odata.count"]; got != float64(1) {
				t.Errorf("GET %s?$count=true: @odata.count = %v, want 1", list, got)
			}
			if r := e.do(call{method: "GET", path: list}); strings.Contains(string(r.body), "@odata.count") {
				t.Errorf("GET %s without $count has @odata.count", list)
			}
		}
		if r := e.do(call{method: "GET", path: conns + "/nosuch/operations/$count"}); r.status != http.StatusNotFound {
			t.Errorf("$count of a missing connection's operations = %d, want 404", r.status)
		}
	}
}
