package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/internal/contract"
)

// The response half of the validator can only be reached by a handler that
// breaks the contract, so these tests put such handlers behind the real
// middleware chain.
func TestResponsesBreakingTheContractAreNeverSent(t *testing.T) {
	const path = "/connections/:connectionsId/operations/:connectionOperationId"
	tests := []struct {
		name       string
		handler    echo.HandlerFunc
		wantStatus int
		wantCode   string
		wantLog    string
	}{
		{"valid response passes", func(c echo.Context) error {
			c.Response().Header().Set("ETag", `"1"`)
			return c.JSON(http.StatusOK, map[string]any{"id": "op1", "status": "completed", "error": nil})
		}, http.StatusOK, "", ""},
		{"missing a required header", func(c echo.Context) error {
			return c.JSON(http.StatusOK, map[string]any{"id": "op1", "status": "completed", "error": nil})
		}, http.StatusInternalServerError, "generalException", "response violates openapi.yaml"},
		{"status outside the enum", func(c echo.Context) error {
			return c.JSON(http.StatusOK, map[string]any{"id": "op1", "status": "String"})
		}, http.StatusInternalServerError, "generalException", "response violates openapi.yaml"},
		{"undeclared property", func(c echo.Context) error {
			return c.JSON(http.StatusOK, map[string]any{"id": "op1", "secret": "x"})
		}, http.StatusInternalServerError, "generalException", "response violates openapi.yaml"},
		{"undocumented status", func(c echo.Context) error {
			return c.JSON(http.StatusTeapot, map[string]any{"id": "op1"})
		}, http.StatusInternalServerError, "generalException", "response violates openapi.yaml"},
		{"not JSON", func(c echo.Context) error {
			return c.String(http.StatusOK, "hello")
		}, http.StatusInternalServerError, "generalException", "response violates openapi.yaml"},
		{"panic", func(c echo.Context) error {
			panic("boom")
		}, http.StatusInternalServerError, "generalException", `"msg":"panic"`},
		{"error after a partial write", func(c echo.Context) error {
			c.Response().WriteHeader(http.StatusOK)
			_, _ = c.Response().Write([]byte(`{"id":`))
			return errors.New("disk on fire")
		}, http.StatusInternalServerError, "generalException", "disk on fire"},
	}
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), auth.Config{DevKey: key})
	if err != nil {
		t.Fatal(err)
	}
	token, err := key.Mint(auth.TokenOptions{AppID: "a", Roles: []string{"ExternalConnection.Read.All"}, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			spec, err := LoadSpec()
			if err != nil {
				t.Fatal(err)
			}
			e, err := build(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Verifier: verifier}, spec, func(e *echo.Echo, _ *contract.Contract) error {
				e.GET(path, tt.handler)
				return nil
			})
			if err != nil {
				t.Fatalf("build() = %v", err)
			}
			req := httptest.NewRequest(http.MethodGet, "/connections/c1/operations/op1", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, tt.wantStatus)
			}
			rid := rec.Header().Get("request-id")
			if rid == "" {
				t.Errorf("no request-id header")
			}
			if tt.wantCode == "" {
				return
			}
			var body struct {
				Error struct {
					Code, Message string
					InnerError    map[string]string
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			if body.Error.Code != tt.wantCode || body.Error.InnerError["request-id"] != rid {
				t.Errorf("body = %s, want code %s and request-id %s", rec.Body, tt.wantCode, rid)
			}
			if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "String") {
				t.Errorf("body %s leaks the invalid response", rec.Body)
			}
			if !strings.Contains(logs.String(), tt.wantLog) || !strings.Contains(logs.String(), rid) {
				t.Errorf("logs = %s, want a line with %q and request-id %s", logs.String(), tt.wantLog, rid)
			}
		})
	}
}
