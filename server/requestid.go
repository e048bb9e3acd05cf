package server

import (
	"log/slog"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

const (
	idsKey    = "graphconn.ids"
	loggerKey = "graphconn.logger"
)

type requestIDs struct {
	request uuid.UUID
	client  string
}

// withRequestIDs gives every request a new request-id and answers it, with
// the client's client-request-id (or, as Graph does, the request-id when the
// client sent none), on every response. Log lines of the request carry both.
func withRequestIDs(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := uuid.New()
			ids := requestIDs{request: id, client: c.Request().Header.Get("client-request-id")}
			if ids.client == "" {
				ids.client = id.String()
			}
			h := c.Response().Header()
			h.Set("request-id", id.String())
			h.Set("client-request-id", ids.client)
			c.Set(idsKey, ids)
			c.Set(loggerKey, log.With(slog.String("request-id", id.String()), slog.String("client-request-id", ids.client)))
			return next(c)
		}
	}
}

func requestIDsOf(c echo.Context) requestIDs {
	ids, _ := c.Get(idsKey).(requestIDs)
	return ids
}

func loggerOf(c echo.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
