package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/graphconn/graphconn/auth"
)

// graphconn token mints a token for any GUID given as --tenant-id, which the
// server places in that tenant, and refuses anything else.
func TestTokenTenantID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	v, err := auth.NewVerifier(ctx, auth.Config{DevKey: mustKey(t, dir)})
	if err != nil {
		t.Fatalf("NewVerifier() = %v", err)
	}
	tests := []struct {
		tenantID string
		want     string // the Principal's tenant; "" for a usage error
	}{
		{"", auth.DevTenantID}, // the flag left out
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		{"72F988BF-86F1-41AF-91AB-2D7CD011DB47", "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		{"{72f988bf-86f1-41af-91ab-2d7cd011db47}", "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		{"contoso.onmicrosoft.com", ""},
		{"72f988bf", ""},
	}
	for _, tt := range tests {
		t.Run(tt.tenantID, func(t *testing.T) {
			args := []string{"token", "--data-dir", dir, "--app-id", "app1", "--roles", "ExternalConnection.ReadWrite.All"}
			if tt.tenantID != "" {
				args = append(args, "--tenant-id", tt.tenantID)
			}
			var stdout, stderr bytes.Buffer
			err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "not a GUID") {
					t.Fatalf("token --tenant-id %q = %v, want an error saying it is not a GUID", tt.tenantID, err)
				}
				if stdout.Len() != 0 {
					t.Errorf("token --tenant-id %q printed %q, want nothing", tt.tenantID, stdout.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("token --tenant-id %q = %v; stderr %s", tt.tenantID, err, stderr.String())
			}
			h := http.Header{"Authorization": {"Bearer " + strings.TrimSpace(stdout.String())}}
			p, err := v.FromHeader(ctx, h)
			if err != nil {
				t.Fatalf("the minted token does not verify: %v", err)
			}
			if p.TenantID != tt.want {
				t.Errorf("token --tenant-id %q speaks for tenant %q, want %q", tt.tenantID, p.TenantID, tt.want)
			}
		})
	}
}

func mustKey(t *testing.T, dir string) *auth.DevKey {
	t.Helper()
	k, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateDevKey() = %v", err)
	}
	return k
}
