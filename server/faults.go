package server

import (
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// faults injects the faults of the active plan, and enforces the
// Retry-After that its answers give. v.authenticate hands it the requests
// that passed authentication (it matches the caller's app), before the
// throttle and the request's checks: a fault, like Graph's throttling,
// comes before the body is read. Without a plan that costs a pointer load.
type faults struct {
	active   atomic.Pointer[activePlan]
	v        *validator
	log      *slog.Logger
	injected *prometheus.CounterVec // rule, fault
	early    *prometheus.CounterVec // operation
}

// activePlan is a plan being served: its rules' counts and the Retry-After
// deadlines given under it start afresh with each plan.
type activePlan struct {
	*FaultPlan
	rules  []ruleState
	loaded time.Time

	mu        sync.Mutex
	deadlines map[string]deadline // by tenant/app, method and path
	early     atomic.Uint64
}

type ruleState struct {
	*faultRule
	matched, fired atomic.Uint64
}

type deadline struct {
	at   time.Time
	secs int // the Retry-After that was given
}

// maxDeadlines bounds the Retry-After deadlines kept; past it the expired
// ones are dropped, and if none has expired, all of them.
const maxDeadlines = 100000

func newFaults(v *validator, log *slog.Logger, m *metrics) *faults {
	return &faults{v: v, log: log, injected: m.faultsInjected, early: m.earlyRetries}
}

// set makes p the active plan; nil removes it.
func (f *faults) set(p *FaultPlan) *activePlan {
	if p == nil {
		f.active.Store(nil)
		f.log.Info("faults plan removed")
		return nil
	}
	a := &activePlan{FaultPlan: p, rules: make([]ruleState, len(p.rules)), loaded: time.Now(), deadlines: map[string]deadline{}}
	for i, r := range p.rules {
		a.rules[i].faultRule = r
	}
	f.active.Store(a)
	f.log.Info("faults plan active", slog.Uint64("seed", p.seed), slog.Bool("random-seed", p.randomSeed),
		slog.Int("rules", len(p.rules)), slog.Bool("enforce-retry-after", p.enforce))
	return a
}

// errDropConnection asks v.responses to close the connection without an
// answer.
var errDropConnection = errors.New("fault: drop the connection")

const registrationKey = "graphconn.registrationFault"

// registrationFaultOf returns the registration fault a rule chose for the
// request, or nil.
func registrationFaultOf(c echo.Context) *registrationFault {
	rf, _ := c.Get(registrationKey).(*registrationFault)
	return rf
}

// request is what rules match of a request.
type request struct {
	method, operationID, path, app, connection string
	registration                               bool
}

// serve answers the request under the active plan a.
func (f *faults) serve(c echo.Context, a *activePlan, next echo.HandlerFunc) error {
	op := f.v.operation(c)
	p := principalOf(c)
	if op == nil || p == nil {
		return next(c)
	}
	req := c.Request()
	params := f.v.exchangeOf(c).params
	conn := params["externalConnectionId"]
	if conn == "" {
		conn = params["connectionsId"]
	}
	r := request{method: req.Method, operationID: op.ID, path: req.URL.Path, app: p.AppID, connection: conn,
		registration: req.Method == http.MethodPatch && strings.HasSuffix(c.Path(), "/schema")}
	key := p.TenantID + "/" + p.AppID + " " + req.Method + " " + req.URL.Path

	if a.enforce {
		if d, ok := a.deadline(key); ok {
			left := time.Until(d.at)
			secs := int(math.Ceil(left.Seconds()))
			a.early.Add(1)
			f.early.WithLabelValues(op.ID).Inc()
			loggerOf(c).Warn("early retry", slog.String("app", p.AppID), slog.String("operation", op.ID),
				slog.String("path", req.URL.Path), slog.Int("retry-after", d.secs), slog.Duration("early", left))
			ge := newError(http.StatusTooManyRequests, "activityLimitReached",
				"The request was sent again before the Retry-After of %s it was given; retry after %s.", seconds(d.secs), seconds(secs))
			return ge.with("Retry-After", strconv.Itoa(secs))
		}
	}

	var delay time.Duration
	var answer *ruleState
	var reg *ruleState
	for i := range a.rules {
		rs := &a.rules[i]
		if !rs.matches(&r) {
			continue
		}
		n := rs.matched.Add(1)
		if !rs.fires(a.seed, uint64(i), n) {
			continue
		}
		rs.fired.Add(1)
		if !rs.latency.zero() {
			d := rs.latency.draw(unit(a.seed, uint64(i), n, 1), unit(a.seed, uint64(i), n, 2))
			delay += d
			f.count(c, rs, "latency", slog.Duration("latency", d))
		}
		if reg == nil && rs.registration != nil {
			reg = rs
		}
		if answer == nil && (rs.status != 0 || rs.drop != noDrop) {
			answer = rs
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			// Nobody reads the answer; it is no failure of the server's.
			ge := newError(http.StatusServiceUnavailable, "serviceNotAvailable", "The client went away during the latency of a fault plan.")
			ge.fault = true
			return ge
		}
	}
	if answer != nil {
		switch answer.drop {
		case dropBefore:
			f.count(c, answer, "drop")
			return errDropConnection
		case dropAfter:
			f.count(c, answer, "drop")
			_ = next(c)
			return errDropConnection
		}
		f.count(c, answer, strconv.Itoa(answer.status))
		ge := answer.graphError()
		if a.enforce && answer.retryAfter > 0 {
			a.setDeadline(key, answer.retryAfter)
		}
		return ge
	}
	if reg != nil {
		f.count(c, reg, "registration")
		c.Set(registrationKey, reg.registration)
	}
	err := next(c)
	if err != nil && a.enforce {
		// The throttle's 429 and the store's 503 give a Retry-After too.
		if ge := toGraphError(err, req); ge.header["Retry-After"] != "" {
			if secs, perr := strconv.Atoi(ge.header["Retry-After"]); perr == nil && secs > 0 {
				a.setDeadline(key, secs)
			}
		}
	}
	return err
}

// count counts and logs a fault of rule rs.
func (f *faults) count(c echo.Context, rs *ruleState, fault string, attrs ...slog.Attr) {
	f.injected.WithLabelValues(rs.name, fault).Inc()
	req := c.Request()
	attrs = append(attrs, slog.String("rule", rs.name), slog.String("fault", fault),
		slog.String("method", req.Method), slog.String("path", req.URL.Path))
	loggerOf(c).LogAttrs(req.Context(), slog.LevelInfo, "fault injected", attrs...)
}

func (a *activePlan) deadline(key string) (deadline, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.deadlines[key]
	if !ok {
		return deadline{}, false
	}
	if !time.Now().Before(d.at) {
		delete(a.deadlines, key)
		return deadline{}, false
	}
	return d, true
}

func (a *activePlan) setDeadline(key string, secs int) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.deadlines) >= maxDeadlines {
		for k, d := range a.deadlines {
			if !now.Before(d.at) {
				delete(a.deadlines, k)
			}
		}
		if len(a.deadlines) >= maxDeadlines {
			clear(a.deadlines)
		}
	}
	a.deadlines[key] = deadline{at: now.Add(time.Duration(secs) * time.Second), secs: secs}
}

// matches reports whether the rule applies to r.
func (rs *faultRule) matches(r *request) bool {
	if rs.registration != nil && !r.registration {
		return false
	}
	return anyOf(rs.methods, r.method, strings.EqualFold) &&
		anyOf(rs.operationIDs, r.operationID, func(a, b string) bool { return a == b }) &&
		anyOf(rs.appIDs, r.app, strings.EqualFold) &&
		anyOf(rs.connections, r.connection, func(a, b string) bool { return a == b }) &&
		(len(rs.paths) == 0 || anyPath(rs.paths, r.path))
}

// anyOf reports whether v equals one of list, or list is empty.
func anyOf(list []string, v string, eq func(a, b string) bool) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if eq(x, v) {
			return true
		}
	}
	return false
}

// anyPath reports whether p matches one of the patterns: each segment as
// path.Match does, a final ** any number of segments.
func anyPath(patterns [][]string, p string) bool {
	segs := strings.Split(p, "/")
	for _, pat := range patterns {
		if matchSegments(pat, segs) {
			return true
		}
	}
	return false
}

func matchSegments(pat, segs []string) bool {
	for i, s := range pat {
		if s == "**" {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if ok, _ := path.Match(s, segs[i]); !ok {
			return false
		}
	}
	return len(pat) == len(segs)
}

// fires says whether the rule acts on its n-th matching request (from 1).
func (rs *faultRule) fires(seed, rule, n uint64) bool {
	switch {
	case rs.first > 0:
		return n <= rs.first
	case rs.every > 0:
		return n%rs.every == 0
	case rs.rate > 0:
		return unit(seed, rule, n, 0) < rs.rate
	}
	return true
}

// graphError is the rule's answer.
func (rs *faultRule) graphError() *graphError {
	s := faultStatuses[rs.status]
	code, msg := rs.code, rs.msg
	if code == "" {
		code = s.code
	}
	if msg == "" {
		msg = s.message
		if s.retryAfter {
			msg = strings.Replace(msg, "%s", seconds(rs.retryAfter), 1)
		}
	}
	ge := newError(rs.status, code, "%s", msg)
	ge.fault = true
	if rs.retryAfter >= 0 {
		ge = ge.with("Retry-After", strconv.Itoa(rs.retryAfter))
	}
	return ge
}

// seconds writes n seconds in words.
func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// unit is a number in [0, 1) drawn from the seed for the n-th matching
// request of a rule; stream tells apart the draws of one request. It
// depends on nothing else, so that the draws of a rule do not depend on
// which goroutine asks first, or on the other rules.
func unit(seed, rule, n, stream uint64) float64 {
	x := splitmix(seed ^ splitmix(rule+1) ^ splitmix(n<<2|stream))
	return float64(x>>11) / (1 << 53)
}

// splitmix is SplitMix64's finalizer.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// dropConnection closes the connection of w without an answer: hijacked
// and closed on HTTP/1, the stream reset on HTTP/2 (which net/http does
// for a handler that panics with http.ErrAbortHandler).
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// The admin endpoint of the fault plan, outside the Graph API.
const (
	faultsPath = "/_graphconn/faults"
	// AdminTokenHeader carries the admin token; a Graph token, in
	// Authorization, never opens the admin endpoint.
	AdminTokenHeader = "Graphconn-Admin-Token"
	maxPlanBytes     = 1 << 20
)

// faultsState is the admin endpoint's view of the active plan.
type faultsState struct {
	Active            bool         `json:"active"`
	Seed              *uint64      `json:"seed,omitempty"`
	EnforceRetryAfter *bool        `json:"enforceRetryAfter,omitempty"`
	Loaded            *time.Time   `json:"loaded,omitempty"`
	EarlyRetries      uint64       `json:"earlyRetries"`
	Rules             []faultsRule `json:"rules"`
	Plan              string       `json:"plan,omitempty"`
}

type faultsRule struct {
	Name    string `json:"name"`
	Line    int    `json:"line"`
	Matched uint64 `json:"matched"`
	Fired   uint64 `json:"fired"`
}

func (a *activePlan) state() faultsState {
	if a == nil {
		return faultsState{Rules: []faultsRule{}}
	}
	st := faultsState{Active: true, Seed: &a.seed, EnforceRetryAfter: &a.enforce, Loaded: &a.loaded,
		EarlyRetries: a.early.Load(), Plan: string(a.source), Rules: make([]faultsRule, len(a.rules))}
	for i := range a.rules {
		rs := &a.rules[i]
		st.Rules[i] = faultsRule{Name: rs.name, Line: rs.line, Matched: rs.matched.Load(), Fired: rs.fired.Load()}
	}
	return st
}

// registerAdmin serves the admin endpoint when token is set: GET the plan
// and its counts, PUT a new plan (YAML or JSON; its counts and deadlines
// start afresh), DELETE it. It returns the paths it registered.
func (f *faults) registerAdmin(e *echo.Echo, token string) []string {
	if token == "" {
		return nil
	}
	guard := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			got := c.Request().Header.Get(AdminTokenHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				ge := newError(http.StatusUnauthorized, "InvalidAuthenticationToken",
					"The admin endpoint needs the admin token in the %s header; a Graph token does not open it.", AdminTokenHeader)
				return ge.with("WWW-Authenticate", `GraphconnAdmin realm="graphconn admin"`)
			}
			return next(c)
		}
	}
	e.GET(faultsPath, func(c echo.Context) error {
		return c.JSON(http.StatusOK, f.active.Load().state())
	}, guard)
	e.PUT(faultsPath, func(c echo.Context) error {
		data, err := io.ReadAll(io.LimitReader(c.Request().Body, maxPlanBytes+1))
		if err != nil {
			return badRequest("The plan could not be read.")
		}
		if len(data) > maxPlanBytes {
			return newError(http.StatusRequestEntityTooLarge, "requestEntityTooLarge", "The plan is larger than %d bytes.", maxPlanBytes)
		}
		p, err := ParseFaultPlan(data)
		if err != nil {
			return badRequest("The fault plan is malformed: %s", truncate(err.Error(), 1000))
		}
		return c.JSON(http.StatusOK, f.set(p).state())
	}, guard)
	e.DELETE(faultsPath, func(c echo.Context) error {
		f.set(nil)
		return c.NoContent(http.StatusNoContent)
	}, guard)
	return []string{faultsPath}
}
