package server

import (
	"log/slog"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

const idsKey = "graphconn.ids"

func init() {
	// Request ids from a pool of randomness read 16 at a time, rather than
	// one read per request. They are identifiers, not secrets.
	uuid.EnableRandPool()
}

type requestIDs struct {
	request   uuid.UUID
	requestID string // request, formatted
	client    string
	log       *slog.Logger // the server's, without the ids
}

// withRequestIDs gives every request a new request-id and answers it, with
// the client's client-request-id (or, as Graph does, the request-id when the
// client sent none, or one that is not a sane token), on every response.
// Log lines of the request carry both.
//
// It also closes the connection after a request whose body came chunked:
// Go's server drops the Content-Length of a request that has both it and
// Transfer-Encoding, so such a request, which RFC 9112 6.1 says must close
// its connection, looks like any chunked one.
func withRequestIDs(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := uuid.New()
			r := c.Request()
			ids := &requestIDs{request: id, requestID: id.String(), client: r.Header.Get("client-request-id"), log: log}
			if !saneClientID(ids.client) {
				ids.client = ids.requestID
			}
			h := c.Response().Header()
			h["Request-Id"] = []string{ids.requestID}
			h["Client-Request-Id"] = []string{ids.client}
			if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
				h["Connection"] = []string{"close"}
			}
			c.Set(idsKey, ids)
			return next(c)
		}
	}
}

// maxClientIDLen bounds an echoed client-request-id; Graph's SDKs send a
// GUID, 36 characters.
const maxClientIDLen = 128

// saneClientID reports whether a client-request-id may be echoed, logged
// and put in error bodies as it is: 1 to maxClientIDLen letters, digits and
// . _ : -, which GUIDs and the usual trace ids are made of.
func saneClientID(s string) bool {
	if s == "" || len(s) > maxClientIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// oneAuthorization answers 400 to a request with more than one
// Authorization header, before authentication: which of them a proxy
// checked, and which one a server would, is anyone's guess.
func oneAuthorization(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().Header["Authorization"]) > 1 {
			return badRequest("The request has more than one Authorization header; send one.")
		}
		return next(c)
	}
}

func requestIDsOf(c echo.Context) *requestIDs {
	if ids, ok := c.Get(idsKey).(*requestIDs); ok {
		return ids
	}
	return &requestIDs{log: slog.Default()}
}

// idAttrs are the attributes that every log line of a request starts with.
func (ids *requestIDs) idAttrs() [2]slog.Attr {
	return [2]slog.Attr{slog.String("request-id", ids.requestID), slog.String("client-request-id", ids.client)}
}

// loggerOf returns the logger for the lines of the request in c, which
// carry its ids. (The access log line, written for every request, is
// written without it: see build.)
func loggerOf(c echo.Context) *slog.Logger {
	ids, ok := c.Get(idsKey).(*requestIDs)
	if !ok {
		return slog.Default()
	}
	a := ids.idAttrs()
	return ids.log.With(a[0], a[1])
}
