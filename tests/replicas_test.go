package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphconn/graphconn/store/postgres/pgtest"
)

// Two graphconn processes on one PostgreSQL database behave as one server:
// each schema registration is finished exactly once, by whichever worker
// claims it, and concurrent If-Match updates through both leave one winner.
func TestTwoReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir() // shared: both trust the same development key
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--db", dsn, "--operation-delay", "200ms"}
	replicas := []*process{startBinary(t, dir, nil, args...), startBinary(t, dir, nil, args...)}
	on := func(t *testing.T, i int, c call) result {
		t.Helper()
		p := replicas[i%2]
		return do(t, p.url, p.token, c)
	}

	t.Run("each registration finished once", func(t *testing.T) {
		const n = 16
		ops := map[string]bool{}
		var paths []string
		for i := range n {
			conn := fmt.Sprintf("replica%02d", i)
			if r := on(t, i, call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": conn}}); r.status != http.StatusCreated {
				t.Fatalf("POST connection on replica %d = %d %s", i%2, r.status, r.body)
			}
			r := on(t, i+1, call{method: "PATCH", path: "/external/connections/" + conn + "/schema", body: goodSchema})
			if r.status != http.StatusAccepted {
				t.Fatalf("PATCH schema = %d %s", r.status, r.body)
			}
			loc := r.header.Get("Location")
			path := loc[strings.Index(loc, "/external/"):]
			paths = append(paths, path)
			ops[path[strings.LastIndex(path, "/")+1:]] = true
		}
		deadline := time.Now().Add(20 * time.Second)
		for i, path := range paths {
			for {
				// Poll through the replica that did not take the registration.
				r := on(t, i, call{method: "GET", path: path})
				status, _ := r.json(t)["status"].(string)
				if status == "completed" {
					break
				}
				if status != "inprogress" || time.Now().After(deadline) {
					t.Fatalf("operation %s is %d %s", path, r.status, r.body)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		for _, p := range replicas {
			p.stop(t)
		}
		finished := map[string]int{}
		for _, p := range replicas {
			for _, line := range strings.Split(p.logs.String(), "\n") {
				var rec struct{ Msg, Operation string }
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "operation finished" {
					finished[rec.Operation]++
				}
			}
		}
		for op := range ops {
			if finished[op] != 1 {
				t.Errorf("operation %s was finished %d times by the two workers, want once", op, finished[op])
			}
		}
	})
	// Fresh replicas on the same database for the next part.
	replicas = []*process{startBinary(t, dir, nil, args...), startBinary(t, dir, nil, args...)}

	t.Run("64 If-Match PATCHes over both replicas", func(t *testing.T) {
		if r := on(t, 0, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "ifmatch", "name": "n"}}); r.status != http.StatusCreated {
			t.Fatalf("POST connection = %d %s", r.status, r.body)
		}
		r := on(t, 1, call{method: "POST", path: "/connections/ifmatch/operations", body: map[string]any{"status": "inprogress"}})
		if r.status != http.StatusCreated {
			t.Fatalf("POST operation = %d %s", r.status, r.body)
		}
		path := "/external/connections/ifmatch/operations/" + r.json(t)["id"].(string)
		tag := r.header.Get("ETag")
		const n = 64
		var mu sync.Mutex
		statuses := map[int]int{}
		var winner string
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				code := fmt.Sprint("client", i)
				p := replicas[i%2]
				r, err := tryDo(t, p.url, p.token, call{method: "PATCH", path: path, header: map[string]string{"If-Match": tag},
					body: map[string]any{"error": map[string]any{"errorCode": code}}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				if r.status == http.StatusOK {
					winner = code
				}
			})
		}
		wg.Wait()
		if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != n-1 {
			t.Errorf("statuses = %v, want one 200 and %d 412", statuses, n-1)
		}
		for i := range 2 {
			got := on(t, i, call{method: "GET", path: path}).json(t)
			if opErr, _ := got["error"].(map[string]any); opErr["errorCode"] != winner {
				t.Errorf("replica %d reads error %v, want the winner's errorCode %s", i, got["error"], winner)
			}
		}
	})
}

// When PostgreSQL goes away, requests fail with 503 and Retry-After, as
// Graph's SDKs expect to retry; when it is back, the same server recovers.
func TestDatabaseOutage(t *testing.T) {
	proxy, via := pgtest.StartProxy(t, pgtest.DSN(t))
	e := newEnvOn(t, via)
	f := e.fixture()
	path := f.fill("/connections/{connectionsId}/operations/{connectionOperationId}")

	proxy.Set(pgtest.Refuse)
	for _, c := range []call{
		{method: "GET", path: path},
		{method: "PATCH", path: path, body: map[string]any{"status": "completed"}},
		{method: "POST", path: "/external/connections", body: map[string]any{"id": "duringoutage", "name": "n"}},
	} {
		r := e.do(c)
		if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "serviceNotAvailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the database down = %d %s (Retry-After %q), want 503 serviceNotAvailable with Retry-After",
				c.method, c.path, r.status, r.body, r.header.Get("Retry-After"))
		}
	}

	if status, body := get(t, e.srv.URL+"/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the database down = %d %s, want 503", status, body)
	}
	if status, _ := get(t, e.srv.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("GET /healthz with the database down = %d, want 200: the process lives", status)
	}

	proxy.Set(pgtest.Up)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.do(call{method: "PATCH", path: path, body: map[string]any{"status": "completed"}})
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("PATCH after the database came back = %d %s, want 200 within 15s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.do(call{method: "GET", path: path}).entity(t)["status"]; got != "completed" {
		t.Errorf("status after recovery = %v, want completed", got)
	}
	if status, body := get(t, e.srv.URL+"/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz after recovery = %d %s, want 200", status, body)
	}
}
