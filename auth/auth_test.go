package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustDevKey(t *testing.T) *DevKey {
	t.Helper()
	k, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatalf("LoadOrCreateDevKey() = %v", err)
	}
	return k
}

func mustMint(t *testing.T, k *DevKey, o TokenOptions, now time.Time) string {
	t.Helper()
	tok, err := k.Mint(o, now)
	if err != nil {
		t.Fatalf("Mint(%+v) = %v", o, err)
	}
	return tok
}

// sign signs claims with any key and algorithm, to forge tokens.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString() = %v", err)
	}
	return s
}

func baseClaims(now time.Time) claims {
	return claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: DevIssuer, Audience: jwt.ClaimStrings{DefaultAudience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		AppID: "app1", TenantID: DevTenantID, Roles: []string{"ExternalConnection.ReadWrite.All"},
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	dev := mustDevKey(t)
	v, err := NewVerifier(ctx, Config{DevKey: dev})
	if err != nil {
		t.Fatalf("NewVerifier() = %v", err)
	}
	now := time.Now()
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noneToken := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, baseClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	expired := baseClaims(now.Add(-2 * time.Hour))
	future := baseClaims(now.Add(time.Hour))
	wrongAud := baseClaims(now)
	wrongAud.Audience = jwt.ClaimStrings{"api://something-else"}
	wrongIss := baseClaims(now)
	wrongIss.Issuer = "https://sts.windows.net/evil/"
	noApp := baseClaims(now)
	noApp.AppID = ""
	azp := baseClaims(now)
	azp.AppID, azp.AZP = "", "app-from-azp"
	noExp := baseClaims(now)
	noExp.ExpiresAt = nil
	skewed := baseClaims(now.Add(30 * time.Second)) // issued a little in the future: within the leeway

	tests := []struct {
		name      string
		token     string
		want      *Principal
		wantInErr string
	}{
		{"application token", mustMint(t, dev, TokenOptions{AppID: "app1", Roles: []string{"ExternalConnection.Read.All"}, TTL: time.Hour}, now),
			&Principal{AppID: "app1", TenantID: DevTenantID, Permissions: []string{"ExternalConnection.Read.All"}}, ""},
		{"delegated token", mustMint(t, dev, TokenOptions{AppID: "app2", TenantID: ConsumerTenantID, Scopes: []string{"A", "B"}, TTL: time.Hour}, now),
			&Principal{AppID: "app2", TenantID: ConsumerTenantID, Delegated: true, Permissions: []string{"A", "B"}}, ""},
		{"azp names the app", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, azp),
			&Principal{AppID: "app-from-azp", TenantID: DevTenantID, Permissions: []string{"ExternalConnection.ReadWrite.All"}}, ""},
		{"clock skew within the leeway", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, skewed),
			&Principal{AppID: "app1", TenantID: DevTenantID, Permissions: []string{"ExternalConnection.ReadWrite.All"}}, ""},
		{"malformed", "not.a.jwt", nil, "not a well-formed JWT"},
		{"garbage", "abc", nil, "not a well-formed JWT"},
		{"expired", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, expired), nil, "expired"},
		{"not valid yet", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, future), nil, "not valid yet"},
		{"no exp", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, noExp), nil, "exp"},
		{"wrong audience", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, wrongAud), nil, "Invalid audience"},
		{"wrong issuer", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, wrongIss), nil, "Invalid issuer"},
		{"no app", sign(t, jwt.SigningMethodES256, dev.private, dev.ID, noApp), nil, "no application"},
		{"forged with another key under the dev kid", sign(t, jwt.SigningMethodES256, other, dev.ID, baseClaims(now)), nil, "signature is invalid"},
		{"forged with another key and kid", sign(t, jwt.SigningMethodES256, other, "someone-else", baseClaims(now)), nil, "signing key is not trusted"},
		{"alg none", noneToken, nil, "algorithm is not accepted"},
		{"HMAC keyed with the public key", sign(t, jwt.SigningMethodHS256, []byte(dev.ID), dev.ID, baseClaims(now)), nil, "algorithm is not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(ctx, tt.token)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				if got.Delegated && got.ObjectID == "" {
					t.Errorf("delegated principal has no object id")
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Principal{}, "ObjectID")); diff != "" {
					t.Errorf("Verify() mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Verify() = %v, %v; want an error containing %q", got, err, tt.wantInErr)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q repeats the token", err)
			}
		})
	}
}

func TestFromHeader(t *testing.T) {
	ctx := context.Background()
	v, err := NewVerifier(ctx, Config{DevKey: mustDevKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ header, want string }{
		{"", "Access token is empty."},
		{"Bearer", "Access token is empty."},
		{"Bearer   ", "Access token is empty."},
		{"Basic dXNlcjpwYXNz", "must be 'Bearer {token}'"},
		{"Bearer x.y.z", "not a well-formed JWT"},
	} {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Authorization", tt.header)
		}
		if _, err := v.FromHeader(ctx, h); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromHeader(%q) = %v, want an error containing %q", tt.header, err, tt.want)
		}
	}
}

// A key set from a file or a URL is trusted; a URL is fetched again when a
// token names a key it lacks, as when the identity provider rotates keys.
func TestJWKS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now()
	rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
	setOf := func(keys map[string]*rsa.PrivateKey) []byte {
		s := jwkset.NewMemoryStorage()
		for kid, k := range keys {
			jwk, err := jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.KeyWrite(ctx, jwk); err != nil {
				t.Fatal(err)
			}
		}
		raw, err := s.JSONPublic(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	c := baseClaims(now)
	c.Issuer = "https://sts.windows.net/tenant/"
	cfg := Config{Issuers: []string{"https://sts.windows.net/tenant/"}}

	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(path, setOf(map[string]*rsa.PrivateKey{"k1": rsa1}), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := cfg
		cfg.JWKS = path
		v, err := NewVerifier(ctx, cfg)
		if err != nil {
			t.Fatalf("NewVerifier() = %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsa1, "k1", c)); err != nil {
			t.Errorf("Verify(RS256 token of the file's key) = %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsa2, "k2", c)); err == nil {
			t.Error("Verify(token of a key not in the file) succeeded")
		}
	})

	t.Run("url with rotation", func(t *testing.T) {
		var mu sync.Mutex
		current := setOf(map[string]*rsa.PrivateKey{"k1": rsa1})
		fetches := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			fetches++
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(current)
		}))
		defer srv.Close()
		cfg := cfg
		cfg.JWKS = srv.URL
		v, err := NewVerifier(ctx, cfg)
		if err != nil {
			t.Fatalf("NewVerifier() = %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsa1, "k1", c)); err != nil {
			t.Fatalf("Verify(token of the served key) = %v", err)
		}
		mu.Lock()
		current = setOf(map[string]*rsa.PrivateKey{"k1": rsa1, "k2": rsa2})
		before := fetches
		mu.Unlock()
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsa2, "k2", c)); err != nil {
			t.Errorf("Verify(token of a rotated-in key) = %v, want the set refetched", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if fetches != before+1 {
			t.Errorf("the JWKS was fetched %d more times for an unknown kid, want 1", fetches-before)
		}
	})
}

func TestDevKeyPersists(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID != k2.ID || !k1.private.Equal(k2.private) {
		t.Errorf("the second load gave another key (%s, %s)", k1.ID, k2.ID)
	}
	fi, err := os.Stat(filepath.Join(dir, DevKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	// A token minted with the first is accepted by a verifier of the second.
	v, _ := NewVerifier(context.Background(), Config{DevKey: k2})
	if _, err := v.Verify(context.Background(), mustMint(t, k1, TokenOptions{AppID: "a", TTL: time.Minute}, time.Now())); err != nil {
		t.Errorf("Verify() across loads = %v", err)
	}
}

func TestMintShapes(t *testing.T) {
	k := mustDevKey(t)
	for _, o := range []TokenOptions{
		{Roles: []string{"r"}, TTL: time.Hour},
		{AppID: "a", Roles: []string{"r"}, Scopes: []string{"s"}, TTL: time.Hour},
		{AppID: "a", TTL: 0},
	} {
		if _, err := k.Mint(o, time.Now()); err == nil {
			t.Errorf("Mint(%+v) succeeded, want an error", o)
		}
	}
	tok := mustMint(t, k, TokenOptions{AppID: "a", Scopes: []string{"s1", "s2"}, TTL: time.Hour}, time.Now())
	parts := strings.Split(tok, ".")
	var payload map[string]any
	raw, _ := jwt.NewParser().DecodeSegment(parts[1])
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	if payload["scp"] != "s1 s2" || payload["roles"] != nil || payload["oid"] == nil || payload["appid"] != "a" {
		t.Errorf("delegated token payload = %v, want scp, oid and appid without roles", payload)
	}
}

// Tokens that golang-jwt alone would take: a crit header (RFC 7515 says a
// recipient must refuse extensions it does not understand) and dates given
// as strings (RFC 7519's NumericDate is a number).
func TestVerifyRefusesLaxTokens(t *testing.T) {
	ctx := context.Background()
	dev := mustDevKey(t)
	v, err := NewVerifier(ctx, Config{DevKey: dev})
	if err != nil {
		t.Fatalf("NewVerifier() = %v", err)
	}
	now := time.Now()
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"aud": DefaultAudience, "iss": DevIssuer, "appid": "app1", "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "roles": []string{"ExternalConnection.ReadWrite.All"},
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		}
		if change != nil {
			change(c)
		}
		return c
	}
	signed := func(header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = dev.ID
		for k, val := range header {
			tok.Header[k] = val
		}
		s, err := tok.SignedString(dev.private)
		if err != nil {
			t.Fatalf("SignedString() = %v", err)
		}
		return s
	}
	str := func(name string, d time.Duration) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) { c[name] = strconv.FormatInt(now.Add(d).Unix(), 10) }
	}
	tests := []struct {
		name      string
		token     string
		wantInErr string // "" for a token that passes
	}{
		{"numeric dates", signed(nil, claims(nil)), ""},
		{"fractional exp", signed(nil, claims(func(c jwt.MapClaims) { c["exp"] = float64(now.Add(time.Hour).Unix()) + 0.5 })), ""},
		{"crit header", signed(map[string]any{"crit": []string{"exp"}}, claims(nil)), "crit"},
		{"empty crit header", signed(map[string]any{"crit": []string{}}, claims(nil)), "crit"},
		{"crit naming an extension", signed(map[string]any{"crit": []string{"http://example.com/ext"}, "http://example.com/ext": true}, claims(nil)), "crit"},
		{"string exp", signed(nil, claims(str("exp", time.Hour))), "must be numbers"},
		{"string nbf", signed(nil, claims(str("nbf", 0))), "must be numbers"},
		{"string iat", signed(nil, claims(str("iat", 0))), "must be numbers"},
		{"boolean exp", signed(nil, claims(func(c jwt.MapClaims) { c["exp"] = true })), "must be numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(ctx, tt.token)
			if tt.wantInErr == "" {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Verify() = %v, want an error containing %q", err, tt.wantInErr)
			}
		})
	}
}

// Two Authorization headers are refused, whichever comes first.
func TestFromHeaderRefusesTwoAuthorizations(t *testing.T) {
	ctx := context.Background()
	dev := mustDevKey(t)
	v, err := NewVerifier(ctx, Config{DevKey: dev})
	if err != nil {
		t.Fatal(err)
	}
	good := "Bearer " + mustMint(t, dev, TokenOptions{AppID: "app1", Roles: []string{"ExternalConnection.Read.All"}, TTL: time.Hour}, time.Now())
	for _, tt := range []struct {
		name   string
		values []string
		ok     bool
	}{
		{"one", []string{good}, true},
		{"good then junk", []string{good, "Bearer x.y.z"}, false},
		{"junk then good", []string{"Basic dXNlcjpwYXNz", good}, false},
		{"twice the same", []string{good, good}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.FromHeader(ctx, http.Header{"Authorization": tt.values})
			if ok := err == nil; ok != tt.ok {
				t.Fatalf("FromHeader(%d headers) = %v, want success %v", len(tt.values), err, tt.ok)
			}
			if !tt.ok && !strings.Contains(err.Error(), "more than one Authorization header") {
				t.Errorf("FromHeader() = %v, want it to say there is more than one Authorization header", err)
			}
		})
	}
}
