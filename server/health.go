package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/graphconn/graphconn/store"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers can live in one process (as in the tests).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	invalid  *prometheus.CounterVec
	// faultsInjected and earlyRetries count the faults of a fault plan
	// (faults.go), by rule and fault, and the requests sent again before
	// their Retry-After, by operation.
	faultsInjected *prometheus.CounterVec
	earlyRetries   *prometheus.CounterVec
	// series caches the request counter and the latency histogram of each
	// (operation, status): WithLabelValues hashes its labels on every call.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	operation string
	status    int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func (m *metrics) seriesOf(op string, status int) *series {
	k := seriesKey{op, status}
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	s, _ := m.series.LoadOrStore(k, &series{
		requests: m.requests.WithLabelValues(op, strconv.Itoa(status)),
		latency:  m.latency.WithLabelValues(op),
	})
	return s.(*series)
}

func newMetrics(s store.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphconn_http_requests_total",
			Help: "API requests answered, by operationId of openapi.yaml (\"unmatched\" outside them) and status.",
		}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graphconn_http_request_duration_seconds",
			Help:    "Time to answer API requests, by operationId of openapi.yaml.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphconn_contract_violations_total",
			Help: "Requests (side=request) and responses (side=response) that broke openapi.yaml.",
		}, []string{"side"}),
		faultsInjected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphconn_faults_injected_total",
			Help: "Faults injected by the fault plan, by rule and fault (a status, drop, latency or registration).",
		}, []string{"rule", "fault"}),
		earlyRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphconn_faults_early_retries_total",
			Help: "Requests sent again before the Retry-After they were given, answered 429 again (under a fault plan), by operationId.",
		}, []string{"operation"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.invalid, m.faultsInjected, m.earlyRetries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "graphconn_background_queue_depth",
		Help: "Schema registrations waiting for the background worker; -1 when the store cannot say.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.PendingOperations(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	// Both sides always appear, at zero until something breaks the contract.
	m.invalid.WithLabelValues("request")
	m.invalid.WithLabelValues("response")
	return m
}

// observe counts every API request once its answer is final.
func (m *metrics) observe(v *validator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if v.outside[c.Path()] {
				return next(c)
			}
			start := time.Now()
			err := next(c)
			op := v.operationID(c)
			if op == "" {
				op = "unmatched"
			}
			s := m.seriesOf(op, c.Response().Status)
			s.requests.Inc()
			s.latency.Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// registerHealth serves the probes and the metrics, outside the Graph API:
// no token, no contract. It returns the paths it registered.
func registerHealth(e *echo.Echo, s store.Store, m *metrics) []string {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		// The connections table exists only once the migrations ran, and
		// reading it needs the database (the tenant "" has no rows to read).
		if _, _, err := s.Connections(ctx, "", "", store.Page{Limit: 1}); err != nil {
			loggerOf(c).Warn("not ready", "error", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})))
	return []string{"/healthz", "/readyz", "/metrics"}
}
