package server

import (
	"bytes"
	"compress/gzip"
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

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
)

// validator checks every request against openapi.yaml before its handler
// runs, and every response before it is sent.
type validator struct {
	// routes maps "METHOD echo-path" (the path as Echo registered it, from
	// c.Path()) to the spec's operation, so nothing is routed twice.
	routes map[string]*route
	// outside holds the Echo paths served outside the Graph API (the docs):
	// neither validated nor buffered.
	outside     map[string]bool
	errorSchema *openapi3.Schema // Graph's error body, for answers outside any operation
	reqOpts     *openapi3filter.Options
	respOpts    *openapi3filter.Options
	maxBody     int64
	// skipSchemas turns off the checks of parameters and bodies against the
	// contract, both ways, for measuring what they cost; security, media
	// types, sizes and the JSON checks stay.
	skipSchemas bool
	// invalid, if not nil, is told of each request ("request") and each
	// response ("response") that breaks the contract.
	invalid func(c echo.Context, side string)
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
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func newValidator(spec *openapi3.T, maxBody int64, authn openapi3filter.AuthenticationFunc) (*validator, error) {
	v := &validator{
		routes:   map[string]*route{},
		outside:  map[string]bool{},
		reqOpts:  &openapi3filter.Options{AuthenticationFunc: authn},
		respOpts: &openapi3filter.Options{IncludeResponseStatus: true},
		maxBody:  maxBody,
	}
	ref := spec.Components.Schemas["odata.error"]
	if ref == nil {
		return nil, errors.New("openapi.yaml has no odata.error schema")
	}
	v.errorSchema = ref.Value
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
			v.routes[method+" "+echoPath] = &route{
				spec:     &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
				noAuth:   &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: &noAuth},
				security: security,
				query:    query,
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
	return v.routes[c.Request().Method+" "+c.Path()]
}

func pathParams(c echo.Context) map[string]string {
	names, values := c.ParamNames(), c.ParamValues()
	m := make(map[string]string, len(names))
	for i, n := range names {
		if i < len(values) {
			m[n] = values[i]
		}
	}
	return m
}

// requests validates the request against its operation: security first,
// then the body's media type, encoding and size, then parameters and body.
// The handler gets the body decompressed and already read.
func (v *validator) requests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rt := v.route(c)
		if rt == nil {
			return next(c) // the router answers 404 or 405
		}
		req := withAuthState(c.Request())
		c.SetRequest(req)
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams(c), Route: rt.spec, Options: v.reqOpts}
		if err := openapi3filter.ValidateSecurityRequirements(req.Context(), in, rt.security); err != nil {
			return authError(err)
		}
		if body := rt.spec.Operation.RequestBody; body != nil {
			data, err := v.readBody(req, body.Value)
			if err != nil {
				return err
			}
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			req.Body, _ = req.GetBody()
			req.ContentLength = int64(len(data))
			req.Header.Del("Content-Encoding")
		}
		for name := range req.URL.Query() {
			if strings.HasPrefix(name, "$") && !rt.query[name] {
				return badRequest("The query option '%s' is not supported on this resource.", truncate(name, 50))
			}
		}
		in.Route = rt.noAuth
		if v.skipSchemas {
			return next(c)
		}
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			if v.invalid != nil {
				v.invalid(c, "request")
			}
			return requestError(err)
		}
		return next(c)
	}
}

// readBody reads the request body, gunzipped when Content-Encoding says so
// (Graph's SDKs compress their bodies), up to the size limit.
func (v *validator) readBody(req *http.Request, body *openapi3.RequestBody) ([]byte, error) {
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
	data, err := io.ReadAll(io.LimitReader(r, v.maxBody+1))
	switch {
	case errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF):
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
	if len(data) > 0 {
		if err := checkJSON(data); err != nil {
			return nil, err
		}
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

var recorders = sync.Pool{New: func() any { return new(recorder) }}

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
		rec := recorders.Get().(*recorder)
		rec.header, rec.status = w.Header(), 0
		rec.body.Reset()
		defer recorders.Put(rec)
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
		if err := v.checkResponse(c, status, rec.header, body); err != nil {
			if v.invalid != nil {
				v.invalid(c, "response")
			}
			loggerOf(c).Error("response violates openapi.yaml; answering 500 instead",
				slog.Int("status", status), slog.String("violation", err.Error()))
			status, body = v.contractFailure(c)
		}
		h := w.Header()
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		res.Status, res.Size = status, int64(len(body))
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

func (v *validator) checkResponse(c echo.Context, status int, header http.Header, body []byte) error {
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
	return openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: pathParams(c), Route: rt.spec,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: v.respOpts,
	})
}
