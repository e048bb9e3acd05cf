package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

// The seed's PATCH through the whole Echo stack (request ids, access log,
// response buffering and validation, request validation with the token's
// signature check, the handler), over a store that keeps one operation in
// memory, so that only the HTTP layer is measured. "unvalidated" is the
// same server with Config.NoValidation, as graphconn serve --no-validation.
func BenchmarkSeedPatch(b *testing.B) {
	bodies := [][]byte{[]byte(`{"status":"inprogress"}`), []byte(`{"status":"unspecified","error":null}`)}
	for _, bc := range []struct {
		name         string
		noValidation bool
	}{{"validated", false}, {"unvalidated", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h, token := benchServer(b, bc.noValidation)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPatch, benchOpPath, bytes.NewReader(bodies[i%2]))
				req.Header.Set("Authorization", token)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("PATCH = %d %s", rec.Code, rec.Body)
				}
				i++
			}
		})
	}
}

// The GET of one operation, likewise.
func BenchmarkSeedGet(b *testing.B) {
	for _, bc := range []struct {
		name         string
		noValidation bool
	}{{"validated", false}, {"unvalidated", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h, token := benchServer(b, bc.noValidation)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, benchOpPath, nil)
				req.Header.Set("Authorization", token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

const benchOpPath = "/external/connections/bench/operations/2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b"

func benchServer(b *testing.B, noValidation bool) (http.Handler, string) {
	b.Helper()
	key, err := auth.LoadOrCreateDevKey(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), auth.Config{DevKey: key})
	if err != nil {
		b.Fatal(err)
	}
	token, err := key.Mint(auth.TokenOptions{AppID: "bench", Roles: []string{"ExternalConnection.ReadWrite.All"}, TTL: time.Hour}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(Config{
		Store:        &memStore{op: store.Operation{ConnectionID: "bench", ID: "2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b", Status: store.StatusUnspecified, Version: 1}},
		Verifier:     verifier,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		NoValidation: noValidation,
	})
	if err != nil {
		b.Fatal(err)
	}
	return h, "Bearer " + token
}

// memStore keeps one operation in memory; the benchmarks call nothing else.
type memStore struct {
	store.Store
	mu sync.Mutex
	op store.Operation
}

func (m *memStore) Operation(_ context.Context, connID, id string) (*store.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if connID != m.op.ConnectionID || id != m.op.ID {
		return nil, store.E(store.NotFound, "no operation %s", id)
	}
	op := m.op
	return &op, nil
}

func (m *memStore) UpdateOperation(_ context.Context, connID, id string, u store.OperationUpdate) (*store.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if connID != m.op.ConnectionID || id != m.op.ID {
		return nil, store.E(store.NotFound, "no operation %s", id)
	}
	if u.Status != nil {
		m.op.Status = *u.Status
	}
	if u.SetError {
		m.op.Error = u.Error
	}
	m.op.Version++
	op := m.op
	return &op, nil
}

// decodeJSON parses bodies itself for speed: it must give what
// encoding/json gives (kin-openapi's decoder), value and error alike.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"status":"inprogress"}`, `{"status":"unspecified","error":null}`,
		`{"@odata.type":"#microsoft.graph.connectionOperation","status":"inprogress","error":{"errorCode":"E","message":"m","details":[{"source":"s"}]}}`,
		`{}`, `[]`, `[1,-0,0.5,1e10,-2.5E-3,1E+2]`, `"x"`, `true`, `false`, `null`, `0`, `-`, `01`, `1.`, `1e`, `.5`,
		`{"a":1,"a":2}`, `{"a":[{"b":{"c":[[],{}]}}]}`, ` {"a" : [ 1 , 2 ] } `, `{"a":1} x`, `{"a":1}{}`, ``, ` `,
		`"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`,
		`"\u12"`, `"\x"`, "\"a\tb\"", "\"\xff\"", "\"\xed\xa0\x80\"", `"é€😀"`, `{"a":"\u0000"}`, `[1,]`, `{"a":1,}`,
		`{"a"}`, `{"a":}`, `{1:2}`, `tru`, `nul`, `[`, `{`, `"abc`, strings.Repeat("[", 70) + strings.Repeat("]", 70),
		strings.Repeat("[", 32) + strings.Repeat("]", 32), strings.Repeat("[", 33) + strings.Repeat("]", 33),
		`{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":2}]`, `{"a\u0000":1}`, `"\u0000"`,
	} {
		f.Add([]byte(s))
	}
	spec, err := gen.GetSpec()
	if err != nil {
		f.Fatal(err)
	}
	intern := internStrings(spec)
	if intern["status"] != "status" || intern["inprogress"] != "inprogress" {
		f.Fatalf("internStrings() misses the strings of connectionOperation: %v", intern)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := decodeJSON(data, intern)
		var want any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		wantErr := dec.Decode(&want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decodeJSON(%q) error = %v, want %v", data, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeJSON(%q) = %#v, want %#v", data, got, want)
		}
		// decodeStrict refuses what checkJSON or encoding/json refuses,
		// and otherwise gives the same value.
		strict, strictErr := decodeStrict(data, intern)
		if checkErr := checkJSON(data); checkErr != nil || wantErr != nil {
			if strictErr == nil {
				t.Fatalf("decodeStrict(%q) = %#v, want an error (checkJSON: %v, encoding/json: %v)", data, strict, checkErr, wantErr)
			}
			if checkErr != nil && strictErr.Error() != checkErr.Error() {
				t.Fatalf("decodeStrict(%q) error = %v, want checkJSON's %v", data, strictErr, checkErr)
			}
			return
		}
		if strictErr != nil || !reflect.DeepEqual(strict, want) {
			t.Fatalf("decodeStrict(%q) = %#v, %v; want %#v", data, strict, strictErr, want)
		}
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"@odata.context":"http://127.0.0.1:8080/$metadata#external/connections('bench')/operations/$entity","@odata.etag":"\"1764504000000000000\"","@odata.type":"#microsoft.graph.connectionOperation","error":null,"id":"2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b","status":"inprogress"}` + "\n")
	spec, err := gen.GetSpec()
	if err != nil {
		b.Fatal(err)
	}
	intern := internStrings(spec)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeJSON(body, intern); err != nil {
			b.Fatal(err)
		}
	}
}
