package clients

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// faultsPlan throttles and fails about a third of the lifecycle's GETs and
// DELETEs at random, each with a Retry-After of a second, which the SDK's
// retry handler must honour. The seed makes the run the same every time:
// the rules leave out the polls of the operation, whose number depends on
// timing, so that every other request meets the same faults run after run.
//
// Requests with a body are left alone: msgraph-sdk-go's default middleware
// retries them with their Content-Encoding: gzip header and the body
// uncompressed (kiota-http-go issue 183, fixed only when the compression
// handler comes before the retry handler, which the default order does not
// do), which graphconn refuses with 400, as Graph does.
const faultsPlan = `seed: 11
rules:
  - name: throttled
    match:
      method: [GET, DELETE]
      path: [/v1.0/external/connections/*, /v1.0/external/connections/*/schema, /v1.0/external/connections/*/operations]
    rate: 0.2
    status: 429
    retryAfter: 1
  - name: unavailable
    match:
      method: GET
      path: [/v1.0/external/connections/*, /v1.0/external/connections/*/schema, /v1.0/external/connections/*/operations]
    rate: 0.2
    status: 503
    retryAfter: 1
`

const faultsAdminToken = "clients-admin-token"

// TestLifecycleUnderFaults is TestLifecycle with graphconn serving
// faultsPlan (GRAPHCONN_FAULTS, which the server inherits): the SDK's own
// retry handler carries the lifecycle through the 429s and 503s. Then the
// admin endpoint tells that both rules fired, and that the SDK never came
// back before a Retry-After.
func TestLifecycleUnderFaults(t *testing.T) {
	plan := filepath.Join(t.TempDir(), "faults.yaml")
	if err := os.WriteFile(plan, []byte(faultsPlan), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GRAPHCONN_FAULTS", plan)
	t.Setenv("GRAPHCONN_ADMIN_TOKEN", faultsAdminToken)
	addr := recordDials(t)

	TestLifecycle(t)
	if t.Failed() {
		return
	}

	// The server still runs: its cleanup comes after this function.
	a := addr()
	if a == "" {
		t.Fatal("the SDK dialed no address")
	}
	// Only to read the counts: TestLifecycle checked the certificate.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, err := http.NewRequest("GET", "https://"+a+"/_graphconn/faults", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Graphconn-Admin-Token", faultsAdminToken)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		EarlyRetries uint64
		Rules        []struct {
			Name           string
			Matched, Fired uint64
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /_graphconn/faults = %d (%v), want 200 with the plan's counts", res.StatusCode, err)
	}
	for _, r := range st.Rules {
		t.Logf("rule %q: %d of %d matching requests failed", r.Name, r.Fired, r.Matched)
		if r.Fired == 0 {
			t.Errorf("rule %q never fired: the run met none of its faults", r.Name)
		}
	}
	if len(st.Rules) != 2 {
		t.Errorf("the plan has %d rules, want 2", len(st.Rules))
	}
	if st.EarlyRetries != 0 {
		t.Errorf("the SDK came back %d times before the Retry-After it was given", st.EarlyRetries)
	}
}

// recordDials makes the transports cloned from http.DefaultTransport (as
// newClient's is) note the addresses they dial, and returns the last one:
// so this test learns where the server of TestLifecycle listens.
func recordDials(t *testing.T) func() string {
	orig := http.DefaultTransport
	tr := orig.(*http.Transport).Clone()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	var mu sync.Mutex
	last := ""
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		last = addr
		mu.Unlock()
		return dial(ctx, network, addr)
	}
	http.DefaultTransport = tr
	t.Cleanup(func() { http.DefaultTransport = orig })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}
