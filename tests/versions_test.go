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
