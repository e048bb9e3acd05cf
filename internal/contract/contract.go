// Package contract checks HTTP requests and responses against an OpenAPI
// 3 document (graphconn's openapi.yaml): it compiles the document once, then
// checks each request (and gives back its body, decoded) and each response.
//
// The answers are kin-openapi's: openapi3filter.ValidateRequest and
// ValidateResponse, error for error. What is checked on every request is
// checked here on compiled checks that call kin-openapi's schema visitor
// (parameters and headers that are plain strings, JSON bodies), and
// everything else goes to openapi3filter itself. The differential suite
// (differential_test.go) holds the whole to openapi3filter on every
// operation of openapi.yaml.
//
// The package knows nothing of routers or web frameworks: the caller finds
// the Operation of a request, checks the caller's credentials with
// CheckSecurity, reads the body, and hands it to CheckRequest.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/graphconn/graphconn/internal/jsonvalue"
)

// Contract is an OpenAPI document compiled for checking.
type Contract struct {
	spec        *openapi3.T
	ops         map[string]map[string]*Operation // method → path as the document writes it
	list        []*Operation
	errorSchema *openapi3.Schema
	// intern holds the strings that bodies share (see internStrings).
	intern map[string]any
	// The options of VisitJSON: for a request body, a response body, and a
	// parameter or a response header, as openapi3filter passes them.
	reqVisit, respVisit, plainVisit []openapi3.SchemaValidationOption
	respOpts                        *openapi3filter.Options
	skipSchemas                     bool
}

// Options tune a Contract.
type Options struct {
	// SkipSchemas turns off the checks of parameters and bodies against
	// their schemas, both ways, to measure what they cost. Security, media
	// types, statuses, headers and the strict JSON checks stay.
	SkipSchemas bool
	// ErrorSchema names the component schema that every error answer
	// outside the document's operations must match ("" for none).
	ErrorSchema string
}

// Operation is one operation of the document, compiled.
type Operation struct {
	ID     string // operationId
	Method string
	Path   string // as the document writes it: /a/{b}
	c      *Contract
	route  *routers.Route
	// noAuth is route without security: CheckSecurity checks it on its
	// own, first, so that a caller without a token learns nothing more.
	noAuth   *routers.Route
	security openapi3.SecurityRequirements
	// query holds the names of the operation's query parameters.
	query map[string]bool
	// params checks the parameters; nil leaves them to ValidateRequest.
	params *requestParams
	// headers holds the header checks of each response; a response missing
	// here is left to ValidateResponse.
	headers map[*openapi3.Response]*responseHeaders
	body    *openapi3.RequestBody
	// bodyDefaults is set when the request body's schema has defaults,
	// which VisitJSON writes into the value.
	bodyDefaults bool
	// shape bounds the JSON body as its schema does, so that what the
	// schema refuses is refused before it is decoded.
	shape *jsonvalue.Shape
}

// New compiles spec, which must be valid.
func New(spec *openapi3.T, opts Options) (*Contract, error) {
	c := &Contract{
		spec:        spec,
		ops:         map[string]map[string]*Operation{},
		intern:      internStrings(spec),
		skipSchemas: opts.SkipSchemas,
		respOpts:    &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true},
	}
	if opts.ErrorSchema != "" {
		ref := spec.Components.Schemas[opts.ErrorSchema]
		if ref == nil || ref.Value == nil {
			return nil, fmt.Errorf("contract: the document has no schema %q", opts.ErrorSchema)
		}
		c.errorSchema = ref.Value
	}
	var extra []openapi3.SchemaValidationOption
	if spec.IsOpenAPI31OrLater() {
		extra = append(extra, openapi3.EnableJSONSchema2020())
	}
	c.reqVisit = append([]openapi3.SchemaValidationOption{openapi3.VisitAsRequest()}, extra...)
	c.respVisit = append([]openapi3.SchemaValidationOption{openapi3.VisitAsResponse()}, extra...)
	c.plainVisit = extra
	for path, item := range spec.Paths.Map() {
		for method, o := range item.Operations() {
			op := c.compile(path, item, method, o)
			if c.ops[method] == nil {
				c.ops[method] = map[string]*Operation{}
			}
			c.ops[method][path] = op
			c.list = append(c.list, op)
		}
	}
	sort.Slice(c.list, func(i, j int) bool {
		a, b := c.list[i], c.list[j]
		return a.Path < b.Path || a.Path == b.Path && a.Method < b.Method
	})
	return c, nil
}

func (c *Contract) compile(path string, item *openapi3.PathItem, method string, o *openapi3.Operation) *Operation {
	security := c.spec.Security
	if o.Security != nil {
		security = *o.Security
	}
	noAuth := *o
	noAuth.Security = &openapi3.SecurityRequirements{}
	op := &Operation{
		ID: o.OperationID, Method: method, Path: path, c: c,
		route:    &routers.Route{Spec: c.spec, Path: path, PathItem: item, Method: method, Operation: o},
		noAuth:   &routers.Route{Spec: c.spec, Path: path, PathItem: item, Method: method, Operation: &noAuth},
		security: security,
		query:    map[string]bool{},
		params:   compileRequestParams(item, o),
		headers:  map[*openapi3.Response]*responseHeaders{},
	}
	for _, p := range append(item.Parameters, o.Parameters...) {
		if p.Value.In == openapi3.ParameterInQuery {
			op.query[p.Value.Name] = true
		}
	}
	if o.Responses != nil {
		for _, ref := range o.Responses.Map() {
			if ref.Value != nil {
				if rh := compileResponseHeaders(ref.Value, len(c.plainVisit) == 0); rh != nil {
					op.headers[ref.Value] = rh
				}
			}
		}
	}
	if o.RequestBody != nil && o.RequestBody.Value != nil {
		op.body = o.RequestBody.Value
		for _, mt := range op.body.Content {
			if mt.Schema != nil && hasDefaults(mt.Schema, map[*openapi3.Schema]bool{}) {
				op.bodyDefaults = true
			}
		}
		if mt := op.body.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			op.shape = shapeOf(mt.Schema.Value, map[*openapi3.Schema]*jsonvalue.Shape{})
		}
	}
	return op
}

// Spec returns the document.
func (c *Contract) Spec() *openapi3.T { return c.spec }

// Operation returns the operation of method at path (as the document
// writes it), or nil.
func (c *Contract) Operation(method, path string) *Operation { return c.ops[method][path] }

// Operations returns every operation, by path and method.
func (c *Contract) Operations() []*Operation { return c.list }

// Route returns the operation as kin-openapi's router would have found it.
func (op *Operation) Route() *routers.Route { return op.route }

// Body reports whether the operation takes a request body.
func (op *Operation) Body() bool { return op.body != nil }

// Consumes reports whether the operation takes a body of mediaType (without
// parameters).
func (op *Operation) Consumes(mediaType string) bool {
	return op.body != nil && op.body.Content.Get(mediaType) != nil
}

// QueryParameter reports whether the operation declares the query
// parameter name.
func (op *Operation) QueryParameter(name string) bool { return op.query[name] }

// CheckSecurity checks that the request meets one of the operation's
// security requirements, with opts.AuthenticationFunc, as
// openapi3filter.ValidateSecurityRequirements does. It does not read the
// body.
func (op *Operation) CheckSecurity(ctx context.Context, req *http.Request, pathParams map[string]string, opts *openapi3filter.Options) error {
	// ValidateSecurityRequirements reads the body, in case the
	// AuthenticationFunc wants it: it does not get it.
	body := req.Body
	req.Body = http.NoBody
	defer func() { req.Body = body }()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: op.route, Options: opts}
	return openapi3filter.ValidateSecurityRequirements(ctx, in, op.security)
}

// Request is a request's body as CheckRequest leaves it.
type Request struct {
	// Data is the body: as sent, or rewritten with the schema's defaults.
	Data []byte
	// Value is the body decoded, as kin-openapi decodes a JSON body (nil
	// when the body is empty or not JSON).
	Value any
}

// requestInput is what a request check's errors need, made only when one
// is returned.
type requestInput struct {
	req    *http.Request
	params map[string]string
	route  *routers.Route
	in     *openapi3filter.RequestValidationInput
}

func (r *requestInput) input() *openapi3filter.RequestValidationInput {
	if r.in == nil {
		r.in = &openapi3filter.RequestValidationInput{Request: r.req, PathParams: r.params, Route: r.route}
	}
	return r.in
}

// CheckRequest checks a request, whose body (decompressed) is body, against
// the operation, security aside (see CheckSecurity): its parameters, then
// its body. The error is an *Error. A JSON body is decoded strictly (see
// jsonvalue.DecodeStrict) before anything else.
func (op *Operation) CheckRequest(req *http.Request, pathParams map[string]string, body []byte) (Request, error) {
	r := Request{Data: body}
	if op.body != nil && len(body) > 0 && isJSON(req.Header.Get("Content-Type")) {
		var err error
		if r.Value, err = jsonvalue.DecodeStrict(body, op.c.intern, op.shape); err != nil {
			return Request{}, &Error{Message: strictMessage(err), Err: err}
		}
	}
	if op.c.skipSchemas {
		return r, nil
	}
	in := requestInput{req: req, params: pathParams, route: op.noAuth}
	var err error
	if op.params != nil {
		err = op.params.check(&in, op.c.plainVisit)
	} else {
		err = openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
			Request: req, PathParams: pathParams, Route: op.noAuth, Options: &openapi3filter.Options{ExcludeRequestBody: true},
		})
	}
	if err == nil && op.body != nil {
		err = op.checkRequestBody(&in, &r)
	}
	if err != nil {
		return Request{}, &Error{Message: Message(err), Err: err}
	}
	return r, nil
}

// checkRequestBody checks the body against the operation's schema, as
// openapi3filter.ValidateRequestBody does, with the same errors, on the
// value already decoded.
func (op *Operation) checkRequestBody(in *requestInput, r *Request) error {
	body := op.body
	if len(r.Data) == 0 {
		if body.Required {
			return &openapi3filter.RequestError{Input: in.input(), RequestBody: body, Err: openapi3filter.ErrInvalidRequired}
		}
		return nil
	}
	req := in.req
	ct := req.Header.Get("Content-Type")
	mt := body.Content.Get(ct)
	if mt == nil || mt.Schema == nil || !isJSON(ct) {
		// Not a JSON body: kin-openapi knows the other media types.
		saved, savedGet, savedLen := req.Body, req.GetBody, req.ContentLength
		req.Body, req.GetBody, req.ContentLength = io.NopCloser(bytes.NewReader(r.Data)), nil, int64(len(r.Data))
		err := openapi3filter.ValidateRequestBody(req.Context(), in.input(), body)
		req.Body, req.GetBody, req.ContentLength = saved, savedGet, savedLen
		return err
	}
	opts := op.c.reqVisit
	defaultsSet := false
	if op.bodyDefaults {
		opts = append(opts[:len(opts):len(opts)], openapi3.DefaultsSet(func() { defaultsSet = true }))
	}
	if err := mt.Schema.Value.VisitJSON(r.Value, opts...); err != nil {
		return &openapi3filter.RequestError{Input: in.input(), RequestBody: body, Reason: "doesn't match schema" + schemaID(mt.Schema), Err: err}
	}
	if defaultsSet {
		// The schema's defaults were written into the value: the body
		// says so too, as kin-openapi rewrites it.
		data, err := jsonMarshal(r.Value)
		if err != nil {
			return &openapi3filter.RequestError{Input: in.input(), RequestBody: body, Reason: "rewriting failed", Err: err}
		}
		r.Data = data
	}
	return nil
}

// responseInput is what a response check's errors need, made only when
// one is returned or openapi3filter is called.
type responseInput struct {
	req    *http.Request
	params map[string]string
	route  *routers.Route
	status int
	header http.Header
	opts   *openapi3filter.Options
	in     *openapi3filter.ResponseValidationInput
}

func (r *responseInput) input() *openapi3filter.ResponseValidationInput {
	if r.in == nil {
		r.in = &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r.req, PathParams: r.params, Route: r.route},
			Status:                 r.status, Header: r.header, Options: r.opts,
		}
	}
	return r.in
}

// CheckResponse checks the answer to req, as openapi3filter.ValidateResponse
// does with IncludeResponseStatus: its status, then its headers, then its
// body, with the same errors.
func (op *Operation) CheckResponse(req *http.Request, pathParams map[string]string, status int, header http.Header, body []byte) error {
	in := responseInput{req: req, params: pathParams, route: op.route, status: status, header: header, opts: op.c.respOpts}
	resp, err := op.checkStatusAndHeaders(&in)
	if err != nil || resp == nil {
		return err
	}
	return op.checkResponseBody(&in, resp, body)
}

// checkStatusAndHeaders returns the document's response whose body the
// answer's must match, nil when ValidateResponse would not look at the
// body (HEAD, redirects and 304, an operation without responses).
func (op *Operation) checkStatusAndHeaders(in *responseInput) (*openapi3.Response, error) {
	switch in.status {
	case http.StatusNotModified, http.StatusPermanentRedirect, http.StatusTemporaryRedirect, http.StatusMovedPermanently:
		return nil, nil // never validated
	}
	responses := op.route.Operation.Responses
	if in.req.Method == http.MethodHead || responses.Len() == 0 {
		return nil, nil
	}
	ref := responses.Status(in.status)
	if ref == nil {
		ref = responses.Default()
	}
	if ref != nil && ref.Value != nil {
		if rh := op.headers[ref.Value]; rh != nil {
			if op.c.skipSchemas {
				return ref.Value, nil
			}
			return ref.Value, rh.check(in, op.c.plainVisit)
		}
	}
	if err := openapi3filter.ValidateResponse(in.req.Context(), in.input()); err != nil || ref == nil {
		return nil, err
	}
	return ref.Value, nil
}

// checkResponseBody checks the body against resp, the document's, as
// ValidateResponse does after the status and the headers.
func (op *Operation) checkResponseBody(in *responseInput, resp *openapi3.Response, body []byte) error {
	if len(resp.Content) == 0 {
		return nil // ValidateResponse has judged these
	}
	ct := in.header.Get("Content-Type")
	mt := resp.Content.Get(ct)
	if mt == nil {
		return &openapi3filter.ResponseError{Input: in.input(), Reason: fmt.Sprintf("response header Content-Type has unexpected value: %q", ct)}
	}
	if mt.Schema == nil || op.c.skipSchemas {
		return nil
	}
	if !isJSON(ct) {
		// Not JSON: kin-openapi knows the other media types.
		full := *in.input()
		full.Options = &openapi3filter.Options{IncludeResponseStatus: true}
		full.Body = io.NopCloser(bytes.NewReader(body))
		return openapi3filter.ValidateResponse(in.req.Context(), &full)
	}
	value, err := jsonvalue.Decode(body, op.c.intern)
	if err != nil {
		return &openapi3filter.ResponseError{Input: in.input(), Reason: "failed to decode response body",
			Err: &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}}
	}
	if err := mt.Schema.Value.VisitJSON(value, op.c.respVisit...); err != nil {
		return &openapi3filter.ResponseError{Input: in.input(), Reason: "response body doesn't match schema" + schemaID(mt.Schema), Err: err}
	}
	return nil
}

// CheckErrorBody checks an error answered outside every operation (a
// router's 404 or 405) against Options.ErrorSchema.
func (c *Contract) CheckErrorBody(body []byte) error {
	if c.errorSchema == nil {
		return errors.New("contract: no error schema")
	}
	value, err := jsonvalue.Decode(body, c.intern)
	if err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return c.errorSchema.VisitJSON(value, c.respVisit...)
}

// isJSON reports whether a Content-Type is JSON, as kin-openapi decides
// which body decoder to use.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
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

// hasDefaults reports whether a schema, or one within it, has a default.
func hasDefaults(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) bool {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return false
	}
	s := ref.Value
	seen[s] = true
	if s.Default != nil {
		return true
	}
	for _, p := range s.Properties {
		if hasDefaults(p, seen) {
			return true
		}
	}
	for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, x := range list {
			if hasDefaults(x, seen) {
				return true
			}
		}
	}
	return hasDefaults(s.Items, seen) || hasDefaults(s.Not, seen) || hasDefaults(s.AdditionalProperties.Schema, seen)
}
