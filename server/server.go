// Package server is graphconn's HTTP layer: the handlers of the generated
// Echo interface, and the middleware around them: authentication, the
// throttle, the checks of every request and every response against
// openapi.yaml (internal/contract), and every error in Graph's shape.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/graphconn/graphconn"
	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/internal/contract"
	"github.com/graphconn/graphconn/store"
)

// DefaultMaxBodyBytes is the default limit on a request body, after
// decompression.
const DefaultMaxBodyBytes = 4 << 20

// DefaultOperationDelay is how long a schema registration stays in progress.
const DefaultOperationDelay = 2 * time.Second

// Config configures the server that New returns.
type Config struct {
	Store store.Store
	// Verifier checks bearer tokens; required.
	Verifier *auth.Verifier
	Logger   *slog.Logger
	// MaxBodyBytes bounds a request body, as sent and inflated;
	// DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// BodyBudgetBytes bounds the request body bytes held at once across
	// the server, past which requests wait, then get 503;
	// DefaultBodyBudgetBytes when zero.
	BodyBudgetBytes int64
	// OperationDelay is how long a schema registration stays in progress
	// before the background worker finishes it. Zero finishes it at once.
	OperationDelay time.Duration
	// RateLimit, when positive, limits each app to that many requests per
	// second, with bursts of RateBurst (at least one second's worth): past it,
	// 429 with Retry-After, as Graph throttles.
	RateLimit float64
	RateBurst int
	// NoValidation turns off the contract checks of parameters and bodies of
	// requests and responses: only for measuring what they cost.
	NoValidation bool
	// Notify, if not nil, is called when work for the background worker was
	// queued, so that it need not wait for its next poll.
	Notify func()
	// PublicURL is the scheme, host and optional path prefix of the absolute
	// URLs in responses (Location, @odata.context, @odata.nextLink), such as
	// https://graph.example.com. When empty, they name the local address of
	// the request's connection. The request's Host never counts, unless
	// it comes from a trusted proxy.
	PublicURL string
	// TrustedProxies are the IP addresses and CIDR ranges of the reverse
	// proxies whose Host, X-Forwarded-Proto, X-Forwarded-Host and Forwarded
	// headers may change the scheme and host of those URLs.
	TrustedProxies []string
	// MaxItemsPerConnection is how many items a connection holds at most:
	// a new item past it gets 507 (beta's quota counts down to it);
	// DefaultMaxItemsPerConnection when zero.
	MaxItemsPerConnection int64
	// Faults, if not nil, is the fault plan served from the start.
	Faults *FaultPlan
	// AdminToken, when set, opens the admin endpoint (/_graphconn/faults,
	// which sets the fault plan at run time) to requests that carry it in
	// the Graphconn-Admin-Token header. When it is empty and Faults is nil,
	// no fault is ever injected.
	AdminToken string
}

// Server implements the generated gen.ServerInterface.
type Server struct {
	store          store.Store
	operationDelay time.Duration
	notify         func()
	// What lists and $select need of each entity, in each shape: [0] the
	// early beta's, [1] today's (see shapeOf).
	operation, connection [2]entity
	betaConnection        entity // beta's shape of a connection has more
	// maxItems is Config.MaxItemsPerConnection; schemas are the
	// connections' registered schemas, compiled for checking items.
	maxItems int64
	schemas  itemSchemas
}

// entity is what lists and $select need of an entity type of openapi.yaml.
type entity struct {
	name string // the type's name, for messages
	// props are the properties that $select may name.
	props []string
	// page is the most entities a page holds, whatever $top says, so that
	// no page is larger than maxPageBytes: from openapi.yaml's bounds.
	page int
}

func newEntity(spec *openapi3.T, name string) (entity, error) {
	page, err := pageItems(spec, name)
	if err != nil {
		return entity{}, err
	}
	props, err := selectable(spec, name)
	return entity{name: name, props: props, page: page}, err
}

// maxPageBytes bounds the JSON of a page of a list (its entities; the
// annotations around them add a few kilobytes).
const maxPageBytes = 16 << 20

var _ gen.ServerInterface = (*Server)(nil)

// New returns the graphconn API as an http.Handler.
func New(cfg Config) (http.Handler, error) {
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	s := &Server{store: cfg.Store, operationDelay: cfg.OperationDelay, notify: cfg.Notify, maxItems: cfg.MaxItemsPerConnection}
	if s.maxItems <= 0 {
		s.maxItems = DefaultMaxItemsPerConnection
	}
	if s.notify == nil {
		s.notify = func() {}
	}
	for i, names := range [2][2]string{
		{operationTypeName, connectionTypeName},
		{graphOperationTypeName, graphConnectionTypeName},
	} {
		if s.operation[i], err = newEntity(spec, names[0]); err != nil {
			return nil, err
		}
		if s.connection[i], err = newEntity(spec, names[1]); err != nil {
			return nil, err
		}
	}
	if s.betaConnection, err = newEntity(spec, "beta."+graphConnectionTypeName); err != nil {
		return nil, err
	}
	return build(cfg, spec, func(e *echo.Echo, c *contract.Contract) error { return registerRoutes(e, c, s) })
}

// pageItems is how many entities of the named schema fit in maxPageBytes
// at their largest.
func pageItems(spec *openapi3.T, name string) (int, error) {
	ref := spec.Components.Schemas[name]
	if ref == nil {
		return 0, fmt.Errorf("openapi.yaml has no schema %s", name)
	}
	n, ok := contract.MaxJSONBytes(ref.Value)
	if !ok {
		return 0, fmt.Errorf("openapi.yaml does not bound the size of %s", name)
	}
	return int(max(1, maxPageBytes/n)), nil
}

// LoadSpec parses the embedded openapi.yaml, as written: its operationIds,
// descriptions and all (oapi-codegen's embedded copy renames operationIds).
func LoadSpec() (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(graphconn.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load embedded openapi.yaml: %w", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("embedded openapi.yaml is invalid: %w", err)
	}
	return spec, nil
}

// build assembles the middleware around the routes that register adds.
func build(cfg Config, spec *openapi3.T, register func(*echo.Echo, *contract.Contract) error) (*echo.Echo, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Verifier == nil {
		return nil, errors.New("server: Config.Verifier is required")
	}
	o, err := newOrigin(cfg.PublicURL, cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	checks, err := contract.New(spec, contract.Options{SkipSchemas: cfg.NoValidation, ErrorSchema: "odata.error"})
	if err != nil {
		return nil, err
	}
	if cfg.BodyBudgetBytes <= 0 {
		cfg.BodyBudgetBytes = DefaultBodyBudgetBytes
	}
	v := newValidator(checks, newBodyReader(cfg.MaxBodyBytes, cfg.BodyBudgetBytes), (&authenticator{verifier: cfg.Verifier}).authenticate)
	m := newMetrics(cfg.Store)
	v.invalid = func(_ echo.Context, side string) { m.invalid.WithLabelValues(side).Inc() }
	v.faults = newFaults(v, cfg.Logger, m)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = handleError
	log := cfg.Logger
	e.Use(
		withRequestIDs(log),
		m.observe(v),
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			LogMethod: true, LogURI: true, LogStatus: true, LogLatency: true,
			// The access log: one line per request, the hottest log call,
			// so its attributes are given at once (loggerOf would build a
			// logger per request).
			LogValuesFunc: func(c echo.Context, rv middleware.RequestLoggerValues) error {
				ids := requestIDsOf(c).idAttrs()
				log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", ids[0], ids[1],
					slog.String("method", rv.Method), slog.String("uri", rv.URI),
					slog.Int("status", rv.Status), slog.Duration("latency", rv.Latency))
				return nil
			},
		}),
		v.responses,
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisableErrorHandler: true, // the error goes back to v.responses, which renders it
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				loggerOf(c).Error("panic", slog.Any("error", err), slog.String("stack", string(stack)))
				return err
			},
		}),
		oneAuthorization,
		o.middleware,
		// Then the fault plan's faults, if a plan is active (faults.go).
		v.authenticate,
	)
	if cfg.Faults != nil {
		v.faults.set(cfg.Faults)
	}
	if cfg.RateLimit > 0 {
		e.Use(newThrottle(cfg.RateLimit, cfg.RateBurst).middleware)
	}
	e.Use(v.requests)
	if err := register(e, checks); err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode openapi.yaml as JSON: %w", err)
	}
	outside := append(registerDocs(e, specJSON), registerHealth(e, cfg.Store, m)...)
	for _, p := range append(outside, v.faults.registerAdmin(e, cfg.AdminToken)...) {
		v.outside[p] = true
	}
	return e, nil
}

// visible returns NotFound, worded as for a connection that does not
// exist, when the caller may not see connection connID. The store keeps
// every tenant to its own connections; this keeps an OwnedBy caller to its
// app's.
func (s *Server) visible(c echo.Context, connID string) error {
	owner := ownerScope(c)
	if owner == "" {
		return nil
	}
	conn, err := s.store.Connection(c.Request().Context(), tenantOf(c), connID)
	if err != nil {
		return err
	}
	if conn.Owner != owner {
		return store.ConnectionNotFound(connID)
	}
	return nil
}

// tenantOf returns the caller's tenant, in the canonical form the Verifier
// gives it: every connection, operation and schema that a request reaches
// is the tenant's.
func tenantOf(c echo.Context) string {
	if p := principalOf(c); p != nil {
		return p.TenantID
	}
	return ""
}
