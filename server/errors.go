package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

// graphError is an error answered with Graph's error body.
type graphError struct {
	status  int
	code    string
	message string
	header  map[string]string // extra response headers, such as Retry-After
	// fault marks an answer a fault plan asked for: not the server's
	// failure, so not logged as one.
	fault bool
}

func (e *graphError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

// with returns e answered with the header name: value too.
func (e *graphError) with(name, value string) *graphError {
	h := make(map[string]string, len(e.header)+1)
	for k, v := range e.header {
		h[k] = v
	}
	h[name] = value
	e.header = h
	return e
}

func newError(status int, code, format string, args ...any) *graphError {
	return &graphError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *graphError {
	return newError(http.StatusBadRequest, "invalidRequest", format, args...)
}

// Graph's codes for each status graphconn answers with. The one place where
// store.Kind and Echo's errors meet HTTP.
var (
	kindErrors = map[store.Kind]struct {
		status int
		code   string
	}{
		store.Invalid:            {http.StatusBadRequest, "invalidRequest"},
		store.NotFound:           {http.StatusNotFound, "itemNotFound"},
		store.Exist:              {http.StatusConflict, "nameAlreadyExists"},
		store.Conflict:           {http.StatusConflict, "notAllowed"},
		store.PreconditionFailed: {http.StatusPreconditionFailed, "resourceModified"},
		store.Unavailable:        {http.StatusServiceUnavailable, "serviceNotAvailable"},
		store.Full:               {http.StatusInsufficientStorage, "quotaLimitReached"},
		store.Internal:           {http.StatusInternalServerError, "generalException"},
	}
	statusCodes = map[int]string{
		http.StatusBadRequest:            "invalidRequest",
		http.StatusUnauthorized:          "InvalidAuthenticationToken",
		http.StatusForbidden:             "Authorization_RequestDenied",
		http.StatusNotFound:              "itemNotFound",
		http.StatusMethodNotAllowed:      "notSupported",
		http.StatusRequestEntityTooLarge: "requestEntityTooLarge",
		http.StatusUnsupportedMediaType:  "unsupportedMediaType",
		http.StatusServiceUnavailable:    "serviceNotAvailable",
	}
)

const internalMessage = "The server could not complete the request."

// retryAfter is what a 503 (or a 429 that says nothing else) asks clients
// to wait, in seconds.
const retryAfter = "1"

// toGraphError turns any error a handler or middleware returns into the
// Graph error to answer with.
func toGraphError(err error, r *http.Request) *graphError {
	var ge *graphError
	if errors.As(err, &ge) {
		return ge
	}
	var se *store.Error
	if errors.As(err, &se) {
		m := kindErrors[se.Kind]
		msg := se.Message
		if se.Kind == store.Internal {
			msg = internalMessage
		}
		ge = newError(m.status, m.code, "%s", msg)
		if se.Kind == store.Unavailable {
			ge.header = map[string]string{"Retry-After": retryAfter}
		}
		return ge
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return newError(he.Code, statusCodes[he.Code], "No resource exists at '%s'.", truncate(r.URL.EscapedPath(), 200))
		case http.StatusMethodNotAllowed:
			return newError(he.Code, statusCodes[he.Code], "The method '%s' is not supported on this resource.", truncate(r.Method, 20))
		}
		code, ok := statusCodes[he.Code]
		if !ok {
			code = "generalException"
		}
		msg, ok := he.Message.(string)
		if !ok || he.Code >= 500 {
			msg = http.StatusText(he.Code)
		}
		return newError(he.Code, code, "%s", msg)
	}
	return newError(http.StatusInternalServerError, "generalException", internalMessage)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// errorBody builds Graph's error body for the request in c.
func errorBody(c echo.Context, ge *graphError) gen.OdataError {
	ids := requestIDsOf(c)
	return gen.OdataError{Error: gen.OdataMainError{
		Code:    ge.code,
		Message: ge.message,
		InnerError: gen.OdataInnerError{
			Date:            time.Now().UTC().Truncate(time.Second),
			RequestId:       ids.request,
			ClientRequestId: ids.client,
		},
	}}
}

// handleError is Echo's HTTPErrorHandler: every error, from a handler, the
// validator, the router or a recovered panic, is answered here.
func handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ge := toGraphError(err, c.Request())
	if ge.status >= http.StatusInternalServerError && !ge.fault {
		loggerOf(c).Error("request failed", slog.Int("status", ge.status), slog.Any("error", err))
	}
	h := c.Response().Header()
	for k, v := range ge.header {
		h.Set(k, v)
	}
	// openapi.yaml requires Retry-After on every 429 and 503.
	if (ge.status == http.StatusTooManyRequests || ge.status == http.StatusServiceUnavailable) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", retryAfter)
	}
	if ge.status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", wwwAuthenticate)
	}
	if err := c.JSON(ge.status, errorBody(c, ge)); err != nil {
		loggerOf(c).Error("write error response", slog.Any("error", err))
	}
}
