package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
)

// validator checks every request against openapi.yaml before its handler
// runs, and every response before it is sent.
type validator struct {
	// routes maps a method and an Echo path (the path as Echo registered
	// it, from c.Path()) to the spec's operation, so nothing is routed twice.
	routes map[string]map[string]*route
	// outside holds the Echo paths served outside the Graph API (the docs):
	// neither validated nor buffered.
	outside     map[string]bool
	errorSchema *openapi3.Schema        // Graph's error body, for answers outside any operation
	reqOpts     *openapi3filter.Options // without its AuthenticationFunc: see newExchange
	respOpts    *openapi3filter.Options
	authn       func(context.Context, *authState, *openapi3filter.AuthenticationInput) error
	respVisit   []openapi3.SchemaValidationOption // the options of VisitJSON for a response body
	plainVisit  []openapi3.SchemaValidationOption // and for a parameter or a response header, as kin-openapi passes them
	exchanges   sync.Pool
	maxBody     int64
	// skipSchemas turns off the checks of parameters and bodies against the
	// contract, both ways, for measuring what they cost; security, media
	// types, sizes and the JSON checks stay.
	skipSchemas bool
	// invalid, if not nil, is told of each request ("request") and each
	// response ("response") that breaks the contract.
	invalid func(c echo.Context, side string)
	// schema2020 is set for an OpenAPI 3.1 contract, whose schemas are JSON
	// Schema 2020-12.
	schema2020 bool
	// intern holds the strings that bodies share, for decodeJSON.
	intern map[string]any
}

type route struct {
	spec *routers.Route
	// noAuth is spec with its security removed: security is checked first,
	// on its own, so that a caller without a token learns nothing more.
	noAuth   *routers.Route
	security openapi3.SecurityRequirements
	// query holds the names of the operation's query parameters: any other
	// OData system query option ($orderby, $expand...) gets a 400, where a
	// plain unknown parameter is ignored.
	query map[string]bool
	// headers holds the header checks of each of the operation's
	// responses; a response missing here is left to ValidateResponse.
	headers map[*openapi3.Response]*responseHeaders
	// params checks the operation's parameters; nil leaves them to
	// ValidateRequest.
	params *requestParams
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func newValidator(spec *openapi3.T, maxBody int64, authn func(context.Context, *authState, *openapi3filter.AuthenticationInput) error) (*validator, error) {
	v := &validator{
		routes:  map[string]map[string]*route{},
		outside: map[string]bool{},
		// The bodies are checked here, in checkRequestBody and
		// checkResponseBody, on the bytes already read; kin-openapi checks
		// the rest.
		reqOpts:  &openapi3filter.Options{ExcludeRequestBody: true},
		authn:    authn,
		respOpts: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true},
		maxBody:  maxBody,
	}
	ref := spec.Components.Schemas["odata.error"]
	if ref == nil {
		return nil, errors.New("openapi.yaml has no odata.error schema")
	}
	v.errorSchema = ref.Value
	v.exchanges.New = func() any { return v.newExchange() }
	v.schema2020 = spec.IsOpenAPI31OrLater()
	v.respVisit = v.visitOptions(openapi3.VisitAsResponse())
	v.plainVisit = v.visitOptions()
	v.intern = internStrings(spec)
	for path, item := range spec.Paths.Map() {
		echoPath := pathParam.ReplaceAllString(path, ":$1")
		for method, op := range item.Operations() {
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			noAuth := *op
			noAuth.Security = &openapi3.SecurityRequirements{}
			query := map[string]bool{}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.In == openapi3.ParameterInQuery {
					query[p.Value.Name] = true
				}
			}
			if v.routes[method] == nil {
				v.routes[method] = map[string]*route{}
			}
			headers := map[*openapi3.Response]*responseHeaders{}
			if op.Responses != nil {
				for _, ref := range op.Responses.Map() {
					if ref.Value != nil {
						if rh := compileResponseHeaders(ref.Value); rh != nil {
							headers[ref.Value] = rh
						}
					}
				}
			}
			v.routes[method][echoPath] = &route{
				spec:     &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
				noAuth:   &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: &noAuth},
				security: security,
				query:    query,
				headers:  headers,
				params:   compileRequestParams(item, op),
			}
		}
	}
	return v, nil
}

// operationID names the spec operation of the request, or "" outside them.
func (v *validator) operationID(c echo.Context) string {
	if rt := v.route(c); rt != nil {
		return rt.spec.Operation.OperationID
	}
	return ""
}

func (v *validator) route(c echo.Context) *route {
	return v.routes[c.Request().Method][c.Path()]
}

// pathParams fills m with the request's path parameters.
func pathParams(c echo.Context, m map[string]string) map[string]string {
	names, values := c.ParamNames(), c.ParamValues()
	if m == nil {
		m = make(map[string]string, len(names))
	}
	clear(m)
	for i, n := range names {
		if i < len(values) {
			m[n] = values[i]
		}
	}
	return m
}

// exchange is what the validator keeps of one request, pooled: the
// buffered response, the caller, and what the request half found that the
// response half needs.
type exchange struct {
	recorder
	params map[string]string
	reqIn  openapi3filter.RequestValidationInput
	respIn openapi3filter.ResponseValidationInput
	body   validatedBody
	auth   authState
	// authReq is the request as the security check sees it: without its
	// body, which kin-openapi would otherwise read and copy, in case the
	// AuthenticationFunc wanted it (ours reads the headers only).
	authReq http.Request
	// authOpts are the validator's reqOpts with an AuthenticationFunc that
	// keeps its result in auth.
	authOpts openapi3filter.Options
	// reqVisit are the options of VisitJSON for a request body; they set
	// defaultsSet when the schema's defaults were written into the value.
	reqVisit    []openapi3.SchemaValidationOption
	defaultsSet bool
	// bodyBuf holds the request body when it is small enough.
	bodyBuf []byte
}

const exchangeKey = "graphconn.exchange"

func (v *validator) newExchange() *exchange {
	x := &exchange{authOpts: *v.reqOpts, bodyBuf: make([]byte, 0, 4<<10)}
	x.authOpts.AuthenticationFunc = func(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
		return v.authn(ctx, &x.auth, in)
	}
	x.reqVisit = v.visitOptions(openapi3.VisitAsRequest(), openapi3.DefaultsSet(func() { x.defaultsSet = true }))
	return x
}

// visitOptions are the options of VisitJSON for the contract's schemas.
func (v *validator) visitOptions(opts ...openapi3.SchemaValidationOption) []openapi3.SchemaValidationOption {
	if v.schema2020 {
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	return opts
}

// reset drops what the exchange holds of its request, for the pool.
func (x *exchange) reset() {
	x.body.Reset(nil)
	x.body.value = nil
	x.reqIn, x.respIn = openapi3filter.RequestValidationInput{}, openapi3filter.ResponseValidationInput{}
	x.auth, x.authReq = authState{}, http.Request{}
}

// validatedBody is the request body as the handler gets it: the bytes the
// validator read, and the value it decoded from them and checked against
// the contract (unless validation is off), so that the handler need not
// decode them again. Its ValidatedValue is that of kin-openapi's
// Options.KeepValidatedValue.
type validatedBody struct {
	bytes.Reader
	value any // nil when the body was not checked
}

func (b *validatedBody) Close() error { return nil }

// ValidatedValue returns the body's value, checked against the contract
// unless validation is off; nil when the body is not JSON.
func (b *validatedBody) ValidatedValue() any { return b.value }

// requests validates the request against its operation: security first,
// then the body's media type, encoding and size, then parameters and body.
// The handler gets the body decompressed and already read.
func (v *validator) requests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rt := v.route(c)
		if rt == nil {
			return next(c) // the router answers 404 or 405
		}
		x, _ := c.Get(exchangeKey).(*exchange)
		if x == nil {
			x = v.newExchange() // not behind v.responses
			c.Set(exchangeKey, x)
		}
		req := c.Request()
		x.params = pathParams(c, x.params)
		x.auth = authState{}
		x.authReq = *req
		x.authReq.Body, x.authReq.GetBody = http.NoBody, nil
		in := &x.reqIn
		*in = openapi3filter.RequestValidationInput{Request: &x.authReq, PathParams: x.params, Route: rt.spec, Options: &x.authOpts}
		if err := openapi3filter.ValidateSecurityRequirements(req.Context(), in, rt.security); err != nil {
			return authError(err)
		}
		in.Request = req
		var data []byte
		body := rt.spec.Operation.RequestBody
		if body != nil {
			var err error
			if data, err = v.readBody(req, body.Value, x.bodyBuf[:0]); err != nil {
				return err
			}
			x.body.Reset(data)
			x.body.value = nil
			if len(data) > 0 && isJSON(req.Header.Get("Content-Type")) {
				if x.body.value, err = decodeStrict(data, v.intern); err != nil {
					return err
				}
			}
			req.Body = &x.body
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			req.ContentLength = int64(len(data))
			req.Header.Del("Content-Encoding")
		}
		if req.URL.RawQuery != "" {
			for name := range c.QueryParams() {
				if strings.HasPrefix(name, "$") && !rt.query[name] {
					return badRequest("The query option '%s' is not supported on this resource.", truncate(name, 50))
				}
			}
		}
		in.Route = rt.noAuth
		if v.skipSchemas {
			return next(c)
		}
		var err error
		if rt.params != nil {
			err = rt.params.check(in, v.plainVisit)
		} else {
			err = openapi3filter.ValidateRequest(req.Context(), in)
		}
		if err == nil && body != nil {
			err = v.checkRequestBody(in, body.Value, data, x)
		}
		if err != nil {
			if v.invalid != nil {
				v.invalid(c, "request")
			}
			return requestError(err)
		}
		return next(c)
	}
}

// checkRequestBody checks the body against the operation's schema, as
// openapi3filter.ValidateRequestBody does (with the same errors), but on
// the bytes that readBody already read, and keeps the value it decoded in
// vb for the handler.
func (v *validator) checkRequestBody(in *openapi3filter.RequestValidationInput, body *openapi3.RequestBody, data []byte, x *exchange) error {
	vb := &x.body
	if len(data) == 0 {
		if body.Required {
			return &openapi3filter.RequestError{Input: in, RequestBody: body, Err: openapi3filter.ErrInvalidRequired}
		}
		return nil
	}
	req := in.Request
	mt := body.Content.Get(req.Header.Get("Content-Type"))
	if mt == nil || mt.Schema == nil || !isJSON(req.Header.Get("Content-Type")) {
		// Not a JSON body: kin-openapi knows the other media types.
		req.Body = io.NopCloser(bytes.NewReader(data))
		err := openapi3filter.ValidateRequestBody(req.Context(), in, body)
		vb.Reset(data)
		req.Body = vb
		return err
	}
	value := x.body.value // decoded by decodeStrict
	x.defaultsSet = false
	if err := mt.Schema.Value.VisitJSON(value, x.reqVisit...); err != nil {
		return &openapi3filter.RequestError{Input: in, RequestBody: body, Reason: "doesn't match schema" + schemaID(mt.Schema), Err: err}
	}
	if x.defaultsSet {
		// The schema's defaults were written into value: the handler gets
		// the body with them, as kin-openapi gives it.
		var err error
		if data, err = json.Marshal(value); err != nil {
			return &openapi3filter.RequestError{Input: in, RequestBody: body, Reason: "rewriting failed", Err: err}
		}
		req.ContentLength = int64(len(data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		vb.Reset(data)
	}
	vb.value = value
	return nil
}

// isJSON reports whether a Content-Type is JSON, as kin-openapi decides
// which body decoder to use.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// decodeJSON decodes a body as kin-openapi's JSON body decoder does
// (encoding/json's Decoder with UseNumber): into map[string]any, []any,
// string, json.Number, bool and nil. It parses the usual document itself,
// several times faster than encoding/json and with a third of its
// allocations; anything unusual (invalid UTF-8, an escaped lone surrogate,
// deep nesting, data after the value, a syntax error) goes to
// encoding/json, so that the value or the error is always encoding/json's.
//
// Strings found in intern (openapi.yaml's property names and enum values,
// see internStrings) are shared rather than allocated.
func decodeJSON(data []byte, intern map[string]any) (any, error) {
	p := jsonParser{data: data, intern: intern}
	if v, ok := p.document(); ok {
		return v, nil
	}
	var value any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&value); err != nil {
		return nil, err
	}
	return value, nil
}

// decodeStrict decodes a request body as decodeJSON does, and refuses with
// a 400 what checkJSON refuses. One pass does both for the usual body: the
// parser gives up on anything checkJSON might refuse (a property given twice,
// a NUL, nesting deeper than maxJSONDepth, invalid UTF-8), and only then do
// checkJSON and encoding/json read the body.
func decodeStrict(data []byte, intern map[string]any) (any, error) {
	p := jsonParser{data: data, intern: intern, strict: true}
	if v, ok := p.document(); ok {
		return v, nil
	}
	if err := checkJSON(data); err != nil {
		return nil, err
	}
	value, err := decodeJSON(data, intern)
	if err != nil {
		return nil, badRequest("The request body is not valid JSON.")
	}
	return value, nil
}

// internStrings collects the property names and the string enum values of
// the contract's schemas, each boxed once: nearly every string of a body is
// one of them, and decodeJSON shares them instead of allocating each.
func internStrings(spec *openapi3.T) map[string]any {
	m := map[string]any{}
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		for name, p := range s.Properties {
			m[name] = name
			walk(p)
		}
		for _, e := range s.Enum {
			if str, ok := e.(string); ok {
				m[str] = str
			}
		}
		walk(s.Items)
		walk(s.Not)
		walk(s.AdditionalProperties.Schema)
		for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range list {
				walk(x)
			}
		}
	}
	for _, ref := range spec.Components.Schemas {
		walk(ref)
	}
	return m
}

// jsonParser is decodeJSON's parser: each method returns false, and the
// document goes to encoding/json, at the first thing it does not handle.
type jsonParser struct {
	data   []byte
	pos    int
	intern map[string]any // string → the same string, boxed
	// strict gives up, in addition, on what checkJSON refuses: a property
	// given twice, an escaped NUL and nesting deeper than maxJSONDepth.
	// (A raw NUL and invalid UTF-8 make every parse give up.)
	strict bool
}

// document parses the whole of the data as one value.
func (p *jsonParser) document() (any, bool) {
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.pos == len(p.data)
}

// maxParseDepth bounds the recursion; deeper documents go to encoding/json.
const maxParseDepth = 64

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, bool) {
	p.space()
	if p.pos >= len(p.data) || depth > maxParseDepth {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		if p.strict && depth >= maxJSONDepth {
			return nil, false
		}
		if c == '{' {
			return p.object(depth)
		}
		return p.array(depth)
	case c == '"':
		s, boxed, ok := p.quoted()
		if boxed == nil {
			boxed = s
		}
		return boxed, ok
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, false
}

func (p *jsonParser) literal(word string, v any) (any, bool) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return nil, false
	}
	p.pos += len(word)
	return v, true
}

func (p *jsonParser) object(depth int) (any, bool) {
	p.pos++ // {
	m := map[string]any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, true
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, false
		}
		k, _, ok := p.quoted()
		if !ok {
			return nil, false
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		if p.strict {
			if _, dup := m[k]; dup {
				return nil, false
			}
		}
		m[k] = v // as encoding/json, the last of duplicate keys wins
		if more, ok := p.more('}'); !more {
			return m, ok
		}
	}
}

// more steps over what follows a member of an object or an array: true
// after a comma, false (and ok) after the closing byte, and not ok on
// anything else.
func (p *jsonParser) more(closing byte) (more, ok bool) {
	p.space()
	if p.pos >= len(p.data) {
		return false, false
	}
	switch p.data[p.pos] {
	case ',':
		p.pos++
		return true, true
	case closing:
		p.pos++
		return false, true
	}
	return false, false
}

func (p *jsonParser) array(depth int) (any, bool) {
	p.pos++
	// As encoding/json, [] is an empty slice, not nil.
	a := make([]any, 0)
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return a, true
	}
	for {
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok := p.more(']'); !more {
			return a, ok
		}
	}
}

// quoted parses a string at the opening quote; boxed is the string as an
// interface when it was interned, nil otherwise.
func (p *jsonParser) quoted() (s string, boxed any, ok bool) {
	p.pos++ // "
	start := p.pos
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '"':
			raw := p.data[start:p.pos]
			p.pos++
			if v, ok := p.intern[string(raw)]; ok {
				return v.(string), v, true
			}
			return string(raw), nil, true
		case c == '\\':
			s, ok := p.escaped(start)
			return s, nil, ok
		case c < 0x20:
			return "", nil, false
		case c >= utf8.RuneSelf:
			if !p.validRune() {
				return "", nil, false
			}
		default:
			p.pos++
		}
	}
	return "", nil, false
}

// escaped parses the rest of a string that holds escapes.
func (p *jsonParser) escaped(start int) (string, bool) {
	buf := make([]byte, 0, p.pos-start+32)
	buf = append(buf, p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			from := p.pos
			if !p.validRune() {
				return "", false
			}
			buf = append(buf, p.data[from:p.pos]...)
		case c != '\\':
			buf = append(buf, c)
			p.pos++
		case p.pos+1 >= len(p.data):
			return "", false
		default:
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok || r == 0 && p.strict {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// Only a pair: encoding/json knows what to make of the rest.
					if len(p.data)-p.pos < 2 || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
						return "", false
					}
					p.pos += 2
					low, ok := p.hex4()
					if r = utf16.DecodeRune(r, low); !ok || r == unicode.ReplacementChar {
						return "", false
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		}
	}
	return "", false
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}

// validRune steps over one multi-byte UTF-8 character; false when it is
// invalid (encoding/json would replace it with U+FFFD).
func (p *jsonParser) validRune() bool {
	r, size := utf8.DecodeRune(p.data[p.pos:])
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	p.pos += size
	return true
}

func (p *jsonParser) number() (any, bool) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return nil, false
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return json.Number(p.data[start:p.pos]), true
}

func (p *jsonParser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// schemaID names a schema in an error, as kin-openapi does.
func schemaID(s *openapi3.SchemaRef) string {
	id := strings.TrimSpace(s.Ref)
	if id == "" && s.Value != nil {
		id = strings.TrimSpace(s.Value.Title)
	}
	if id != "" {
		id = " " + id
	}
	return id
}

// readBody reads the request body, gunzipped when Content-Encoding says so
// (Graph's SDKs compress their bodies), up to the size limit.
func (v *validator) readBody(req *http.Request, body *openapi3.RequestBody, buf []byte) ([]byte, error) {
	ct := req.Header.Get("Content-Type")
	if ct == "" && req.ContentLength == 0 {
		return nil, nil // no body at all: the validator says whether one is required
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || body.Content.Get(mt) == nil {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupportedMediaType",
			"Content-Type '%s' is not supported; send application/json.", truncate(ct, 100))
	}
	var r io.Reader = req.Body
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if req.ContentLength > v.maxBody {
			return nil, v.tooLarge()
		}
	case "gzip":
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			return nil, badRequest("The request body is not valid gzip data.")
		}
		defer zr.Close()
		r = zr
	default:
		return nil, newError(http.StatusUnsupportedMediaType, "unsupportedMediaType",
			"Content-Encoding '%s' is not supported; send gzip or an uncompressed body.", truncate(enc, 100))
	}
	// Into buf, the exchange's, when it is large enough: the body lives
	// only as long as the request. (net/http ends the body where
	// Content-Length says.)
	var data []byte
	if n := req.ContentLength; n >= 0 && n <= int64(cap(buf)) && r == req.Body {
		data = buf[:n]
		_, err = io.ReadFull(req.Body, data)
	} else {
		data, err = io.ReadAll(io.LimitReader(r, v.maxBody+1))
	}
	switch {
	case r != req.Body && (errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF)):
		return nil, badRequest("The request body is not valid gzip data.")
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, v.tooLarge()
		}
		return nil, badRequest("The request body could not be read.")
	case int64(len(data)) > v.maxBody:
		return nil, v.tooLarge()
	}
	return data, nil
}

func (v *validator) tooLarge() error {
	return newError(http.StatusRequestEntityTooLarge, "requestEntityTooLarge",
		"The request body is larger than the limit of %d bytes.", v.maxBody)
}

// requestError turns a kin-openapi validation error into a 400 whose
// message names what was wrong.
func requestError(err error) error {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return badRequest("The request is invalid: %s", err)
	}
	var se *openapi3.SchemaError
	switch {
	case errors.As(re.Err, &se):
		if re.Parameter != nil {
			return badRequest("Invalid value for parameter '%s': %s", re.Parameter.Name, se.Reason)
		}
		return badRequest("%s", schemaMessage(se))
	case re.Parameter != nil:
		return badRequest("Invalid value for parameter '%s': %s", re.Parameter.Name, re.Error())
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return badRequest("A request body is required.")
	case re.RequestBody != nil:
		var pe *openapi3filter.ParseError
		if errors.As(re.Err, &pe) || re.Reason == "failed to decode request body" {
			return badRequest("The request body is not valid JSON.")
		}
	}
	return badRequest("The request is invalid: %s", re.Error())
}

func schemaMessage(se *openapi3.SchemaError) string {
	// allOf, anyOf and oneOf wrap the error of the subschema, which says
	// best what was wrong; kin-openapi gives it the whole path too.
	for {
		var inner *openapi3.SchemaError
		if !errors.As(se.Origin, &inner) {
			break
		}
		se = inner
	}
	path := se.JSONPointer()
	if obj, ok := se.Value.(map[string]any); ok && se.SchemaField == "properties" {
		if name := unknownProperty(obj, se.Schema); name != "" {
			typ := se.Schema.Title
			if typ == "" {
				typ = "object"
			}
			return fmt.Sprintf("The property '%s' does not exist on type '%s'.", joinPath(append(path, name)), typ)
		}
	}
	if len(path) == 0 {
		return "The request body is invalid: " + se.Reason
	}
	return fmt.Sprintf("Invalid value for property '%s': %s", joinPath(path), se.Reason)
}

func unknownProperty(obj map[string]any, schema *openapi3.Schema) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if _, ok := schema.Properties[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return truncate(keys[0], 100)
}

// joinPath writes a JSON pointer as a property path: error.details[0].source.
func joinPath(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if _, err := strconv.Atoi(s); err == nil && i > 0 {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// recorder buffers a response so that it can be validated before a byte of
// it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// responses buffers the response of everything after it, errors included
// (it renders them itself), validates it against openapi.yaml, and sends it
// only if it is valid. An invalid response is logged and replaced by a 500.
func (v *validator) responses(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v.outside[c.Path()] {
			return next(c)
		}
		res := c.Response()
		w := res.Writer
		x := v.exchanges.Get().(*exchange)
		defer v.exchanges.Put(x)
		rec := &x.recorder
		rec.header, rec.status = w.Header(), 0
		rec.body.Reset()
		x.params = nil
		c.Set(exchangeKey, x)
		res.Writer = rec

		if err := next(c); err != nil {
			// Drop whatever the handler wrote before it failed.
			rec.status = 0
			rec.body.Reset()
			res.Committed, res.Status, res.Size = false, http.StatusOK, 0
			c.Error(err)
		}
		res.Writer = w
		status, body := rec.status, rec.body.Bytes()
		if status == 0 {
			status = http.StatusOK
		}
		if err := v.checkResponse(c, x, status, rec.header, body); err != nil {
			if v.invalid != nil {
				v.invalid(c, "response")
			}
			loggerOf(c).Error("response violates openapi.yaml; answering 500 instead",
				slog.Int("status", status), slog.String("violation", err.Error()))
			status, body = v.contractFailure(c)
		}
		h := w.Header()
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(status)
		res.Status, res.Size = status, int64(len(body))
		// Nothing may keep the pooled exchange's request or body.
		x.reset()
		if c.Request().Method == http.MethodHead {
			return nil
		}
		if _, err := w.Write(body); err != nil {
			loggerOf(c).Debug("write response", slog.Any("error", err))
		}
		return nil
	}
}

// contractFailure is the 500 sent in place of a response that broke the
// contract: only the request ids survive of the original headers.
func (v *validator) contractFailure(c echo.Context) (int, []byte) {
	h := c.Response().Writer.Header()
	for k := range h {
		if !slices.Contains([]string{"Request-Id", "Client-Request-Id"}, k) {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/json")
	ge := newError(http.StatusInternalServerError, "generalException", internalMessage)
	body, _ := json.Marshal(errorBody(c, ge))
	return ge.status, body
}

func (v *validator) checkResponse(c echo.Context, x *exchange, status int, header http.Header, body []byte) error {
	if v.skipSchemas {
		return nil
	}
	req := c.Request()
	rt := v.route(c)
	if rt == nil {
		// Outside every operation (the router's 404 and 405): it must be a
		// Graph error.
		if header.Get("request-id") == "" || header.Get("client-request-id") == "" {
			return errors.New("missing request-id or client-request-id header")
		}
		if req.Method == http.MethodOptions && status == http.StatusNoContent && len(body) == 0 {
			return nil // Echo's answer to OPTIONS: the Allow header of the path
		}
		if status < 400 {
			return fmt.Errorf("status %d outside any operation", status)
		}
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("error body is not JSON: %w", err)
		}
		return v.errorSchema.VisitJSON(doc)
	}
	if x.params == nil {
		x.params = pathParams(c, nil) // the request half did not run
	}
	x.reqIn = openapi3filter.RequestValidationInput{Request: req, PathParams: x.params, Route: rt.spec}
	x.respIn = openapi3filter.ResponseValidationInput{
		RequestValidationInput: &x.reqIn,
		Status:                 status,
		Header:                 header,
		Options:                v.respOpts,
	}
	resp, err := v.checkStatusAndHeaders(rt, &x.respIn)
	if err != nil || resp == nil {
		return err
	}
	return v.checkResponseBody(&x.respIn, resp, body)
}

// checkStatusAndHeaders is openapi3filter.ValidateResponse without the body
// (the status, then the headers), with the same errors; it checks the
// headers with the route's compiled checks when it has them. It returns the
// contract's response whose body the answer's must match, nil when
// ValidateResponse would not look at the body (HEAD, redirects and 304, an
// operation without responses).
func (v *validator) checkStatusAndHeaders(rt *route, in *openapi3filter.ResponseValidationInput) (*openapi3.Response, error) {
	req := in.RequestValidationInput.Request
	switch in.Status {
	case http.StatusNotModified, http.StatusPermanentRedirect, http.StatusTemporaryRedirect, http.StatusMovedPermanently:
		return nil, nil // never validated
	}
	responses := rt.spec.Operation.Responses
	if req.Method == http.MethodHead || responses.Len() == 0 {
		return nil, nil
	}
	ref := responses.Status(in.Status)
	if ref == nil {
		ref = responses.Default()
	}
	if ref != nil && ref.Value != nil {
		if rh := rt.headers[ref.Value]; rh != nil {
			return ref.Value, rh.check(in, v.plainVisit)
		}
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil || ref == nil {
		return nil, err
	}
	return ref.Value, nil
}

// checkResponseBody checks the body of a response against resp, the
// contract's, as openapi3filter.ValidateResponse does after the status and
// the headers.
func (v *validator) checkResponseBody(in *openapi3filter.ResponseValidationInput, resp *openapi3.Response, body []byte) error {
	if len(resp.Content) == 0 {
		return nil // ValidateResponse has judged these
	}
	ct := in.Header.Get("Content-Type")
	mt := resp.Content.Get(ct)
	if mt == nil {
		return &openapi3filter.ResponseError{Input: in, Reason: fmt.Sprintf("response header Content-Type has unexpected value: %q", ct)}
	}
	if mt.Schema == nil {
		return nil
	}
	if !isJSON(ct) {
		// Not JSON: kin-openapi knows the other media types.
		full := *in
		full.Options = &openapi3filter.Options{IncludeResponseStatus: true}
		full.Body = io.NopCloser(bytes.NewReader(body))
		return openapi3filter.ValidateResponse(in.RequestValidationInput.Request.Context(), &full)
	}
	value, err := decodeJSON(body, v.intern)
	if err != nil {
		return &openapi3filter.ResponseError{Input: in, Reason: "failed to decode response body",
			Err: &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}}
	}
	if err := mt.Schema.Value.VisitJSON(value, v.respVisit...); err != nil {
		return &openapi3filter.ResponseError{Input: in, Reason: "response body doesn't match schema" + schemaID(mt.Schema), Err: err}
	}
	return nil
}
