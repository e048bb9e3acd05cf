package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// maxThrottledApps bounds the limiters kept; past it they start afresh,
// which only ever lets an app through sooner.
const maxThrottledApps = 10000

// throttle limits each app to a steady rate of requests with bursts, the way
// Graph throttles: past the limit, 429 with Retry-After.
type throttle struct {
	limit rate.Limit
	burst int

	mu   sync.Mutex
	apps map[string]*rate.Limiter
}

func newThrottle(perSecond float64, burst int) *throttle {
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &throttle{limit: rate.Limit(perSecond), burst: burst, apps: map[string]*rate.Limiter{}}
}

func (t *throttle) limiter(app string) *rate.Limiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.apps[app]
	if !ok {
		if len(t.apps) >= maxThrottledApps {
			clear(t.apps)
		}
		l = rate.NewLimiter(t.limit, t.burst)
		t.apps[app] = l
	}
	return l
}

// middleware runs after authentication: it keys the limit by the caller's app.
func (t *throttle) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := principalOf(c)
		if p == nil {
			return next(c)
		}
		// As Graph, per app and tenant.
		r := t.limiter(p.TenantID + "/" + p.AppID).Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			secs := int(math.Ceil(d.Seconds()))
			ge := newError(http.StatusTooManyRequests, "activityLimitReached",
				"The app '%s' sent more than %g requests per second; retry after %d seconds.", truncate(p.AppID, 100), float64(t.limit), secs)
			ge.header = map[string]string{"Retry-After": strconv.Itoa(secs)}
			return ge
		}
		return next(c)
	}
}
