package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseTenantID(t *testing.T) {
	const want = "9188040d-6c67-4c5b-b112-36a304b66dad"
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"9188040d-6c67-4c5b-b112-36a304b66dad", want},
		{"9188040D-6C67-4C5B-B112-36A304B66DAD", want},
		{"{9188040d-6c67-4c5b-b112-36a304b66dad}", want},
		{"{9188040D-6C67-4C5B-B112-36A304B66DAD}", want},
		{"urn:uuid:9188040d-6c67-4c5b-b112-36a304b66dad", want},
		{"9188040d6c674c5bb11236a304b66dad", want},
		{DevTenantID, DevTenantID},
		{"", ""},
		{"contoso.onmicrosoft.com", ""},
		{"common", ""},
		{"9188040d-6c67-4c5b-b112-36a304b66da", ""},
		{"9188040d-6c67-4c5b-b112-36a304b66dad ", ""},
		{" 9188040d-6c67-4c5b-b112-36a304b66dad", ""},
		{"{9188040d-6c67-4c5b-b112-36a304b66dad", ""},
		{"9188040g-6c67-4c5b-b112-36a304b66dad", ""},
	}
	for _, tt := range tests {
		got, err := ParseTenantID(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseTenantID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// The consumer tenant is refused in every spelling of its GUID: the attack
// of issue 14 was the same GUID in upper case, or braced.
func TestPersonal(t *testing.T) {
	tests := []struct {
		tenant    string
		delegated bool
		want      bool
	}{
		{ConsumerTenantID, true, true},
		{strings.ToUpper(ConsumerTenantID), true, true},
		{"{" + ConsumerTenantID + "}", true, true},
		{"{" + strings.ToUpper(ConsumerTenantID) + "}", true, true},
		{strings.ReplaceAll(ConsumerTenantID, "-", ""), true, true},
		{ConsumerTenantID, false, false}, // an application's token is no personal account
		{DevTenantID, true, false},
		{"", true, false},
	}
	for _, tt := range tests {
		p := &Principal{TenantID: tt.tenant, Delegated: tt.delegated}
		if got := p.Personal(); got != tt.want {
			t.Errorf("Principal{TenantID: %q, Delegated: %v}.Personal() = %v, want %v", tt.tenant, tt.delegated, got, tt.want)
		}
	}
}

// Verify gives every consumer the tenant in one form, and refuses a token
// whose tid is missing or no GUID.
func TestVerifyTenant(t *testing.T) {
	ctx := context.Background()
	dev := mustDevKey(t)
	v, err := NewVerifier(ctx, Config{DevKey: dev})
	if err != nil {
		t.Fatalf("NewVerifier() = %v", err)
	}
	now := time.Now()
	withTenant := func(tid string) string {
		c := baseClaims(now)
		c.TenantID = tid
		return sign(t, jwt.SigningMethodES256, dev.private, dev.ID, c)
	}
	tests := []struct {
		name, token string
		want        string // the Principal's TenantID; "" for an error
		wantInErr   string
	}{
		{"canonical", withTenant("72f988bf-86f1-41af-91ab-2d7cd011db47"), "72f988bf-86f1-41af-91ab-2d7cd011db47", ""},
		{"upper case", withTenant("72F988BF-86F1-41AF-91AB-2D7CD011DB47"), "72f988bf-86f1-41af-91ab-2d7cd011db47", ""},
		{"braced", withTenant("{72f988bf-86f1-41af-91ab-2d7cd011db47}"), "72f988bf-86f1-41af-91ab-2d7cd011db47", ""},
		{"minted upper case and braced", mustMint(t, dev, TokenOptions{AppID: "app1", TenantID: "{" + strings.ToUpper(ConsumerTenantID) + "}", Scopes: []string{"A"}, TTL: time.Hour}, now),
			ConsumerTenantID, ""},
		{"no tid", withTenant(""), "", "names no tenant (tid)"},
		{"a domain name", withTenant("contoso.onmicrosoft.com"), "", "tenant (tid) is not a GUID"},
		{"common", withTenant("common"), "", "tenant (tid) is not a GUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(ctx, tt.token)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
					t.Fatalf("Verify() = %+v, %v; want an error containing %q", p, err, tt.wantInErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() = %v, want success", err)
			}
			if p.TenantID != tt.want {
				t.Errorf("Verify().TenantID = %q, want %q", p.TenantID, tt.want)
			}
		})
	}
}

// The development key mints tokens for any GUID, in the spelling given, and
// for nothing else.
func TestMintTenant(t *testing.T) {
	dev := mustDevKey(t)
	for _, tt := range []struct {
		tenant string
		ok     bool
	}{
		{"", true},
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", true},
		{"{72F988BF-86F1-41AF-91AB-2D7CD011DB47}", true},
		{"contoso", false},
		{"72f988bf", false},
	} {
		tok, err := dev.Mint(TokenOptions{AppID: "app1", TenantID: tt.tenant, TTL: time.Hour}, time.Now())
		if (err == nil) != tt.ok {
			t.Errorf("Mint(tenant %q) = %v, want success %v", tt.tenant, err, tt.ok)
			continue
		}
		if err != nil {
			continue
		}
		var c claims
		if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
			t.Fatalf("ParseUnverified() = %v", err)
		}
		want := tt.tenant
		if want == "" {
			want = DevTenantID
		}
		if c.TenantID != want {
			t.Errorf("Mint(tenant %q) has tid %q, want %q", tt.tenant, c.TenantID, want)
		}
	}
}
