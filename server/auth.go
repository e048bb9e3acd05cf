package server

import (
	"errors"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/auth"
)

// wwwAuthenticate is the challenge Graph sends with a 401.
const wwwAuthenticate = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`

// authenticator enforces the security requirements of openapi.yaml: its
// authenticate is kin-openapi's AuthenticationFunc, so the permissions each
// operation needs are declared once, as the scopes of the graphAuth scheme.
type authenticator struct {
	verifier *auth.Verifier
}

// authState caches the verified token of one request: kin-openapi calls
// authenticate once per alternative requirement, and a signature is worth
// checking once. It lives in the request's exchange (validate.go).
type authState struct {
	done      bool
	principal *auth.Principal
	err       error
}

// authenticate is the middleware that lets through only the requests that
// meet one of their operation's security requirements, and puts their
// caller in the request's context (see principalOf). It runs before the
// throttle, which counts by caller, and before the body is read. When a
// fault plan is active, it hands the request to it (faults.go): within this
// middleware, so that without a plan the faults cost one pointer load, and
// not a middleware of their own, which Echo would wrap anew per request.
func (v *validator) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		op := v.operation(c)
		if op == nil {
			return next(c)
		}
		x := v.exchangeOf(c)
		x.auth = authState{}
		req := c.Request()
		if err := op.CheckSecurity(req.Context(), req, x.params, &x.authOpts); err != nil {
			return authError(err)
		}
		if p := x.auth.principal; p != nil {
			c.SetRequest(req.WithContext(auth.NewContext(req.Context(), p)))
		}
		if a := v.faults.active.Load(); a != nil {
			return v.faults.serve(c, a, next)
		}
		return next(c)
	}
}

// principalOf returns the caller of a request that passed authentication.
func principalOf(c echo.Context) *auth.Principal {
	return auth.FromContext(c.Request().Context())
}

var (
	errInsufficient = newError(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	errPersonal     = newError(http.StatusForbidden, "Authorization_RequestDenied",
		"Personal Microsoft accounts are not supported by this API; use a work or school account.")
)

// authenticate is the AuthenticationFunc of a request whose state is st.
func (a *authenticator) authenticate(st *authState, in *openapi3filter.AuthenticationInput) error {
	if !st.done {
		req := in.RequestValidationInput.Request
		st.principal, st.err = a.verifier.FromHeader(req.Context(), req.Header)
		st.done = true
	}
	if st.err != nil {
		var ae *auth.Error
		if !errors.As(st.err, &ae) {
			return st.err
		}
		ge := newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "%s", ae.Reason)
		if !ae.Empty {
			ge.header = map[string]string{"WWW-Authenticate": wwwAuthenticate + `, error="invalid_token"`}
		}
		return ge
	}
	p := st.principal
	if p.Personal() {
		return errPersonal
	}
	for _, scope := range in.Scopes {
		if !p.Has(scope) {
			return errInsufficient
		}
	}
	return nil
}

// authError picks the answer to a request that met none of the operation's
// security requirements: the token's own failure (401) before a missing
// permission (403).
func authError(err error) error {
	var se *openapi3filter.SecurityRequirementsError
	if !errors.As(err, &se) {
		return err
	}
	var best *graphError
	for _, e := range se.Errors {
		var ge *graphError
		if errors.As(e, &ge) && (best == nil || ge.status < best.status) {
			best = ge
		}
	}
	if best == nil {
		return newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
	}
	return best
}

// ownerScope returns the app whose connections the caller may see and
// change, or "" for all: a caller that passed the security requirements
// with ExternalConnection.ReadWrite.OwnedBy alone is kept to the
// connections its own app created.
func ownerScope(c echo.Context) string {
	p := principalOf(c)
	if p == nil || p.Has("ExternalConnection.ReadWrite.All") ||
		(c.Request().Method == http.MethodGet && p.Has("ExternalConnection.Read.All")) {
		return ""
	}
	return p.AppID
}
