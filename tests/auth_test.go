package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/graphconn/graphconn/auth"
)

const (
	readAll      = "ExternalConnection.Read.All"
	readWriteOwn = "ExternalConnection.ReadWrite.OwnedBy"
	readWriteAll = "ExternalConnection.ReadWrite.All"

	itemReadAll      = "ExternalItem.Read.All"
	itemReadWriteOwn = "ExternalItem.ReadWrite.OwnedBy"
	itemReadWriteAll = "ExternalItem.ReadWrite.All"
)

// Graph's permission table, written out here and not read from openapi.yaml,
// so that this test checks the contract's declarations as well as their
// enforcement: reading takes any of the three, changing one of the last two;
// the ExternalItem permissions for items, external groups and their members,
// the ExternalConnection ones for the rest.
func allowed(method, path string, perms []string) bool {
	if searchPath(path) {
		return false // a user's token only: see allowedToken
	}
	read, own, all := readAll, readWriteOwn, readWriteAll
	if itemPath(path) {
		read, own, all = itemReadAll, itemReadWriteOwn, itemReadWriteAll
	}
	for _, p := range perms {
		if p == own || p == all || (p == read && method == http.MethodGet) {
			return true
		}
	}
	return false
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	tokens := []struct {
		name  string
		opts  auth.TokenOptions
		perms []string
		want  string // error code when refused; "" to follow allowed()
	}{
		{"app without roles", auth.TokenOptions{AppID: testApp}, nil, ""},
		{"app with an unrelated role", auth.TokenOptions{AppID: testApp, Roles: []string{"User.Read.All"}}, []string{"User.Read.All"}, ""},
		{"app Read.All", auth.TokenOptions{AppID: testApp, Roles: []string{readAll}}, []string{readAll}, ""},
		{"app ReadWrite.OwnedBy", auth.TokenOptions{AppID: testApp, Roles: []string{readWriteOwn}}, []string{readWriteOwn}, ""},
		{"app ReadWrite.All", auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll}}, []string{readWriteAll}, ""},
		{"user Read.All", auth.TokenOptions{AppID: testApp, Scopes: []string{"openid", readAll}}, []string{readAll}, ""},
		{"user ReadWrite.All", auth.TokenOptions{AppID: testApp, Scopes: []string{readWriteAll}}, []string{readWriteAll}, ""},
		{"personal account", auth.TokenOptions{AppID: testApp, TenantID: auth.ConsumerTenantID, Scopes: []string{readWriteAll}}, nil, "personal"},
		{"delegated permission in roles", auth.TokenOptions{AppID: testApp, Scopes: []string{"User.Read"}, Roles: nil}, []string{"User.Read"}, ""},
		{"app ExternalItem.Read.All", auth.TokenOptions{AppID: testApp, Roles: []string{itemReadAll}}, []string{itemReadAll}, ""},
		{"app ExternalItem.ReadWrite.OwnedBy", auth.TokenOptions{AppID: testApp, Roles: []string{itemReadWriteOwn}}, []string{itemReadWriteOwn}, ""},
		{"app ExternalItem.ReadWrite.All", auth.TokenOptions{AppID: testApp, Roles: []string{itemReadWriteAll}}, []string{itemReadWriteAll}, ""},
		{"user ExternalItem.ReadWrite.All", auth.TokenOptions{AppID: testApp, Scopes: []string{itemReadWriteAll}}, []string{itemReadWriteAll}, ""},
		{"user ExternalItem.Read.All", auth.TokenOptions{AppID: testApp, Scopes: []string{itemReadAll}}, []string{itemReadAll}, ""},
	}
	for _, op := range operations() {
		for _, tok := range tokens {
			t.Run(op.method+" "+op.path+"/"+tok.name, func(t *testing.T) {
				e := e.with(t)
				f := e.fixtureFor(op.path)
				c := call{method: op.method, path: f.fill(op.path), header: map[string]string{"Authorization": "Bearer " + e.mint(tok.opts)}}
				if spec.Paths.Value(op.path).GetOperation(op.method).RequestBody != nil {
					c.body = validBody(op.method, op.path)
				}
				r := e.do(c)
				switch {
				case tok.want == "personal":
					if r.status != http.StatusForbidden || !strings.Contains(r.errorMessage(t), "Personal Microsoft accounts are not supported") {
						t.Errorf("= %d %s, want 403 saying personal accounts are not supported", r.status, r.body)
					}
				case allowed(op.method, op.path, tok.perms) && op.method == http.MethodGet && strings.HasSuffix(op.path, "/schema"):
					// Authorized: the fixture's connection has no schema yet.
					if r.status != http.StatusNotFound || !strings.Contains(r.errorMessage(t), "no schema yet") {
						t.Errorf("= %d %s, want 404 for a connection without schema", r.status, r.body)
					}
				case searchPath(op.path) && tok.opts.Scopes != nil && slices.Contains(tok.perms, itemReadAll):
					if r.status != http.StatusOK {
						t.Errorf("= %d %s, want 200: a user's token with %s searches", r.status, r.body, itemReadAll)
					}
				case allowed(op.method, op.path, tok.perms):
					if want := successStatus(t, op.method, op.path); r.status != want {
						t.Errorf("= %d %s, want %d", r.status, r.body, want)
					}
				case searchPath(op.path) && slices.Contains(tok.perms, itemReadAll):
					// An application's token with the permission: search
					// says that it needs a user's.
					if r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" ||
						!strings.Contains(r.errorMessage(t), "needs a user's (delegated) token") {
						t.Errorf("= %d %s, want 403 Authorization_RequestDenied saying a user's token is needed", r.status, r.body)
					}
				default:
					if r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" ||
						r.errorMessage(t) != "Insufficient privileges to complete the operation." {
						t.Errorf("= %d %s, want 403 Authorization_RequestDenied", r.status, r.body)
					}
				}
			})
		}
	}
}

// Every way a token can be wrong gets a 401 that says what, and nothing more.
func TestTokenRejections(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	other, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	forged := func(kid string) string {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"aud": auth.DefaultAudience, "iss": auth.DevIssuer, "appid": testApp, "roles": []string{readWriteAll},
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"aud": auth.DefaultAudience, "iss": auth.DevIssuer, "appid": testApp, "roles": []string{readWriteAll}, "exp": now.Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	mintOther, err := other.Mint(auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll}, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, header, wantMsg string
	}{
		{"no header", "", "Access token is empty."},
		{"empty bearer", "Bearer ", "Access token is empty."},
		{"basic", "Basic dXNlcjpwYXNz", "'Bearer {token}'"},
		{"malformed", "Bearer abc.def", "not a well-formed JWT"},
		{"expired long ago", "Bearer " + func() string {
			tok, _ := e.devKey.Mint(auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll}, TTL: time.Minute}, now.Add(-time.Hour))
			return tok
		}(), "expired"},
		{"wrong audience", "Bearer " + e.mint(auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll}, Audience: "api://other"}), "Invalid audience"},
		{"wrong issuer", "Bearer " + e.mint(auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll}, Issuer: "https://sts.windows.net/x/"}), "Invalid issuer"},
		{"alg none", "Bearer " + none, "algorithm is not accepted"},
		{"forged with another key under the dev kid", "Bearer " + forged(e.devKey.ID), "signature is invalid"},
		{"another server's development key", "Bearer " + mintOther, "not trusted"},
	}
	f := e.fixture()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: "GET", path: f.fill("/connections/{connectionsId}/operations/{connectionOperationId}"),
				header: map[string]string{"Authorization": tt.header}})
			if r.status != http.StatusUnauthorized || r.errorCode(t) != "InvalidAuthenticationToken" || !strings.Contains(r.errorMessage(t), tt.wantMsg) {
				t.Fatalf("= %d %s, want 401 InvalidAuthenticationToken saying %q", r.status, r.body, tt.wantMsg)
			}
			challenge := r.header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, "Bearer ") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", challenge)
			}
			if presented := strings.TrimSpace(strings.TrimPrefix(tt.header, "Bearer")) != ""; presented != strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q; want error=\"invalid_token\" exactly when a credential was presented", challenge)
			}
			if len(tt.header) > 20 && strings.Contains(string(r.body), strings.TrimPrefix(tt.header, "Bearer ")) {
				t.Errorf("the error body repeats the token")
			}
		})
	}
}
