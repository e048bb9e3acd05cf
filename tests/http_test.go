package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/server"
)

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// validBody returns a body that the operation at method and path accepts.
func validBody(method, path string) map[string]any {
	path = unversioned(path)
	switch {
	case method == "POST" && path == "/external/connections":
		return map[string]any{"id": "c" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20], "name": "n"}
	case strings.HasSuffix(path, "/schema"):
		return map[string]any{"baseType": "microsoft.graph.externalItem", "properties": []any{
			map[string]any{"name": "title", "type": "string", "isSearchable": true, "isRetrievable": true, "labels": []any{"title"}}}}
	case path == "/external/connections/{externalConnectionId}":
		return map[string]any{"description": "changed"}
	case method == "PUT" && path == "/external/connections/{externalConnectionId}/items/{externalItemId}":
		return itemBody("Valid")
	case method == "PATCH" && path == "/external/connections/{externalConnectionId}/items/{externalItemId}":
		return map[string]any{"properties": map[string]any{"ticketTitle": "Changed"}}
	case strings.HasSuffix(path, "addActivities"):
		return map[string]any{"activities": []any{map[string]any{
			"@odata.type": "#microsoft.graph.externalConnectors.externalActivity", "type": "created",
			"startDateTime": "2021-04-06T18:04:31.033Z", "performedBy": map[string]any{"type": "user", "id": uuid.NewString()},
		}}}
	case method == "POST" && path == "/external/connections/{externalConnectionId}/groups":
		return map[string]any{"id": newGroupID(), "displayName": "Valid"}
	case path == "/external/connections/{externalConnectionId}/groups/{externalGroupId}":
		return map[string]any{"description": "changed"}
	case strings.HasSuffix(path, "/members"):
		return map[string]any{"id": uuid.NewString(), "type": "user"}
	case searchPath(path):
		return map[string]any{"requests": []any{map[string]any{"entityTypes": []any{"externalItem"}, "query": map[string]any{"queryString": "valid"}}}}
	}
	return map[string]any{"status": "completed"}
}

// unversioned is path without its version prefix (/v1.0, /beta).
func unversioned(path string) string {
	for _, v := range []string{"/v1.0/", "/beta/"} {
		if rest, ok := strings.CutPrefix(path, v); ok {
			return "/" + rest
		}
	}
	return path
}

// successStatus is the 2xx status that openapi.yaml documents for an
// operation: the lowest, when it documents several (addActivities' 200 and
// its partial 207).
func successStatus(t *testing.T, method, path string) int {
	t.Helper()
	best := 0
	for code := range spec.Paths.Value(path).GetOperation(method).Responses.Map() {
		if n, err := strconv.Atoi(code); err == nil && n < 300 && (best == 0 || n < best) {
			best = n
		}
	}
	if best == 0 {
		t.Fatalf("%s %s documents no success status", method, path)
	}
	return best
}

// Every operation of the spec requires a bearer token.
func TestEveryOperationNeedsToken(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	headers := []struct {
		name, value, wantMsg string
	}{
		{"none", "", "Access token is empty."},
		{"empty bearer", "Bearer ", "Access token is empty."},
		{"basic", "Basic dXNlcjpwYXNz", "Access token validation failure."},
	}
	for _, op := range operations() {
		for _, h := range headers {
			t.Run(op.method+" "+op.path+"/"+h.name, func(t *testing.T) {
				e := e.with(t)
				c := call{method: op.method, path: f.fill(op.path), header: map[string]string{"Authorization": h.value}}
				if spec.Paths.Value(op.path).GetOperation(op.method).RequestBody != nil {
					c.body = validBody(op.method, op.path)
				}
				r := e.do(c)
				if r.status != http.StatusUnauthorized || r.errorCode(t) != "InvalidAuthenticationToken" {
					t.Fatalf("%s %s = %d %s, want 401 InvalidAuthenticationToken", op.method, op.path, r.status, r.body)
				}
				if msg := r.errorMessage(t); !strings.HasPrefix(msg, h.wantMsg) {
					t.Errorf("message = %q, want it to begin %q", msg, h.wantMsg)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
}

// Every operation with a body takes JSON, gzipped or not, up to the limit.
func TestRequestBodies(t *testing.T) {
	const limit = 1024
	e := newEnv(t, func(c *server.Config) { c.MaxBodyBytes = limit })
	for _, op := range operations() {
		if spec.Paths.Value(op.path).GetOperation(op.method).RequestBody == nil {
			continue
		}
		okStatus := successStatus(t, op.method, op.path)
		tests := []struct {
			name       string
			body       func() []byte
			header     map[string]string
			wantStatus int
			wantCode   string
		}{
			{"json", func() []byte { return mustJSON(t, validBody(op.method, op.path)) }, nil, okStatus, ""},
			{"json with charset", func() []byte { return mustJSON(t, validBody(op.method, op.path)) },
				map[string]string{"Content-Type": "application/json; charset=utf-8"}, okStatus, ""},
			{"gzip", func() []byte { return gzipped(t, mustJSON(t, validBody(op.method, op.path))) },
				map[string]string{"Content-Encoding": "gzip"}, okStatus, ""},
			{"text/plain", func() []byte { return mustJSON(t, validBody(op.method, op.path)) },
				map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, "unsupportedMediaType"},
			{"xml", func() []byte { return []byte("<status>completed</status>") },
				map[string]string{"Content-Type": "application/xml"}, http.StatusUnsupportedMediaType, "unsupportedMediaType"},
			{"brotli", func() []byte { return mustJSON(t, validBody(op.method, op.path)) },
				map[string]string{"Content-Encoding": "br"}, http.StatusUnsupportedMediaType, "unsupportedMediaType"},
			{"over the limit", func() []byte { return padded(t, validBody(op.method, op.path), limit+1) },
				nil, http.StatusRequestEntityTooLarge, "requestEntityTooLarge"},
			{"gzip over the limit once unzipped", func() []byte { return gzipped(t, padded(t, validBody(op.method, op.path), 100*limit)) },
				map[string]string{"Content-Encoding": "gzip"}, http.StatusRequestEntityTooLarge, "requestEntityTooLarge"},
			{"exactly the limit", func() []byte { return padded(t, validBody(op.method, op.path), limit) }, nil, okStatus, ""},
			{"broken gzip", func() []byte { return []byte("not gzip at all") },
				map[string]string{"Content-Encoding": "gzip"}, http.StatusBadRequest, "invalidRequest"},
		}
		for _, tt := range tests {
			t.Run(op.method+" "+op.path+"/"+tt.name, func(t *testing.T) {
				e := e.with(t)
				f := e.fixtureFor(op.path)
				header := tt.header
				if searchPath(op.path) {
					header = maps.Clone(header)
					if header == nil {
						header = map[string]string{}
					}
					header["Authorization"] = "Bearer " + e.mint(auth.TokenOptions{AppID: testApp, Scopes: []string{"ExternalItem.Read.All"}})
				}
				r := e.do(call{method: op.method, path: f.fill(op.path), body: tt.body(), header: header})
				if r.status != tt.wantStatus {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.wantStatus)
				}
				if tt.wantCode != "" && r.errorCode(t) != tt.wantCode {
					t.Errorf("error code = %q, want %q", r.errorCode(t), tt.wantCode)
				}
			})
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// padded returns v as JSON of exactly n bytes, padded with spaces.
func padded(t *testing.T, v any, n int) []byte {
	t.Helper()
	b := mustJSON(t, v)
	if len(b) > n {
		t.Fatalf("%s is longer than %d bytes", b, n)
	}
	return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
}

// Answers outside every operation are Graph errors too.
func TestRouterErrors(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	tests := []struct {
		method, path string
		wantStatus   int
		wantCode     string
	}{
		{"GET", "/index.html", 404, "itemNotFound"}, // GET / leads to the docs
		{"GET", "/external/nothing", 404, "itemNotFound"},
		{"GET", "/external/connections/" + f.conn + "/operations/" + f.op + "/more", 404, "itemNotFound"},
		{"PUT", "/external/connections/" + f.conn + "/operations/" + f.op, 405, "notSupported"},
		{"PUT", "/connections/" + f.conn + "/operations/" + f.op, 405, "notSupported"},
		{"POST", "/external/connections/" + f.conn, 405, "notSupported"},
		{"DELETE", "/external/connections/" + f.conn + "/schema", 405, "notSupported"},
		{"POST", "/connections/" + f.conn + "/operations/" + f.op, 405, "notSupported"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: tt.method, path: tt.path})
			if r.status != tt.wantStatus || r.errorCode(t) != tt.wantCode {
				t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.path, r.status, r.body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	seen := map[string]bool{}
	tests := []struct {
		name   string
		c      call
		client string
	}{
		{"success with client id", call{method: "GET", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")}, "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
		{"success without client id", call{method: "GET", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")}, ""},
		{"validation error with client id", call{method: "PATCH", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}"), body: `{"x":1}`}, "my-trace-1"},
		{"router error with client id", call{method: "GET", path: "/nowhere"}, "my-trace-2"},
		{"router error without client id", call{method: "GET", path: "/nowhere"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			tt.c.header = map[string]string{"client-request-id": tt.client}
			r := e.do(tt.c) // do checks the headers and the error body's ids
			rid := r.header.Get("request-id")
			if seen[rid] {
				t.Errorf("request-id %s was given twice", rid)
			}
			seen[rid] = true
			if !strings.Contains(e.logs.String(), `"request-id":"`+rid+`"`) {
				t.Errorf("no log line carries request-id %s", rid)
			}
		})
	}
}
