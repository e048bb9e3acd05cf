package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/graphconn/graphconn"
)

// The differential suite: the whole checker, requests and responses,
// bodies included, against openapi3filter.ValidateRequest and
// ValidateResponse on every operation of openapi.yaml. The cases are every
// example of the document and a body made from each schema, and then
// mutations of each: each property missing, null, of the wrong type, out of
// its enum, too long, and an unknown one beside it; each parameter and each
// header missing, empty and invalid. The verdicts must be the same, and the
// messages: a request's as the client reads it (Message), a response's as
// kin-openapi words it.

func TestRequestsAsKinOpenAPI(t *testing.T) {
	c := testContract(t)
	n := 0
	for _, op := range c.Operations() {
		accepted := 0
		for _, rc := range requestCases(t, op) {
			if d := diffRequest(op, rc); d != "" {
				t.Errorf("%s %s, %s:\n%s", op.Method, op.Path, rc.name, d)
			}
			if _, err := op.CheckRequest(rc.request(op.Method), rc.params, rc.body); err == nil {
				accepted++
			}
			n++
		}
		// Cases that are all refused would test the refusals only.
		if accepted == 0 {
			t.Errorf("%s %s: no request case is valid", op.Method, op.Path)
		}
	}
	if n < 500 {
		t.Fatalf("%d request cases, want at least 500: the generator lost its cases", n)
	}
	t.Logf("%d request cases over %d operations", n, len(c.Operations()))
}

func TestResponsesAsKinOpenAPI(t *testing.T) {
	c := testContract(t)
	n := 0
	for _, op := range c.Operations() {
		accepted := map[int]bool{}
		for _, rc := range responseCases(t, op) {
			if d := diffResponse(op, rc); d != "" {
				t.Errorf("%s %s, %s:\n%s", op.Method, op.Path, rc.name, d)
			}
			if rc.method == op.Method && op.CheckResponse(httptest.NewRequest(rc.method, "/x", nil), nil, rc.status, rc.header, rc.body) == nil {
				accepted[rc.status] = true
			}
			n++
		}
		// Each documented status has a valid answer among the cases.
		for code := range op.route.Operation.Responses.Map() {
			var status int
			if _, err := fmt.Sscan(code, &status); err == nil && !accepted[status] {
				t.Errorf("%s %s: no %d response case is valid", op.Method, op.Path, status)
			}
		}
	}
	if n < 2000 {
		t.Fatalf("%d response cases, want at least 2000: the generator lost its cases", n)
	}
	t.Logf("%d response cases over %d operations", n, len(c.Operations()))
}

// The suite fails when a fast path drifts from kin-openapi: here each one is
// broken on purpose, and the suite must see it.
func TestDifferentialSeesDrift(t *testing.T) {
	drifts := []struct {
		name   string
		break_ func(c *Contract)
		resp   bool
	}{
		{"a parameter's schema is not visited", func(c *Contract) {
			for _, op := range c.Operations() {
				if op.params != nil {
					for i := range op.params.params {
						op.params.params[i].p = &openapi3.Parameter{Name: op.params.params[i].p.Name, In: op.params.params[i].p.In,
							Schema: openapi3.NewStringSchema().NewRef()}
					}
				}
			}
		}, false},
		{"request bodies visited as responses", func(c *Contract) { c.reqVisit = c.respVisit }, false},
		{"a response header no longer required", func(c *Contract) {
			for _, op := range c.Operations() {
				for _, rh := range op.headers {
					for i := range rh.headers {
						rh.headers[i].required = false
					}
				}
			}
		}, true},
		{"a response header's quick check accepts anything", func(c *Contract) {
			for _, op := range c.Operations() {
				for _, rh := range op.headers {
					for i := range rh.headers {
						if rh.headers[i].accepts != nil {
							rh.headers[i].accepts = func(string) bool { return true }
						}
					}
				}
			}
		}, true},
		{"response bodies visited as requests", func(c *Contract) { c.respVisit = c.reqVisit }, true},
	}
	for _, d := range drifts {
		t.Run(d.name, func(t *testing.T) {
			c := testContract(t)
			d.break_(c)
			found := 0
			for _, op := range c.Operations() {
				if d.resp {
					for _, rc := range responseCases(t, op) {
						if diffResponse(op, rc) != "" {
							found++
						}
					}
					continue
				}
				for _, rc := range requestCases(t, op) {
					if diffRequest(op, rc) != "" {
						found++
					}
				}
			}
			if found == 0 {
				t.Errorf("the suite found no difference with %s", d.name)
			}
		})
	}
}

func testContract(t testing.TB) *Contract {
	t.Helper()
	spec, err := openapi3.NewLoader().LoadFromData(graphconn.OpenAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := New(spec, Options{ErrorSchema: "odata.error"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type requestCase struct {
	name        string
	params      map[string]string
	header      http.Header
	query       url.Values
	contentType string
	body        []byte
}

func (rc requestCase) request(method string) *http.Request {
	target := "/x"
	if len(rc.query) > 0 {
		target += "?" + rc.query.Encode()
	}
	req := httptest.NewRequest(method, target, bytes.NewReader(rc.body))
	req.Header = rc.header.Clone()
	if rc.contentType != "" {
		req.Header.Set("Content-Type", rc.contentType)
	}
	return req
}

func diffRequest(op *Operation, rc requestCase) string {
	_, got := op.CheckRequest(rc.request(op.Method), rc.params, rc.body)
	req := rc.request(op.Method)
	want := openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: rc.params, QueryParams: req.URL.Query(), Route: op.noAuth,
	})
	switch {
	case (got == nil) != (want == nil):
		return fmt.Sprintf("got  %v\nwant %v", got, want)
	case got != nil && got.Error() != Message(want):
		return fmt.Sprintf("message %q\nwant    %q (%v)", got.Error(), Message(want), want)
	}
	return ""
}

type responseCase struct {
	name   string
	method string
	status int
	header http.Header
	body   []byte
}

func diffResponse(op *Operation, rc responseCase) string {
	params := map[string]string{}
	req := httptest.NewRequest(rc.method, "/x", nil)
	got := op.CheckResponse(req, params, rc.status, rc.header, rc.body)
	want := openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op.route},
		Status:                 rc.status, Header: rc.header, Body: io.NopCloser(bytes.NewReader(rc.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Sprintf("got  %v\nwant %v", got, want)
	}
	return ""
}

// Values that some string schema of the document accepts and another
// refuses ("120" last, for Retry-After, so that the others' picks stay).
var candidates = []string{"contosohr", "c33461d1-3ef1-4480-b387-6c4f13377991", `"17"`, `W/"17"`, "*",
	"https://graph.example/v1.0/x", "status eq 'completed'", "id,status", "2024-05-01T10:00:00Z", "x y", "ünï", "", "120"}

// pick returns a candidate the schema accepts and one it refuses ("" if it
// refuses none).
func pick(s *openapi3.Schema) (good, bad string) {
	good = "<none>"
	for _, cand := range candidates {
		if s.VisitJSON(cand) == nil {
			if good == "<none>" {
				good = cand
			}
		} else if bad == "" {
			bad = cand
		}
	}
	return good, bad
}

func requestCases(t testing.TB, op *Operation) []requestCase {
	t.Helper()
	item, o := op.route.PathItem, op.route.Operation
	base := requestCase{name: "valid", params: map[string]string{}, header: http.Header{}, query: url.Values{}}
	var params []*openapi3.Parameter
	for _, ref := range append(slices.Clone(item.Parameters), o.Parameters...) {
		params = append(params, ref.Value)
	}
	bad := map[*openapi3.Parameter][]string{}
	for _, p := range params {
		var good string
		var values []string
		switch {
		case p.Schema.Value.Type.Is(openapi3.TypeInteger):
			good, values = "10", []string{"0", "-1", "1000", "ten", "1.5"}
		default:
			var b string
			good, b = pick(p.Schema.Value)
			values = []string{"", "x y"}
			if b != "" {
				values = append(values, b)
			}
		}
		bad[p] = values
		switch p.In {
		case openapi3.ParameterInPath:
			base.params[p.Name] = good
		case openapi3.ParameterInHeader:
			base.header.Set(p.Name, good)
		case openapi3.ParameterInQuery:
			base.query.Set(p.Name, good)
		}
	}
	var cases []requestCase
	bodies := []namedBody{{"no body", nil}}
	var mt *openapi3.MediaType
	if op.body != nil {
		mt = op.body.Content.Get("application/json")
		bodies = bodyCases(t, mt, true)
		base.contentType = "application/json"
		cases = append(cases, requestCase{name: "no body", params: base.params, header: base.header, query: base.query})
	}
	for _, b := range bodies {
		rc := base
		rc.name, rc.body = b.name, b.data
		cases = append(cases, rc)
	}
	valid := base
	if len(bodies) > 0 {
		valid.body = bodies[0].data
	}
	for p, values := range bad {
		for _, val := range append([]string{"<missing>"}, values...) {
			rc := valid
			rc.name = fmt.Sprintf("%s parameter %s = %q", p.In, p.Name, val)
			rc.params, rc.header, rc.query = maps.Clone(valid.params), valid.header.Clone(), url.Values(maps.Clone(map[string][]string(valid.query)))
			switch p.In {
			case openapi3.ParameterInPath:
				rc.params[p.Name] = val
				if val == "<missing>" {
					delete(rc.params, p.Name)
				}
			case openapi3.ParameterInHeader:
				rc.header.Set(p.Name, val)
				if val == "<missing>" {
					rc.header.Del(p.Name)
				}
			case openapi3.ParameterInQuery:
				rc.query.Set(p.Name, val)
				if val == "<missing>" {
					rc.query.Del(p.Name)
				}
			}
			cases = append(cases, rc)
		}
	}
	if op.body != nil {
		for _, ct := range []string{"text/plain", "application/json; charset=utf-8", "application/merge-patch+json"} {
			rc := valid
			rc.name, rc.contentType = "Content-Type "+ct, ct
			cases = append(cases, rc)
		}
	}
	return cases
}

func responseCases(t testing.TB, op *Operation) []responseCase {
	t.Helper()
	var cases []responseCase
	// Every documented status, and some that are not.
	statuses := []int{200, 201, 202, 204, 301, 304, 400, 401, 403, 404, 405, 409, 412, 415, 418, 429, 500, 503}
	for code := range op.route.Operation.Responses.Map() {
		var status int
		if _, err := fmt.Sscan(code, &status); err == nil && !slices.Contains(statuses, status) {
			statuses = append(statuses, status)
		}
	}
	for _, status := range statuses {
		ref := op.route.Operation.Responses.Status(status)
		if ref == nil {
			ref = op.route.Operation.Responses.Default()
		}
		valid := http.Header{}
		badHeader := map[string]string{}
		var bodies []namedBody
		ct := "application/json"
		if ref != nil {
			for name, h := range ref.Value.Headers {
				var good string
				good, badHeader[name] = pick(h.Value.Schema.Value)
				valid[http.CanonicalHeaderKey(name)] = []string{good}
			}
			if mt := ref.Value.Content.Get(ct); mt != nil {
				bodies = bodyCases(t, mt, false)
			} else if mt := ref.Value.Content.Get("text/plain"); mt != nil {
				// Plain text: the example, and text the schema refuses.
				ct = "text/plain"
				bodies = []namedBody{{"example", []byte(fmt.Sprint(mt.Example))}, {"not a number", []byte("two")},
					{"too long", []byte(strings.Repeat("9", 21))}, {"empty", nil}}
			}
		}
		if len(bodies) == 0 {
			bodies = []namedBody{{"no body", nil}, {"a body", []byte(`{"a":1}`)}}
		}
		valid.Set("Content-Type", ct)
		for _, method := range []string{op.Method, http.MethodHead} {
			bodies := bodies
			if method == http.MethodHead {
				bodies = bodies[:1] // a HEAD's body is never checked: one will do
			}
			for _, b := range bodies {
				cases = append(cases, responseCase{fmt.Sprintf("%d, %s", status, b.name), method, status, valid, b.data})
			}
			body := bodies[0].data
			for name, bad := range badHeader {
				for _, val := range []string{"<missing>", "", "<no value>", bad} {
					h := valid.Clone()
					switch val {
					case "<missing>":
						h.Del(name)
					case "<no value>":
						h[http.CanonicalHeaderKey(name)] = []string{}
					default:
						h.Set(name, val)
					}
					cases = append(cases, responseCase{fmt.Sprintf("%d, header %s = %q", status, name, val), method, status, h, body})
				}
			}
			for _, ct := range []string{"text/plain", "application/problem+json"} {
				h := valid.Clone()
				h.Set("Content-Type", ct)
				cases = append(cases, responseCase{fmt.Sprintf("%d, Content-Type %s", status, ct), method, status, h, body})
			}
		}
	}
	return cases
}

type namedBody struct {
	name string
	data []byte
}

// bodyCases returns the bodies of a media type: its examples and one made
// from its schema (valid ones first), then the mutations of each, then
// bodies that are not the schema's at all.
func bodyCases(t testing.TB, mt *openapi3.MediaType, request bool) []namedBody {
	t.Helper()
	var valid []namedBody
	if mt.Example != nil {
		valid = append(valid, namedBody{"example", marshal(t, mt.Example)})
	}
	for _, name := range sortedKeys(mt.Examples) {
		valid = append(valid, namedBody{"example " + name, marshal(t, mt.Examples[name].Value.Value)})
	}
	s := mt.Schema.Value
	if s.Example != nil {
		valid = append(valid, namedBody{"schema example", marshal(t, s.Example)})
	}
	valid = append(valid, namedBody{"made from the schema", marshal(t, sample(s, request, 0))})
	out := slices.Clone(valid)
	for _, v := range valid {
		var root any
		if err := json.Unmarshal(v.data, &root); err != nil {
			t.Fatal(err)
		}
		walk(root, nil, root, s, func(name string, edit func(any) any) {
			out = append(out, namedBody{v.name + ": " + name, marshal(t, edit(copyJSON(t, root)))})
		})
	}
	for _, raw := range []string{`null`, `[]`, `"x"`, `1`, `{}`, `{"a":`, ``} {
		out = append(out, namedBody{"body " + raw, []byte(raw)})
	}
	return out
}

// walk calls add with each mutation of v, at path in root, under schema s.
func walk(root any, path []any, v any, s *openapi3.Schema, add func(string, func(any) any)) {
	if s == nil {
		return
	}
	where := fmt.Sprint(path)
	set := func(name string, value any) {
		add(where+" "+name, func(r any) any { return setAt(r, path, value, false) })
	}
	set("null", nil)
	switch v := v.(type) {
	case string:
		set("wrong type", 12)
		if len(s.Enum) > 0 {
			set("out of enum", "notInTheEnum")
		}
		if s.MaxLength != nil {
			set("too long", strings.Repeat("x", int(*s.MaxLength)+1))
		}
		if s.Pattern != "" {
			set("against the pattern", "no!")
		}
	case float64:
		set("wrong type", "12")
		set("fraction", 1.5)
		set("negative", -1)
	case bool:
		set("wrong type", "true")
	case []any:
		set("wrong type", map[string]any{})
		set("empty", []any{})
		if s.MaxItems != nil && len(v) > 0 {
			set("too many items", slices.Repeat(v[:1], int(*s.MaxItems)+1))
		}
		if items := schemaOf(s.Items); items != nil && len(v) > 0 {
			walk(root, append(slices.Clone(path), 0), v[0], items, add)
		}
	case map[string]any:
		set("wrong type", "x")
		set("empty", map[string]any{})
		set("array", []any{})
		add(where+" unknown property", func(r any) any {
			return setAt(r, append(slices.Clone(path), "unknownProperty"), "x", false)
		})
		obj := v
		// The properties left out (readOnly ones in a request, say).
		for _, k := range sortedKeys(s.Properties) {
			if _, ok := obj[k]; !ok {
				p := append(slices.Clone(path), k)
				value := sample(s.Properties[k].Value, false, 0)
				add(fmt.Sprint(p)+" added", func(r any) any { return setAt(r, p, value, false) })
			}
		}
		for _, k := range sortedKeys(obj) {
			p := append(slices.Clone(path), k)
			add(fmt.Sprint(p)+" missing", func(r any) any { return setAt(r, p, nil, true) })
			walk(root, p, obj[k], propertyOf(s, k), add)
		}
	}
}

// setAt sets (or deletes) the value at path in root, and returns root.
func setAt(root any, path []any, value any, del bool) any {
	if len(path) == 0 {
		return value
	}
	cur := root
	for _, step := range path[:len(path)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[step.(string)]
		case []any:
			cur = c[step.(int)]
		}
	}
	switch c := cur.(type) {
	case map[string]any:
		if del {
			delete(c, path[len(path)-1].(string))
		} else {
			c[path[len(path)-1].(string)] = value
		}
	case []any:
		c[path[len(path)-1].(int)] = value
	}
	return root
}

func schemaOf(ref *openapi3.SchemaRef) *openapi3.Schema {
	if ref == nil {
		return nil
	}
	return ref.Value
}

// propertyOf returns the schema of property k of objects of s, in s or its
// allOf, anyOf and oneOf.
func propertyOf(s *openapi3.Schema, k string) *openapi3.Schema {
	if p := schemaOf(s.Properties[k]); p != nil {
		return p
	}
	for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, ref := range list {
			if p := propertyOf(ref.Value, k); p != nil {
				return p
			}
		}
	}
	return nil
}

// sample makes a value of schema s: every property (but those the other
// side owns: readOnly in a request, writeOnly in a response).
func sample(s *openapi3.Schema, request bool, depth int) any {
	if s.Example != nil {
		return s.Example
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if depth > 12 {
		return nil
	}
	switch {
	case len(s.AllOf) > 0:
		out := map[string]any{}
		for _, ref := range s.AllOf {
			if m, ok := sample(ref.Value, request, depth+1).(map[string]any); ok {
				maps.Copy(out, m)
			}
		}
		return out
	case len(s.OneOf) > 0:
		return sample(s.OneOf[0].Value, request, depth+1)
	case len(s.AnyOf) > 0:
		return sample(s.AnyOf[0].Value, request, depth+1)
	}
	switch {
	case s.Type.Is(openapi3.TypeObject) || len(s.Properties) > 0:
		out := map[string]any{}
		for name, ref := range s.Properties {
			if request && ref.Value.ReadOnly || !request && ref.Value.WriteOnly {
				continue
			}
			out[name] = sample(ref.Value, request, depth+1)
		}
		return out
	case s.Type.Is(openapi3.TypeArray):
		return []any{sample(s.Items.Value, request, depth+1)}
	case s.Type.Is(openapi3.TypeString):
		good, _ := pick(s)
		return good
	case s.Type.Is(openapi3.TypeInteger):
		return 1
	case s.Type.Is(openapi3.TypeNumber):
		return 1.5
	case s.Type.Is(openapi3.TypeBoolean):
		return true
	}
	return nil
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyJSON(t testing.TB, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(marshal(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}
