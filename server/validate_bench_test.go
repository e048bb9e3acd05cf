package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/store"
)

// The seed's PATCH through the whole Echo stack (request ids, access log,
// response buffering and validation, request validation with the token's
// signature check, the handler), over a store that keeps one operation in
// memory, so that only the HTTP layer is measured. "unvalidated" is the
// same server with Config.NoValidation, as graphconn serve --no-validation.
// The faults cases measure the fault plan: without one, every request
// pays a pointer load, in "validated" too; "faults=none" is graphconn
// serve without a plan (the admin endpoint open), "faults=empty" a plan of
// no rules, "faults=unmatched" one whose rules match other requests.
func BenchmarkSeedPatch(b *testing.B) {
	bodies := [][]byte{[]byte(`{"status":"inprogress"}`), []byte(`{"status":"unspecified","error":null}`)}
	for _, bc := range []struct {
		name         string
		noValidation bool
		prefix       string
		faults       func(*Config)
	}{
		{"validated", false, "", nil},
		{"unvalidated", true, "", nil},
		{"validated/v1.0", false, "/v1.0", nil},
		{"validated/faults=none", false, "", func(c *Config) { c.AdminToken = "admin" }},
		{"validated/faults=empty", false, "", benchPlan(b, "rules: []\n")},
		{"validated/faults=unmatched", false, "", benchPlan(b,
			"rules:\n  - match: {method: PUT, path: /v1.0/external/connections/*/items/*}\n    rate: 0.1\n    status: 429\n"+
				"  - match: {appId: another}\n    latency: 1s\n")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, token := benchServer(b, bc.noValidation, bc.faults)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPatch, bc.prefix+benchOpPath, bytes.NewReader(bodies[i%2]))
				req.Header.Set("Authorization", token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("PATCH = %d %s", rec.Code, rec.Body)
				}
				i++
			}
		})
	}
}

// The GET of one operation, likewise.
func BenchmarkSeedGet(b *testing.B) {
	for _, bc := range []struct {
		name         string
		noValidation bool
	}{{"validated", false}, {"unvalidated", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h, token := benchServer(b, bc.noValidation, nil)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, benchOpPath, nil)
				req.Header.Set("Authorization", token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

const benchOpPath = "/external/connections/bench/operations/2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b"

// benchPlan configures the fault plan.
func benchPlan(b *testing.B, plan string) func(*Config) {
	p, err := ParseFaultPlan([]byte(plan))
	if err != nil {
		b.Fatal(err)
	}
	return func(c *Config) { c.AdminToken, c.Faults = "admin", p }
}

func benchServer(b *testing.B, noValidation bool, configure func(*Config)) (http.Handler, string) {
	b.Helper()
	key, err := auth.LoadOrCreateDevKey(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), auth.Config{DevKey: key})
	if err != nil {
		b.Fatal(err)
	}
	token, err := key.Mint(auth.TokenOptions{AppID: "bench", Roles: []string{"ExternalConnection.ReadWrite.All"}, TTL: time.Hour}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{
		Store:        &memStore{op: store.Operation{Tenant: auth.DevTenantID, ConnectionID: "bench", ID: "2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b", Status: store.StatusUnspecified, Version: 1}},
		Verifier:     verifier,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		NoValidation: noValidation,
	}
	if configure != nil {
		configure(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return h, "Bearer " + token
}

// memStore keeps one operation in memory; the benchmarks call nothing else.
type memStore struct {
	store.Store
	mu sync.Mutex
	op store.Operation
}

func (m *memStore) Operation(_ context.Context, tenant, connID, id string) (*store.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tenant != m.op.Tenant || connID != m.op.ConnectionID || id != m.op.ID {
		return nil, store.E(store.NotFound, "no operation %s", id)
	}
	op := m.op
	return &op, nil
}

func (m *memStore) UpdateOperation(_ context.Context, tenant, connID, id string, u store.OperationUpdate) (*store.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tenant != m.op.Tenant || connID != m.op.ConnectionID || id != m.op.ID {
		return nil, store.E(store.NotFound, "no operation %s", id)
	}
	if u.Status != nil {
		m.op.Status = *u.Status
	}
	if u.SetError {
		m.op.Error = u.Error
	}
	m.op.Version++
	op := m.op
	return &op, nil
}
