package tests

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Hostile bodies get a clear 400 and change nothing.
func TestHostileBodies(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")
	before := e.do(call{method: "GET", path: path}).json(t)
	deep := `{"error":{"details":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}`
	tests := []struct {
		name, body, wantInMsg string
	}{
		{"deeply nested", deep, "nests deeper"},
		{"invalid UTF-8", "{\"status\":\"completed\",\"error\":{\"message\":\"\xc3\x28\"}}", "UTF-8"},
		{"duplicate key", `{"status":"completed","status":"failed"}`, "'status' appears more than once"},
		{"duplicate nested key", `{"error":{"message":"a","message":"b"}}`, "'message' appears more than once"},
		{"NUL in a string", "{\"error\":{\"message\":\"a\\u0000b\"}}", "NUL"},
		{"two documents", `{"status":"completed"}{"status":"failed"}`, "not valid JSON"},
		{"huge number", `{"status":1e999999}`, "'status'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: "PATCH", path: path, body: tt.body})
			if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), tt.wantInMsg) {
				t.Errorf("= %d %s, want 400 saying %q", r.status, r.body, tt.wantInMsg)
			}
			after := e.do(call{method: "GET", path: path}).json(t)
			if after["@odata.etag"] != before["@odata.etag"] {
				t.Errorf("a rejected PATCH changed the operation: %v, then %v", before, after)
			}
		})
	}
}

// Ids that try to escape their path segment find nothing, and break nothing.
func TestHostileIDs(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	long := strings.Repeat("a", 5000)
	ids := []string{"..", "%2e%2e", "a%2Fb", "..%2F..%2Fadmin", "%00", "%ff%fe", "%E2%80%AE", long, "x'%20or%20'1'='1", "%22%3E%3Cscript%3E"}
	for _, id := range ids {
		for _, c := range []call{
			{method: "GET", path: "/external/connections/" + id},
			{method: "GET", path: "/external/connections/" + id + "/operations"},
			{method: "GET", path: "/connections/" + f.conn + "/operations/" + id},
			{method: "PATCH", path: "/external/connections/" + f.conn + "/operations/" + id, body: map[string]any{"status": "failed"}},
			{method: "DELETE", path: "/connections/" + id + "/operations/" + f.op},
			{method: "PATCH", path: "/external/connections/" + id + "/schema", body: validBody("PATCH", "/external/connections/{externalConnectionId}/schema")},
		} {
			name := c.method + " " + c.path
			if len(name) > 80 {
				name = name[:80]
			}
			t.Run(name, func(t *testing.T) {
				e := e.with(t)
				r := e.do(c) // do checks the Graph error body and the contract
				if r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
					t.Errorf("= %d %s, want 404 or 400", r.status, r.body)
				}
			})
		}
	}
	// The fixture's operation is untouched.
	r := e.do(call{method: "GET", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")})
	if r.status != http.StatusOK || r.entity(t)["status"] != "inprogress" {
		t.Errorf("after hostile requests the operation is %d %s", r.status, r.body)
	}
}

// The real binary's http.Server limits and timeouts hold against slow and
// oversized clients, and it keeps serving.
func TestHostileConnections(t *testing.T) {
	dir := t.TempDir()
	// A --read-timeout long enough that only --read-header-timeout can end
	// a stalled request's headers within the test's bounds (TestSlowBody
	// tests --read-timeout).
	p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--read-header-timeout", "300ms", "--read-timeout", "20s")
	addr := strings.TrimPrefix(p.url, "http://")

	t.Run("oversized headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", p.url+"/external/connections", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		req.Header.Set("X-Padding", strings.Repeat("p", 200<<10))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request with 200 KiB of headers: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status = %d, want 431", res.StatusCode)
		}
	})

	t.Run("slow headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /external/connections HTTP/1.1\r\nHost: %s\r\n", addr) // and never the blank line
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(conn)
		if err != nil {
			t.Errorf("reading from a stalled request: %v, want the server to close it", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the server held a stalled request for %v, want it closed after --read-header-timeout 300ms", d)
		}
	})

	// Still serving, and nothing failed inside.
	r := do(t, p.url, p.token, call{method: "GET", path: "/external/connections"})
	if r.status != http.StatusOK {
		t.Errorf("GET after the hostile clients = %d %s", r.status, r.body)
	}
	p.stop(t)
	if logs := p.logs.String(); strings.Contains(logs, `"msg":"panic"`) || strings.Contains(logs, `"status":500`) {
		t.Errorf("the server logged a panic or a 500:\n%s", logs)
	}
}

// A body sent more slowly than --read-timeout allows is cut off when the
// timeout expires, and nothing of it is stored; the same body within a
// longer timeout is served.
func TestSlowBody(t *testing.T) {
	const pause = 1500 * time.Millisecond // between the body's two parts
	tests := []struct {
		readTimeout time.Duration
		wantCut     bool
	}{
		{500 * time.Millisecond, true},
		{10 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.readTimeout.String(), func(t *testing.T) {
			dir := t.TempDir()
			p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir, "--read-timeout", tt.readTimeout.String())
			addr := strings.TrimPrefix(p.url, "http://")
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			body := `{"id":"slowbody","name":"sent in two parts"}`
			fmt.Fprintf(conn, "POST /external/connections HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				addr, p.token, len(body), body[:10])

			// What the server does before the pause is over: answer, close
			// the connection, or wait for the rest.
			rd := bufio.NewReader(conn)
			_ = conn.SetReadDeadline(start.Add(pause))
			_, err = rd.Peek(1)
			early := time.Since(start).Round(time.Millisecond)
			var ne net.Error
			waited := errors.As(err, &ne) && ne.Timeout()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			wantStatus := http.StatusNotFound // of the connection, afterwards
			switch {
			case tt.wantCut && waited:
				t.Fatalf("the server waited %v for a body that stalled, want it cut off after --read-timeout %v", pause, tt.readTimeout)
			case tt.wantCut:
				// The timeout runs from when the server accepted the
				// connection, a little before start.
				if early < tt.readTimeout*9/10 {
					t.Errorf("the server cut the slow body off after %v, want after --read-timeout %v", early, tt.readTimeout)
				}
				if res, err := http.ReadResponse(rd, nil); err == nil {
					data, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode < 400 || res.StatusCode >= 500 {
						t.Errorf("the body cut off got %d %s, want a 4xx or a closed connection", res.StatusCode, data)
					}
					t.Logf("cut off after %v: %d %s", early, res.StatusCode, data)
				} else {
					t.Logf("cut off after %v: %v", early, err)
				}
			case !waited:
				t.Fatalf("after %v, before the rest of the body, the server answered or closed the connection (%v); want it to wait within --read-timeout %v",
					early, err, tt.readTimeout)
			default:
				if _, err := io.WriteString(conn, body[10:]); err != nil {
					t.Fatalf("sending the rest of the body: %v", err)
				}
				res, err := http.ReadResponse(rd, nil)
				if err != nil {
					t.Fatalf("reading the answer to the slow body: %v", err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					t.Errorf("the slow body within --read-timeout %v got %d, want 201", tt.readTimeout, res.StatusCode)
				}
				wantStatus = http.StatusOK
			}
			if r := do(t, p.url, p.token, call{method: "GET", path: "/external/connections/slowbody"}); r.status != wantStatus {
				t.Errorf("GET the connection of the slow body = %d %s, want %d", r.status, r.body, wantStatus)
			}
			p.stop(t)
			if logs := p.logs.String(); strings.Contains(logs, `"msg":"panic"`) || strings.Contains(logs, `"status":500`) {
				t.Errorf("the server logged a panic or a 500:\n%s", logs)
			}
		})
	}
}
