package tests

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/server"
)

// schemaBody is a schema that openapi.yaml accepts, made of the given
// properties.
func schemaBody(props ...map[string]any) map[string]any {
	list := make([]any, len(props))
	for i, p := range props {
		list[i] = p
	}
	return map[string]any{"baseType": "microsoft.graph.externalItem", "properties": list}
}

var goodSchema = schemaBody(
	map[string]any{"name": "ticketTitle", "type": "string", "isSearchable": true, "isRetrievable": true, "labels": []any{"title"}},
	map[string]any{"name": "priority", "type": "int64", "isQueryable": true, "isRefinable": true, "aliases": []any{"rank"}},
	map[string]any{"name": "ticketId", "type": "string", "isQueryable": true, "isExactMatchRequired": true, "description": "The ticket's id."},
)

// registerSchema PATCHes the schema and returns the path of the operation
// that the Location header names.
func (e *env) registerSchema(conn string, body any) string {
	e.t.Helper()
	r := e.do(call{method: "PATCH", path: "/external/connections/" + conn + "/schema", body: body})
	if r.status != http.StatusAccepted {
		e.t.Fatalf("PATCH schema = %d %s, want 202", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || !loc.IsAbs() || loc.Host != strings.TrimPrefix(e.srv.URL, "http://") {
		e.t.Fatalf("Location = %q, want an absolute URL on this server", r.header.Get("Location"))
	}
	if !strings.HasPrefix(loc.Path, "/external/connections/"+conn+"/operations/") {
		e.t.Fatalf("Location = %q, want an operation of connection %s", loc, conn)
	}
	return loc.Path
}

// pollOperation GETs the operation until its status is terminal, as a Graph
// client does, and returns every status it saw, in order, without repeats.
func (e *env) pollOperation(path string) ([]string, map[string]any) {
	e.t.Helper()
	var seen []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.do(call{method: "GET", path: path})
		if r.status != http.StatusOK {
			e.t.Fatalf("GET %s = %d %s", path, r.status, r.body)
		}
		op := r.entity(e.t)
		status := op["status"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != status {
			seen = append(seen, status)
		}
		if status == "completed" || status == "failed" {
			return seen, op
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("operation %s still %s after 10s", path, status)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (e *env) connectionState(conn string) string {
	e.t.Helper()
	r := e.do(call{method: "GET", path: "/external/connections/" + conn})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET connection = %d %s", r.status, r.body)
	}
	return r.entity(e.t)["state"].(string)
}

// A Graph client registers a schema, gets 202 with Location, and polls the
// operation until it completes; then the connection is ready.
func TestSchemaRegistrationPolling(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	if r := e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/schema"}); r.status != http.StatusNotFound {
		t.Errorf("GET schema before registration = %d, want 404", r.status)
	}
	if got := e.connectionState(f.conn); got != "draft" {
		t.Errorf("state of a new connection = %q, want draft", got)
	}
	opPath := e.registerSchema(f.conn, goodSchema)

	// Only one registration at a time.
	r := e.do(call{method: "PATCH", path: "/external/connections/" + f.conn + "/schema", body: goodSchema})
	if r.status != http.StatusConflict || r.errorCode(t) != "notAllowed" {
		t.Errorf("second PATCH schema while one is in progress = %d %s, want 409 notAllowed", r.status, r.body)
	}

	seen, op := e.pollOperation(opPath)
	if diff := cmp.Diff([]string{"inprogress", "completed"}, seen); diff != "" {
		t.Errorf("statuses seen while polling (-want +got):\n%s", diff)
	}
	if op["error"] != nil {
		t.Errorf("completed operation has error %v", op["error"])
	}
	if got := e.connectionState(f.conn); got != "ready" {
		t.Errorf("state after registration = %q, want ready", got)
	}
	r = e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/schema"})
	if r.status != http.StatusOK {
		t.Fatalf("GET schema = %d %s", r.status, r.body)
	}
	want := map[string]any{"@odata.type": "#microsoft.graph.schema", "baseType": "microsoft.graph.externalItem", "properties": []any{
		map[string]any{"name": "ticketTitle", "type": "string", "isSearchable": true, "isQueryable": false, "isRetrievable": true,
			"isRefinable": false, "isExactMatchRequired": false, "labels": []any{"title"}, "aliases": []any{}},
		map[string]any{"name": "priority", "type": "int64", "isSearchable": false, "isQueryable": true, "isRetrievable": false,
			"isRefinable": true, "isExactMatchRequired": false, "labels": []any{}, "aliases": []any{"rank"}},
		map[string]any{"name": "ticketId", "type": "string", "isSearchable": false, "isQueryable": true, "isRetrievable": false,
			"isRefinable": false, "isExactMatchRequired": true, "labels": []any{}, "aliases": []any{}, "description": "The ticket's id."},
	}}
	if diff := cmp.Diff(want, r.entity(t)); diff != "" {
		t.Errorf("GET schema mismatch (-want +got):\n%s", diff)
	}
	// Once done, the schema can be registered again.
	e.registerSchema(f.conn, goodSchema)
}

// Graph's schema rules that relate one field to another are refused at
// once, with a 400 that names the property and the rule, on every version
// and path family; nothing is registered, and the connection stays a draft.
func TestSchemaRulesRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		schema    map[string]any
		wantInMsg string
	}{
		{"searchable number", schemaBody(map[string]any{"name": "n", "type": "int64", "isSearchable": true}),
			"Property 'n' is searchable, but only string and stringCollection properties can be."},
		{"searchable and refinable", schemaBody(map[string]any{"name": "s", "type": "string", "isSearchable": true, "isRefinable": true}),
			"Property 's' is both searchable and refinable"},
		{"refinable boolean", schemaBody(map[string]any{"name": "done", "type": "boolean", "isRefinable": true}),
			"Property 'done' is refinable, but a boolean property cannot be"},
		{"label on a property that is not retrievable", schemaBody(map[string]any{"name": "t", "type": "string", "labels": []any{"title"}}),
			"Property 't' has a label, so it must be retrievable."},
		{"label on two properties", schemaBody(
			map[string]any{"name": "a", "type": "string", "isRetrievable": true, "labels": []any{"title"}},
			map[string]any{"name": "b", "type": "string", "isRetrievable": true, "labels": []any{"title"}}),
			"The label 'title' of property 'b' is already on property 'a'."},
		{"duplicate name", schemaBody(map[string]any{"name": "a", "type": "string"}, map[string]any{"name": "A", "type": "int64"}),
			"The name or alias 'A' of property 'A' is already used by property 'a'."},
	}
	for _, tt := range tests {
		for _, prefix := range []string{"", "/v1.0", "/beta"} {
			t.Run(tt.name+" "+prefix, func(t *testing.T) {
				e := e.with(t)
				f := e.fixture()
				r := e.do(call{method: "PATCH", path: prefix + "/external/connections/" + f.conn + "/schema", body: tt.schema})
				if r.status != http.StatusBadRequest || r.errorCode(t) != "invalidRequest" || !strings.Contains(r.errorMessage(t), tt.wantInMsg) {
					t.Errorf("PATCH schema = %d %s, want 400 invalidRequest saying %q", r.status, r.body, tt.wantInMsg)
				}
				if got := e.connectionState(f.conn); got != "draft" {
					t.Errorf("state after a refused schema = %q, want draft", got)
				}
				if r := e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/operations/$count"}); string(r.body) != "1" {
					t.Errorf("operations after a refused schema = %s, want only the fixture's", r.body)
				}
			})
		}
	}
}

// What the contract can express is checked at once: 400, and no operation.
func TestSchemaRejectedByTheContract(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	many := make([]map[string]any, 129)
	for i := range many {
		many[i] = map[string]any{"name": fmt.Sprintf("p%d", i), "type": "string"}
	}
	prop := func(kv ...any) map[string]any {
		m := map[string]any{"name": "p", "type": "string"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name      string
		body      any
		wantInMsg string
	}{
		{"wrong base type", map[string]any{"baseType": "microsoft.graph.user", "properties": []any{prop()}}, "'baseType'"},
		{"no properties", schemaBody(), "'properties'"},
		{"129 properties", schemaBody(many...), "'properties'"},
		{"no property type", schemaBody(map[string]any{"name": "p"}), "type"},
		{"name with a dash", schemaBody(prop("name", "ticket-id")), "'properties[0].name'"},
		{"name of 33 characters", schemaBody(prop("name", strings.Repeat("a", 33))), "'properties[0].name'"},
		{"unknown type", schemaBody(prop("type", "guid")), "'properties[0].type'"},
		{"unknown label", schemaBody(prop("labels", []any{"subject"})), "'properties[0].labels[0]'"},
		{"alias with a space", schemaBody(prop("aliases", []any{"the title"})), "'properties[0].aliases[0]'"},
		{"description of 201 characters", schemaBody(prop("description", strings.Repeat("d", 201))), "'properties[0].description'"},
		{"unknown attribute", schemaBody(prop("isSortable", true)), "The property 'properties[0].isSortable' does not exist on type 'microsoft.graph.property'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: "PATCH", path: "/external/connections/" + f.conn + "/schema", body: tt.body})
			if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), tt.wantInMsg) {
				t.Errorf("PATCH schema = %d %s, want 400 naming %s", r.status, r.body, tt.wantInMsg)
			}
		})
	}
	r := e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/operations"})
	if n := len(r.json(t)["value"].([]any)); n != 1 {
		t.Errorf("after rejected registrations the connection has %d operations, want only the fixture's", n)
	}
}

// outcome is an operation's status and its error's errorCode ("" when its
// error is null), as a PATCH or a GET answers them.
type outcome struct{ status, errorCode string }

func outcomeOf(op map[string]any) outcome {
	status, _ := op["status"].(string)
	opErr, _ := op["error"].(map[string]any)
	code, _ := opErr["errorCode"].(string)
	if opErr != nil && code == "" {
		code = "(no errorCode)"
	}
	return outcome{status, code}
}

// onFamily returns the operation path opPath, which is on
// /external/connections, on the path family of step i: the two families
// take turns.
func onFamily(opPath string, i int) string {
	if i%2 == 1 {
		return strings.Replace(opPath, "/external/connections/", "/connections/", 1)
	}
	return opPath
}

// PATCH of an operation applies whatever its status, completed and failed
// too, on both path families (issue 15). A client's terminal write before
// the worker's turn ends the registration: the worker leaves the operation
// as the client set it, and the schema does not apply. Once the worker has
// finished, a PATCH changes the operation only.
func TestPatchOperationOnEveryStatus(t *testing.T) {
	late := map[string]any{"errorCode": "LateFailure", "message": "The source rejected the schema after all."}
	cancelled := map[string]any{"errorCode": "Cancelled", "message": "cancelled by the connector"}

	t.Run("client first", func(t *testing.T) {
		e := newEnv(t)
		tests := []struct {
			name    string
			patches []map[string]any // the client's, in order; the first is terminal
			want    outcome
		}{
			{"failed", []map[string]any{{"status": "failed", "error": cancelled}}, outcome{"failed", "Cancelled"}},
			{"completed", []map[string]any{{"status": "completed"}}, outcome{"completed", ""}},
			{"failed, then completed without the error", []map[string]any{
				{"status": "failed", "error": cancelled},
				{"status": "completed", "error": nil},
			}, outcome{"completed", ""}},
			{"completed, then inprogress again", []map[string]any{
				{"status": "completed"},
				{"status": "inprogress"},
			}, outcome{"inprogress", ""}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.with(t)
				f := e.fixture()
				opPath := e.registerSchema(f.conn, goodSchema)
				for i, body := range tt.patches {
					r := e.do(call{method: "PATCH", path: onFamily(opPath, i), body: body})
					if r.status != http.StatusOK {
						t.Fatalf("client PATCH %v = %d %s, want 200", body, r.status, r.body)
					}
				}
				// The worker's turn comes and goes: a registration made after
				// the client's falls due after it, and the worker finishes due
				// registrations in order. (Were the worker not running, the
				// poll would fail, rather than the checks below pass for
				// nothing.)
				witness := e.fixture()
				if seen, _ := e.pollOperation(e.registerSchema(witness.conn, goodSchema)); !cmp.Equal(seen, []string{"inprogress", "completed"}) {
					t.Fatalf("a later registration went through %v, want inprogress then completed", seen)
				}
				for i := range 2 {
					path := onFamily(opPath, i)
					if got := outcomeOf(e.do(call{method: "GET", path: path}).entity(t)); got != tt.want {
						t.Errorf("GET %s = %+v, want the client's %+v kept", path, got, tt.want)
					}
				}
				if got := e.connectionState(f.conn); got != "draft" {
					t.Errorf("state = %q, want draft: the schema of a registration the client ended must not apply", got)
				}
				if r := e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/schema"}); r.status != http.StatusNotFound {
					t.Errorf("GET schema = %d %s, want 404", r.status, r.body)
				}
			})
		}
	})

	t.Run("worker first", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture()
		opPath := e.registerSchema(f.conn, goodSchema)
		if seen, _ := e.pollOperation(opPath); !cmp.Equal(seen, []string{"inprogress", "completed"}) {
			t.Fatalf("registration went through %v, want inprogress then completed", seen)
		}
		tag := e.do(call{method: "GET", path: opPath}).header.Get("ETag")
		// Each step applies to the result of the one before it, on the two
		// path families in turn.
		steps := []struct {
			name string
			body map[string]any
			want outcome
		}{
			{"completed to failed with an error", map[string]any{"status": "failed", "error": late}, outcome{"failed", "LateFailure"}},
			{"failed to completed keeps the error", map[string]any{"status": "completed"}, outcome{"completed", "LateFailure"}},
			{"completed, error cleared", map[string]any{"error": nil}, outcome{"completed", ""}},
			{"completed to inprogress", map[string]any{"status": "inprogress"}, outcome{"inprogress", ""}},
			{"inprogress to failed", map[string]any{"status": "failed", "error": late}, outcome{"failed", "LateFailure"}},
			{"failed, error cleared", map[string]any{"error": nil}, outcome{"failed", ""}},
			{"failed to unspecified", map[string]any{"status": "unspecified"}, outcome{"unspecified", ""}},
			{"completed again", map[string]any{"status": "completed"}, outcome{"completed", ""}},
			{"completed, the same status again", map[string]any{"status": "completed"}, outcome{"completed", ""}},
			{"completed to inprogress, last", map[string]any{"status": "inprogress"}, outcome{"inprogress", ""}},
		}
		for i, st := range steps {
			path := onFamily(opPath, i)
			r := e.do(call{method: "PATCH", path: path, body: st.body})
			if r.status != http.StatusOK {
				t.Fatalf("step %q: PATCH %s %v = %d %s, want 200", st.name, path, st.body, r.status, r.body)
			}
			if got := outcomeOf(r.entity(t)); got != st.want {
				t.Errorf("step %q: PATCH %v = %+v, want %+v", st.name, st.body, got, st.want)
			}
			newTag := r.header.Get("ETag")
			if newTag == "" || newTag == tag {
				t.Errorf("step %q: PATCH ETag = %q, want one other than %q", st.name, newTag, tag)
			}
			tag = newTag
			other := onFamily(opPath, i+1)
			read := e.do(call{method: "GET", path: other})
			if got := outcomeOf(read.entity(t)); got != st.want || read.header.Get("ETag") != tag {
				t.Errorf("step %q: GET %s = %+v, ETag %q; want %+v, %q", st.name, other, got, read.header.Get("ETag"), st.want, tag)
			}
		}
		// The registration stands: the schema stays and the connection ready,
		// and an operation the client set to inprogress does not hold up the
		// next registration.
		if got := e.connectionState(f.conn); got != "ready" {
			t.Errorf("state = %q, want ready", got)
		}
		if r := e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/schema"}); r.status != http.StatusOK {
			t.Errorf("GET schema = %d %s, want 200", r.status, r.body)
		}
		e.registerSchema(f.conn, goodSchema)
	})
}

// Work in progress survives a restart: the new worker finishes it. The
// registration takes long enough that a restart on a loaded machine (the
// race detector, a busy CI) still ends before it does.
func TestRestartInTheMiddleOfAnOperation(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.OperationDelay = 4 * time.Second })
	f := e.fixture()
	opPath := e.registerSchema(f.conn, goodSchema)
	e.restart()
	seen, _ := e.pollOperation(opPath)
	if diff := cmp.Diff([]string{"inprogress", "completed"}, seen); diff != "" {
		t.Errorf("statuses seen after the restart (-want +got):\n%s", diff)
	}
	if got := e.connectionState(f.conn); got != "ready" {
		t.Errorf("state = %q, want ready", got)
	}
}

// 32 clients PATCH one operation with the same If-Match: exactly one wins.
func TestConcurrentIfMatchPatches(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")
	tag := e.do(call{method: "GET", path: path}).header.Get("ETag")
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var winner string
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := tryDo(t, e.srv.URL, e.token, call{method: "PATCH", path: path, header: map[string]string{"If-Match": tag},
				body: map[string]any{"error": map[string]any{"errorCode": fmt.Sprint("client", i)}}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == http.StatusOK {
				winner = fmt.Sprint("client", i)
			} else if r.errorCode(t) != "resourceModified" {
				t.Errorf("losing PATCH = %d %s, want 412 resourceModified", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != n-1 {
		t.Errorf("statuses = %v, want one 200 and %d 412", statuses, n-1)
	}
	got := e.do(call{method: "GET", path: path}).entity(t)
	if opErr, _ := got["error"].(map[string]any); opErr["errorCode"] != winner {
		t.Errorf("stored error = %v, want the winner's errorCode %s", got["error"], winner)
	}
}

func TestIfMatch(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	conn := "/external/connections/" + f.conn
	op := f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")
	etagOf := func(path string) string { return e.do(call{method: "GET", path: path}).header.Get("ETag") }

	connTag := etagOf(conn)
	r := e.do(call{method: "PATCH", path: conn, header: map[string]string{"If-Match": connTag}, body: map[string]any{"name": "Renamed"}})
	if r.status != http.StatusNoContent || r.header.Get("ETag") == connTag || r.header.Get("ETag") != etagOf(conn) {
		t.Errorf("PATCH connection with its ETag = %d, ETag %q; want 204 and the new ETag", r.status, r.header.Get("ETag"))
	}
	tests := []struct {
		name, method, path, ifMatch string
		body                        any
		want                        int
	}{
		{"stale connection ETag", "PATCH", conn, connTag, map[string]any{"name": "x"}, 412},
		{"a list holding the current ETag", "PATCH", conn, `"1", ` + etagOf(conn), map[string]any{"name": "List"}, 204},
		{"star", "PATCH", conn, "*", map[string]any{"description": "any"}, 204},
		{"garbage", "PATCH", conn, "not-an-etag", map[string]any{"name": "x"}, 412},
		{"operation, stale", "PATCH", op, `"1"`, map[string]any{"status": "completed"}, 412},
		{"operation, star", "PATCH", op, "*", map[string]any{"status": "unspecified"}, 200},
		{"delete operation, stale", "DELETE", op, `"1"`, nil, 412},
		{"delete connection, stale", "DELETE", conn, connTag, nil, 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: tt.method, path: tt.path, header: map[string]string{"If-Match": tt.ifMatch}, body: tt.body})
			if r.status != tt.want {
				t.Errorf("%s with If-Match %s = %d %s, want %d", tt.method, tt.ifMatch, r.status, r.body, tt.want)
			}
			if tt.want == http.StatusPreconditionFailed && r.errorCode(t) != "resourceModified" {
				t.Errorf("error code = %s, want resourceModified", r.errorCode(t))
			}
		})
	}
	if r := e.do(call{method: "DELETE", path: op, header: map[string]string{"If-Match": etagOf(op)}}); r.status != http.StatusNoContent {
		t.Errorf("DELETE operation with its ETag = %d %s, want 204", r.status, r.body)
	}
	if r := e.do(call{method: "DELETE", path: conn, header: map[string]string{"If-Match": etagOf(conn)}}); r.status != http.StatusAccepted {
		t.Errorf("DELETE connection with its ETag = %d %s, want 202", r.status, r.body)
	}
}

// Deleting a connection takes its schema and operations with it.
func TestDeleteConnectionCascades(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	e.pollOperation(e.registerSchema(f.conn, goodSchema))
	if r := e.do(call{method: "DELETE", path: "/external/connections/" + f.conn}); r.status != http.StatusAccepted {
		t.Fatalf("DELETE connection = %d %s, want 202", r.status, r.body)
	}
	for _, c := range []call{
		{method: "GET", path: "/external/connections/" + f.conn},
		{method: "GET", path: "/external/connections/" + f.conn + "/schema"},
		{method: "GET", path: "/external/connections/" + f.conn + "/operations"},
		{method: "GET", path: "/connections/" + f.conn + "/operations"},
		{method: "GET", path: f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")},
		{method: "GET", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")},
		{method: "PATCH", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}"), body: map[string]any{"status": "failed"}},
		{method: "DELETE", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")},
		{method: "PATCH", path: "/external/connections/" + f.conn, body: map[string]any{"name": "x"}},
		{method: "DELETE", path: "/external/connections/" + f.conn},
	} {
		if r := e.do(c); r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" {
			t.Errorf("%s %s after delete = %d %s, want 404 itemNotFound", c.method, c.path, r.status, r.body)
		}
	}
	// The id is free again, and the new connection starts empty.
	if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": f.conn, "name": "again"}}); r.status != http.StatusCreated {
		t.Fatalf("re-creating %s = %d %s", f.conn, r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: "/connections/" + f.conn + "/operations"}); len(r.json(t)["value"].([]any)) != 0 {
		t.Errorf("operations of the re-created connection = %s, want none", r.body)
	}
}

func TestDeleteOperation(t *testing.T) {
	e := newEnv(t)
	for _, family := range []string{"/external/connections/{externalConnectionId}", "/connections/{connectionsId}"} {
		f := e.fixture()
		path := f.fill(family + "/operations/{connectionOperationId}")
		if r := e.do(call{method: "DELETE", path: path}); r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Errorf("DELETE %s = %d %q, want 204 and no body", path, r.status, r.body)
		}
		if r := e.do(call{method: "GET", path: path}); r.status != http.StatusNotFound {
			t.Errorf("GET after DELETE = %d, want 404", r.status)
		}
	}
}

func TestConnectionReadAndUpdate(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := "/external/connections/" + f.conn
	r := e.do(call{method: "GET", path: path})
	want := map[string]any{"@odata.type": "#microsoft.graph.externalConnection", "id": f.conn, "name": "Contoso HR", "description": "", "state": "draft"}
	if diff := cmp.Diff(want, r.entity(t)); r.status != http.StatusOK || diff != "" {
		t.Errorf("GET connection = %d, mismatch (-want +got):\n%s", r.status, diff)
	}
	if r := e.do(call{method: "PATCH", path: path, body: map[string]any{"description": "HR data", "@odata.type": "#microsoft.graph.externalConnection"}}); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("PATCH description = %d %q, want 204 and no body", r.status, r.body)
	}
	if r := e.do(call{method: "PATCH", path: path, body: map[string]any{"name": "Contoso People", "id": f.conn}}); r.status != http.StatusNoContent {
		t.Fatalf("PATCH name with the same id = %d %s, want 204", r.status, r.body)
	}
	want["description"], want["name"] = "HR data", "Contoso People"
	if diff := cmp.Diff(want, e.do(call{method: "GET", path: path}).entity(t)); diff != "" {
		t.Errorf("GET after PATCH mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name      string
		body      map[string]any
		wantInMsg string
	}{
		{"other id", map[string]any{"id": "another1"}, "'id' is read-only"},
		{"state", map[string]any{"state": "ready"}, "'state'"},
		{"empty name", map[string]any{"name": ""}, "'name'"},
		{"long name", map[string]any{"name": strings.Repeat("n", 129)}, "'name'"},
		{"unknown property", map[string]any{"connectorId": "x"}, "'connectorId'"},
	} {
		r := e.do(call{method: "PATCH", path: path, body: tt.body})
		if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), tt.wantInMsg) {
			t.Errorf("PATCH %s = %d %s, want 400 naming %s", tt.name, r.status, r.body, tt.wantInMsg)
		}
	}
	if diff := cmp.Diff(want, e.do(call{method: "GET", path: path}).entity(t)); diff != "" {
		t.Errorf("rejected PATCHes changed the connection (-want +got):\n%s", diff)
	}
}

// pageThrough follows @odata.nextLink from path and returns every item's id
// and the number of pages.
func (e *env) pageThrough(path string) ([]string, int) {
	e.t.Helper()
	var ids []string
	pages := 0
	for path != "" {
		pages++
		if pages > 50 {
			e.t.Fatal("paging does not end")
		}
		r := e.do(call{method: "GET", path: path})
		if r.status != http.StatusOK {
			e.t.Fatalf("GET %s = %d %s", path, r.status, r.body)
		}
		page := r.json(e.t)
		for _, v := range page["value"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		path = ""
		if next, ok := page["@odata.nextLink"].(string); ok {
			u, err := url.Parse(next)
			if err != nil || !u.IsAbs() {
				e.t.Fatalf("@odata.nextLink = %q, want an absolute URL", next)
			}
			path = u.RequestURI()
		}
	}
	return ids, pages
}

func TestListOperations(t *testing.T) {
	e := newEnv(t)
	f := e.fixture() // its operation is inprogress
	all := []string{f.op}
	var completed []string
	for i := range 6 {
		status := "failed"
		if i%2 == 0 {
			status = "completed"
		}
		r := e.do(call{method: "POST", path: "/connections/" + f.conn + "/operations", body: map[string]any{"status": status}})
		if r.status != http.StatusCreated {
			t.Fatalf("POST operation = %d %s", r.status, r.body)
		}
		id := r.json(t)["id"].(string)
		all = append(all, id)
		if status == "completed" {
			completed = append(completed, id)
		}
	}
	for _, family := range []string{"/external/connections/", "/connections/"} {
		base := family + f.conn + "/operations"
		tests := []struct {
			name      string
			query     string
			want      []string
			wantPages int
		}{
			{"default page", "", all, 1},
			{"pages of 3", "?$top=3", all, 3},
			{"pages of 1", "?$top=1", all, 7},
			{"filter completed in pages of 2", "?$top=2&$filter=" + url.QueryEscape("status eq 'completed'"), completed, 2},
			{"filter with spaces", "?$filter=" + url.QueryEscape("  status  eq 'inprogress' "), []string{f.op}, 1},
			{"filter matching nothing", "?$filter=" + url.QueryEscape("status eq 'unspecified'"), nil, 1},
			{"select", "?$select=id,status&$top=4", all, 2},
		}
		for _, tt := range tests {
			t.Run(family+tt.name, func(t *testing.T) {
				e := e.with(t)
				got, pages := e.pageThrough(base + tt.query)
				if diff := cmp.Diff(tt.want, got); diff != "" || pages != tt.wantPages {
					t.Errorf("paging %s: %d pages, want %d; ids (-want +got):\n%s", tt.query, pages, tt.wantPages, diff)
				}
			})
		}
		r := e.do(call{method: "GET", path: base + "?$select=status"})
		for _, v := range r.json(t)["value"].([]any) {
			item := v.(map[string]any)
			if _, ok := item["id"]; ok || item["status"] == nil {
				t.Errorf("$select=status item = %v, want status without id", item)
			}
		}
		wantCtx := strings.Trim(family, "/") + "('" + f.conn + "')/operations(status)"
		if ctx := r.json(t)["@odata.context"].(string); !strings.HasSuffix(ctx, "/$metadata#"+wantCtx) {
			t.Errorf("@odata.context = %q, want it to end in #%s", ctx, wantCtx)
		}
		for _, q := range []string{
			"?$filter=" + url.QueryEscape("status ne 'completed'"),
			"?$filter=" + url.QueryEscape("id eq 'x'"),
			"?$filter=" + url.QueryEscape("status eq 'done'"),
			"?$filter=garbage",
			"?$top=0", "?$top=1000", "?$top=ten",
			"?$skiptoken=%25%25%25",
			"?$select=bogus",
			"?$orderby=status",
			"?$count=maybe",
			"?$expand=schema",
		} {
			if r := e.do(call{method: "GET", path: base + q}); r.status != http.StatusBadRequest || r.errorCode(t) != "invalidRequest" {
				t.Errorf("GET %s = %d %s, want 400 invalidRequest", q, r.status, r.body)
			}
		}
	}
}

func TestListConnections(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("list%02d", i)
		if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": id, "name": id}}); r.status != http.StatusCreated {
			t.Fatalf("POST connection = %d %s", r.status, r.body)
		}
		want = append(want, id)
	}
	got, pages := e.pageThrough("/external/connections?$top=2")
	if diff := cmp.Diff(want, got); diff != "" || pages != 3 {
		t.Errorf("paging connections: %d pages, want 3; ids (-want +got):\n%s", pages, diff)
	}
	r := e.do(call{method: "GET", path: "/external/connections?$select=id,state"})
	for _, v := range r.json(t)["value"].([]any) {
		item := v.(map[string]any)
		if _, ok := item["name"]; ok || item["state"] != "draft" {
			t.Errorf("$select=id,state item = %v, want id and state only", item)
		}
	}
	if r := e.do(call{method: "GET", path: "/external/connections?$select=nope"}); r.status != http.StatusBadRequest ||
		r.errorMessage(t) != "Could not find a property named 'nope' on type 'microsoft.graph.externalConnection'." {
		t.Errorf("GET with $select=nope = %d %s, want Graph's 400", r.status, r.body)
	}
}

func TestGetOperationSelect(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	for _, family := range []string{"/external/connections/{externalConnectionId}", "/connections/{connectionsId}"} {
		path := f.fill(family + "/operations/{connectionOperationId}")
		r := e.do(call{method: "GET", path: path + "?$select=status"})
		want := map[string]any{"@odata.type": "#microsoft.graph.connectionOperation", "status": "inprogress"}
		if diff := cmp.Diff(want, r.entity(t)); r.status != http.StatusOK || diff != "" {
			t.Errorf("GET $select=status = %d, mismatch (-want +got):\n%s", r.status, diff)
		}
		r = e.do(call{method: "GET", path: path + "?$select=status,error,id"})
		if got := r.entity(t); len(got) != 4 {
			t.Errorf("GET $select=status,error,id = %v, want those three", got)
		}
		r = e.do(call{method: "GET", path: path + "?$select=status,bogus"})
		if r.status != http.StatusBadRequest ||
			r.errorMessage(t) != "Could not find a property named 'bogus' on type 'microsoft.graph.connectionOperation'." {
			t.Errorf("GET $select=bogus = %d %s, want Graph's 400", r.status, r.body)
		}
	}
}

// @odata.context names what the payload holds, in the path family asked.
func TestODataContext(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	tests := []struct{ path, want string }{
		{"/external/connections/" + f.conn, "external/connections/$entity"},
		{"/external/connections", "external/connections"},
		{f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}"), "external/connections('" + f.conn + "')/operations/$entity"},
		{f.fill("/connections/{connectionsId}/operations/{connectionOperationId}"), "connections('" + f.conn + "')/operations/$entity"},
		{"/external/connections/" + f.conn + "/operations", "external/connections('" + f.conn + "')/operations"},
	}
	for _, tt := range tests {
		got, _ := e.do(call{method: "GET", path: tt.path}).json(t)["@odata.context"].(string)
		if want := e.srv.URL + "/$metadata#" + tt.want; got != want {
			t.Errorf("GET %s: @odata.context = %q, want %q", tt.path, got, want)
		}
	}
}

// Each operation of the spec answers the errors it documents for a missing
// parent, a bad $select and a stale If-Match.
func TestEveryOperationErrors(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	missing := f
	missing.conn = "nosuchconn"
	for _, op := range operations() {
		o := spec.Paths.Value(op.path).GetOperation(op.method)
		var body any
		if o.RequestBody != nil {
			body = validBody(op.method, op.path)
		}
		params := map[string]bool{}
		for _, p := range append(spec.Paths.Value(op.path).Parameters, o.Parameters...) {
			params[p.Value.Name] = true
		}
		if strings.Contains(op.path, "{") {
			t.Run(op.method+" "+op.path+"/missing connection", func(t *testing.T) {
				e := e.with(t)
				r := e.do(call{method: op.method, path: missing.fill(op.path), body: body})
				if r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" || !strings.Contains(r.errorMessage(t), "'nosuchconn'") {
					t.Errorf("= %d %s, want 404 itemNotFound naming the connection", r.status, r.body)
				}
			})
		}
		if params["$select"] {
			t.Run(op.method+" "+op.path+"/bad $select", func(t *testing.T) {
				e := e.with(t)
				r := e.do(call{method: op.method, path: f.fill(op.path) + "?$select=bogus"})
				if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), "'bogus'") {
					t.Errorf("= %d %s, want 400 naming 'bogus'", r.status, r.body)
				}
			})
		}
		if params["If-Match"] {
			t.Run(op.method+" "+op.path+"/stale If-Match", func(t *testing.T) {
				e := e.with(t)
				r := e.do(call{method: op.method, path: f.fill(op.path), body: body, header: map[string]string{"If-Match": `"42"`}})
				if r.status != http.StatusPreconditionFailed || r.errorCode(t) != "resourceModified" {
					t.Errorf("= %d %s, want 412 resourceModified", r.status, r.body)
				}
			})
		}
	}
}
