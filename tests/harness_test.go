// Package tests holds graphconn's black-box contract tests: the whole server
// over real HTTP, on a real SQLite file, with every response checked against
// openapi.yaml.
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/internal/graphconntest"
	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/postgres"
	"github.com/graphconn/graphconn/store/postgres/pgtest"
	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/worker"
)

const specPath = "../openapi.yaml"

var (
	spec   *openapi3.T
	router routers.Router
	// covered records each "METHOD /path STATUS" of the spec that a test
	// has seen answered.
	covered sync.Map
)

func TestMain(m *testing.M) {
	flag.Parse()
	switch b := backend(); {
	case b != "sqlite" && b != "postgres":
		fmt.Fprintf(os.Stderr, "%s=%q: want sqlite or postgres\n", backendEnv, b)
		os.Exit(1)
	case b == "postgres" && os.Getenv(pgtest.Env) == "":
		fmt.Fprintf(os.Stderr, "%s=postgres needs %s, the URL of a PostgreSQL database\n", backendEnv, pgtest.Env)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "contract tests on the %s store\n", backend())
	if err := loadSpec(); err != nil {
		fmt.Fprintln(os.Stderr, "load openapi.yaml:", err)
		os.Exit(1)
	}
	code := m.Run()
	// Coverage means something only when every test ran.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		if missing := uncovered(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: contract coverage: no test exercised these documented responses:\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

func loadSpec() error {
	ctx := context.Background()
	var err error
	if spec, err = openapi3.NewLoader().LoadFromFile(specPath); err != nil {
		return err
	}
	if err := spec.Validate(ctx); err != nil {
		return err
	}
	router, err = gorillamux.NewRouter(spec)
	return err
}

// documented lists every (method, path, status) that openapi.yaml documents.
func documented() []string {
	var all []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				if status != "default" {
					all = append(all, method+" "+path+" "+status)
				}
			}
		}
	}
	sort.Strings(all)
	return all
}

func uncovered() []string {
	var missing []string
	for _, k := range documented() {
		if _, ok := covered.Load(k); !ok {
			missing = append(missing, k)
		}
	}
	return missing
}

// env is one graphconn server, with its background worker, on its own
// SQLite file.
type env struct {
	t          testing.TB
	dir        string
	cfg        server.Config
	db         store.Store
	dsn        string // the env's PostgreSQL schema, when the backend is postgres
	srv        *httptest.Server
	logs       *graphconntest.LogBuffer
	stopWorker func()
	devKey     *auth.DevKey
	token      string // ExternalConnection.ReadWrite.All and ExternalItem.ReadWrite.All, for app testApp
	// items is the connection of the env's item fixtures, made on first
	// need (see itemFixture); shared by the env's copies.
	items *itemConnection
}

// with returns e for the subtest t: what fails, fails t, on t's goroutine
// (FailNow may be called only from the goroutine of its own test, and a
// subtest runs on a goroutine of its own).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// testApp is the app id of the env's default token.
const testApp = "contract-tests"

// testOperationDelay keeps schema registrations in progress long enough to
// see, and short enough to wait for.
const testOperationDelay = 300 * time.Millisecond

func newEnv(t testing.TB, configure ...func(*server.Config)) *env {
	t.Helper()
	return newEnvOn(t, "", configure...)
}

// newEnvOn is newEnv on the PostgreSQL database of dsn, whatever the
// backend of the run; on the run's backend when dsn is empty.
func newEnvOn(t testing.TB, dsn string, configure ...func(*server.Config)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), logs: new(graphconntest.LogBuffer), dsn: dsn, items: new(itemConnection)}
	e.cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	e.cfg.OperationDelay = testOperationDelay
	var err error
	if e.devKey, err = auth.LoadOrCreateDevKey(e.dir); err != nil {
		t.Fatalf("LoadOrCreateDevKey() = %v", err)
	}
	if e.cfg.Verifier, err = auth.NewVerifier(context.Background(), auth.Config{DevKey: e.devKey}); err != nil {
		t.Fatalf("NewVerifier() = %v", err)
	}
	e.token = e.mint(auth.TokenOptions{AppID: testApp, Roles: []string{readWriteAll, itemReadWriteAll}})
	for _, f := range configure {
		f(&e.cfg)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// backendEnv names the store the contract tests run on: sqlite (the default)
// or postgres, which needs GRAPHCONN_TEST_POSTGRES too.
const backendEnv = "GRAPHCONN_TEST_STORE"

func backend() string {
	if b := os.Getenv(backendEnv); b != "" {
		return b
	}
	return "sqlite"
}

// openStore opens the env's store; a restart opens the same data again.
func (e *env) openStore() (store.Store, error) {
	ctx := context.Background()
	if e.dsn == "" && backend() == "postgres" {
		e.dsn = pgtest.DSN(e.t)
	}
	if e.dsn != "" {
		return postgres.Open(ctx, e.dsn)
	}
	return sqlite.Open(ctx, e.dir)
}

// authOpts are the options of a token of app with ReadWrite.All.
func authOpts(app string) auth.TokenOptions {
	return auth.TokenOptions{AppID: app, Roles: []string{"ExternalConnection.ReadWrite.All"}}
}

// mint returns a token signed by the env's development key; its lifetime is
// an hour unless o says otherwise.
func (e *env) mint(o auth.TokenOptions) string {
	e.t.Helper()
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	tok, err := e.devKey.Mint(o, time.Now())
	if err != nil {
		e.t.Fatalf("Mint(%+v) = %v", o, err)
	}
	return tok
}

func (e *env) start() {
	e.t.Helper()
	db, err := e.openStore()
	if err != nil {
		e.t.Fatalf("open the %s store: %v", backend(), err)
	}
	e.db = db
	w := worker.New(db, e.cfg.Logger, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	e.stopWorker = func() {
		cancel()
		<-done
	}
	cfg := e.cfg
	cfg.Store, cfg.Notify = db, w.Notify
	h, err := server.New(cfg)
	if err != nil {
		e.t.Fatalf("server.New() = %v", err)
	}
	e.srv = httptest.NewServer(h)
}

func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	e.stopWorker()
	if err := e.db.Close(); err != nil {
		e.t.Errorf("closing the store: %v", err)
	}
	e.srv = nil
}

// restart stops the server and starts a new one on the same data.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

// call is one request. Body is sent as is when it is a string or []byte,
// and as JSON otherwise.
type call struct {
	method, path string
	body         any
	header       map[string]string // overrides the defaults; "" removes one
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// object decodes the body as a JSON object.
func (r result) object() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		return nil, fmt.Errorf("response body %q is not a JSON object: %w", r.body, err)
	}
	return m, nil
}

// json decodes the body as a JSON object; it may be called only from the
// test's goroutine.
func (r result) json(t testing.TB) map[string]any {
	t.Helper()
	m, err := r.object()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// entity decodes the body as an entity and checks its OData annotations:
// @odata.etag equals the ETag header, and @odata.context points into the
// server's $metadata. It returns the body without the two, for comparison.
func (r result) entity(t testing.TB) map[string]any {
	t.Helper()
	m := r.json(t)
	if tag, ok := m["@odata.etag"]; ok && tag != r.header.Get("ETag") {
		t.Errorf("@odata.etag = %v, ETag header = %q; want them equal", tag, r.header.Get("ETag"))
	}
	if ctx, ok := m["@odata.context"].(string); !ok || !strings.Contains(ctx, "/$metadata#") {
		t.Errorf("@odata.context = %v, want a $metadata URL", m["@odata.context"])
	}
	delete(m, "@odata.etag")
	delete(m, "@odata.context")
	return m
}

// errorCode returns error.code of a Graph error body; "" (and an error of
// t) when the body is not JSON. Any goroutine may call it.
func (r result) errorCode(t testing.TB) string {
	t.Helper()
	return r.errorField(t, "code")
}

// errorMessage is errorCode for error.message.
func (r result) errorMessage(t testing.TB) string {
	t.Helper()
	return r.errorField(t, "message")
}

func (r result) errorField(t testing.TB, name string) string {
	t.Helper()
	m, err := r.object()
	if err != nil {
		t.Error(err)
		return ""
	}
	e, _ := m["error"].(map[string]any)
	v, _ := e[name].(string)
	return v
}

func (e *env) do(c call) result {
	e.t.Helper()
	return do(e.t, e.srv.URL, e.token, c)
}

// do sends c to the server at base with token as its bearer token (unless
// c.header sets Authorization), checks the response against openapi.yaml and
// the rules every response follows, and records coverage. It may be called
// only from the test's goroutine: other goroutines call tryDo.
func do(t testing.TB, base, token string, c call) result {
	t.Helper()
	r, err := tryDo(t, base, token, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryDo is do for any goroutine: it returns the error that do fails the
// test with (a request that could not be sent or answered), and reports
// the response's faults with t.Errorf.
func tryDo(t testing.TB, base, token string, c call) (result, error) {
	t.Helper()
	var body io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return result{}, fmt.Errorf("json.Marshal(%v) = %w", b, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		return result{}, fmt.Errorf("http.NewRequest(%s %s) = %w", c.method, c.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", c.method, c.path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: reading the body: %w", c.method, c.path, err)
	}
	r := result{status: res.StatusCode, header: res.Header, body: data}
	checkResponse(t, req, r)
	return r, nil
}

var saneClientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// checkResponse fails t unless r is valid against openapi.yaml and carries
// the headers and error body that every graphconn response must.
func checkResponse(t testing.TB, req *http.Request, r result) {
	t.Helper()
	what := req.Method + " " + req.URL.Path
	rid, err := uuid.Parse(r.header.Get("request-id"))
	if err != nil {
		t.Errorf("%s: request-id header %q is not a GUID", what, r.header.Get("request-id"))
	}
	// Echoed when it is a sane id (1 to 128 of letters, digits and ._:-),
	// else replaced by the request-id.
	wantClient := req.Header.Get("client-request-id")
	if !saneClientRequestID.MatchString(wantClient) {
		wantClient = rid.String()
	}
	if got := r.header.Get("client-request-id"); got != wantClient {
		t.Errorf("%s: client-request-id header = %q, want %q", what, got, wantClient)
	}
	if r.status >= 400 {
		checkErrorBody(t, what, r, rid.String(), wantClient)
	}

	route, params, err := router.FindRoute(req)
	if err != nil {
		// Not an operation of the spec (unknown path or method): only an
		// error can answer it, or the list of methods a path allows.
		if req.Method == http.MethodOptions && r.status == http.StatusNoContent && r.header.Get("Allow") != "" {
			return
		}
		if r.status < 400 {
			t.Errorf("%s: status %d for a request that matches no operation", what, r.status)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s: response %d %s violates openapi.yaml: %v", what, r.status, r.body, err)
		return
	}
	covered.Store(fmt.Sprintf("%s %s %d", route.Method, route.Path, r.status), true)
}

func checkErrorBody(t testing.TB, what string, r result, rid, client string) {
	t.Helper()
	schema := spec.Components.Schemas["odata.error"].Value
	var doc any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Errorf("%s: error body %q is not JSON: %v", what, r.body, err)
		return
	}
	if err := schema.VisitJSON(doc); err != nil {
		t.Errorf("%s: error body %s is not a Graph error: %v", what, r.body, err)
		return
	}
	inner := doc.(map[string]any)["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["request-id"] != rid || inner["client-request-id"] != client {
		t.Errorf("%s: innerError ids = %v, %v; want the headers' %v, %v",
			what, inner["request-id"], inner["client-request-id"], rid, client)
	}
}

// fixture is a connection with one operation, made through the API, and
// the ids of an item, an external group and a member of it: ids of nothing
// when fixture made it, of things that exist when itemFixture did.
type fixture struct {
	conn, op            string
	item, group, member string
}

func (e *env) fixture() fixture {
	e.t.Helper()
	conn := "contoso" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": "Contoso HR"}})
	if r.status != http.StatusCreated {
		e.t.Fatalf("creating connection %s: status %d %s, want 201", conn, r.status, r.body)
	}
	r = e.do(call{method: "POST", path: "/external/connections/" + conn + "/operations", body: map[string]any{"status": "inprogress"}})
	if r.status != http.StatusCreated {
		e.t.Fatalf("creating an operation: status %d %s, want 201", r.status, r.body)
	}
	return fixture{conn: conn, op: r.json(e.t)["id"].(string), item: newItemID(), group: newGroupID(), member: uuid.NewString()}
}

// itemConnection is a connection with goodSchema registered.
type itemConnection struct {
	conn, op string // the connection, and the operation of its registration
}

// itemFixture puts a new item, creates a new external group and adds a
// user to it, on the env's item connection (made, and its schema
// registered, on the first call).
func (e *env) itemFixture() fixture {
	e.t.Helper()
	if e.items.conn == "" {
		conn := "items" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
		if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": "Items"}}); r.status != http.StatusCreated {
			e.t.Fatalf("creating connection %s: status %d %s, want 201", conn, r.status, r.body)
		}
		op := e.registerSchema(conn, goodSchema)
		if seen, _ := e.pollOperation(op); seen[len(seen)-1] != "completed" {
			e.t.Fatalf("registering the schema of %s: %v, want completed", conn, seen)
		}
		e.items.conn, e.items.op = conn, op[strings.LastIndex(op, "/")+1:]
	}
	f := fixture{conn: e.items.conn, op: e.items.op, item: newItemID(), group: newGroupID(), member: uuid.NewString()}
	base := "/external/connections/" + f.conn
	for _, c := range []call{
		{method: "PUT", path: base + "/items/" + f.item, body: itemBody("Fixture")},
		{method: "POST", path: base + "/groups", body: map[string]any{"id": f.group, "displayName": "Fixture"}},
		{method: "POST", path: base + "/groups/" + f.group + "/members", body: map[string]any{"id": f.member, "type": "user"}},
	} {
		if r := e.do(c); r.status >= 300 {
			e.t.Fatalf("%s %s = %d %s", c.method, c.path, r.status, r.body)
		}
	}
	return f
}

// fixtureFor is the fixture that the operation at path needs: itemFixture's
// for items, groups and members, fixture's for the rest.
func (e *env) fixtureFor(path string) fixture {
	e.t.Helper()
	if itemPath(path) {
		return e.itemFixture()
	}
	return e.fixture()
}

// itemPath reports whether path is of an item, an external group or its
// members: what the ExternalItem permissions guard.
// searchPath reports whether path is search's: a user's token with
// ExternalItem.Read.All, and nothing else, may use it.
func searchPath(path string) bool { return strings.HasSuffix(path, "/search/query") }

func itemPath(path string) bool {
	return strings.Contains(path, "/items/") || strings.Contains(path, "/groups")
}

func newItemID() string  { return "item" + strings.ReplaceAll(uuid.NewString(), "-", "") }
func newGroupID() string { return "group-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16] }

// itemBody is an item that goodSchema takes.
func itemBody(title string) map[string]any {
	return map[string]any{
		"acl":        []any{map[string]any{"type": "user", "value": "e811976d-83df-4cbd-8b9b-5215b18aa874", "accessType": "grant"}},
		"properties": map[string]any{"ticketTitle": title, "priority": 1},
		"content":    map[string]any{"value": "Error in payment gateway", "type": "text"},
	}
}

// fill replaces the path parameters of a spec path with f's ids.
func (f fixture) fill(path string) string {
	return strings.NewReplacer(
		"{externalConnectionId}", f.conn, "{connectionsId}", f.conn, "{connectionOperationId}", f.op,
		"{externalItemId}", f.item, "{externalGroupId}", f.group, "{identityId}", f.member,
	).Replace(path)
}

// operations lists every operation of the spec as method and path.
func operations() []struct{ method, path string } {
	var ops []struct{ method, path string }
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, struct{ method, path string }{method, path})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}
