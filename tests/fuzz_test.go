package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store"
)

// FuzzRequest sends fuzzed methods, paths, headers and bodies through the
// whole server. Whatever comes in: no panic, no 5xx, every answer valid
// against openapi.yaml, and a 4xx changes nothing that is stored.
//
// The seeds are the operations of openapi.yaml with their examples; in the
// path, {c} and {o} stand for an existing connection and operation, {g}
// and {m} for an external group of it and a member of that group ({i}, an
// item id, names none: without a registered schema, the connection has no
// items).
func FuzzRequest(f *testing.F) {
	// Registrations never fall due during a run: the store changes only by
	// the requests themselves.
	e := newEnv(f, func(c *server.Config) { c.OperationDelay = time.Hour })
	fx := e.fixture()
	for _, c := range []call{
		{method: "POST", path: "/external/connections/" + fx.conn + "/groups", body: map[string]any{"id": fx.group}},
		{method: "POST", path: "/external/connections/" + fx.conn + "/groups/" + fx.group + "/members", body: map[string]any{"id": fx.member}},
	} {
		if r := e.do(c); r.status != http.StatusCreated {
			f.Fatalf("%s %s = %d %s", c.method, c.path, r.status, r.body)
		}
	}
	handler := e.srv.Config.Handler

	for _, op := range operations() {
		o := spec.Paths.Value(op.path).GetOperation(op.method)
		path := strings.NewReplacer("{externalConnectionId}", "{c}", "{connectionsId}", "{c}", "{connectionOperationId}", "{o}",
			"{externalItemId}", "{i}", "{externalGroupId}", "{g}", "{identityId}", "{m}").Replace(op.path)
		var body []byte
		if o.RequestBody != nil {
			for _, mt := range o.RequestBody.Value.Content {
				body, _ = json.Marshal(mt.Example)
			}
		}
		f.Add(op.method, path, "Content-Type", "application/json", body, true, false, uint16(1))
		f.Add(op.method, path, "If-Match", `"1"`, body, true, false, uint16(1))
		f.Add(op.method, path+"?$select=id&$top=1", "Content-Encoding", "gzip", body, false, false, uint16(1))
		f.Add(op.method, path, "X-Fuzz", "1", body, true, true, uint16(1))
		f.Add(op.method, path, "X-Fuzz", "1", []byte(" "), true, true, uint16(50000))
		f.Add(op.method, path, "X-Fuzz", "1", append([]byte("  "), body...), true, false, uint16(3000))
	}
	methods := []string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"}

	// compress gzips the body, and repeat sends it that many times over,
	// so that bodies reach every size limit, sent and inflated: up to 8 MiB.
	f.Fuzz(func(t *testing.T, method, path, headerName, headerValue string, body []byte, withToken, compress bool, repeat uint16) {
		if n := int(repeat); n > 1 && len(body) > 0 {
			body = bytes.Repeat(body, min(n, (8<<20)/len(body)))
		}
		if compress {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = b.Bytes()
		}
		if !slices.Contains(methods, method) {
			method = methods[len(method)%len(methods)]
		}
		path = strings.NewReplacer("{c}", fx.conn, "{o}", fx.op, "{i}", fx.item, "{g}", fx.group, "{m}", fx.member).Replace(path)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://graphconn.test"+path, bytes.NewReader(body))
		if err != nil {
			t.Skip("not a request a client could send")
		}
		req.Header.Set("Content-Type", "application/json")
		if compress {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if withToken {
			req.Header.Set("Authorization", "Bearer "+e.token)
		}
		if headerName != "" {
			func() {
				defer func() { _ = recover() }() // an invalid header name is the client's problem
				req.Header.Set(headerName, headerValue)
			}()
		}

		before := fingerprint(t, e.db, fx)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		res := rec.Result()
		data, _ := io.ReadAll(res.Body)
		r := result{status: res.StatusCode, header: res.Header, body: data}

		if r.status >= 500 {
			t.Fatalf("%s %q = %d %s", method, path, r.status, data)
		}
		if method != http.MethodHead {
			checkResponse(t, req, r)
		}
		if r.status >= 400 {
			if after := fingerprint(t, e.db, fx); after != before {
				t.Fatalf("%s %q = %d changed the store:\nbefore %s\nafter  %s", method, path, r.status, before, after)
			}
		}
	})
}

// fingerprint sums up what is stored: every connection, and the
// operations of fx's connection, with their versions; its items, its group
// fx.group and that group's members.
func fingerprint(t *testing.T, s store.Store, fx fixture) string {
	conn := fx.conn
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	conns, _, err := s.Connections(ctx, devTenant, "", store.Page{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		fmt.Fprintf(&b, "%s@%d;", c.ID, c.Version)
	}
	ops, _, err := s.Operations(ctx, devTenant, conn, nil, store.Page{Limit: 100000})
	if err != nil && store.KindOf(err) != store.NotFound {
		t.Fatal(err)
	}
	for _, op := range ops {
		fmt.Fprintf(&b, "%s@%d;", op.ID, op.Version)
	}
	n, err := s.PendingOperations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "pending=%d;", n)
	items, err := s.CountItems(ctx, devTenant, conn)
	if err != nil && store.KindOf(err) != store.NotFound {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "items=%d;", items)
	if g, err := s.Group(ctx, devTenant, conn, fx.group); err == nil {
		fmt.Fprintf(&b, "%s@%d;", g.ID, g.Version)
	} else if store.KindOf(err) != store.NotFound {
		t.Fatal(err)
	}
	members, _, err := s.Members(ctx, devTenant, conn, fx.group, store.Page{Limit: 100000})
	if err != nil && store.KindOf(err) != store.NotFound {
		t.Fatal(err)
	}
	for _, m := range members {
		fmt.Fprintf(&b, "%s:%s;", m.Type, m.ID)
	}
	return b.String()
}
