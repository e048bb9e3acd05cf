package tests

// The edges of HTTP that clients do not choose on purpose, each attack of
// issue 14's points 3 and 5 as it goes on the wire: where the absolute URLs
// of responses point, a request with both Content-Length and
// Transfer-Encoding, two Authorization headers, lax JWTs, and the
// client-request-id that is echoed.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/server"
)

// wire is a request as it goes on the wire, with nothing normalised: the
// target as given (origin or absolute form) and the header lines in order.
func wire(method, target string, header []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// sendRaw writes raw on a new connection to addr and reads the response,
// which it checks against openapi.yaml as do does.
func sendRaw(t *testing.T, addr, raw string) result {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to %.60q: %v", raw, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: res.StatusCode, header: res.Header, body: body}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("http.ReadRequest(%.60q) = %v", raw, err)
	}
	checkResponse(t, req, r)
	return r
}

// urlAttack is a request whose Host, target or forwarding headers try to
// choose where the absolute URLs of its response point.
type urlAttack struct {
	name string
	// host is the Host header line; "" for the server's own address.
	host string
	// absolute, when set, makes the request target absolute: absolute+path.
	absolute string
	header   []string
}

// absoluteURLs sends the three requests whose responses hold absolute URLs,
// each with attack a, and returns those URLs: the @odata.context of an
// entity, the @odata.nextLink of a page, and the Location of a schema
// registration.
func (e *env) absoluteURLs(t *testing.T, a urlAttack) map[string]string {
	t.Helper()
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	send := func(method, path, body string) result {
		host := a.host
		if host == "" {
			host = "Host: " + addr
		}
		header := append([]string{host, "Authorization: Bearer " + e.token, "Accept: application/json", "Connection: close"}, a.header...)
		return sendRaw(t, addr, wire(method, a.absolute+path, header, body))
	}
	f := e.fixture() // a fresh connection, so that its schema can be registered
	got := map[string]string{}

	r := send("GET", "/external/connections/"+f.conn, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET connection = %d %s", r.status, r.body)
	}
	got["@odata.context"], _ = r.json(t)["@odata.context"].(string)

	r = send("GET", "/external/connections?%24top=1", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET connections = %d %s", r.status, r.body)
	}
	got["@odata.nextLink"], _ = r.json(t)["@odata.nextLink"].(string)

	r = send("PATCH", "/external/connections/"+f.conn+"/schema", string(mustJSON(t, goodSchema)))
	if r.status != http.StatusAccepted {
		t.Fatalf("PATCH schema = %d %s", r.status, r.body)
	}
	got["Location"] = r.header.Get("Location")
	return got
}

// checkURLs fails t unless every URL starts with base and a slash.
func checkURLs(t *testing.T, urls map[string]string, base string) {
	t.Helper()
	for name, u := range urls {
		if !strings.HasPrefix(u, base+"/") {
			t.Errorf("%s = %q, want it under %s", name, u, base)
		}
	}
}

// The attacks: Host: evil.example, forwarding headers, an absolute-
// form target and an empty Host never reach Location, @odata.context or
// @odata.nextLink, unless they come from a trusted proxy.
func TestAbsoluteURLsIgnoreTheRequest(t *testing.T) {
	attacks := []urlAttack{
		{name: "Host: evil.example", host: "Host: evil.example"},
		{name: "Host with a port", host: "Host: evil.example:443"},
		{name: "X-Forwarded-Proto and X-Forwarded-Host", header: []string{"X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example"}},
		{name: "Forwarded", header: []string{`Forwarded: for=192.0.2.1;proto=https;host="evil.example"`}},
		{name: "absolute-form target", absolute: "http://evil.example"},
		{name: "absolute-form target with https", absolute: "https://evil.example:8443"},
		{name: "empty Host", host: "Host: "},
	}
	envs := []struct {
		name string
		cfg  func(*server.Config)
		base func(e *env) string
	}{
		{"no public URL: the connection's address", func(*server.Config) {}, func(e *env) string { return e.srv.URL }},
		{"public URL with a path", func(c *server.Config) { c.PublicURL = "https://graph.example.test/gc/" },
			func(*env) string { return "https://graph.example.test/gc" }},
		{"trusted proxies elsewhere", func(c *server.Config) {
			c.PublicURL = "https://graph.example.test"
			c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}
		}, func(*env) string { return "https://graph.example.test" }},
	}
	for _, en := range envs {
		t.Run(en.name, func(t *testing.T) {
			e := newEnv(t, en.cfg)
			e.fixture() // the second connection: a list of one per page has a next page
			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					checkURLs(t, e.absoluteURLs(t, a), en.base(e))
				})
			}
		})
	}
}

// From a trusted proxy, the forwarded scheme and host count, and the Host
// header; junk in them counts for nothing, nor does an absolute-form target.
func TestAbsoluteURLsFromTrustedProxy(t *testing.T) {
	const public = "https://graph.example.test/gc"
	e := newEnv(t, func(c *server.Config) {
		c.PublicURL = public
		c.TrustedProxies = []string{"192.0.2.0/24", "127.0.0.1"} // the test's requests come from 127.0.0.1
	})
	e.fixture()
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		attack urlAttack
		want   string
	}{
		{urlAttack{name: "Host passed on"}, "https://" + addr + "/gc"},
		{urlAttack{name: "Host of the proxy's clients", host: "Host: proxied.example:8443"}, "https://proxied.example:8443/gc"},
		{urlAttack{name: "X-Forwarded-Proto and X-Forwarded-Host", header: []string{"X-Forwarded-Proto: http", "X-Forwarded-Host: api.example"}}, "http://api.example/gc"},
		{urlAttack{name: "X-Forwarded-Proto alone", header: []string{"X-Forwarded-Proto: HTTP"}}, "http://" + addr + "/gc"},
		{urlAttack{name: "the last of a list: the proxy's own", header: []string{"X-Forwarded-Host: evil.example, api.example"}}, "https://api.example/gc"},
		{urlAttack{name: "the last of repeated headers", header: []string{"X-Forwarded-Host: evil.example", "X-Forwarded-Host: api.example"}}, "https://api.example/gc"},
		{urlAttack{name: "Forwarded", header: []string{`Forwarded: for=192.0.2.1;proto=http;host="fwd.example:8080"`}}, "http://fwd.example:8080/gc"},
		{urlAttack{name: "IPv6 host", header: []string{"X-Forwarded-Host: [2001:db8::1]:8443"}}, "https://[2001:db8::1]:8443/gc"},
		{urlAttack{name: "X-Forwarded-Host with a path", header: []string{"X-Forwarded-Host: evil.example/phish"}}, public},
		{urlAttack{name: "X-Forwarded-Host with userinfo", header: []string{"X-Forwarded-Host: api.example@evil.example"}}, public},
		{urlAttack{name: "X-Forwarded-Host with a bad port", header: []string{"X-Forwarded-Host: api.example:99999"}}, public},
		{urlAttack{name: "X-Forwarded-Proto not a web scheme", header: []string{"X-Forwarded-Proto: javascript", "X-Forwarded-Host: api.example"}}, public},
		{urlAttack{name: "Forwarded that does not parse", header: []string{"Forwarded: host=api.example;junk"}}, public},
		// (Go's server itself refuses a Host with a slash or userinfo.)
		{urlAttack{name: "Host with a port that is none", host: "Host: evil.example:notaport"}, public},
		{urlAttack{name: "Host that is no DNS name", host: "Host: evil..example"}, public},
		{urlAttack{name: "absolute-form target", absolute: "http://evil.example"}, public},
		{urlAttack{name: "empty Host", host: "Host: "}, public},
	}
	for _, tt := range tests {
		t.Run(tt.attack.name, func(t *testing.T) {
			checkURLs(t, e.absoluteURLs(t, tt.attack), tt.want)
		})
	}
}

// RFC 9112 6.1: after a request with both Content-Length and
// Transfer-Encoding, the server closes the connection, so that what a front
// end took for the rest of the body is never read as the next request.
func TestContentLengthWithTransferEncodingCloses(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	authz := "Authorization: Bearer " + e.token
	next := wire("GET", "/external/connections", []string{"Host: " + addr, authz}, "")
	create := `{"id":"smuggle` + strconv.FormatInt(time.Now().UnixNano()%1e6, 10) + `","name":"Smuggle"}`
	plain := strings.ReplaceAll(create, "smuggle", "plain")
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(create), create)
	// The classic CL.TE smuggling: a front end that reads Content-Length
	// forwards the whole as one request; a back end that reads the chunks
	// would find a second request after the empty one.
	smuggled := "0\r\n\r\n" + next
	post := func(header ...string) string {
		return wire("POST", "/external/connections", append([]string{"Host: " + addr, authz, "Content-Type: application/json"}, header...), "")
	}
	tests := []struct {
		name       string
		request    string // followed on the same connection by next
		wantStatus int
		wantClosed bool
	}{
		{"CL.TE smuggling", post("Content-Length: "+strconv.Itoa(len(smuggled)), "Transfer-Encoding: chunked") + smuggled, http.StatusBadRequest, true},
		{"TE.CL smuggling", post("Transfer-Encoding: chunked", "Content-Length: "+strconv.Itoa(len(smuggled))) + smuggled, http.StatusBadRequest, true},
		{"both, with a sound chunked body", post("Content-Length: "+strconv.Itoa(len(create)), "Transfer-Encoding: chunked") + chunked, http.StatusCreated, true},
		{"Content-Length alone keeps the connection", post("Content-Length: "+strconv.Itoa(len(plain))) + plain, http.StatusCreated, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, tt.request+next); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the first response: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d %s, want %d", res.StatusCode, body, tt.wantStatus)
			}
			if res.Close != tt.wantClosed {
				t.Errorf("Connection: close = %v (header %q), want %v", res.Close, res.Header.Get("Connection"), tt.wantClosed)
			}
			second, err := http.ReadResponse(br, nil)
			if tt.wantClosed {
				if err == nil {
					t.Fatalf("the request after it was answered %d; want the connection closed", second.StatusCode)
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("reading after the response: %v, want EOF", err)
				}
				return
			}
			if err != nil || second.StatusCode != http.StatusOK {
				t.Fatalf("the request after it: %v %v, want 200 on the same connection", second, err)
			}
			second.Body.Close()
		})
	}
}

// Two Authorization headers get 400 before any token is looked at, whichever
// of them is good.
func TestTwoAuthorizationHeaders(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	good := "Bearer " + e.token
	reader := "Bearer " + e.mint(auth.TokenOptions{AppID: "another-app", Roles: []string{readAll}})
	opPath := f.fill("/external/connections/{externalConnectionId}/operations/{connectionOperationId}")
	tests := []struct {
		name, method, path, body string
		values                   []string
	}{
		{"good twice", "GET", "/external/connections/" + f.conn, "", []string{good, good}},
		{"good, then junk", "GET", opPath, "", []string{good, "Bearer x.y.z"}},
		{"junk, then good", "PATCH", opPath, `{"status":"failed"}`, []string{"Basic dXNlcjpwYXNz", good}},
		{"two callers", "DELETE", opPath, "", []string{reader, good}},
		{"outside the API", "GET", "/nowhere", "", []string{good, good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header["Authorization"] = tt.values
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := result{status: res.StatusCode, header: res.Header, body: data}
			checkResponse(t, req, r)
			if r.status != http.StatusBadRequest || r.errorCode(t) != "invalidRequest" || !strings.Contains(r.errorMessage(t), "more than one Authorization header") {
				t.Errorf("= %d %s, want 400 invalidRequest about the Authorization headers", r.status, r.body)
			}
		})
	}
	r := e.do(call{method: "GET", path: opPath})
	if r.status != http.StatusOK || r.entity(t)["status"] != "inprogress" {
		t.Errorf("after the refused requests the operation is %d %s, want it unchanged", r.status, r.body)
	}
}

// A token that golang-jwt alone would take: a crit header, or a date given as
// a string. Signed by a key the server trusts, so that only the claim or
// the header is wrong.
func TestLaxTokensOverHTTP(t *testing.T) {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "edge-test-key"
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	keys := jwkset.NewMemoryStorage()
	if err := keys.KeyWrite(ctx, jwk); err != nil {
		t.Fatal(err)
	}
	set, err := keys.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jwksPath := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksPath, set, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *server.Config) {
		var err error
		if c.Verifier, err = auth.NewVerifier(ctx, auth.Config{JWKS: jwksPath}); err != nil {
			t.Fatalf("NewVerifier() = %v", err)
		}
	})
	now := time.Now()
	token := func(header map[string]any, change func(jwt.MapClaims)) string {
		c := jwt.MapClaims{
			"aud": auth.DefaultAudience, "iss": auth.DevIssuer, "appid": testApp, "tid": devTenant, "roles": []string{readWriteAll},
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		}
		if change != nil {
			change(c)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = kid
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name, token string
		wantStatus  int
		wantMsg     string
	}{
		{"sound token", token(nil, nil), http.StatusOK, ""},
		{"crit header", token(map[string]any{"crit": []string{"exp"}}, nil), http.StatusUnauthorized, "crit"},
		{"string exp", token(nil, func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(now.Add(time.Hour).Unix(), 10) }), http.StatusUnauthorized, "must be numbers"},
		{"string nbf", token(nil, func(c jwt.MapClaims) { c["nbf"] = strconv.FormatInt(now.Unix(), 10) }), http.StatusUnauthorized, "must be numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(call{method: "GET", path: "/external/connections", header: map[string]string{"Authorization": "Bearer " + tt.token}})
			if r.status != tt.wantStatus {
				t.Fatalf("= %d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusUnauthorized &&
				(r.errorCode(t) != "InvalidAuthenticationToken" || !strings.Contains(r.errorMessage(t), tt.wantMsg)) {
				t.Errorf("= %s, want InvalidAuthenticationToken saying %q", r.body, tt.wantMsg)
			}
		})
	}
}

// A client-request-id is echoed when it is a sane token (Graph's SDKs send a
// GUID); anything else is replaced by the request-id, in the header, the
// error body and the logs.
func TestClientRequestIDIsBounded(t *testing.T) {
	e := newEnv(t)
	huge := strings.Repeat("A", 60<<10)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"GUID", "7c9e6679-7425-40de-944b-e07fc1f90ae7", true},
		{"trace id", "trace_01:span.2-x", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"129 characters", strings.Repeat("a", 129), false},
		{"60 KB", huge, false},
		{"markup", `<script>alert(1)</script>`, false},
		{"spaces and quotes", `a "b" c`, false},
		{"JSON", `","request-id":"forged`, false},
		{"non-ASCII", "caf\u00e9", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/external/connections", "/nowhere"} { // a success and an error body
			t.Run(tt.name+" "+path, func(t *testing.T) {
				req, err := http.NewRequest("GET", e.srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+e.token)
				req.Header.Set("client-request-id", tt.sent)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r := result{status: res.StatusCode, header: res.Header, body: data}
				want := tt.sent
				if !tt.echoed {
					want = r.header.Get("request-id")
				}
				if got := r.header.Get("client-request-id"); got != want {
					t.Errorf("client-request-id = %.80q, want %.80q", got, want)
				}
				// The harness's checks, told which client-request-id to expect.
				check := req.Clone(context.Background())
				check.Header.Set("client-request-id", want)
				checkResponse(t, check, r)
				if !tt.echoed && (strings.Contains(string(data), tt.sent) || strings.Contains(e.logs.String(), tt.sent)) {
					t.Errorf("the refused client-request-id %.40q reached the body or the logs", tt.sent)
				}
			})
		}
	}
}

// The binary: --public-url and GRAPHCONN_TRUSTED_PROXIES as documented, the
// default public URL from --addr, and a public URL that is no URL refused.
func TestBinaryPublicURL(t *testing.T) {
	urlOf := func(t *testing.T, p *process, header ...string) string {
		addr := strings.TrimPrefix(p.url, "http://")
		h := append([]string{"Authorization: Bearer " + p.token, "Accept: application/json", "Connection: close"}, header...)
		if !strings.HasPrefix(strings.Join(header, "\n"), "Host:") {
			h = append(h, "Host: "+addr)
		}
		r := sendRaw(t, addr, wire("GET", "/external/connections", h, ""))
		if r.status != http.StatusOK {
			t.Fatalf("GET = %d %s", r.status, r.body)
		}
		ctx, _ := r.json(t)["@odata.context"].(string)
		return ctx
	}

	t.Run("default from --addr", func(t *testing.T) {
		dir := t.TempDir()
		p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
		if got := urlOf(t, p, "Host: evil.example", "X-Forwarded-Host: evil.example"); !strings.HasPrefix(got, p.url+"/") {
			t.Errorf("@odata.context = %q, want it under %s", got, p.url)
		}
		if !strings.Contains(p.logs.String(), `"public-url":"`+p.url+`"`) {
			t.Errorf("the listening line does not give the public URL %s:\n%s", p.url, p.logs)
		}
	})

	t.Run("--public-url behind a trusted proxy", func(t *testing.T) {
		dir := t.TempDir()
		p := startBinary(t, dir, []string{"GRAPHCONN_TRUSTED_PROXIES=192.0.2.0/24, 127.0.0.1"},
			"--addr", "127.0.0.1:0", "--data-dir", dir, "--public-url", "https://graph.example.test")
		if got := urlOf(t, p); !strings.HasPrefix(got, "https://"+strings.TrimPrefix(p.url, "http://")+"/") {
			t.Errorf("@odata.context = %q, want the Host the trusted proxy passed on, with the public URL's scheme", got)
		}
		if got := urlOf(t, p, "X-Forwarded-Host: api.example"); !strings.HasPrefix(got, "https://api.example/") {
			t.Errorf("@odata.context = %q, want it under https://api.example", got)
		}
		if got := urlOf(t, p, "X-Forwarded-Host: api.example/x"); !strings.HasPrefix(got, "https://graph.example.test/") {
			t.Errorf("@odata.context = %q, want the public URL for a junk X-Forwarded-Host", got)
		}
	})

	for _, tt := range []struct {
		flag, value, bad string
	}{
		{"--public-url", "graph.example.test", "graph.example.test"},
		{"--public-url", "ftp://graph.example.test", "ftp://graph.example.test"},
		{"--public-url", "https://user@graph.example.test", "https://user@graph.example.test"},
		{"--public-url", "https://graph.example.test/?x=1", "https://graph.example.test/?x=1"},
		{"--trusted-proxies", "10.0.0.0/8,proxy.example", "proxy.example"},
	} {
		t.Run(tt.flag+" "+tt.value, func(t *testing.T) {
			dir := t.TempDir()
			out, err := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, tt.flag, tt.value).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("graphconn serve %s %q = %v, want a failure\n%s", tt.flag, tt.value, err, out)
			}
			if !strings.Contains(string(out), tt.bad) {
				t.Errorf("graphconn serve %s %q says %q; want it to name %q", tt.flag, tt.value, out, tt.bad)
			}
		})
	}
}
