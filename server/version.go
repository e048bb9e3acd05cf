package server

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// Graph's versions: the prefix of a path, and the shape of its payloads.
// The unprefixed paths keep the early beta's shape (the seed's: errorDetail,
// microsoft.graph.* types); /v1.0 and /beta have today's (publicError,
// microsoft.graph.externalConnectors.* types, evolvable enums). A handler
// serves every version of its operation: the version picks the shape where
// a body is decoded and where one is written, nowhere else.
const (
	v1Prefix   = "/v1.0"
	betaPrefix = "/beta"
)

// versionPrefix is the version prefix of the request's path: "/v1.0",
// "/beta", or "" for the unprefixed paths.
func versionPrefix(c echo.Context) string {
	p := c.Path()
	switch {
	case strings.HasPrefix(p, v1Prefix+"/"):
		return v1Prefix
	case strings.HasPrefix(p, betaPrefix+"/"):
		return betaPrefix
	}
	return ""
}

// today reports whether the request takes and gets today's Graph shapes.
func today(c echo.Context) bool { return versionPrefix(c) != "" }

// shapeOf indexes what depends on the request's shape: 0 for the early
// beta's, 1 for today's.
func shapeOf(c echo.Context) int {
	if today(c) {
		return 1
	}
	return 0
}

// unknownEnumMembers reports whether the request asked, with Prefer:
// include-unknown-enum-members, for the members of evolvable enumerations
// that come after unknownFutureValue; without it they are written as
// unknownFutureValue, as Graph does.
func unknownEnumMembers(c echo.Context) bool {
	for _, h := range c.Request().Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "include-unknown-enum-members") {
				return true
			}
		}
	}
	return false
}
