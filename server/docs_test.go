package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store/sqlite"
)

// The docs, and the root that leads to them, answer without a token and
// outside the contract: the response validator would turn a status that
// openapi.yaml does not document into a 500.
func TestDocs(t *testing.T) {
	srv := docsServer(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path        string
		status      int
		location    string // of a redirect
		contentType string
		body        string // a part of it
	}{
		{"/", http.StatusFound, "/docs/", "", ""},
		{"/docs", http.StatusMovedPermanently, "/docs/", "", ""},
		{"/docs/", http.StatusOK, "", "text/html", "swagger-ui"},
		{"/docs/swagger-initializer.js", http.StatusOK, "", "text/javascript", "graphconn token"},
		{"/openapi.yaml", http.StatusOK, "", "application/yaml", "openapi: 3."},
		{"/openapi.json", http.StatusOK, "", "application/json", `"openapi":"3.`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := noRedirect.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, res.StatusCode, body, tt.status)
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Errorf("GET %s: Location = %q, want %q", tt.path, got, tt.location)
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("GET %s: Content-Type = %q, want %q", tt.path, got, tt.contentType)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s: body does not hold %q:\n%.300s", tt.path, tt.body, body)
			}
		})
	}

	// A browser that opens the server's address lands on Swagger UI.
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/docs/" || !strings.Contains(string(body), "swagger-ui") {
		t.Errorf("GET / followed to %s = %d, want 200 from /docs/ with Swagger UI:\n%.300s", res.Request.URL, res.StatusCode, body)
	}
}

func docsServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{DevKey: key})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.New(server.Config{Store: db, Verifier: verifier, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
