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
// client sent none), on every response. Log lines of the request carry both.
func withRequestIDs(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := uuid.New()
			ids := &requestIDs{request: id, requestID: id.String(), client: c.Request().Header.Get("client-request-id"), log: log}
			if ids.client == "" {
				ids.client = ids.requestID
			}
			h := c.Response().Header()
			h["Request-Id"] = []string{ids.requestID}
			h["Client-Request-Id"] = []string{ids.client}
			c.Set(idsKey, ids)
			return next(c)
		}
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
