package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// The compiled header checks give openapi3filter.ValidateResponse's answer,
// error for error, on every response of every operation of openapi.yaml:
// each header valid, missing, empty, given with no value, and invalid.
func TestResponseHeadersAsKinOpenAPI(t *testing.T) {
	v := contractValidator(t)
	// Values that some header schema accepts and some refuses.
	candidates := []string{"c33461d1-3ef1-4480-b387-6c4f13377991", `"17"`, "https://graph.example/v1.0/x", "x y"}
	statuses := []int{200, 201, 202, 204, 301, 304, 400, 401, 403, 404, 405, 409, 412, 415, 418, 429, 500, 503}
	checked := 0
	for method, byPath := range v.routes {
		for path, rt := range byPath {
			for _, ref := range rt.spec.Operation.Responses.Map() {
				if rt.headers[ref.Value] == nil {
					t.Errorf("%s %s: a response's headers are left to ValidateResponse; want them compiled (all of openapi.yaml's are strings)", method, path)
				}
			}
			for _, status := range statuses {
				ref := rt.spec.Operation.Responses.Status(status)
				if ref == nil {
					ref = rt.spec.Operation.Responses.Default()
				}
				// The cases: every declared header valid, then each one
				// missing, empty, without a value, and invalid.
				valid := http.Header{}
				bad := map[string]string{}
				if ref != nil {
					for name, h := range ref.Value.Headers {
						var good string
						good, bad[name] = pick(h.Value.Schema.Value, candidates)
						valid[http.CanonicalHeaderKey(name)] = []string{good}
					}
				}
				cases := []http.Header{valid}
				for name, b := range bad {
					cases = append(cases, without(valid, name), with(valid, name, ""), with(valid, name))
					if b != "" {
						cases = append(cases, with(valid, name, b))
					}
				}
				for _, method2 := range []string{method, http.MethodHead} {
					for _, header := range cases {
						req := httptest.NewRequest(method2, "/x", nil)
						in := &openapi3filter.ResponseValidationInput{
							RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: rt.spec},
							Status:                 status,
							Header:                 header,
							Options:                v.respOpts,
						}
						want := openapi3filter.ValidateResponse(req.Context(), in)
						_, got := v.checkStatusAndHeaders(rt, in)
						if fmt.Sprint(got) != fmt.Sprint(want) {
							t.Errorf("%s %s (%s), status %d, headers %v:\ngot  %v\nwant %v", method, path, method2, status, header, got, want)
						}
						checked++
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d cases checked", checked)
	}
	t.Logf("%d cases checked", checked)
}

// pick returns a candidate the schema accepts and one it refuses ("" if it
// refuses none).
func pick(s *openapi3.Schema, candidates []string) (good, bad string) {
	for _, c := range candidates {
		if s.VisitJSON(c) == nil {
			if good == "" {
				good = c
			}
		} else if bad == "" {
			bad = c
		}
	}
	return good, bad
}

// with returns a copy of h with name set to values (none at all if none).
func with(h http.Header, name string, values ...string) http.Header {
	c := h.Clone()
	c[http.CanonicalHeaderKey(name)] = values
	return c
}

func without(h http.Header, name string) http.Header {
	c := h.Clone()
	delete(c, http.CanonicalHeaderKey(name))
	return c
}

// contractValidator is the validator of the embedded openapi.yaml, without
// an authenticator: for tests of its checks alone.
func contractValidator(t *testing.T) *validator {
	t.Helper()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	v, err := newValidator(spec, DefaultMaxBodyBytes, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
