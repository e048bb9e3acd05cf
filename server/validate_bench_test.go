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
func BenchmarkSeedPatch(b *testing.B) {
	bodies := [][]byte{[]byte(`{"status":"inprogress"}`), []byte(`{"status":"unspecified","error":null}`)}
	for _, bc := range []struct {
		name         string
		noValidation bool
		prefix       string
	}{{"validated", false, ""}, {"unvalidated", true, ""}, {"validated/v1.0", false, "/v1.0"}} {
		b.Run(bc.name, func(b *testing.B) {
			h, token := benchServer(b, bc.noValidation)
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
			h, token := benchServer(b, bc.noValidation)
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

func benchServer(b *testing.B, noValidation bool) (http.Handler, string) {
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
	h, err := New(Config{
		Store:        &memStore{op: store.Operation{Tenant: auth.DevTenantID, ConnectionID: "bench", ID: "2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b", Status: store.StatusUnspecified, Version: 1}},
		Verifier:     verifier,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		NoValidation: noValidation,
	})
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
