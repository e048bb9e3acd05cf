package server

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// The compiled parameter checks give openapi3filter.ValidateRequest's
// answer, error for error, on every operation of openapi.yaml they apply
// to: each parameter valid, missing, empty, given with no value (a header),
// and invalid.
func TestRequestParamsAsKinOpenAPI(t *testing.T) {
	v := contractValidator(t)
	candidates := []string{"contosohr", "c33461d1-3ef1-4480-b387-6c4f13377991", `"17"`, `W/"17"`, "*", "x y", "ünï"}
	compiled, checked := 0, 0
	for method, byPath := range v.routes {
		for path, rt := range byPath {
			if rt.params == nil {
				continue // left to ValidateRequest
			}
			compiled++
			// The parameters' valid values, and their invalid ones.
			pathParams, header := map[string]string{}, http.Header{}
			bad := map[*openapi3.Parameter]string{}
			for _, p := range rt.params.params {
				var good string
				good, bad[p.p] = pick(p.p.Schema.Value, candidates)
				if p.p.In == openapi3.ParameterInPath {
					pathParams[p.p.Name] = good
				} else {
					header.Set(p.p.Name, good)
				}
			}
			type request struct {
				path   map[string]string
				header http.Header
			}
			cases := []request{{pathParams, header}, {nil, header}}
			for p, b := range bad {
				values := []string{""}
				if b != "" {
					values = append(values, b)
				}
				if p.In == openapi3.ParameterInPath {
					m := maps.Clone(pathParams)
					delete(m, p.Name)
					cases = append(cases, request{m, header})
					for _, val := range values {
						m := maps.Clone(pathParams)
						m[p.Name] = val
						cases = append(cases, request{m, header})
					}
					continue
				}
				cases = append(cases, request{pathParams, without(header, p.Name)}, request{pathParams, with(header, p.Name)})
				for _, val := range values {
					cases = append(cases, request{pathParams, with(header, p.Name, val)})
				}
			}
			for _, c := range cases {
				req := httptest.NewRequest(method, "/x", nil)
				req.Header = c.header
				in := &openapi3filter.RequestValidationInput{Request: req, PathParams: c.path, Route: rt.noAuth, Options: v.reqOpts}
				want := openapi3filter.ValidateRequest(req.Context(), in)
				got := rt.params.check(in, v.plainVisit)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %s, path %v, headers %v:\ngot  %v\nwant %v", method, path, c.path, c.header, got, want)
				}
				checked++
			}
		}
	}
	// The operations on one operation or one connection have plain string
	// parameters only; those that list take $top and the like.
	if compiled < 6 || checked < 50 {
		t.Fatalf("%d operations compiled, %d cases checked; want at least 6 and 50", compiled, checked)
	}
	t.Logf("%d operations compiled, %d cases checked", compiled, checked)
}
