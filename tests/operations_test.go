package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The seed: PATCH a connectionOperation, on both paths.
func TestUpdateOperation(t *testing.T) {
	e := newEnv(t)
	fullError := map[string]any{
		"@odata.type": "#microsoft.graph.errorDetail",
		"errorCode":   "InvalidSchema",
		"message":     "The schema property 'title' is not searchable.",
		"details": []any{
			map[string]any{"@odata.type": "#microsoft.graph.innerErrorDetail", "source": "properties/0"},
			map[string]any{"@odata.type": "#microsoft.graph.innerErrorDetail", "source": "properties/1"},
		},
	}
	paths := []string{
		"/external/connections/{externalConnectionId}/operations/{connectionOperationId}",
		"/connections/{connectionsId}/operations/{connectionOperationId}",
	}
	tests := []struct {
		name string
		// before is PATCHed first, to set up the state that body then changes.
		before map[string]any
		body   map[string]any
		want   map[string]any // status and error after the PATCH
	}{
		{"status unspecified", nil, map[string]any{"status": "unspecified"}, map[string]any{"status": "unspecified", "error": nil}},
		{"status inprogress", nil, map[string]any{"status": "inprogress"}, map[string]any{"status": "inprogress", "error": nil}},
		{"status completed", nil, map[string]any{"status": "completed"}, map[string]any{"status": "completed", "error": nil}},
		{"status failed", nil, map[string]any{"status": "failed"}, map[string]any{"status": "failed", "error": nil}},
		{"failed with error and details", nil,
			map[string]any{"@odata.type": "#microsoft.graph.connectionOperation", "status": "failed", "error": fullError},
			map[string]any{"status": "failed", "error": fullError}},
		{"odata types without #", nil,
			map[string]any{"@odata.type": "microsoft.graph.connectionOperation", "error": map[string]any{
				"@odata.type": "microsoft.graph.errorDetail", "message": "m",
				"details": []any{map[string]any{"@odata.type": "microsoft.graph.innerErrorDetail", "source": "s"}}}},
			map[string]any{"status": "inprogress", "error": map[string]any{
				"@odata.type": "#microsoft.graph.errorDetail", "errorCode": "", "message": "m",
				"details": []any{map[string]any{"@odata.type": "#microsoft.graph.innerErrorDetail", "source": "s"}}}}},
		{"status only keeps the error", map[string]any{"status": "inprogress", "error": fullError},
			map[string]any{"status": "completed"}, map[string]any{"status": "completed", "error": fullError}},
		{"error only keeps the status", map[string]any{"status": "unspecified"},
			map[string]any{"error": fullError}, map[string]any{"status": "unspecified", "error": fullError}},
		{"error null clears the error", map[string]any{"status": "inprogress", "error": fullError},
			map[string]any{"error": nil}, map[string]any{"status": "inprogress", "error": nil}},
		{"empty body changes nothing", map[string]any{"status": "failed", "error": fullError},
			map[string]any{}, map[string]any{"status": "failed", "error": fullError}},
		{"repeating a state", map[string]any{"status": "failed", "error": fullError},
			map[string]any{"status": "failed", "error": fullError}, map[string]any{"status": "failed", "error": fullError}},
		{"inprogress to unspecified", map[string]any{"status": "inprogress"},
			map[string]any{"status": "unspecified"}, map[string]any{"status": "unspecified", "error": nil}},
		// Completed and failed are statuses like the others (issue 15).
		{"failed to completed, error cleared", map[string]any{"status": "failed", "error": fullError},
			map[string]any{"status": "completed", "error": nil}, map[string]any{"status": "completed", "error": nil}},
		{"completed to failed with an error", map[string]any{"status": "completed"},
			map[string]any{"status": "failed", "error": fullError}, map[string]any{"status": "failed", "error": fullError}},
		{"failed, error cleared", map[string]any{"status": "failed", "error": fullError},
			map[string]any{"error": nil}, map[string]any{"status": "failed", "error": nil}},
		{"completed to inprogress", map[string]any{"status": "completed"},
			map[string]any{"status": "inprogress"}, map[string]any{"status": "inprogress", "error": nil}},
		{"failed to unspecified keeps the error", map[string]any{"status": "failed", "error": fullError},
			map[string]any{"status": "unspecified"}, map[string]any{"status": "unspecified", "error": fullError}},
		{"id equal to the path's", nil, map[string]any{"id": "<op>", "status": "completed"},
			map[string]any{"status": "completed", "error": nil}},
	}
	for _, path := range paths {
		for _, tt := range tests {
			t.Run(strings.SplitN(path, "/", 3)[1]+"/"+tt.name, func(t *testing.T) {
				e := e.with(t)
				f := e.fixture()
				url := f.fill(path)
				if tt.before != nil {
					if r := e.do(call{method: "PATCH", path: url, body: tt.before}); r.status != http.StatusOK {
						t.Fatalf("PATCH %v = %d %s, want 200", tt.before, r.status, r.body)
					}
				}
				body := tt.body
				if body["id"] == "<op>" {
					body = map[string]any{"id": f.op, "status": body["status"]}
				}
				r := e.do(call{method: "PATCH", path: url, body: body})
				if r.status != http.StatusOK {
					t.Fatalf("PATCH %v = %d %s, want 200", body, r.status, r.body)
				}
				want := map[string]any{"@odata.type": "#microsoft.graph.connectionOperation", "id": f.op}
				for k, v := range tt.want {
					want[k] = v
				}
				if diff := cmp.Diff(want, r.entity(t)); diff != "" {
					t.Errorf("PATCH response mismatch (-want +got):\n%s", diff)
				}
				// Both paths read what the PATCH stored.
				for _, p := range paths {
					got := e.do(call{method: "GET", path: f.fill(p)})
					if got.header.Get("ETag") != r.header.Get("ETag") {
						t.Errorf("GET %s ETag = %q, want the PATCH's %q", p, got.header.Get("ETag"), r.header.Get("ETag"))
					}
					if diff := cmp.Diff(want, got.entity(t)); got.status != http.StatusOK || diff != "" {
						t.Errorf("GET %s = %d, mismatch (-want +got):\n%s", p, got.status, diff)
					}
				}
			})
		}
	}
}

// Bad input gets a Graph error that names the problem, and changes nothing.
func TestUpdateOperationRejects(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	setup := map[string]any{"status": "inprogress", "error": map[string]any{"errorCode": "E1", "message": "kept"}}
	for _, p := range []string{"/external/connections/{externalConnectionId}/operations/{connectionOperationId}", "/connections/{connectionsId}/operations/{connectionOperationId}"} {
		if r := e.do(call{method: "PATCH", path: f.fill(p), body: setup}); r.status != http.StatusOK {
			t.Fatalf("setup PATCH = %d %s", r.status, r.body)
		}
	}
	before := e.do(call{method: "GET", path: f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")}).json(t)

	tests := []struct {
		name       string
		path       string
		body       any
		header     map[string]string
		wantStatus int
		wantCode   string
		wantInMsg  string
	}{
		{"placeholder status from the seed's example", "", `{"status":"String"}`, nil, 400, "invalidRequest", "'status'"},
		{"status in the wrong case", "", `{"status":"inProgress"}`, nil, 400, "invalidRequest", "'status'"},
		{"status of the wrong type", "", `{"status":3}`, nil, 400, "invalidRequest", "'status'"},
		{"unknown property", "", `{"status":"completed","foo":1}`, nil, 400, "invalidRequest", "The property 'foo' does not exist on type 'microsoft.graph.connectionOperation'"},
		{"unknown nested property", "", `{"error":{"details":[{"bar":1}]}}`, nil, 400, "invalidRequest", "'error.details[0].bar' does not exist on type 'microsoft.graph.innerErrorDetail'"},
		{"nested value of the wrong type", "", `{"error":{"message":7}}`, nil, 400, "invalidRequest", "'error.message'"},
		{"wrong odata type", "", `{"@odata.type":"#microsoft.graph.externalConnection"}`, nil, 400, "invalidRequest", "'@odata.type'"},
		{"id differs from the path's", "", `{"id":"another","status":"completed"}`, nil, 400, "invalidRequest", "'id' is read-only"},
		{"not JSON", "", `{"status":`, nil, 400, "invalidRequest", "not valid JSON"},
		{"JSON array", "", `[]`, nil, 400, "invalidRequest", ""},
		{"no body", "", nil, map[string]string{"Content-Type": "application/json"}, 400, "invalidRequest", "body is required"},
		{"missing operation", "/external/connections/" + f.conn + "/operations/nope", `{"status":"completed"}`, nil, 404, "itemNotFound", "'nope'"},
		{"missing connection", "/connections/nope/operations/" + f.op, `{"status":"completed"}`, nil, 404, "itemNotFound", "'nope'"},
		{"no token", "", `{"status":"completed"}`, map[string]string{"Authorization": ""}, 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"text body", "", `status=completed`, map[string]string{"Content-Type": "text/plain"}, 415, "unsupportedMediaType", "text/plain"},
		{"stale If-Match", "", `{"status":"completed"}`, map[string]string{"If-Match": `"1"`}, 412, "resourceModified", "has changed"},
		{"weak If-Match", "", `{"status":"completed"}`, map[string]string{"If-Match": `W/"1"`}, 412, "resourceModified", "has changed"},
		{"unsupported query option", "", `{"status":"completed"}`, nil, 400, "invalidRequest", "'$expand'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			path := tt.path
			if path == "" {
				path = f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")
			}
			if tt.name == "unsupported query option" {
				path += "?$expand=error"
			}
			r := e.do(call{method: "PATCH", path: path, body: tt.body, header: tt.header})
			if r.status != tt.wantStatus || r.errorCode(t) != tt.wantCode {
				t.Fatalf("PATCH %v = %d %s, want %d %s", tt.body, r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if msg := r.errorMessage(t); !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("error message = %q, want it to contain %q", msg, tt.wantInMsg)
			}
			after := e.do(call{method: "GET", path: f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")}).json(t)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a rejected PATCH changed the operation (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCreateOperation(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := "/external/connections/" + f.conn + "/operations"
	tests := []struct {
		name       string
		body       any
		wantStatus int
		want       map[string]any // status and error of the created operation
		wantInMsg  string
	}{
		{"empty body defaults to unspecified", map[string]any{}, 201, map[string]any{"status": "unspecified", "error": nil}, ""},
		{"given status", map[string]any{"@odata.type": "#microsoft.graph.connectionOperation", "status": "inprogress"}, 201,
			map[string]any{"status": "inprogress", "error": nil}, ""},
		{"given error", map[string]any{"status": "failed", "error": map[string]any{"errorCode": "E", "message": "m"}}, 201,
			map[string]any{"status": "failed", "error": map[string]any{"@odata.type": "#microsoft.graph.errorDetail", "errorCode": "E", "message": "m"}}, ""},
		{"id is assigned by the server", map[string]any{"id": "mine"}, 400, nil, "'id' is read-only"},
		{"unknown property", map[string]any{"foo": true}, 400, nil, "'foo'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: "POST", path: path, body: tt.body})
			if r.status != tt.wantStatus {
				t.Fatalf("POST %v = %d %s, want %d", tt.body, r.status, r.body, tt.wantStatus)
			}
			if r.status != http.StatusCreated {
				if msg := r.errorMessage(t); !strings.Contains(msg, tt.wantInMsg) {
					t.Errorf("error message = %q, want it to contain %q", msg, tt.wantInMsg)
				}
				return
			}
			got := r.entity(t)
			id, _ := got["id"].(string)
			want := map[string]any{"@odata.type": "#microsoft.graph.connectionOperation", "id": id}
			for k, v := range tt.want {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("POST response mismatch (-want +got):\n%s", diff)
			}
			if !guid.MatchString(id) {
				t.Errorf("id = %q, want a GUID", id)
			}
			read := e.do(call{method: "GET", path: "/connections/" + f.conn + "/operations/" + id})
			if diff := cmp.Diff(want, read.entity(t)); diff != "" {
				t.Errorf("GET after POST mismatch (-want +got):\n%s", diff)
			}
		})
	}
	r := e.do(call{method: "POST", path: "/external/connections/nope/operations", body: map[string]any{}})
	if r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" {
		t.Errorf("POST on a missing connection = %d %s, want 404 itemNotFound", r.status, r.body)
	}
}

func TestGetOperationNotFound(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	for _, path := range []string{
		"/external/connections/" + f.conn + "/operations/nope",
		"/connections/" + f.conn + "/operations/nope",
		"/external/connections/nope/operations/" + f.op,
		"/connections/nope/operations/" + f.op,
	} {
		r := e.do(call{method: "GET", path: path})
		if r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" {
			t.Errorf("GET %s = %d %s, want 404 itemNotFound", path, r.status, r.body)
		}
	}
}
