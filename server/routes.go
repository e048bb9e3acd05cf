package server

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/internal/contract"
)

// registerRoutes serves every operation of the contract with one handler.
// The generated interface has the operations of the unprefixed
// /external/connections family (gen/config.yaml); every other path of the
// same operation (the early beta's /connections/{connectionsId} family,
// and both families under /v1.0 and /beta) is routed to the same generated
// wrapper, and so to the same handler. The version picks the shape of the
// bodies at the edges (version.go).
func registerRoutes(e *echo.Echo, c *contract.Contract, si gen.ServerInterface) error {
	gen.RegisterHandlers(e, si)
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	w := reflect.ValueOf(&gen.ServerInterfaceWrapper{Handler: si})
	for _, op := range c.Operations() {
		path := echoPath(op.Path)
		if registered[op.Method+" "+path] {
			continue
		}
		canon, renames := canonicalPath(op.Path)
		cop := c.Operation(op.Method, canon)
		if cop == nil {
			// An operation that only the versions have is generated
			// under /v1.0 (beta's only ones, under /beta).
			cop = c.Operation(op.Method, v1Prefix+canon)
		}
		if cop == nil {
			return fmt.Errorf("openapi.yaml: %s %s has no operation %s %s to serve it", op.Method, op.Path, op.Method, canon)
		}
		m := w.MethodByName(methodName(cop.ID))
		if !m.IsValid() {
			return fmt.Errorf("gen: no handler %s for operationId %s", methodName(cop.ID), cop.ID)
		}
		h, ok := m.Interface().(func(echo.Context) error)
		if !ok {
			return fmt.Errorf("gen: %s is not an Echo handler", methodName(cop.ID))
		}
		e.Add(op.Method, path, renameParams(h, renames))
	}
	return nil
}

// canonicalPath is the path of the operation that serves path: without its
// version prefix, in the /external/connections family, actions by their
// qualified names; and the path parameters renamed on the way.
func canonicalPath(path string) (string, map[string]string) {
	for _, v := range []string{v1Prefix, betaPrefix} {
		if p, ok := strings.CutPrefix(path, v+"/"); ok {
			path = "/" + p
		}
	}
	// OData lets an action be called by its short name when that is
	// unambiguous, as Graph's documentation does.
	if rest, ok := strings.CutSuffix(path, "/addActivities"); ok {
		path = rest + "/microsoft.graph.externalConnectors.addActivities"
	}
	if rest, ok := strings.CutPrefix(path, "/connections/{connectionsId}"); ok {
		return "/external/connections/{externalConnectionId}" + rest, map[string]string{"connectionsId": "externalConnectionId"}
	}
	return path, nil
}

// renameParams gives h the path parameters under the names its operation
// binds them by.
func renameParams(h echo.HandlerFunc, renames map[string]string) echo.HandlerFunc {
	if len(renames) == 0 {
		return h
	}
	return func(c echo.Context) error {
		names := append([]string(nil), c.ParamNames()...)
		for i, n := range names {
			if to, ok := renames[n]; ok {
				names[i] = to
			}
		}
		c.SetParamNames(names...)
		return h(c)
	}
}

// echoPath writes an OpenAPI path as Echo routes it: /a/{b} is /a/:b.
func echoPath(path string) string { return pathParam.ReplaceAllString(path, ":$1") }

// methodName is the Go name oapi-codegen gives an operationId's handler:
// external.connections.GetSchema is ExternalConnectionsGetSchema.
func methodName(operationID string) string {
	var b strings.Builder
	upper := true
	for _, r := range operationID {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
