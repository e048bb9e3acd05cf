package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3filter"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/internal/contract"
)

// validator is the contract's Echo middleware: it finds the operation of
// each request, has the contract check the request before its handler runs
// and the response before a byte of it is sent.
type validator struct {
	contract *contract.Contract
	// routes maps a method and an Echo path (as Echo registered it, from
	// c.Path()) to the contract's operation, so nothing is routed twice.
	routes map[string]map[string]*contract.Operation
	// outside holds the Echo paths served outside the Graph API (the docs,
	// the probes): neither validated nor buffered.
	outside   map[string]bool
	exchanges sync.Pool
	bodies    *bodyReader
	authn     func(*authState, *openapi3filter.AuthenticationInput) error
	// invalid, if not nil, is told of each request ("request") and each
	// response ("response") that breaks the contract.
	invalid func(c echo.Context, side string)
	// faults injects the faults of the active fault plan, if any, into
	// the requests that passed authentication.
	faults *faults
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func newValidator(c *contract.Contract, bodies *bodyReader, authn func(*authState, *openapi3filter.AuthenticationInput) error) *validator {
	v := &validator{
		contract: c,
		routes:   map[string]map[string]*contract.Operation{},
		outside:  map[string]bool{},
		bodies:   bodies,
		authn:    authn,
		faults:   &faults{}, // no plan, until build gives it its own
	}
	v.exchanges.New = func() any { return v.newExchange() }
	for _, op := range c.Operations() {
		if v.routes[op.Method] == nil {
			v.routes[op.Method] = map[string]*contract.Operation{}
		}
		v.routes[op.Method][echoPath(op.Path)] = op
	}
	return v
}

// operation returns the contract's operation of the request, or nil
// outside them.
func (v *validator) operation(c echo.Context) *contract.Operation {
	return v.routes[c.Request().Method][c.Path()]
}

// operationID names the operation of the request, or "" outside them.
func (v *validator) operationID(c echo.Context) string {
	if op := v.operation(c); op != nil {
		return op.ID
	}
	return ""
}

// exchange is what the middleware keeps of one request, pooled: the
// buffered response, the path parameters, the caller, and the body.
type exchange struct {
	recorder
	// params are the path parameters, when haveParams; the map is kept
	// from request to request.
	params     map[string]string
	haveParams bool
	auth       authState
	// authOpts carry an AuthenticationFunc that keeps its result in auth.
	authOpts openapi3filter.Options
	body     contract.Request
	// bodyBuf holds the request body when it is small enough.
	bodyBuf []byte
}

const exchangeKey = "graphconn.exchange"

func (v *validator) newExchange() *exchange {
	x := &exchange{bodyBuf: make([]byte, 0, 4<<10)}
	x.authOpts.AuthenticationFunc = func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		return v.authn(&x.auth, in)
	}
	return x
}

// exchangeOf returns the request's exchange, made by v.responses (or here,
// when a test leaves that out), with the path parameters.
func (v *validator) exchangeOf(c echo.Context) *exchange {
	x, _ := c.Get(exchangeKey).(*exchange)
	if x == nil {
		x = v.newExchange()
		c.Set(exchangeKey, x)
	}
	if !x.haveParams {
		x.params, x.haveParams = pathParams(c, x.params), true
	}
	return x
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

// requestBody returns the request's body as the contract checked it.
func requestBody(c echo.Context) contract.Request {
	if x, _ := c.Get(exchangeKey).(*exchange); x != nil {
		return x.body
	}
	return contract.Request{}
}

// decodeBody decodes the request's body, checked against the contract,
// into v, a generated type. encoding/json/v2's decoder matches names as
// the contract does (exactly), and allocates less than v1's.
func decodeBody(c echo.Context, v any) error {
	if err := jsonv2.Unmarshal(requestBody(c).Data, v); err != nil {
		return badRequest("The request body is not valid JSON.")
	}
	return nil
}

// requests checks the request against its operation: the body's media
// type, encoding and size, OData's system query options, then the
// contract's parameters and body. The handler gets the body decompressed
// and already read, through requestBody.
func (v *validator) requests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := v.operation(c)
		if op == nil {
			return next(c) // the router answers 404 or 405
		}
		x := v.exchangeOf(c)
		req := c.Request()
		if req.URL.RawQuery != "" {
			query, err := url.ParseQuery(req.URL.RawQuery)
			if err != nil {
				return badRequest("The query string is malformed: %s.", truncate(err.Error(), 200))
			}
			for name := range query {
				if strings.HasPrefix(name, "$") && !op.QueryParameter(name) {
					return badRequest("The query option '%s' is not supported on this resource.", truncate(name, 50))
				}
			}
		}
		var data []byte
		if op.Body() {
			var release func()
			var err error
			data, release, err = v.bodies.read(req, op, x.bodyBuf[:0])
			defer release()
			if err != nil {
				return err
			}
			req.Header.Del("Content-Encoding")
		}
		body, err := op.CheckRequest(req, x.params, data)
		if err != nil {
			if v.invalid != nil {
				v.invalid(c, "request")
			}
			return badRequest("%s", err.Error()) // the contract's message for the client
		}
		x.body = body
		return next(c)
	}
}

// recorder buffers a response so that it can be checked before a byte of
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
// (it renders them itself), checks it against the contract, and sends it
// only if it holds. A response that breaks the contract is logged and
// replaced by a 500.
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
		x.haveParams = false
		c.Set(exchangeKey, x)
		res.Writer = rec

		if err := next(c); errors.Is(err, errDropConnection) {
			// A fault: no answer at all, and no status to log or count.
			res.Writer = w
			res.Status, res.Size = 0, 0
			x.body, x.auth = contract.Request{}, authState{}
			dropConnection(w)
			return nil
		} else if err != nil {
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
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(status)
		res.Status, res.Size = status, int64(len(body))
		// Nothing may keep the pooled exchange's body or caller.
		x.body, x.auth = contract.Request{}, authState{}
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
// contract: only the request ids (and Connection: close) survive of the
// original headers.
func (v *validator) contractFailure(c echo.Context) (int, []byte) {
	h := c.Response().Writer.Header()
	for k := range h {
		if !slices.Contains([]string{"Request-Id", "Client-Request-Id", "Connection"}, k) {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/json")
	ge := newError(http.StatusInternalServerError, "generalException", internalMessage)
	body, _ := json.Marshal(errorBody(c, ge))
	return ge.status, body
}

func (v *validator) checkResponse(c echo.Context, status int, header http.Header, body []byte) error {
	req := c.Request()
	op := v.operation(c)
	if op != nil {
		// exchangeOf: the path parameters, if the request half did not run.
		return op.CheckResponse(req, v.exchangeOf(c).params, status, header, body)
	}
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
	return v.contract.CheckErrorBody(body)
}
