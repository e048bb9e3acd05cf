package tests

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Nothing acknowledged is lost across a restart.
func TestRestartKeepsState(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")
	patch := map[string]any{"status": "failed", "error": map[string]any{"errorCode": "E", "message": "m", "details": []any{map[string]any{"source": "s"}}}}
	r := e.do(call{method: "PATCH", path: path, body: patch})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	want := r.entity(t)
	e.restart()
	got := e.do(call{method: "GET", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")})
	if got.header.Get("ETag") != r.header.Get("ETag") {
		t.Errorf("ETag after restart = %q, want %q", got.header.Get("ETag"), r.header.Get("ETag"))
	}
	if diff := cmp.Diff(want, got.entity(t)); got.status != http.StatusOK || diff != "" {
		t.Errorf("GET after restart = %d, mismatch (-before +after):\n%s", got.status, diff)
	}
	if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": f.conn, "name": "again"}}); r.status != http.StatusConflict {
		t.Errorf("re-creating connection %s after restart = %d, want 409", f.conn, r.status)
	}
}
