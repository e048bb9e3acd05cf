package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/server"
)

const itemType = "#microsoft.graph.externalConnectors.externalItem"

// versions are the path prefixes of the API: the early beta's (none),
// v1.0's and today's beta's.
var versions = []string{"", "/v1.0", "/beta"}

// versionName names a version in a subtest's name.
func versionName(v string) string {
	if v == "" {
		return "unprefixed"
	}
	return strings.TrimPrefix(v, "/")
}

// connFor is a connection id of the version v: prefix followed by it.
func connFor(prefix, v string) string {
	return prefix + strings.NewReplacer("/", "", ".", "").Replace(v)
}

// newItemsEnv is newEnv whose schema registrations complete at once.
func newItemsEnv(t *testing.T, configure ...func(*server.Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*server.Config){func(c *server.Config) { c.OperationDelay = 0 }}, configure...)...)
}

// schemaConnection creates the connection conn as h (the env's token when
// nil), registers schema on it through /v1.0, which takes every type, and
// waits until the registration completes.
func (e *env) schemaConnection(h map[string]string, conn string, schema any) {
	e.t.Helper()
	if r := e.as(h, call{method: "POST", path: "/v1.0/external/connections", body: map[string]any{"id": conn, "name": conn}}); r.status != http.StatusCreated {
		e.t.Fatalf("POST connection %s = %d %s, want 201", conn, r.status, r.body)
	}
	if r := e.as(h, call{method: "PATCH", path: "/v1.0/external/connections/" + conn + "/schema", body: schema}); r.status != http.StatusAccepted {
		e.t.Fatalf("PATCH schema of %s = %d %s, want 202", conn, r.status, r.body)
	}
	e.waitForSchema(h, conn)
}

// itemURL is the path of item id of connection conn under version v.
func itemURL(v, conn, id string) string {
	return v + "/external/connections/" + conn + "/items/" + id
}

// roundTrip is v as a client decodes it from JSON, numbers as json.Number.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	return decodeNumbers(t, mustJSON(t, v))
}

func decodeNumbers(t *testing.T, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatalf("decoding %.200s: %v", data, err)
	}
	return out
}

// itemOf decodes an item response: the body without @odata.context, which
// it checks, numbers as json.Number.
func itemOf(t *testing.T, r result, base, v, conn string) map[string]any {
	t.Helper()
	m, ok := decodeNumbers(t, r.body).(map[string]any)
	if !ok {
		t.Fatalf("body %.200s is not an object", r.body)
	}
	if got, want := m["@odata.context"], base+v+"/$metadata#external/connections('"+conn+"')/items/$entity"; got != want {
		t.Errorf("@odata.context = %v, want %v", got, want)
	}
	delete(m, "@odata.context")
	return m
}

// wantItem is the item that a PUT of body answers, and GET reads.
func wantItem(t *testing.T, id string, body map[string]any) map[string]any {
	t.Helper()
	want := roundTrip(t, body).(map[string]any)
	want["@odata.type"] = itemType
	want["id"] = id
	return want
}

// An item's whole life on each version: PUT creates and replaces, GET
// reads it back as it was put, PATCH replaces only the parts it holds,
// DELETE removes it.
func TestItemLifecycle(t *testing.T) {
	e := newItemsEnv(t)
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			e := e.with(t)
			conn := connFor("life", v)
			e.schemaConnection(nil, conn, goodSchema)
			const id = "TSP228082938"
			path := itemURL(v, conn, id)
			base := e.srv.URL

			if r := e.do(call{method: "GET", path: path}); r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" ||
				r.errorMessage(t) != "The item '"+id+"' was not found." {
				t.Errorf("GET before PUT = %d %s, want 404 itemNotFound naming the item", r.status, r.body)
			}

			first := map[string]any{
				"@odata.type": itemType,
				"acl": []any{
					map[string]any{"type": "user", "value": "e811976d-83df-4cbd-8b9b-5215b18aa874", "accessType": "grant"},
					map[string]any{"type": "externalGroup", "value": "14m1b9c38qe647f6a", "accessType": "deny"},
				},
				"properties":                 map[string]any{"ticketTitle": "Error in the payment gateway", "priority": 1, "ticketId": "TSP228082938"},
				"content":                    map[string]any{"value": "<p>Error in payment gateway...</p>", "type": "html"},
				"informationProtectionLabel": map[string]any{"sensitivityLabelId": "0f8fad5b-d9cb-469f-a165-70867728950e"},
			}
			want := wantItem(t, id, first)
			r := e.do(call{method: "PUT", path: path, body: first})
			if r.status != http.StatusOK {
				t.Fatalf("PUT = %d %s, want 200", r.status, r.body)
			}
			if diff := cmp.Diff(want, itemOf(t, r, base, v, conn)); diff != "" {
				t.Errorf("PUT response mismatch (-want +got):\n%s", diff)
			}
			get := func(what string, want map[string]any) {
				t.Helper()
				r := e.do(call{method: "GET", path: path})
				if r.status != http.StatusOK {
					t.Fatalf("GET after %s = %d %s, want 200", what, r.status, r.body)
				}
				if diff := cmp.Diff(want, itemOf(t, r, base, v, conn)); diff != "" {
					t.Errorf("GET after %s mismatch (-want +got):\n%s", what, diff)
				}
			}
			get("PUT", want)

			// PUT replaces the whole item: what it leaves out is gone.
			second := map[string]any{
				"id":         id, // the path's: allowed
				"acl":        []any{map[string]any{"type": "everyone", "value": devTenant, "accessType": "grant"}},
				"properties": map[string]any{"ticketTitle": "Fixed", "ticketId@odata.type": "String", "ticketId": "TSP228082938"},
			}
			want = wantItem(t, id, second)
			if r := e.do(call{method: "PUT", path: path, body: second}); r.status != http.StatusOK {
				t.Fatalf("PUT again = %d %s, want 200", r.status, r.body)
			} else if diff := cmp.Diff(want, itemOf(t, r, base, v, conn)); diff != "" {
				t.Errorf("second PUT response mismatch (-want +got):\n%s", diff)
			}
			get("the second PUT", want)

			// PATCH replaces the parts it holds, each as a whole.
			patches := []struct {
				name string
				body map[string]any
				set  map[string]any // the parts of the item it changes
			}{
				{"acl", map[string]any{"acl": []any{map[string]any{"type": "group", "value": "g1", "accessType": "deny", "identitySource": "azureActiveDirectory"}}},
					map[string]any{"acl": []any{map[string]any{"type": "group", "value": "g1", "accessType": "deny", "identitySource": "azureActiveDirectory"}}}},
				{"properties", map[string]any{"properties": map[string]any{"priority": 3}},
					map[string]any{"properties": map[string]any{"priority": 3}}},
				{"content without a type", map[string]any{"content": map[string]any{"value": "now text"}},
					map[string]any{"content": map[string]any{"value": "now text", "type": "text"}}},
				{"label and the path's id", map[string]any{"id": id, "informationProtectionLabel": map[string]any{"sensitivityLabelId": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}},
					map[string]any{"informationProtectionLabel": map[string]any{"sensitivityLabelId": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}}},
			}
			for _, p := range patches {
				for k, x := range roundTrip(t, p.set).(map[string]any) {
					want[k] = x
				}
				r := e.do(call{method: "PATCH", path: path, body: p.body})
				if r.status != http.StatusOK {
					t.Fatalf("PATCH %s = %d %s, want 200", p.name, r.status, r.body)
				}
				if diff := cmp.Diff(want, itemOf(t, r, base, v, conn)); diff != "" {
					t.Errorf("PATCH %s response mismatch (-want +got):\n%s", p.name, diff)
				}
				get("PATCH "+p.name, want)
			}

			// Refused PATCHes change nothing.
			for _, bad := range []struct {
				name      string
				body      map[string]any
				wantInMsg string
			}{
				{"another id", map[string]any{"id": "other1", "properties": map[string]any{"priority": 4}}, "'id'"},
				{"a property not in the schema", map[string]any{"properties": map[string]any{"color": "red"}}, "'color'"},
				{"an empty acl", map[string]any{"acl": []any{}}, "acl"},
				{"unknownFutureValue content", map[string]any{"content": map[string]any{"value": "x", "type": "unknownFutureValue"}}, "unknownFutureValue"},
			} {
				r := e.do(call{method: "PATCH", path: path, body: bad.body})
				if r.status != http.StatusBadRequest || r.errorCode(t) != "invalidRequest" || !strings.Contains(r.errorMessage(t), bad.wantInMsg) {
					t.Errorf("PATCH with %s = %d %s, want 400 invalidRequest saying %s", bad.name, r.status, r.body, bad.wantInMsg)
				}
				get("a PATCH with "+bad.name, want)
			}

			if r := e.do(call{method: "PATCH", path: itemURL(v, conn, "nosuchitem"), body: map[string]any{"content": map[string]any{"value": "x"}}}); r.status != http.StatusNotFound {
				t.Errorf("PATCH of a missing item = %d %s, want 404", r.status, r.body)
			}
			if r := e.do(call{method: "PUT", path: path, body: map[string]any{"id": "other1", "acl": second["acl"], "properties": second["properties"]}}); r.status != http.StatusBadRequest ||
				!strings.Contains(r.errorMessage(t), "'id'") {
				t.Errorf("PUT with another id in the body = %d %s, want 400 naming 'id'", r.status, r.body)
			}
			get("a PUT with another id", want)

			r = e.do(call{method: "DELETE", path: path})
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("DELETE = %d %q, want 204 without a body", r.status, r.body)
			}
			for _, c := range []call{
				{method: "GET", path: path},
				{method: "DELETE", path: path},
				{method: "PATCH", path: path, body: map[string]any{"content": map[string]any{"value": "x"}}},
			} {
				if r := e.do(c); r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" {
					t.Errorf("%s after DELETE = %d %s, want 404 itemNotFound", c.method, r.status, r.body)
				}
			}
		})
	}
}

// allTypesSchema has a property of each type.
var allTypesSchema = schemaBody(
	map[string]any{"name": "title", "type": "String", "isSearchable": true, "isRetrievable": true},
	map[string]any{"name": "priority", "type": "int64", "isQueryable": true, "isRetrievable": true, "aliases": []any{"rank"}},
	map[string]any{"name": "score", "type": "double", "isRetrievable": true},
	map[string]any{"name": "opened", "type": "DateTime", "isQueryable": true, "isRetrievable": true},
	map[string]any{"name": "done", "type": "boolean", "isRetrievable": true},
	map[string]any{"name": "tags", "type": "stringCollection", "isSearchable": true, "isRetrievable": true},
	map[string]any{"name": "counts", "type": "int64Collection", "isRetrievable": true},
	map[string]any{"name": "ratios", "type": "doubleCollection", "isRetrievable": true},
	map[string]any{"name": "dates", "type": "dateTimeCollection", "isRetrievable": true},
	map[string]any{"name": "owner", "type": "principal", "isRetrievable": true},
)

// raw is a JSON value sent as it is written: numbers that float64 cannot
// hold.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// Every value of an item is checked against the connection's registered
// schema when it arrives: each type takes its values, with Graph's
// annotations; anything else is a 400 that names the property, its
// registered type and what was sent, and writes nothing.
func TestItemProperties(t *testing.T) {
	e := newItemsEnv(t)
	accepted := []struct {
		name  string
		props map[string]any
	}{
		{"every type", map[string]any{
			"title": "Error in the payment gateway", "priority": 1, "score": 0.75, "opened": "2024-01-02T03:04:05Z", "done": false,
			"tags@odata.type": "Collection(String)", "tags": []any{"payments", "gateway"},
			"counts@odata.type": "Collection(Int64)", "counts": []any{1, 2, 3},
			"ratios@odata.type": "Collection(Double)", "ratios": []any{0.5, 1},
			"dates@odata.type": "Collection(DateTimeOffset)", "dates": []any{"2024-01-02T03:04:05Z", "2024-02-03T04:05:06.789+02:00"},
			"owner": map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.principal", "externalName": "Jane Doe", "externalId": "jdoe", "upn": "jane@contoso.com"},
		}},
		{"int64 at its bounds", map[string]any{"priority": raw("9223372036854775807"), "counts": raw("[-9223372036854775808, 0]")}},
		{"int64 written with an exponent", map[string]any{"priority": raw("1e3")}},
		{"double written as an integer", map[string]any{"score": 3}},
		{"dateTime with an offset and a fraction", map[string]any{"opened": "2024-01-02T03:04:05.1234567-08:00"}},
		{"annotations in their Edm and # forms", map[string]any{"tags@odata.type": "#Collection(Edm.String)", "tags": []any{"a"}, "dates@odata.type": "Collection(Edm.DateTimeOffset)", "dates": []any{}}},
		{"a non-ASCII string annotated String", map[string]any{"title@odata.type": "String", "title": "Überweisung fehlgeschlagen — 支付失败"}},
		{"a collection without its annotation", map[string]any{"tags": []any{"a", "b"}}},
		{"a null value", map[string]any{"title": nil, "priority": 2}},
		{"a name in another case", map[string]any{"Title": "x", "PRIORITY": 1}},
	}
	refused := []struct {
		name      string
		props     map[string]any
		wantInMsg []string // the property, its registered type, what was sent
	}{
		{"string gets a number", map[string]any{"title": 42}, []string{"'title'", "string", "the number 42"}},
		{"string gets an array", map[string]any{"title": []any{"a"}}, []string{"'title'", "string", "an array of 1 (string)"}},
		{"int64 gets a string", map[string]any{"priority": "1"}, []string{"'priority'", "int64", `the string "1"`}},
		{"int64 gets a fraction", map[string]any{"priority": 1.5}, []string{"'priority'", "int64", "the number 1.5"}},
		{"int64 past 2^63-1", map[string]any{"priority": raw("9223372036854775808")}, []string{"'priority'", "int64", "9223372036854775808", "outside the 64-bit range"}},
		{"int64 below -2^63", map[string]any{"priority": raw("-9223372036854775809")}, []string{"'priority'", "int64", "-9223372036854775809", "outside the 64-bit range"}},
		{"double gets a string", map[string]any{"score": "0.5"}, []string{"'score'", "double", `the string "0.5"`}},
		{"double gets a boolean", map[string]any{"score": true}, []string{"'score'", "double", "the boolean true"}},
		{"dateTime gets words", map[string]any{"opened": "next Tuesday"}, []string{"'opened'", "dateTime", `the string "next Tuesday"`}},
		{"dateTime gets a date alone", map[string]any{"opened": "2024-01-02"}, []string{"'opened'", "dateTime", `the string "2024-01-02"`}},
		{"dateTime gets a month 13", map[string]any{"opened": "2024-13-02T03:04:05Z"}, []string{"'opened'", "dateTime", `the string "2024-13-02T03:04:05Z"`}},
		{"dateTime gets a number", map[string]any{"opened": 1704164645}, []string{"'opened'", "dateTime", "the number 1704164645"}},
		{"boolean gets a string", map[string]any{"done": "true"}, []string{"'done'", "boolean", `the string "true"`}},
		{"boolean gets a number", map[string]any{"done": 1}, []string{"'done'", "boolean", "the number 1"}},
		{"collection gets one string", map[string]any{"tags@odata.type": "Collection(String)", "tags": "a"}, []string{"'tags'", "stringCollection", `the string "a"`}},
		{"collection of strings gets a number among them", map[string]any{"tags": []any{"a", 1}}, []string{"'tags'", "stringCollection", "an array of 2 (integer, string)"}},
		{"collection of int64 gets a fraction", map[string]any{"counts": []any{1, 2.5}}, []string{"'counts'", "int64Collection", "an array of 2 (integer, number)"}},
		{"collection of int64 gets 2^63", map[string]any{"counts": raw("[1, 9223372036854775808]")}, []string{"'counts'", "int64Collection", "an array of 2 (integer, number)"}},
		{"collection of doubles gets strings", map[string]any{"ratios": []any{"0.5"}}, []string{"'ratios'", "doubleCollection", "an array of 1 (string)"}},
		{"collection of dateTimes gets words", map[string]any{"dates": []any{"2024-01-02T03:04:05Z", "soon"}}, []string{"'dates'", "dateTimeCollection", "an array of 2 (string)"}},
		{"collection annotated with another type", map[string]any{"tags@odata.type": "Collection(Int64)", "tags": []any{"a"}},
			[]string{"'tags@odata.type'", "stringCollection", `the string "Collection(Int64)"`, "Collection(String)"}},
		{"one value annotated as a collection", map[string]any{"title@odata.type": "Collection(String)", "title": "a"},
			[]string{"'title@odata.type'", "string", `the string "Collection(String)"`}},
		{"an annotation that is no string", map[string]any{"tags@odata.type": 7, "tags": []any{"a"}}, []string{"'tags@odata.type'", "stringCollection", "the number 7"}},
		{"an annotation of a property not in the schema", map[string]any{"color@odata.type": "String"}, []string{"'color'", "not in the connection's schema"}},
		{"an annotation other than @odata.type", map[string]any{"title@odata.id": "x"}, []string{"'title@odata.id'", "@odata.type"}},
		{"principal gets a string", map[string]any{"owner": "jdoe"}, []string{"'owner'", "principal", `the string "jdoe"`}},
		{"principal gets an unknown member", map[string]any{"owner": map[string]any{"name": "Jane"}}, []string{"'owner'", "principal", "an object"}},
		{"principal nested deep", map[string]any{"owner": nested(20)}, []string{"'owner'", "principal", "an object"}},
		{"a property not in the schema", map[string]any{"title": "t", "color": "blue"}, []string{"'color'", "not in the connection's schema"}},
		{"an alias", map[string]any{"rank": 1}, []string{"'rank'", "not in the connection's schema"}}, // aliases are for queries
	}
	good := map[string]any{"title": "The item before", "priority": 7}
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			e := e.with(t)
			conn := connFor("types", v)
			e.schemaConnection(nil, conn, allTypesSchema)
			item := func(props map[string]any) map[string]any {
				return map[string]any{"acl": []any{map[string]any{"type": "everyone", "value": devTenant, "accessType": "grant"}}, "properties": props}
			}
			for i, tt := range accepted {
				t.Run(tt.name, func(t *testing.T) {
					e := e.with(t)
					path := itemURL(v, conn, "accepted"+string(rune('a'+i)))
					if r := e.do(call{method: "PUT", path: path, body: item(tt.props)}); r.status != http.StatusOK {
						t.Fatalf("PUT = %d %s, want 200", r.status, r.body)
					}
					r := e.do(call{method: "GET", path: path})
					if diff := cmp.Diff(roundTrip(t, tt.props), itemOf(t, r, e.srv.URL, v, conn)["properties"]); diff != "" {
						t.Errorf("GET: properties mismatch (-sent +got):\n%s", diff)
					}
				})
			}
			kept := itemURL(v, conn, "kept")
			if r := e.do(call{method: "PUT", path: kept, body: item(good)}); r.status != http.StatusOK {
				t.Fatalf("PUT of a good item = %d %s", r.status, r.body)
			}
			before := e.do(call{method: "GET", path: kept})
			for _, tt := range refused {
				t.Run(tt.name, func(t *testing.T) {
					e := e.with(t)
					check := func(what string, r result) {
						t.Helper()
						msg := r.errorMessage(t)
						if r.status != http.StatusBadRequest || r.errorCode(t) != "invalidRequest" {
							t.Errorf("%s = %d %s, want 400 invalidRequest", what, r.status, r.body)
						}
						for _, s := range tt.wantInMsg {
							if !strings.Contains(msg, s) {
								t.Errorf("%s: message %q does not say %s", what, msg, s)
							}
						}
					}
					check("PUT over an item", e.do(call{method: "PUT", path: kept, body: item(tt.props)}))
					check("PATCH", e.do(call{method: "PATCH", path: kept, body: map[string]any{"properties": tt.props}}))
					if after := e.do(call{method: "GET", path: kept}); after.status != http.StatusOK || !bytes.Equal(after.body, before.body) {
						t.Errorf("after the refusals GET = %d %s, want the item as before: %s", after.status, after.body, before.body)
					}
					fresh := itemURL(v, conn, "refused")
					check("PUT of a new item", e.do(call{method: "PUT", path: fresh, body: item(tt.props)}))
					if r := e.do(call{method: "GET", path: fresh}); r.status != http.StatusNotFound {
						t.Errorf("a refused new item was stored: GET = %d %s", r.status, r.body)
					}
				})
			}
		})
	}
}

// nested is an object nested depth levels deep.
func nested(depth int) map[string]any {
	m := map[string]any{"externalName": "x"}
	for range depth {
		m = map[string]any{"entraId": m}
	}
	return m
}

// Items need the connection's schema registered, and its registration
// completed: before, a PUT is a 400 that says so, and stores nothing.
func TestItemsNeedARegisteredSchema(t *testing.T) {
	e := newEnv(t) // registrations take testOperationDelay
	body := itemBody("Too early")
	for _, v := range versions {
		conn := connFor("early", v)
		if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": conn}}); r.status != http.StatusCreated {
			t.Fatalf("POST connection = %d %s", r.status, r.body)
		}
	}
	check := func(when string) {
		t.Helper()
		for _, v := range versions {
			conn := connFor("early", v)
			r := e.do(call{method: "PUT", path: itemURL(v, conn, "early1"), body: body})
			if msg := r.errorMessage(t); r.status != http.StatusBadRequest || !strings.Contains(msg, "'"+conn+"' has no registered schema") ||
				!strings.Contains(msg, "register one") {
				t.Errorf("%s: PUT %s = %d %s, want 400 saying to register a schema", when, versionName(v), r.status, r.body)
			}
			if r := e.do(call{method: "GET", path: itemURL(v, conn, "early1")}); r.status != http.StatusNotFound {
				t.Errorf("%s: a refused item was stored: GET = %d %s", when, r.status, r.body)
			}
		}
	}
	check("without a schema")
	for _, v := range versions {
		e.registerSchema(connFor("early", v), goodSchema)
	}
	check("while the registration is in progress")
	for _, v := range versions {
		conn := connFor("early", v)
		e.waitForSchema(nil, conn)
		if r := e.do(call{method: "PUT", path: itemURL(v, conn, "early1"), body: body}); r.status != http.StatusOK {
			t.Errorf("once registered: PUT %s = %d %s, want 200", versionName(v), r.status, r.body)
		}
	}
}

// Item ids are 1 to 128 letters and digits. Others, and ids that try to
// leave their path segment, get a 400 or a 404, never more, and create
// nothing.
func TestItemIDs(t *testing.T) {
	e := newItemsEnv(t)
	const conn = "itemids"
	e.schemaConnection(nil, conn, goodSchema)
	good := []string{strings.Repeat("a", 128), "A1b2C3", "0"}
	bad := []string{
		strings.Repeat("a", 129), strings.Repeat("a", 300), "item-1", "item_1", "item.1", "a%20b", "a%3Fb", "a;b", "a'b",
		"a%2Fb", "%2F", "..", "%2e%2e", "..%2F..%2Fschema", "%00", "%C3%A9t%C3%A9", "%E2%80%AE", "%ff%fe", "%22%3E%3Cscript%3E",
	}
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			e := e.with(t)
			for _, id := range good {
				r := e.do(call{method: "PUT", path: itemURL(v, conn, id), body: itemBody("Good id")})
				if r.status != http.StatusOK {
					t.Errorf("PUT %.20s… = %d %s, want 200", id, r.status, r.body)
					continue
				}
				if got := e.do(call{method: "GET", path: itemURL(v, conn, id)}).json(t)["id"]; got != id {
					t.Errorf("GET %.20s…: id = %v, want %v", id, got, id)
				}
			}
			for _, id := range bad {
				for _, c := range []call{
					{method: "PUT", path: itemURL(v, conn, id), body: itemBody("Bad id")},
					{method: "GET", path: itemURL(v, conn, id)},
					{method: "PATCH", path: itemURL(v, conn, id), body: map[string]any{"properties": map[string]any{"ticketTitle": "x"}}},
					{method: "DELETE", path: itemURL(v, conn, id)},
					{method: "POST", path: itemURL(v, conn, id) + "/addActivities", body: validBody("POST", "/external/connections/{externalConnectionId}/items/{externalItemId}/addActivities")},
				} {
					if r := e.do(c); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
						t.Errorf("%s %.80s = %d %s, want 400 or 404", c.method, c.path, r.status, r.body)
					}
				}
			}
			if r := e.do(call{method: "PUT", path: itemURL(v, conn, strings.Repeat("a", 129)), body: itemBody("Too long")}); r.status != http.StatusBadRequest ||
				!strings.Contains(r.errorMessage(t), "1 to 128 alphanumeric characters") {
				t.Errorf("PUT of a 129-character id = %d %s, want 400 giving the rule", r.status, r.body)
			}
		})
	}
	// The good ids, and nothing else, were stored.
	if got, want := e.quota(conn), server.DefaultMaxItemsPerConnection-int64(len(good)); got != want {
		t.Errorf("itemsRemaining = %d, want %d: the refused ids stored something", got, want)
	}
}

// quota returns the itemsRemaining of beta's quota of conn.
func (e *env) quota(conn string) int64 {
	e.t.Helper()
	r := e.do(call{method: "GET", path: "/beta/external/connections/" + conn + "/quota"})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET quota of %s = %d %s", conn, r.status, r.body)
	}
	m := r.json(e.t)
	if got, want := m["@odata.context"], e.srv.URL+"/beta/$metadata#external/connections('"+conn+"')/quota/$entity"; got != want {
		e.t.Errorf("quota @odata.context = %v, want %v", got, want)
	}
	if m["@odata.type"] != "#microsoft.graph.externalConnectors.connectionQuota" || m["id"] != conn {
		e.t.Errorf("quota = %s, want a connectionQuota of %s", r.body, conn)
	}
	return int64(m["itemsRemaining"].(float64))
}

// An item is at most 4 MiB of JSON, as in Graph: one byte more is a 413;
// up to it, however the bytes are spent, the item is stored or refused
// with a 4xx; nesting past any schema's is a 400.
func TestItemBodyLimits(t *testing.T) {
	e := newItemsEnv(t)
	const conn = "itemlimits"
	e.schemaConnection(nil, conn, allTypesSchema)
	const limit = server.DefaultMaxBodyBytes
	small := map[string]any{"acl": []any{map[string]any{"type": "everyone", "value": devTenant, "accessType": "grant"}}, "properties": map[string]any{"title": "t"}}
	withContent := func(n int) map[string]any {
		b := map[string]any{"acl": small["acl"], "properties": small["properties"], "content": map[string]any{"value": strings.Repeat("x", n)}}
		return b
	}
	// tags is as many short strings as take about n bytes.
	tags := func(n int) map[string]any {
		list := make([]any, 0, n/12)
		for i := 0; len(list) < n/12; i++ {
			list = append(list, "tag"+strings.Repeat("0", 6-len(itoa(i)))+itoa(i))
		}
		return map[string]any{"acl": small["acl"], "properties": map[string]any{"tags@odata.type": "Collection(String)", "tags": list}}
	}
	deep := func(open, close string) string {
		return strings.Repeat(open, 40) + strings.Repeat(close, 40)
	}
	tests := []struct {
		name       string
		body       func() []byte
		wantStatus int // 0: 200, or a 4xx other than 413
		wantInMsg  string
	}{
		{"one byte past 4 MiB", func() []byte { return padded(t, small, limit+1) }, http.StatusRequestEntityTooLarge, ""},
		{"content past 4 MiB", func() []byte { return mustJSON(t, withContent(limit)) }, http.StatusRequestEntityTooLarge, ""},
		{"exactly 4 MiB", func() []byte { return padded(t, small, limit) }, http.StatusOK, ""},
		{"content of 4 MiB less 1 KiB", func() []byte { return mustJSON(t, withContent(limit-1024)) }, http.StatusOK, ""},
		{"a collection of 4 MiB less 1 KiB", func() []byte { return mustJSON(t, tags(limit-1024)) }, 0, ""},
		{"content nested deep", func() []byte {
			return []byte(`{"acl":[{"type":"everyone","value":"x","accessType":"grant"}],"properties":{"title":"t"},"content":{"value":` + deep("[", "]") + `}}`)
		}, http.StatusBadRequest, "nests deeper"},
		{"a property nested deep", func() []byte {
			return []byte(`{"acl":[{"type":"everyone","value":"x","accessType":"grant"}],"properties":{"owner":` + deep(`{"a":`, "}") + `}}`)
		}, http.StatusBadRequest, "nests deeper"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			path := itemURL("/v1.0", conn, "limits"+itoa(i))
			body := tt.body()
			r := e.do(call{method: "PUT", path: path, body: body})
			switch {
			case tt.wantStatus == 0 && r.status == http.StatusOK:
			case tt.wantStatus == 0 && r.status >= 400 && r.status < 500 && r.status != http.StatusRequestEntityTooLarge:
				t.Logf("refused: %d %.300s", r.status, r.body)
			case r.status != tt.wantStatus && tt.wantStatus != 0:
				t.Fatalf("PUT of %d bytes = %d %.300s, want %d", len(body), r.status, r.body, tt.wantStatus)
			case tt.wantStatus == 0:
				t.Fatalf("PUT of %d bytes = %d %.300s, want 200 or a 4xx other than 413", len(body), r.status, r.body)
			}
			if tt.wantInMsg != "" && !strings.Contains(r.errorMessage(t), tt.wantInMsg) {
				t.Errorf("message %q, want it to say %q", r.errorMessage(t), tt.wantInMsg)
			}
			got := e.do(call{method: "GET", path: path})
			if r.status != http.StatusOK {
				if got.status != http.StatusNotFound {
					t.Errorf("a refused item was stored: GET = %d", got.status)
				}
				return
			}
			// What was stored is what was sent.
			var sent, stored struct {
				Properties json.RawMessage
				Content    *struct{ Value string }
			}
			if err := json.Unmarshal(body, &sent); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got.body, &stored); err != nil || got.status != http.StatusOK {
				t.Fatalf("GET = %d, %v", got.status, err)
			}
			if !bytes.Equal(compact(t, sent.Properties), compact(t, stored.Properties)) {
				t.Errorf("GET: properties of %d bytes, want the %d bytes sent", len(stored.Properties), len(sent.Properties))
			}
			if (sent.Content == nil) != (stored.Content == nil) || sent.Content != nil && sent.Content.Value != stored.Content.Value {
				t.Errorf("GET: content differs from the content sent")
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func compact(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// New items PUT at the same moment into a connection with room for a few:
// exactly that many are stored, the others get 507, on either store.
func TestItemQuotaUnderConcurrentPuts(t *testing.T) {
	const limit, puts = 3, 24
	e := newItemsEnv(t, func(c *server.Config) { c.MaxItemsPerConnection = limit })
	const conn = "busyconn"
	e.schemaConnection(nil, conn, goodSchema)
	statuses := make([]int, puts)
	var wg sync.WaitGroup
	for i := range puts {
		wg.Go(func() {
			r, err := tryDo(t, e.srv.URL, e.token, call{method: "PUT", path: itemURL("/v1.0", conn, fmt.Sprint("item", i)), body: itemBody("Busy")})
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if want := map[int]int{http.StatusOK: limit, http.StatusInsufficientStorage: puts - limit}; !cmp.Equal(count, want) {
		t.Errorf("%d concurrent PUTs of new items under a limit of %d: statuses %v, want %v", puts, limit, count, want)
	}
	if got := e.quota(conn); got != 0 {
		t.Errorf("itemsRemaining = %d, want 0", got)
	}
}

// Beta's quota counts down as items are added and up as they are deleted;
// past the connection's capacity a new item is a 507, on every version,
// while replacing an item still works.
func TestItemQuota(t *testing.T) {
	e := newItemsEnv(t, func(c *server.Config) { c.MaxItemsPerConnection = 2 })
	const conn = "quotaconn"
	e.schemaConnection(nil, conn, goodSchema)
	e.schemaConnection(nil, "otherconn", goodSchema)
	check := func(when string, want int64) {
		t.Helper()
		if got := e.quota(conn); got != want {
			t.Errorf("%s: itemsRemaining = %d, want %d", when, got, want)
		}
		r := e.do(call{method: "GET", path: "/beta/external/connections/" + conn})
		if got := r.json(t)["ingestedItemsCount"]; got != float64(2-want) {
			t.Errorf("%s: beta's ingestedItemsCount = %v, want %d", when, got, 2-want)
		}
	}
	check("at first", 2)
	put := func(v, id string) result {
		t.Helper()
		return e.do(call{method: "PUT", path: itemURL(v, conn, id), body: itemBody("Quota")})
	}
	if r := put("", "first"); r.status != http.StatusOK {
		t.Fatalf("PUT first = %d %s", r.status, r.body)
	}
	check("after one PUT", 1)
	if r := put("/v1.0", "second"); r.status != http.StatusOK {
		t.Fatalf("PUT second = %d %s", r.status, r.body)
	}
	check("after two PUTs", 0)
	for _, v := range versions {
		r := put(v, "third")
		if r.status != http.StatusInsufficientStorage || r.errorCode(t) != "quotaLimitReached" ||
			r.errorMessage(t) != "The connection 'quotaconn' holds 2 items, its limit; delete items before adding others." {
			t.Errorf("%s: PUT of a third item = %d %s, want 507 quotaLimitReached", versionName(v), r.status, r.body)
		}
		if r := put(v, "first"); r.status != http.StatusOK {
			t.Errorf("%s: PUT replacing an item when full = %d %s, want 200", versionName(v), r.status, r.body)
		}
	}
	if r := e.do(call{method: "GET", path: itemURL("/v1.0", conn, "third")}); r.status != http.StatusNotFound {
		t.Errorf("a refused item was stored: GET = %d", r.status)
	}
	check("when full", 0)
	if got := e.quota("otherconn"); got != 2 {
		t.Errorf("another connection's itemsRemaining = %d, want 2", got)
	}
	if r := e.do(call{method: "DELETE", path: itemURL("/beta", conn, "first")}); r.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	check("after a DELETE", 1)
	if r := put("/beta", "third"); r.status != http.StatusOK {
		t.Errorf("PUT of a new item after a DELETE = %d %s, want 200", r.status, r.body)
	}
	check("at the end", 0)
	// Only beta has the quota.
	for _, v := range []string{"", "/v1.0"} {
		if r := e.do(call{method: "GET", path: v + "/external/connections/" + conn + "/quota"}); r.status != http.StatusNotFound {
			t.Errorf("GET %s quota = %d, want 404", versionName(v), r.status)
		}
	}
}

// addActivities records the activities that can be and says, one by one,
// why the others cannot: 200 when every one is recorded, 207 when some are
// refused; under both its names, on every version.
func TestAddActivities(t *testing.T) {
	e := newItemsEnv(t)
	const conn = "activities"
	e.schemaConnection(nil, conn, goodSchema)
	user := map[string]any{"type": "user", "id": "1f0c997e-99f7-43f1-8cca-086f8d42be8d"}
	activity := func(typ, start string, by map[string]any) map[string]any {
		a := map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.externalActivity", "type": typ, "startDateTime": start}
		if by != nil {
			a["performedBy"] = by
		}
		return a
	}
	for _, v := range versions {
		for _, action := range []string{"microsoft.graph.externalConnectors.addActivities", "addActivities"} {
			t.Run(versionName(v)+"/"+action, func(t *testing.T) {
				e := e.with(t)
				id := "act" + connFor("", v) + itoa(len(action))
				if r := e.do(call{method: "PUT", path: itemURL(v, conn, id), body: itemBody("Activities")}); r.status != http.StatusOK {
					t.Fatalf("PUT = %d %s", r.status, r.body)
				}
				path := itemURL(v, conn, id) + "/" + action
				results := func(r result) []map[string]any {
					t.Helper()
					m := r.json(t)
					if got, want := m["@odata.context"], e.srv.URL+v+"/$metadata#Collection(microsoft.graph.externalConnectors.externalActivityResult)"; got != want {
						t.Errorf("@odata.context = %v, want %v", got, want)
					}
					var out []map[string]any
					for _, x := range m["value"].([]any) {
						res := x.(map[string]any)
						if res["@odata.type"] != "#microsoft.graph.externalConnectors.externalActivityResult" {
							t.Errorf("result @odata.type = %v", res["@odata.type"])
						}
						out = append(out, res)
					}
					return out
				}

				all := []any{
					activity("created", "2021-04-06T18:04:31.033Z", user),
					activity("viewed", "2024-01-02T03:04:05+02:00", nil),
					activity("commented", time.Now().UTC().Format(time.RFC3339), map[string]any{"id": "someone"}), // a user unless typed
				}
				r := e.do(call{method: "POST", path: path, body: map[string]any{"activities": all}})
				if r.status != http.StatusOK {
					t.Fatalf("POST of good activities = %d %s, want 200", r.status, r.body)
				}
				got := results(r)
				if len(got) != len(all) {
					t.Fatalf("%d results, want %d", len(got), len(all))
				}
				for i, res := range got {
					sent := all[i].(map[string]any)
					if res["error"] != nil || res["type"] != sent["type"] {
						t.Errorf("result %d = %v, want type %v, error null", i, res, sent["type"])
					}
					want, _ := time.Parse(time.RFC3339, sent["startDateTime"].(string))
					if start, err := time.Parse(time.RFC3339, res["startDateTime"].(string)); err != nil || !start.Equal(want) {
						t.Errorf("result %d: startDateTime = %v, want %v", i, res["startDateTime"], sent["startDateTime"])
					}
				}
				if by, _ := got[0]["performedBy"].(map[string]any); by["id"] != user["id"] || by["type"] != "user" {
					t.Errorf("result 0: performedBy = %v, want %v", got[0]["performedBy"], user)
				}

				some := []any{
					activity("modified", "2021-04-06T18:04:31Z", user),
					activity("viewed", "2999-01-01T00:00:00Z", user),
					activity("created", "2021-04-06T18:04:31Z", map[string]any{"type": "group", "id": "a-group"}),
					activity("unknownFutureValue", "2021-04-06T18:04:31Z", user),
				}
				r = e.do(call{method: "POST", path: path, body: map[string]any{"activities": some}})
				if r.status != http.StatusMultiStatus {
					t.Fatalf("POST with refused activities = %d %s, want 207", r.status, r.body)
				}
				got = results(r)
				wantTargets := []string{"", "activities/1/startDateTime", "activities/2/performedBy/type", "activities/3/type"}
				for i, res := range got {
					errObj, _ := res["error"].(map[string]any)
					switch {
					case wantTargets[i] == "" && res["error"] != nil:
						t.Errorf("result %d: error = %v, want null", i, res["error"])
					case wantTargets[i] != "" && (errObj["code"] != "invalidActivity" || errObj["target"] != wantTargets[i] || errObj["message"] == ""):
						t.Errorf("result %d: error = %v, want invalidActivity with target %s", i, res["error"], wantTargets[i])
					}
				}

				twentyOne := make([]any, 21)
				for i := range twentyOne {
					twentyOne[i] = activity("viewed", "2021-04-06T18:04:31Z", user)
				}
				for _, bad := range []struct {
					name string
					body any
				}{
					{"21 activities", map[string]any{"activities": twentyOne}},
					{"no activity", map[string]any{"activities": []any{}}},
					{"no startDateTime", map[string]any{"activities": []any{map[string]any{"type": "viewed"}}}},
					{"a startDateTime that is no date", map[string]any{"activities": []any{activity("viewed", "yesterday", user)}}},
					{"an unknown type", map[string]any{"activities": []any{activity("liked", "2021-04-06T18:04:31Z", user)}}},
				} {
					if r := e.do(call{method: "POST", path: path, body: bad.body}); r.status != http.StatusBadRequest {
						t.Errorf("POST with %s = %d %s, want 400", bad.name, r.status, r.body)
					}
				}
				if r := e.do(call{method: "POST", path: path, body: map[string]any{"activities": twentyOne[:20]}}); r.status != http.StatusOK {
					t.Errorf("POST of 20 activities = %d %s, want 200", r.status, r.body)
				}

				missing := itemURL(v, conn, "nosuchitem") + "/" + action
				if r := e.do(call{method: "POST", path: missing, body: map[string]any{"activities": all}}); r.status != http.StatusNotFound ||
					r.errorMessage(t) != "The item 'nosuchitem' was not found." {
					t.Errorf("POST on a missing item = %d %s, want 404 naming the item", r.status, r.body)
				}
				if r := e.do(call{method: "DELETE", path: itemURL(v, conn, id)}); r.status != http.StatusNoContent {
					t.Fatalf("DELETE = %d %s", r.status, r.body)
				}
				if r := e.do(call{method: "POST", path: path, body: map[string]any{"activities": all}}); r.status != http.StatusNotFound {
					t.Errorf("POST on a deleted item = %d %s, want 404", r.status, r.body)
				}
			})
		}
	}
}

// Items follow the connection's schema as registered last: a registration
// in progress changes nothing; once it completes, the new properties take
// values.
func TestItemsFollowTheSchema(t *testing.T) {
	e := newEnv(t) // registrations take testOperationDelay
	const conn = "evolving"
	e.schemaConnection(nil, conn, goodSchema)
	withColor := func(title string) map[string]any {
		b := itemBody(title)
		b["properties"].(map[string]any)["color"] = "red"
		return b
	}
	put := func(when string, body map[string]any, want int) {
		t.Helper()
		if r := e.do(call{method: "PUT", path: itemURL("/v1.0", conn, "evolving1"), body: body}); r.status != want {
			t.Errorf("%s: PUT = %d %s, want %d", when, r.status, r.body, want)
		}
	}
	put("before", withColor("Red"), http.StatusBadRequest)
	props := append([]any{}, goodSchema["properties"].([]any)...)
	wider := map[string]any{"baseType": goodSchema["baseType"], "properties": append(props, map[string]any{"name": "color", "type": "string", "isRetrievable": true})}
	op := e.registerSchema(conn, wider)
	put("while the new schema is registered", withColor("Red"), http.StatusBadRequest)
	put("while the new schema is registered", itemBody("Plain"), http.StatusOK)
	if seen, _ := e.pollOperation(op); seen[len(seen)-1] != "completed" {
		t.Fatalf("registration = %v, want completed", seen)
	}
	put("once registered", withColor("Red"), http.StatusOK)
}
