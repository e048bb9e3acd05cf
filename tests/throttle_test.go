package tests

import (
	"net/http"
	"testing"

	"github.com/graphconn/graphconn/server"
)

// The throttle counts by caller and comes before the body is read and
// checked: a throttled app's request gets 429 whatever its body, as in
// Graph, and a caller without a valid token gets 401 before either.
func TestThrottleComesBeforeTheBody(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.RateLimit, c.RateBurst = 0.01, 1 })
	path := "/external/connections"
	if r := e.do(call{method: "GET", path: path}); r.status != http.StatusOK {
		t.Fatalf("first request = %d %s, want 200", r.status, r.body)
	}
	tests := []struct {
		name       string
		c          call
		wantStatus int
	}{
		{"a body that breaks the contract", call{method: "POST", path: path, body: map[string]any{"id": 12, "unknown": true}}, http.StatusTooManyRequests},
		{"a body that is not JSON", call{method: "POST", path: path, body: "{"}, http.StatusTooManyRequests},
		{"no token", call{method: "POST", path: path, body: "{", header: map[string]string{"Authorization": ""}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.do(tt.c); r.status != tt.wantStatus {
				t.Errorf("%s %s = %d %s, want %d", tt.c.method, tt.c.path, r.status, r.body, tt.wantStatus)
			}
		})
	}
}
