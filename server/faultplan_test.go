package server

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
)

func TestParseFaultPlanRefuses(t *testing.T) {
	tests := []struct {
		name, plan, want string
	}{
		{"empty", "", "line 1: the plan is empty"},
		{"not a mapping", "- a\n", "line 1: the plan must be a mapping"},
		{"syntax", "seed: 1\nrules:\n  - status: 429\n   first: 2\n", "line 4: "},
		{"tab", "rules:\n  - status: 429\n\tfirst: 2\n", "line 3: "},
		{"no rules", "seed: 1\n", "line 1: the plan has no rules"},
		{"rules not a list", "rules: {}\n", "line 1: rules must be a list"},
		{"unknown plan field", "rule: []\n", `line 1: unknown field "rule" in the plan`},
		{"negative seed", "seed: -1\nrules: []\n", "line 1: seed must be a whole number"},
		{"string seed", "seed: abc\nrules: []\n", "line 1: seed must be a whole number"},
		{"enforce not a bool", "enforceRetryAfter: yes please\nrules: []\n", "line 1: enforceRetryAfter must be true or false"},
		{"unknown rule field", "rules:\n  - status: 500\n    stauts: 1\n", `line 3: unknown field "stauts" in rule 1`},
		{"field twice", "rules:\n  - status: 500\n    status: 502\n", `line 3: "status" is given twice in rule 1`},
		{"names twice", "rules:\n  - name: a\n    status: 500\n  - name: a\n    status: 502\n", `line 4: another rule is named "a", on line 2`},
		{"a name like a default", "rules:\n  - status: 500\n  - name: rule 1\n    status: 502\n", `line 3: another rule is named "rule 1", on line 2`},
		{"does nothing", "rules:\n  - name: idle\n    first: 1\n", `line 2: rule "idle" does nothing`},
		{"status", "rules:\n  - status: 404\n", "line 2: status must be one of 429, 500, 502, 503, 504 and 507, not 404 (in rule 1)"},
		{"status text", "rules:\n  - status: busy\n", "line 2: status must be one of"},
		{"retryAfter without status", "rules:\n  - latency: 1s\n    retryAfter: 2\n", "line 3: retryAfter goes with status 429 or 503"},
		{"retryAfter on 500", "rules:\n  - status: 500\n    retryAfter: 2\n", "line 3: retryAfter goes with status 429 or 503"},
		{"retryAfter negative", "rules:\n  - status: 429\n    retryAfter: -1\n", "line 3: retryAfter must be a whole number"},
		{"code without status", "rules:\n  - latency: 1s\n    code: x\n", "line 3: code goes with a status"},
		{"long code", "rules:\n  - status: 500\n    code: " + strings.Repeat("x", 129) + "\n", "line 3: code must be a string of 1 to 128"},
		{"rate zero", "rules:\n  - status: 500\n    rate: 0\n", "line 3: rate must be a number above 0"},
		{"rate above one", "rules:\n  - status: 500\n    rate: 2\n", "line 3: rate must be a number above 0"},
		{"first zero", "rules:\n  - status: 500\n    first: 0\n", "line 3: first must be a whole number of at least 1"},
		{"every fraction", "rules:\n  - status: 500\n    every: 1.5\n", "line 3: every must be a whole number of at least 1"},
		{"two whens", "rules:\n  - status: 500\n    first: 1\n    rate: 0.5\n", "a rule has one of rate, first and every"},
		{"latency text", "rules:\n  - latency: slow\n", "line 2: latency must be a duration"},
		{"latency negative", "rules:\n  - latency: -1s\n", "line 2: latency must be a duration"},
		{"latency half uniform", "rules:\n  - latency: {min: 1s}\n", "line 2: latency must be a duration"},
		{"latency mixed", "rules:\n  - latency: {min: 1s, max: 2s, mean: 1s}\n", "line 2: latency must be a duration"},
		{"latency max below min", "rules:\n  - latency: {min: 2s, max: 1s}\n", "line 2: latency's max is below its min"},
		{"latency unknown", "rules:\n  - latency: {low: 1s}\n", `line 2: unknown field "low" in latency`},
		{"drop text", "rules:\n  - drop: sometimes\n", "line 2: drop must be before (or true), after or false"},
		{"drop and status", "rules:\n  - status: 500\n    drop: true\n", "line 3: a rule answers with a status or drops the connection, not both"},
		{"registration and status", "rules:\n  - status: 500\n    registration: {delay: 1s}\n", "line 3: a registration fault lets the registration through"},
		{"registration empty", "rules:\n  - registration: {}\n", "line 2: registration needs an error, a delay or both"},
		{"registration delay", "rules:\n  - registration: {delay: 2d}\n", "line 2: delay must be a duration"},
		{"registration details", "rules:\n  - registration: {error: {details: x}}\n", "line 2: details must be a list"},
		{"registration detail field", "rules:\n  - registration:\n      error:\n        details:\n          - {source: x}\n", `line 5: unknown field "source" in a detail`},
		{"match unknown", "rules:\n  - match: {verb: GET}\n    status: 500\n", `line 2: unknown field "verb" in match`},
		{"match method", "rules:\n  - match: {method: TRACE}\n    status: 500\n", `line 2: method "TRACE" is none of openapi.yaml's`},
		{"match operationId", "rules:\n  - match:\n      operationId: [external.ListConnections, nosuch]\n    status: 500\n", `line 3: operationId "nosuch" is not in openapi.yaml`},
		{"match relative path", "rules:\n  - match: {path: v1.0/x}\n    status: 500\n", `line 2: path "v1.0/x" must begin with /`},
		{"match bad pattern", "rules:\n  - match: {path: \"/v1.0/[\"}\n    status: 500\n", `line 2: path "/v1.0/[" is not a pattern`},
		{"match ** inside", "rules:\n  - match: {path: /v1.0/**/x}\n    status: 500\n", `line 2: path "/v1.0/**/x" is not a pattern`},
		{"match empty list", "rules:\n  - match: {appId: []}\n    status: 500\n", "line 2: appId must be a string or a list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFaultPlan([]byte(tt.plan))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFaultPlan(%q) = %v, want an error saying %q", tt.plan, err, tt.want)
			}
		})
	}
}

func TestParseFaultPlan(t *testing.T) {
	plan := `seed: 7
enforceRetryAfter: false
rules:
  - name: throttle
    match:
      method: [put, PATCH]
      operationId: v1.external.connections.SetItems
      path: /v1.0/external/connections/*/items/*
      appId: [a, b]
      connection: contosohr
    rate: 0.25
    status: 429
    retryAfter: 4
    code: TooManyRequests
    message: Slow down.
  - first: 2
    latency: {mean: 200ms, stddev: 50ms}
    drop: after
  - every: 3
    registration:
      error:
        code: E
        message: M
        target: T
        details: [{code: C, message: D, target: X}]
      delay: 10m
`
	p, err := ParseFaultPlan([]byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	if p.Seed() != 7 || p.randomSeed || p.enforce || p.Rules() != 3 {
		t.Errorf("plan = seed %d (random %v), enforce %v, %d rules; want 7, false, false, 3", p.Seed(), p.randomSeed, p.enforce, p.Rules())
	}
	want := []*faultRule{
		{name: "throttle", line: 4, methods: []string{"PUT", "PATCH"}, operationIDs: []string{"v1.external.connections.SetItems"},
			paths: [][]string{{"", "v1.0", "external", "connections", "*", "items", "*"}}, appIDs: []string{"a", "b"}, connections: []string{"contosohr"},
			rate: 0.25, status: 429, retryAfter: 4, code: "TooManyRequests", msg: "Slow down."},
		{name: "rule 2", line: 16, first: 2, retryAfter: -1, latency: latency{mean: 200 * time.Millisecond, stddev: 50 * time.Millisecond}, drop: dropAfter},
		{name: "rule 3", line: 19, every: 3, retryAfter: -1, registration: &registrationFault{
			failure: &store.ErrorDetail{Code: "E", Message: "M", Target: "T", Details: []store.InnerErrorDetail{{Code: "C", Message: "D", Target: "X"}}},
			delay:   10 * time.Minute, hasDelay: true}},
	}
	if diff := cmp.Diff(want, p.rules, cmp.AllowUnexported(faultRule{}, latency{}, registrationFault{})); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}
