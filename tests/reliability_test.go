package tests

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store/sqlite"
)

// get fetches a path outside the Graph API, without a token.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := get(t, e.srv.URL+path); status != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200", path, status, body)
		}
	}
	e.do(call{method: "PATCH", path: f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}"), body: map[string]any{"status": "completed"}})
	e.do(call{method: "PATCH", path: f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}"), body: map[string]any{"status": "String"}})
	e.do(call{method: "GET", path: "/nowhere"})
	e.registerSchema(f.conn, goodSchema)
	status, body := get(t, e.srv.URL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", status)
	}
	for _, want := range []string{
		`graphconn_http_requests_total{operation="external.connections.UpdateOperations",status="200"} 1`,
		`graphconn_http_requests_total{operation="external.connections.UpdateOperations",status="400"} 1`,
		`graphconn_http_requests_total{operation="unmatched",status="404"} 1`,
		`graphconn_http_request_duration_seconds_bucket{operation="external.CreateConnections",le=`,
		`graphconn_contract_violations_total{side="request"} 1`,
		`graphconn_contract_violations_total{side="response"} 0`,
		`graphconn_background_queue_depth 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s\n%s", want, body)
		}
	}
}

// Throttling, off by default, limits each app on its own, as Graph does.
func TestThrottling(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.RateLimit, c.RateBurst = 1, 2 })
	path := "/external/connections"
	var statuses []int
	var throttled result
	for range 4 {
		r := e.do(call{method: "GET", path: path})
		statuses = append(statuses, r.status)
		if r.status == http.StatusTooManyRequests {
			throttled = r
		}
	}
	if statuses[0] != 200 || statuses[1] != 200 || throttled.status != http.StatusTooManyRequests {
		t.Fatalf("4 quick requests with a burst of 2 = %v, want 200, 200, then 429", statuses)
	}
	if throttled.errorCode(t) != "activityLimitReached" {
		t.Errorf("429 code = %s, want activityLimitReached", throttled.errorCode(t))
	}
	secs, err := strconv.Atoi(throttled.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", throttled.header.Get("Retry-After"))
	}
	// Another app has its own allowance.
	other := e.mint(authOpts("another-app"))
	if r := e.do(call{method: "GET", path: path, header: map[string]string{"Authorization": "Bearer " + other}}); r.status != http.StatusOK {
		t.Errorf("another app's request = %d, want 200", r.status)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	if r := e.do(call{method: "GET", path: path}); r.status != http.StatusOK {
		t.Errorf("after Retry-After = %d, want 200", r.status)
	}
}

// SIGTERM: the server stops taking connections, finishes the request in
// flight, stops its worker, and exits 0.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir, "--shutdown-timeout", "10s")
	addr := strings.TrimPrefix(p.url, "http://")
	if r := do(t, p.url, p.token, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "graceful", "name": "n"}}); r.status != http.StatusCreated {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	// A request in flight: headers sent, body not yet. With Expect:
	// 100-continue, net/http answers 100 Continue when the handler first
	// reads the body: then the server has read the headers and is
	// handling the request.
	body := `{"id":"inflight","name":"sent after SIGTERM"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /external/connections HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		addr, p.token, len(body))
	rd := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("waiting for 100 Continue: %v", err)
	}
	if res.StatusCode != http.StatusContinue {
		t.Fatalf("before its body, the request got %s, want 100 Continue", res.Status)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break // no longer accepting
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 5s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("finishing the request in flight: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err = http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("reading the answer to the request in flight: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight got %d, want 201", res.StatusCode)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("graphconn exited with %v, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("graphconn did not exit after SIGTERM")
	}
	logs := p.logs.String()
	if i, j := strings.Index(logs, `"msg":"worker stopped"`), strings.Index(logs, `"msg":"stopped"`); i < 0 || j < 0 || i > j {
		t.Errorf("want the worker stopped before the server's last line:\n%s", logs)
	}
	// The request in flight was committed.
	p = startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	if r := do(t, p.url, p.token, call{method: "GET", path: "/external/connections/inflight"}); r.status != http.StatusOK {
		t.Errorf("GET the connection created in flight = %d %s", r.status, r.body)
	}
	p.stop(t)
}

// SIGKILL in the middle of concurrent PATCHes loses nothing that was
// acknowledged, and leaves a consistent database, with either SQLite
// synchronous setting: NORMAL (the default) gives up durability across a
// power loss, not across a crash of the process.
func TestCrashSafety(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the setting the listening line names
	}{
		{"default", nil, "NORMAL"},
		{"FULL", []string{"--sqlite-synchronous", "full"}, "FULL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { crashSafety(t, tt.args, tt.want) })
	}
}

func crashSafety(t *testing.T, args []string, want string) {
	dir := t.TempDir()
	p := startBinary(t, dir, nil, append([]string{"--addr", "127.0.0.1:0", "--data-dir", dir}, args...)...)
	if !strings.Contains(p.logs.String(), `"sqlite-synchronous":"`+want+`"`) {
		t.Errorf("the listening line does not name sqlite-synchronous %s:\n%s", want, p.logs)
	}
	if r := do(t, p.url, p.token, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "crash", "name": "n"}}); r.status != http.StatusCreated {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	const writers = 8
	ops := make([]string, writers)
	for i := range ops {
		r := do(t, p.url, p.token, call{method: "POST", path: "/connections/crash/operations", body: map[string]any{"status": "inprogress"}})
		if r.status != http.StatusCreated {
			t.Fatalf("POST operation = %d %s", r.status, r.body)
		}
		ops[i] = r.json(t)["id"].(string)
	}

	// Each writer PATCHes its own operation with an increasing counter and
	// remembers the last one acknowledged with 200.
	acked := make([]int, writers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range writers {
		wg.Go(func() {
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("PATCH", p.url+"/connections/crash/operations/"+ops[w],
					strings.NewReader(fmt.Sprintf(`{"error":{"errorCode":"%d"}}`, n)))
				req.Header.Set("Authorization", "Bearer "+p.token)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					return // the server died
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					acked[w] = n
				}
			}
		})
	}
	time.Sleep(time.Second)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	close(stop)
	wg.Wait()

	total := 0
	for _, n := range acked {
		total += n
	}
	if total == 0 {
		t.Fatal("no PATCH was acknowledged before the kill")
	}
	p = startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	for w, op := range ops {
		r := do(t, p.url, p.token, call{method: "GET", path: "/connections/crash/operations/" + op})
		code, _ := r.json(t)["error"].(map[string]any)["errorCode"].(string)
		got, _ := strconv.Atoi(code)
		// The PATCH in flight at the kill may have committed unacknowledged.
		if got < acked[w] || got > acked[w]+1 {
			t.Errorf("operation %d holds counter %d after the crash, want %d (or the next one)", w, got, acked[w])
		}
	}
	p.stop(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, %v; want ok", check, err)
	}
	t.Logf("%d PATCHes acknowledged before SIGKILL; all kept", total)
}
