package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/server"
)

// devTenant is the tenant of the env's default token, and of every token
// minted without a tenant.
const devTenant = auth.DevTenantID

// Two tenants of the tests, besides devTenant.
const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "0b5d2c1e-3f4a-4b6c-8d7e-9f0a1b2c3d4e"
)

// bearer returns the headers of a request with a token of app in tenant
// holding the application permissions roles.
func (e *env) bearer(app, tenant string, roles ...string) map[string]string {
	e.t.Helper()
	return map[string]string{"Authorization": "Bearer " + e.mint(auth.TokenOptions{AppID: app, TenantID: tenant, Roles: roles})}
}

// as sends c with the headers h.
func (e *env) as(h map[string]string, c call) result {
	e.t.Helper()
	c.header = h
	return e.do(c)
}

// waitForSchema GETs the connection's schema as h until it is registered.
func (e *env) waitForSchema(h map[string]string, conn string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.as(h, call{method: "GET", path: "/external/connections/" + conn + "/schema"})
		if r.status == http.StatusOK {
			return r.entity(e.t)
		}
		if r.status != http.StatusNotFound || time.Now().After(deadline) {
			e.t.Fatalf("GET schema of %s = %d %s, want it registered", conn, r.status, r.body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// listed returns the ids of the connections that h lists.
func (e *env) listed(h map[string]string) []string {
	e.t.Helper()
	r := e.as(h, call{method: "GET", path: "/external/connections"})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /external/connections = %d %s", r.status, r.body)
	}
	var ids []string
	for _, v := range r.json(e.t)["value"].([]any) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// The attacks of issue 14: a token of another tenant, whether of the same
// app with ExternalConnection.ReadWrite.OwnedBy or of any app with
// ReadWrite.All or Read.All, reaches nothing of a tenant's connection: every
// call answers 404 exactly as for a connection that does not exist, lists
// leave it out, and nothing changes.
func TestTenantsCannotReachEachOther(t *testing.T) {
	e := newEnv(t)
	const app = "hr-connector" // the same app id in both tenants
	owner := e.bearer(app, tenantA, readWriteOwn)

	if r := e.as(owner, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "contosohr", "name": "Contoso HR"}}); r.status != http.StatusCreated {
		t.Fatalf("POST contosohr in tenant A = %d %s", r.status, r.body)
	}
	r := e.as(owner, call{method: "POST", path: "/connections/contosohr/operations", body: map[string]any{"status": "inprogress"}})
	if r.status != http.StatusCreated {
		t.Fatalf("POST operation in tenant A = %d %s", r.status, r.body)
	}
	op := r.json(t)["id"].(string)
	if r := e.as(owner, call{method: "PATCH", path: "/external/connections/contosohr/schema", body: goodSchema}); r.status != http.StatusAccepted {
		t.Fatalf("PATCH schema in tenant A = %d %s", r.status, r.body)
	}
	schema := e.waitForSchema(owner, "contosohr")
	conn := e.as(owner, call{method: "GET", path: "/external/connections/contosohr"})
	opBefore := e.as(owner, call{method: "GET", path: "/connections/contosohr/operations/" + op})

	// Read.All only reads: its writes are refused (403) before any
	// connection is looked up, whoever's it is.
	attackers := []struct {
		name     string
		h        map[string]string
		readOnly bool
	}{
		{"same app, OwnedBy, tenant B", e.bearer(app, tenantB, readWriteOwn), false},
		{"ReadWrite.All, tenant B", e.bearer("admin-app", tenantB, readWriteAll), false},
		{"Read.All, tenant B", e.bearer("reader-app", tenantB, readAll), true},
		{"same app, ReadWrite.All, development tenant", e.bearer(app, devTenant, readWriteAll), false},
		{"a user with ReadWrite.All, tenant B", map[string]string{"Authorization": "Bearer " + e.mint(auth.TokenOptions{AppID: app, TenantID: tenantB, Scopes: []string{readWriteAll}})}, false},
	}
	// Tenant B has a connection of its own, so that its lists have
	// something to show.
	if r := e.as(attackers[1].h, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "fabrikam", "name": "Fabrikam"}}); r.status != http.StatusCreated {
		t.Fatalf("POST fabrikam in tenant B = %d %s", r.status, r.body)
	}

	calls := []call{
		{method: "GET", path: "/external/connections/contosohr"},
		{method: "PATCH", path: "/external/connections/contosohr", body: map[string]any{"name": "mine now"}},
		{method: "PATCH", path: "/external/connections/contosohr", body: map[string]any{"name": "mine now"}, header: map[string]string{"If-Match": conn.header.Get("ETag")}},
		{method: "DELETE", path: "/external/connections/contosohr"},
		{method: "GET", path: "/external/connections/contosohr/schema"},
		{method: "PATCH", path: "/external/connections/contosohr/schema", body: goodSchema},
		{method: "GET", path: "/external/connections/contosohr/operations"},
		{method: "GET", path: "/connections/contosohr/operations"},
		{method: "POST", path: "/external/connections/contosohr/operations", body: map[string]any{}},
		{method: "POST", path: "/connections/contosohr/operations", body: map[string]any{"status": "completed"}},
		{method: "GET", path: "/external/connections/contosohr/operations/" + op},
		{method: "GET", path: "/connections/contosohr/operations/" + op},
		{method: "PATCH", path: "/external/connections/contosohr/operations/" + op, body: map[string]any{"status": "failed"}},
		{method: "PATCH", path: "/connections/contosohr/operations/" + op, body: map[string]any{"status": "completed"}, header: map[string]string{"If-Match": opBefore.header.Get("ETag")}},
		{method: "DELETE", path: "/external/connections/contosohr/operations/" + op},
		{method: "DELETE", path: "/connections/contosohr/operations/" + op},
	}
	for _, a := range attackers {
		t.Run(a.name, func(t *testing.T) {
			// What a connection that exists nowhere answers this caller.
			missing := e.as(a.h, call{method: "GET", path: "/external/connections/nosuchconn"})
			wantCode, wantMsg := missing.errorCode(t), strings.ReplaceAll(missing.errorMessage(t), "nosuchconn", "contosohr")
			if missing.status != http.StatusNotFound || wantMsg != "The connection 'contosohr' was not found." {
				t.Fatalf("GET of a missing connection = %d %s", missing.status, missing.body)
			}
			for _, c := range calls {
				if a.readOnly && c.method != http.MethodGet {
					continue
				}
				h := map[string]string{}
				for k, v := range c.header {
					h[k] = v
				}
				for k, v := range a.h {
					h[k] = v
				}
				c.header = h
				r := e.do(c)
				if r.status != http.StatusNotFound || r.errorCode(t) != wantCode || r.errorMessage(t) != wantMsg {
					t.Errorf("%s %s = %d %s, want 404 %s %q, as for a missing connection", c.method, c.path, r.status, r.body, wantCode, wantMsg)
				}
			}
			if got := e.listed(a.h); slices.Contains(got, "contosohr") {
				t.Errorf("GET /external/connections lists %v, want no contosohr", got)
			}
		})
	}

	// Tenant A's things are as they were.
	if r := e.as(owner, call{method: "GET", path: "/external/connections/contosohr"}); r.status != http.StatusOK || r.header.Get("ETag") != conn.header.Get("ETag") {
		t.Errorf("tenant A's connection after the attacks = %d %s, ETag %q; want 200 with ETag %q", r.status, r.body, r.header.Get("ETag"), conn.header.Get("ETag"))
	}
	if r := e.as(owner, call{method: "GET", path: "/connections/contosohr/operations/" + op}); r.status != http.StatusOK || r.header.Get("ETag") != opBefore.header.Get("ETag") {
		t.Errorf("tenant A's operation after the attacks = %d %s; want it unchanged", r.status, r.body)
	}
	if r := e.as(owner, call{method: "GET", path: "/external/connections/contosohr/operations"}); r.status != http.StatusOK || len(r.json(t)["value"].([]any)) != 2 {
		t.Errorf("tenant A's operations after the attacks = %d %s; want op %s and the registration", r.status, r.body, op)
	}
	if got := e.waitForSchema(owner, "contosohr"); len(got["properties"].([]any)) != len(schema["properties"].([]any)) {
		t.Errorf("tenant A's schema after the attacks = %v, want %v", got, schema)
	}
	if got, want := e.listed(owner), []string{"contosohr"}; !slices.Equal(got, want) {
		t.Errorf("tenant A lists %v, want %v", got, want)
	}
	if got, want := e.listed(attackers[1].h), []string{"fabrikam"}; !slices.Equal(got, want) {
		t.Errorf("tenant B lists %v, want %v", got, want)
	}
}

// Connection ids are unique per tenant, as in Graph: two tenants each create
// "contosohr", register a schema on it and see their own.
func TestTenantsShareConnectionIDs(t *testing.T) {
	e := newEnv(t)
	a, b := e.bearer("hr-connector", tenantA, readWriteAll), e.bearer("hr-connector", tenantB, readWriteAll)
	schemaOf := map[string]map[string]any{
		tenantA: goodSchema,
		tenantB: schemaBody(map[string]any{"name": "onlyInB", "type": "string", "isRetrievable": true}),
	}
	for _, tt := range []struct {
		tenant string
		h      map[string]string
	}{{tenantA, a}, {tenantB, b}} {
		if r := e.as(tt.h, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "contosohr", "name": "HR of " + tt.tenant}}); r.status != http.StatusCreated {
			t.Fatalf("POST contosohr in tenant %s = %d %s, want 201", tt.tenant, r.status, r.body)
		}
		if r := e.as(tt.h, call{method: "PATCH", path: "/external/connections/contosohr/schema", body: schemaOf[tt.tenant]}); r.status != http.StatusAccepted {
			t.Fatalf("PATCH schema in tenant %s = %d %s", tt.tenant, r.status, r.body)
		}
	}
	if r := e.as(a, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "contosohr", "name": "again"}}); r.status != http.StatusConflict {
		t.Errorf("POST contosohr again in tenant A = %d %s, want 409", r.status, r.body)
	}
	for _, tt := range []struct {
		tenant string
		h      map[string]string
	}{{tenantA, a}, {tenantB, b}} {
		sch := e.waitForSchema(tt.h, "contosohr")
		name := sch["properties"].([]any)[0].(map[string]any)["name"]
		if want := schemaOf[tt.tenant]["properties"].([]any)[0].(map[string]any)["name"]; name != want {
			t.Errorf("tenant %s's schema has first property %v, want %v", tt.tenant, name, want)
		}
		r := e.as(tt.h, call{method: "GET", path: "/external/connections/contosohr"})
		if got := r.entity(t); r.status != http.StatusOK || got["name"] != "HR of "+tt.tenant || got["state"] != "ready" {
			t.Errorf("GET contosohr in tenant %s = %d %s, want its own, ready", tt.tenant, r.status, r.body)
		}
		if got, want := e.listed(tt.h), []string{"contosohr"}; !slices.Equal(got, want) {
			t.Errorf("tenant %s lists %v, want %v", tt.tenant, got, want)
		}
	}
	// Deleting B's leaves A's.
	if r := e.as(b, call{method: "DELETE", path: "/external/connections/contosohr"}); r.status != http.StatusAccepted {
		t.Fatalf("DELETE contosohr in tenant B = %d %s", r.status, r.body)
	}
	if r := e.as(a, call{method: "GET", path: "/external/connections/contosohr"}); r.status != http.StatusOK {
		t.Errorf("GET contosohr in tenant A after B deleted its own = %d %s, want 200", r.status, r.body)
	}
	if r := e.as(b, call{method: "GET", path: "/external/connections/contosohr"}); r.status != http.StatusNotFound {
		t.Errorf("GET contosohr in tenant B after deleting it = %d %s, want 404", r.status, r.body)
	}
}

// A tenant id is a GUID, whatever its spelling: upper case and braces name
// the same tenant, and the consumer tenant's users are refused in every
// spelling, as in lower case.
func TestTenantSpellings(t *testing.T) {
	e := newEnv(t)
	owner := e.bearer("hr-connector", tenantA, readWriteOwn)
	if r := e.as(owner, call{method: "POST", path: "/external/connections", body: map[string]any{"id": "contosohr", "name": "Contoso HR"}}); r.status != http.StatusCreated {
		t.Fatalf("POST contosohr = %d %s", r.status, r.body)
	}
	spellings := func(guid string) []string {
		return []string{guid, strings.ToUpper(guid), "{" + guid + "}", "{" + strings.ToUpper(guid) + "}"}
	}
	for _, tid := range spellings(tenantA) {
		r := e.as(e.bearer("hr-connector", tid, readWriteOwn), call{method: "GET", path: "/external/connections/contosohr"})
		if r.status != http.StatusOK {
			t.Errorf("GET with tid %q = %d %s, want 200: the same tenant", tid, r.status, r.body)
		}
	}
	for _, tid := range spellings(auth.ConsumerTenantID) {
		h := map[string]string{"Authorization": "Bearer " + e.mint(auth.TokenOptions{AppID: "hr-connector", TenantID: tid, Scopes: []string{readWriteAll}})}
		for _, c := range []call{
			{method: "GET", path: "/external/connections"},
			{method: "POST", path: "/external/connections", body: map[string]any{"id": "personal", "name": "Personal"}},
		} {
			r := e.as(h, c)
			if r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" ||
				!strings.Contains(r.errorMessage(t), "Personal Microsoft accounts are not supported") {
				t.Errorf("%s %s as a user of tid %q = %d %s, want 403 for a personal account", c.method, c.path, tid, r.status, r.body)
			}
		}
	}
}

// A token whose tid is missing or not a GUID is refused with 401, as Graph
// refuses a token it cannot place in a tenant. The development key will not
// mint one, so these are signed by a key of a JWKS that the server trusts.
func TestTenantNotAGUID(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "tenant-test", ALG: jwkset.AlgES256, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	ks := jwkset.NewMemoryStorage()
	ctx := context.Background()
	if err := ks.KeyWrite(ctx, jwk); err != nil {
		t.Fatal(err)
	}
	set, err := ks.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, set, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(cfg *server.Config) {
		v, err := auth.NewVerifier(ctx, auth.Config{JWKS: jwks})
		if err != nil {
			t.Fatalf("NewVerifier() = %v", err)
		}
		cfg.Verifier = v
	})
	now := time.Now()
	sign := func(tid any) string {
		c := jwt.MapClaims{
			"aud": auth.DefaultAudience, "iss": auth.DevIssuer, "appid": "hr-connector", "roles": []string{readWriteAll},
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		}
		if tid != nil {
			c["tid"] = tid
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = "tenant-test"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tt := range []struct {
		name    string
		tid     any
		status  int
		wantMsg string
	}{
		{"a GUID", tenantA, http.StatusOK, ""},
		{"no tid", nil, http.StatusUnauthorized, "names no tenant (tid)"},
		{"empty", "", http.StatusUnauthorized, "names no tenant (tid)"},
		{"a domain name", "contoso.onmicrosoft.com", http.StatusUnauthorized, "tenant (tid) is not a GUID"},
		{"common", "common", http.StatusUnauthorized, "tenant (tid) is not a GUID"},
		{"a GUID with a space", " " + tenantA, http.StatusUnauthorized, "tenant (tid) is not a GUID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(map[string]string{"Authorization": "Bearer " + sign(tt.tid)}, call{method: "GET", path: "/external/connections"})
			if r.status != tt.status {
				t.Fatalf("GET /external/connections = %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status == http.StatusUnauthorized && (r.errorCode(t) != "InvalidAuthenticationToken" || !strings.Contains(r.errorMessage(t), tt.wantMsg)) {
				t.Errorf("= %d %s, want 401 InvalidAuthenticationToken saying %q", r.status, r.body, tt.wantMsg)
			}
		})
	}
}
