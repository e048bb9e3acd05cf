package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/server"
)

// testAdminToken opens the admin endpoint of the envs that set it.
const testAdminToken = "admin-token-of-the-tests"

// withAdmin opens the admin endpoint, and serves plan from the start when
// it is not empty.
func withAdmin(t *testing.T, plan string) func(*server.Config) {
	return func(c *server.Config) {
		c.AdminToken = testAdminToken
		if plan != "" {
			c.Faults = parsePlan(t, plan)
		}
	}
}

func parsePlan(t *testing.T, plan string) *server.FaultPlan {
	t.Helper()
	p, err := server.ParseFaultPlan([]byte(plan))
	if err != nil {
		t.Fatalf("ParseFaultPlan(%q) = %v", plan, err)
	}
	return p
}

// faultsState is what GET /_graphconn/faults answers.
type faultsState struct {
	Active       bool   `json:"active"`
	Seed         uint64 `json:"seed"`
	EarlyRetries uint64 `json:"earlyRetries"`
	Rules        []struct {
		Name           string
		Line           int
		Matched, Fired uint64
	} `json:"rules"`
}

// admin sends a request to the admin endpoint with header set.
func (e *env) admin(method, body string, header map[string]string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/_graphconn/faults", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s /_graphconn/faults: %v", method, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, data
}

var adminHeader = map[string]string{server.AdminTokenHeader: testAdminToken}

// setPlan makes plan the env's fault plan through the admin endpoint.
func (e *env) setPlan(plan string) {
	e.t.Helper()
	if status, body := e.admin("PUT", plan, adminHeader); status != http.StatusOK {
		e.t.Fatalf("PUT /_graphconn/faults = %d %s, want 200", status, body)
	}
}

func (e *env) faultsState() faultsState {
	e.t.Helper()
	status, body := e.admin("GET", "", adminHeader)
	var st faultsState
	if err := json.Unmarshal(body, &st); status != http.StatusOK || err != nil {
		e.t.Fatalf("GET /_graphconn/faults = %d %s (%v), want 200 with the state", status, body, err)
	}
	return st
}

// metric returns the line of /metrics that begins with prefix, "" if none.
func (e *env) metric(prefix string) string {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// faultStatuses are the statuses a plan can answer with, with the code and
// Retry-After each gets by default.
var faultStatuses = []struct {
	status     int
	code       string
	retryAfter string
}{
	{429, "activityLimitReached", "1"},
	{500, "generalException", ""},
	{502, "generalException", ""},
	{503, "serviceNotAvailable", "1"},
	{504, "serviceNotAvailable", ""},
	{507, "quotaLimitReached", ""},
}

// Every operation answers every fault status when a plan says so, on
// contract: openapi.yaml declares each of them on each operation, and do
// checks each answer against it (and counts it for the contract's
// coverage, which so covers the fault statuses honestly: each one on each
// operation that declares it).
func TestFaultStatusesOnEveryOperation(t *testing.T) {
	e := newEnv(t, withAdmin(t, ""))
	f := e.fixture()
	// A token that every operation lets through: items and groups need
	// ExternalItem's permission.
	all := "Bearer " + e.mint(auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll, "ExternalItem.ReadWrite.All"}})
	searcher := "Bearer " + e.mint(auth.TokenOptions{AppID: testApp, Scopes: []string{"ExternalItem.Read.All"}}) // search takes a user's
	for _, fs := range faultStatuses {
		// Without enforcement: every request is the first of its kind.
		e.setPlan(fmt.Sprintf("enforceRetryAfter: false\nrules:\n  - status: %d\n", fs.status))
		for _, op := range operations() {
			t.Run(fmt.Sprintf("%d/%s %s", fs.status, op.method, op.path), func(t *testing.T) {
				e := e.with(t)
				c := call{method: op.method, path: f.fill(op.path), header: map[string]string{"Authorization": all}}
				if searchPath(op.path) {
					c.header["Authorization"] = searcher
				}
				if spec.Paths.Value(op.path).GetOperation(op.method).RequestBody != nil {
					c.body = validBody(op.method, op.path)
				}
				r := e.do(c)
				if r.status != fs.status || r.errorCode(t) != fs.code {
					t.Fatalf("= %d %s, want %d %s", r.status, r.body, fs.status, fs.code)
				}
				if got := r.header.Get("Retry-After"); got != fs.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, fs.retryAfter)
				}
			})
		}
	}
	if st := e.faultsState(); len(st.Rules) != 1 || st.Rules[0].Fired != uint64(len(operations())) {
		t.Errorf("the last plan's state = %+v, want its rule fired on each of the %d operations", st, len(operations()))
	}
}

// Each kind of rule: what it matches, when it fires, what it does.
func TestFaultRules(t *testing.T) {
	other := authOpts("another-app")
	conns := "/v1.0/external/connections"
	tests := []struct {
		name string
		plan string
		// calls are sent in order; want holds the status of each.
		calls []call
		want  []int
		// wantCode and wantMessage, when set, are those of the faults.
		wantCode, wantMessage, wantRetryAfter string
		wantMetric                            string
	}{
		{
			name:  "status with Graph's code, message and Retry-After",
			plan:  "rules:\n  - name: busy\n    status: 503\n    retryAfter: 7\n    code: serviceNotAvailable\n    message: Try later.\n",
			calls: []call{{method: "GET", path: conns}},
			want:  []int{503}, wantCode: "serviceNotAvailable", wantMessage: "Try later.", wantRetryAfter: "7",
			wantMetric: `graphconn_faults_injected_total{fault="503",rule="busy"} 1`,
		},
		{
			name:  "default message of a 429 names its Retry-After",
			plan:  "rules:\n  - status: 429\n    retryAfter: 3\n",
			calls: []call{{method: "GET", path: conns}},
			want:  []int{429}, wantCode: "activityLimitReached", wantMessage: "The request has been throttled; retry after 3 seconds.", wantRetryAfter: "3",
			wantMetric: `graphconn_faults_injected_total{fault="429",rule="rule 1"} 1`,
		},
		{
			name:  "method",
			plan:  "rules:\n  - match: {method: [post, DELETE]}\n    status: 500\n",
			calls: []call{{method: "GET", path: conns}, {method: "POST", path: conns, body: map[string]any{"id": "faultsmethod", "name": "n"}}},
			want:  []int{200, 500}, wantCode: "generalException",
		},
		{
			name:  "operationId",
			plan:  "rules:\n  - match: {operationId: v1.external.CountConnections}\n    status: 502\n",
			calls: []call{{method: "GET", path: conns}, {method: "GET", path: conns + "/$count"}, {method: "GET", path: "/external/connections/$count"}},
			want:  []int{200, 502, 200},
		},
		{
			name: "path patterns: * is one segment, a final /** the rest",
			plan: "rules:\n  - match: {path: [/beta/external/*, /v1.0/external/connections/*/operations/**]}\n    status: 504\n",
			calls: []call{{method: "GET", path: "/beta/external/connections"}, {method: "GET", path: "/beta/external/connections/nosuch"},
				{method: "GET", path: conns + "/nosuch/operations"}, {method: "GET", path: conns + "/nosuch/operations/x"}, {method: "GET", path: conns + "/nosuch"}},
			want: []int{504, 404, 504, 504, 404},
		},
		{
			name:  "app id",
			plan:  "rules:\n  - match: {appId: another-app}\n    status: 507\n",
			calls: []call{{method: "GET", path: conns}, {method: "GET", path: conns, header: map[string]string{"Authorization": "other"}}},
			want:  []int{200, 507}, wantCode: "quotaLimitReached",
		},
		{
			name:  "connection, in either family of paths",
			plan:  "rules:\n  - match: {connection: faultsconn}\n    status: 500\n",
			calls: []call{{method: "GET", path: conns + "/faultsother"}, {method: "GET", path: conns + "/faultsconn"}, {method: "GET", path: "/connections/faultsconn/operations"}},
			want:  []int{404, 500, 500},
		},
		{
			name:       "first N",
			plan:       "rules:\n  - name: first two\n    first: 2\n    status: 502\n",
			calls:      repeat(call{method: "GET", path: conns}, 4),
			want:       []int{502, 502, 200, 200},
			wantMetric: `graphconn_faults_injected_total{fault="502",rule="first two"} 2`,
		},
		{
			name:  "every Nth",
			plan:  "rules:\n  - every: 3\n    status: 504\n",
			calls: repeat(call{method: "GET", path: conns}, 7),
			want:  []int{200, 200, 504, 200, 200, 504, 200},
		},
		{
			name:  "rules count on their own: the first rule that fires answers",
			plan:  "rules:\n  - every: 2\n    status: 500\n  - every: 3\n    status: 502\n",
			calls: repeat(call{method: "GET", path: conns}, 6),
			want:  []int{200, 500, 502, 500, 200, 500},
		},
		{
			name:  "a plan with no rules changes nothing",
			plan:  "rules: []\n",
			calls: repeat(call{method: "GET", path: conns}, 2),
			want:  []int{200, 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withAdmin(t, tt.plan))
			for i, c := range tt.calls {
				if c.header["Authorization"] == "other" {
					c.header = map[string]string{"Authorization": "Bearer " + e.mint(other)}
				}
				r := e.do(c)
				if r.status != tt.want[i] {
					t.Fatalf("call %d: %s %s = %d %s, want %d", i+1, c.method, c.path, r.status, r.body, tt.want[i])
				}
				if r.status < 429 {
					continue
				}
				if tt.wantCode != "" && r.errorCode(t) != tt.wantCode {
					t.Errorf("call %d: code = %q, want %q", i+1, r.errorCode(t), tt.wantCode)
				}
				if tt.wantMessage != "" && r.errorMessage(t) != tt.wantMessage {
					t.Errorf("call %d: message = %q, want %q", i+1, r.errorMessage(t), tt.wantMessage)
				}
				if tt.wantRetryAfter != "" && r.header.Get("Retry-After") != tt.wantRetryAfter {
					t.Errorf("call %d: Retry-After = %q, want %q", i+1, r.header.Get("Retry-After"), tt.wantRetryAfter)
				}
			}
			if tt.wantMetric != "" {
				if got := e.metric(tt.wantMetric[:strings.LastIndex(tt.wantMetric, " ")]); got != tt.wantMetric {
					t.Errorf("/metrics has %q, want %q", got, tt.wantMetric)
				}
			}
			if !strings.Contains(e.logs.String(), `"msg":"fault injected"`) && slicesContainsFault(tt.want) {
				t.Errorf("no \"fault injected\" log line:\n%s", e.logs)
			}
		})
	}
}

func slicesContainsFault(statuses []int) bool {
	for _, s := range statuses {
		if s >= 500 || s == 429 {
			return true
		}
	}
	return false
}

func repeat(c call, n int) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = c
	}
	return out
}

// A rate fails about that fraction of the matching requests.
func TestFaultRate(t *testing.T) {
	e := newEnv(t, withAdmin(t, "seed: 1\nrules:\n  - rate: 0.25\n    status: 500\n"))
	n := 0
	for range 400 {
		if r := e.do(call{method: "GET", path: "/v1.0/external/connections"}); r.status == 500 {
			n++
		}
	}
	if n < 60 || n > 140 {
		t.Errorf("rate 0.25 failed %d of 400 requests, want about 100", n)
	}
	if st := e.faultsState(); st.Rules[0].Matched != 400 || st.Rules[0].Fired != uint64(n) {
		t.Errorf("rule state = %+v, want 400 matched and %d fired", st.Rules[0], n)
	}
}

// Latency: fixed, uniform and normal, on the requests the rule matches.
func TestFaultLatency(t *testing.T) {
	tests := []struct {
		name     string
		latency  string
		min, max time.Duration // of each request
	}{
		{"fixed", "300ms", 300 * time.Millisecond, 2 * time.Second},
		{"uniform", "{min: 100ms, max: 200ms}", 100 * time.Millisecond, 1200 * time.Millisecond},
		// Six standard deviations either side.
		{"normal", "{mean: 200ms, stddev: 20ms}", 80 * time.Millisecond, 1320 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withAdmin(t, "seed: 3\nrules:\n  - match: {method: GET}\n    latency: "+tt.latency+"\n"))
			var total time.Duration
			for range 5 {
				start := time.Now()
				if r := e.do(call{method: "GET", path: "/v1.0/external/connections"}); r.status != http.StatusOK {
					t.Fatalf("GET = %d %s", r.status, r.body)
				}
				d := time.Since(start)
				total += d
				if d < tt.min || d > tt.max {
					t.Errorf("GET took %v, want %v to %v", d, tt.min, tt.max)
				}
			}
			// The rule's method only.
			start := time.Now()
			e.do(call{method: "POST", path: "/v1.0/external/connections", body: map[string]any{"id": "faultslatency", "name": "n"}})
			if d := time.Since(start); d >= tt.min {
				t.Errorf("POST, which the rule does not match, took %v", d)
			}
			if got := e.metric(`graphconn_faults_injected_total{fault="latency",rule="rule 1"}`); got != `graphconn_faults_injected_total{fault="latency",rule="rule 1"} 5` {
				t.Errorf("/metrics has %q, want 5 latencies", got)
			}
		})
	}
}

// A dropped connection: no answer at all, before the handler runs (nothing
// is created) or after (the connection is created, and its answer lost),
// over HTTP/1.1 and HTTP/2.
func TestFaultDrop(t *testing.T) {
	for _, tt := range []struct {
		drop    string
		created bool
		http2   bool
	}{
		{"before", false, false}, {"true", false, false}, {"after", true, false},
		{"before", false, true}, {"after", true, true},
	} {
		t.Run(fmt.Sprintf("%s/http2=%v", tt.drop, tt.http2), func(t *testing.T) {
			e := newEnv(t, withAdmin(t, "rules:\n  - match: {method: POST}\n    drop: "+tt.drop+"\n"))
			base, client := e.srv.URL, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			if tt.http2 {
				s := httptest.NewUnstartedServer(e.srv.Config.Handler)
				s.EnableHTTP2 = true
				s.StartTLS()
				defer s.Close()
				base, client = s.URL, s.Client()
			}
			req, _ := http.NewRequest("POST", base+"/v1.0/external/connections", strings.NewReader(`{"id":"faultsdrop","name":"n"}`))
			req.Header.Set("Authorization", "Bearer "+e.token)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err == nil {
				res.Body.Close()
				t.Fatalf("POST = %d, want the connection dropped without an answer", res.StatusCode)
			}
			if tt.http2 && !strings.Contains(err.Error(), "stream error") {
				t.Errorf("POST over HTTP/2: %v, want the stream reset", err)
			}
			want := http.StatusNotFound
			if tt.created {
				want = http.StatusOK
			}
			if r := e.do(call{method: "GET", path: "/v1.0/external/connections/faultsdrop"}); r.status != want {
				t.Errorf("GET the connection after the drop = %d, want %d", r.status, want)
			}
			if got := e.metric(`graphconn_faults_injected_total{fault="drop",rule="rule 1"}`); !strings.HasSuffix(got, " 1") {
				t.Errorf("/metrics has %q, want one drop", got)
			}
		})
	}
}

// The seed makes the random choices: the same plan meets the same
// sequence of requests with the same faults, run after run (a plan put
// again, a server started anew), and another seed with others.
func TestFaultSeedRepeats(t *testing.T) {
	plan := func(seed int) string {
		return fmt.Sprintf("seed: %d\nenforceRetryAfter: false\nrules:\n  - rate: 0.3\n    status: 503\n"+
			"  - match: {method: GET}\n    rate: 0.2\n    status: 429\n  - rate: 0.5\n    latency: {min: 0ms, max: 5ms}\n", seed)
	}
	e := newEnv(t, withAdmin(t, plan(42)))
	sequence := func() string {
		var b strings.Builder
		for i := range 60 {
			c := call{method: "GET", path: "/v1.0/external/connections"}
			if i%3 == 0 {
				c = call{method: "GET", path: "/v1.0/external/connections/$count"}
			}
			fmt.Fprintf(&b, "%d ", e.do(c).status)
		}
		return b.String()
	}
	first := sequence()
	for _, s := range []string{"200", "503", "429"} {
		if !strings.Contains(first, s) {
			t.Fatalf("sequence %s has no %s; the test needs all three", first, s)
		}
	}
	e.setPlan(plan(42))
	if again := sequence(); again != first {
		t.Errorf("the plan put again gave\n%s\nwant\n%s", again, first)
	}
	e.cfg.Faults = parsePlan(t, plan(42))
	e.restart()
	if again := sequence(); again != first {
		t.Errorf("a new server gave\n%s\nwant\n%s", again, first)
	}
	e.setPlan(plan(43))
	if other := sequence(); other == first {
		t.Errorf("seed 43 gave the same sequence as 42:\n%s", other)
	}
	// A plan without a seed has one drawn, which the admin endpoint tells.
	e.setPlan("rules: []\n")
	a := e.faultsState().Seed
	e.setPlan("rules: []\n")
	if b := e.faultsState().Seed; a == b {
		t.Errorf("two plans without a seed both got seed %d", a)
	}
}

// A client that comes back before the Retry-After it was given gets 429
// again, counted and logged as an early retry; once it has waited, it
// goes through. Other requests, and other apps, are not held back.
func TestRetryAfterIsEnforced(t *testing.T) {
	path := "/v1.0/external/connections"
	e := newEnv(t, withAdmin(t, "rules:\n  - match: {path: "+path+"}\n    first: 1\n    status: 429\n    retryAfter: 1\n"))
	start := time.Now()
	r := e.do(call{method: "GET", path: path})
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("first GET = %d (Retry-After %q), want 429 with Retry-After 1", r.status, r.header.Get("Retry-After"))
	}
	r = e.do(call{method: "GET", path: path})
	if r.status != 429 || r.header.Get("Retry-After") != "1" || r.errorCode(t) != "activityLimitReached" ||
		!strings.Contains(r.errorMessage(t), "before the Retry-After of 1 second it was given") {
		t.Errorf("GET again at once = %d %s (Retry-After %q), want 429 for an early retry", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := e.do(call{method: "GET", path: path + "/$count"}); r.status != 200 {
		t.Errorf("another request = %d, want 200", r.status)
	}
	if r := e.do(call{method: "GET", path: path, header: map[string]string{"Authorization": "Bearer " + e.mint(authOpts("another-app"))}}); r.status != 200 {
		t.Errorf("the same request of another app = %d, want 200", r.status)
	}
	if got := e.metric(`graphconn_faults_early_retries_total{operation="v1.external.ListConnections"}`); !strings.HasSuffix(got, " 1") {
		t.Errorf("/metrics has %q, want one early retry", got)
	}
	if st := e.faultsState(); st.EarlyRetries != 1 {
		t.Errorf("admin state's earlyRetries = %d, want 1", st.EarlyRetries)
	}
	if !strings.Contains(e.logs.String(), `"msg":"early retry"`) {
		t.Errorf("no \"early retry\" log line:\n%s", e.logs)
	}
	time.Sleep(time.Until(start.Add(1100 * time.Millisecond)))
	if r := e.do(call{method: "GET", path: path}); r.status != 200 {
		t.Errorf("GET after Retry-After = %d %s, want 200", r.status, r.body)
	}

	t.Run("the throttle's Retry-After", func(t *testing.T) {
		e := newEnv(t, withAdmin(t, "rules: []\n"), func(c *server.Config) { c.RateLimit, c.RateBurst = 0.5, 1 })
		e.do(call{method: "GET", path: path})
		if r := e.do(call{method: "GET", path: path}); r.status != 429 || strings.Contains(r.errorMessage(t), "before the Retry-After") {
			t.Fatalf("second GET = %d %s, want the throttle's 429", r.status, r.body)
		}
		if r := e.do(call{method: "GET", path: path}); r.status != 429 || !strings.Contains(r.errorMessage(t), "before the Retry-After of 2 seconds") {
			t.Errorf("third GET at once = %d %s, want 429 for an early retry", r.status, r.body)
		}
	})
	t.Run("enforceRetryAfter false", func(t *testing.T) {
		e := newEnv(t, withAdmin(t, "enforceRetryAfter: false\nrules:\n  - first: 1\n    status: 429\n    retryAfter: 60\n"))
		if r := e.do(call{method: "GET", path: path}); r.status != 429 {
			t.Fatalf("first GET = %d, want 429", r.status)
		}
		if r := e.do(call{method: "GET", path: path}); r.status != 200 {
			t.Errorf("GET again at once = %d %s, want 200", r.status, r.body)
		}
	})
}

// A rule can make a connection's next registration fail with a given
// error, or take a given time; the client sees it by polling, on every
// version, in the version's shape.
func TestRegistrationFaults(t *testing.T) {
	tests := []struct {
		name         string
		prefix       string
		registration string
		wantSeen     []string
		wantError    map[string]any
		minTime      time.Duration
	}{
		{
			name:         "failed, on v1.0",
			prefix:       "/v1.0",
			registration: "{error: {code: SchemaRegistrationFailed, message: The schema could not be registered., target: properties, details: [{code: TooMany, message: Too many properties., target: properties/0}]}, delay: 600ms}",
			wantSeen:     []string{"inprogress", "failed"},
			wantError: map[string]any{"@odata.type": "#microsoft.graph.publicError", "code": "SchemaRegistrationFailed",
				"message": "The schema could not be registered.", "target": "properties",
				"details": []any{map[string]any{"@odata.type": "#microsoft.graph.publicErrorDetail", "code": "TooMany", "message": "Too many properties.", "target": "properties/0"}}},
			minTime: 600 * time.Millisecond,
		},
		{
			name:         "failed with the default error, on the early beta's paths",
			prefix:       "",
			registration: "{error: {}}",
			wantSeen:     []string{"inprogress", "failed"},
			wantError:    map[string]any{"@odata.type": "#microsoft.graph.errorDetail", "errorCode": "generalException", "message": "Server error, something went wrong"},
		},
		{
			name:         "slow",
			prefix:       "/beta",
			registration: "{delay: 1s}",
			wantSeen:     []string{"inprogress", "completed"},
			minTime:      time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withAdmin(t, ""))
			f := e.fixture()
			e.setPlan("rules:\n  - match: {connection: " + f.conn + "}\n    first: 1\n    registration: " + tt.registration + "\n")
			// The clock starts before the request: the server counts the
			// delay from the moment it accepts the registration.
			register := func() (time.Time, string) {
				start := time.Now()
				r := e.do(call{method: "PATCH", path: tt.prefix + "/external/connections/" + f.conn + "/schema", body: goodSchema})
				if r.status != http.StatusAccepted {
					t.Fatalf("PATCH schema = %d %s, want 202", r.status, r.body)
				}
				loc, err := url.Parse(r.header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				return start, loc.Path
			}
			start, op := register()
			seen, got := e.pollOperation(op)
			took := time.Since(start)
			if !cmp.Equal(seen, tt.wantSeen) {
				t.Errorf("registration went %v, want %v", seen, tt.wantSeen)
			}
			if tt.wantError != nil {
				if diff := cmp.Diff(tt.wantError, got["error"]); diff != "" {
					t.Errorf("the operation's error (-want +got):\n%s", diff)
				}
				if r := e.do(call{method: "GET", path: "/external/connections/" + f.conn + "/schema"}); r.status != http.StatusNotFound {
					t.Errorf("GET schema after the failed registration = %d, want 404", r.status)
				}
			}
			if took < tt.minTime {
				t.Errorf("the registration ended after %v, want %v at least", took, tt.minTime)
			}
			// first: 1: the next registration is the server's own.
			_, op = register()
			if seen, _ := e.pollOperation(op); seen[len(seen)-1] != "completed" {
				t.Errorf("the second registration went %v, want completed", seen)
			}
			if got := e.metric(`graphconn_faults_injected_total{fault="registration",rule="rule 1"}`); !strings.HasSuffix(got, " 1") {
				t.Errorf("/metrics has %q, want one registration fault", got)
			}
		})
	}
}

// The admin endpoint is outside the Graph API and opens with the admin
// token only: not with none, not with a Graph token wherever it is sent.
func TestFaultsAdminEndpoint(t *testing.T) {
	e := newEnv(t, withAdmin(t, ""))
	plan := "rules:\n  - status: 500\n"
	refused := []struct {
		name   string
		header map[string]string
	}{
		{"no token", nil},
		{"a Graph token", map[string]string{"Authorization": "Bearer " + e.token}},
		{"a Graph token in the admin header", map[string]string{server.AdminTokenHeader: e.token}},
		{"the admin token as a bearer token", map[string]string{"Authorization": "Bearer " + testAdminToken}},
		{"another admin token", map[string]string{server.AdminTokenHeader: testAdminToken + "x"}},
	}
	for _, tt := range refused {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				e := e.with(t)
				status, body := e.admin(method, plan, tt.header)
				var ge struct{ Error struct{ Code string } }
				if status != http.StatusUnauthorized || json.Unmarshal(body, &ge) != nil || ge.Error.Code != "InvalidAuthenticationToken" {
					t.Errorf("= %d %s, want 401 InvalidAuthenticationToken", status, body)
				}
			})
		}
	}
	if r := e.do(call{method: "GET", path: "/v1.0/external/connections"}); r.status != 200 {
		t.Fatalf("after the refused PUTs, GET = %d, want 200: no plan", r.status)
	}

	if st := e.faultsState(); st.Active || len(st.Rules) != 0 {
		t.Errorf("state without a plan = %+v, want inactive", st)
	}
	status, body := e.admin("PUT", "rules:\n  - status: 500\n    stauts: 1\n", adminHeader)
	if status != http.StatusBadRequest || !strings.Contains(string(body), `line 3: unknown field \"stauts\"`) {
		t.Errorf("PUT a malformed plan = %d %s, want 400 naming line 3", status, body)
	}
	// JSON is YAML.
	e.setPlan(`{"seed": 5, "rules": [{"name": "json", "match": {"method": "POST"}, "status": 502}]}`)
	if r := e.do(call{method: "POST", path: "/v1.0/external/connections", body: map[string]any{"id": "faultsjson", "name": "n"}}); r.status != 502 {
		t.Errorf("under a plan given as JSON, POST = %d, want 502", r.status)
	}
	e.setPlan(plan)
	if r := e.do(call{method: "GET", path: "/v1.0/external/connections"}); r.status != 500 {
		t.Errorf("under the plan, GET = %d, want 500", r.status)
	}
	if st := e.faultsState(); !st.Active || len(st.Rules) != 1 || st.Rules[0].Line != 2 || st.Rules[0].Fired != 1 {
		t.Errorf("state = %+v, want the plan's rule, fired once", st)
	}
	if status, body := e.admin("DELETE", "", adminHeader); status != http.StatusNoContent {
		t.Errorf("DELETE = %d %s, want 204", status, body)
	}
	if r := e.do(call{method: "GET", path: "/v1.0/external/connections"}); r.status != 200 {
		t.Errorf("after DELETE, GET = %d, want 200", r.status)
	}

	t.Run("absent without an admin token", func(t *testing.T) {
		e := newEnv(t)
		if status, _ := e.admin("GET", "", adminHeader); status != http.StatusNotFound {
			t.Errorf("GET /_graphconn/faults = %d, want 404", status)
		}
	})
}

// The binary: a plan from GRAPHCONN_FAULTS (or --faults), the admin token
// made in the data directory, and a malformed plan refused at start with
// the line at fault.
func TestFaultsAtTheBinary(t *testing.T) {
	write := func(t *testing.T, plan string) string {
		path := filepath.Join(t.TempDir(), "plan.yaml")
		if err := os.WriteFile(path, []byte(plan), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("served", func(t *testing.T) {
		dir := t.TempDir()
		p := startBinary(t, dir, []string{"GRAPHCONN_FAULTS=" + write(t, "rules:\n  - match: {method: POST}\n    status: 503\n    retryAfter: 2\n")},
			"--addr", "127.0.0.1:0", "--data-dir", dir)
		r := do(t, p.url, p.token, call{method: "POST", path: "/v1.0/external/connections", body: map[string]any{"id": "faultsbin", "name": "n"}})
		if r.status != 503 || r.header.Get("Retry-After") != "2" {
			t.Errorf("POST = %d (Retry-After %q), want 503 with Retry-After 2", r.status, r.header.Get("Retry-After"))
		}
		token, err := os.ReadFile(filepath.Join(dir, auth.AdminTokenFile))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("DELETE", p.url+"/_graphconn/faults", nil)
		req.Header.Set(server.AdminTokenHeader, strings.TrimSpace(string(token)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Errorf("DELETE /_graphconn/faults with the data dir's admin token = %d, want 204", res.StatusCode)
		}
		if r := do(t, p.url, p.token, call{method: "POST", path: "/v1.0/external/connections", body: map[string]any{"id": "faultsbin", "name": "n"}}); r.status != 201 {
			t.Errorf("POST without the plan = %d, want 201", r.status)
		}
		if !strings.Contains(p.logs.String(), `"msg":"faults plan active"`) || strings.Contains(p.logs.String(), strings.TrimSpace(string(token))) {
			t.Errorf("want the plan logged, and never the admin token:\n%s", p.logs)
		}
		p.stop(t)
	})
	t.Run("--admin-token", func(t *testing.T) {
		dir := t.TempDir()
		p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir, "--admin-token", "s3cret")
		req, _ := http.NewRequest("PUT", p.url+"/_graphconn/faults", strings.NewReader("rules: []\n"))
		req.Header.Set(server.AdminTokenHeader, "s3cret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("PUT /_graphconn/faults = %d, want 200", res.StatusCode)
		}
		if _, err := os.Stat(filepath.Join(dir, auth.AdminTokenFile)); err == nil {
			t.Errorf("--admin-token given, yet %s was made", auth.AdminTokenFile)
		}
		p.stop(t)
	})

	malformed := []struct {
		name, plan, want string
	}{
		{"indentation", "seed: 1\nrules:\n  - status: 429\n   first: 2\n", "line 4: "},
		{"unknown field", "rules:\n  - status: 429\n    retryafter: 2\n", `line 3: unknown field "retryafter"`},
		{"status", "rules:\n  - name: teapot\n    status: 418\n", `line 3: status must be one of 429, 500, 502, 503, 504 and 507, not 418 (in rule "teapot")`},
		{"operationId", "rules:\n  - match:\n      operationId: nosuch\n    status: 500\n", `line 3: operationId "nosuch" is not in openapi.yaml`},
		{"latency", "rules:\n  - latency: soon\n", "line 2: latency must be a duration"},
		{"empty", "", "line 1: the plan is empty"},
	}
	for _, tt := range malformed {
		t.Run("malformed/"+tt.name, func(t *testing.T) {
			for _, how := range []struct {
				args, env []string
			}{{[]string{"--faults", write(t, tt.plan)}, nil}, {nil, []string{"GRAPHCONN_FAULTS=" + write(t, tt.plan)}}} {
				cmd := exec.Command(binary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, how.args...)...)
				cmd.Env = append(os.Environ(), how.env...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				err := cmd.Run()
				ee, ok := err.(*exec.ExitError)
				if !ok || ee.ExitCode() != 2 {
					t.Fatalf("graphconn serve with a malformed plan: %v, want exit status 2\n%s", err, stderr.String())
				}
				if !strings.Contains(stderr.String(), "plan.yaml: "+tt.want) {
					t.Errorf("stderr = %q, want it to say %q", stderr.String(), tt.want)
				}
			}
		})
	}
}

// Without a plan nothing changes: no Retry-After is remembered, no rule
// counted, and the metrics say zero faults.
func TestNoPlanNoFaults(t *testing.T) {
	e := newEnv(t, withAdmin(t, ""), func(c *server.Config) { c.RateLimit, c.RateBurst = 0.5, 1 })
	path := "/v1.0/external/connections"
	e.do(call{method: "GET", path: path})
	for range 2 {
		if r := e.do(call{method: "GET", path: path}); r.status != 429 || strings.Contains(r.errorMessage(t), "before the Retry-After") {
			t.Errorf("GET = %d %s, want the throttle's own 429", r.status, r.body)
		}
	}
	if got := e.metric("graphconn_faults_injected_total"); got != "" {
		t.Errorf("/metrics has %q without a plan", got)
	}
	if got := e.metric("graphconn_faults_early_retries_total"); got != "" {
		t.Errorf("/metrics has %q without a plan", got)
	}
}

// README's plan is a plan.
func TestReadmeFaultPlan(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- faults plan -->\n```yaml\n")
	if !ok {
		t.Fatal("README.md has no faults plan marker")
	}
	plan, _, _ := strings.Cut(rest, "```")
	if p := parsePlan(t, plan); p.Rules() != 4 || p.Seed() != 42 {
		t.Errorf("README's plan has %d rules and seed %d, want 4 and 42", p.Rules(), p.Seed())
	}
}
