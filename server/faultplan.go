package server

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/graphconn/graphconn/store"
)

// A fault plan, written in YAML, says which requests get which of Graph's
// failures (README, "Faults on demand"):
//
//	seed: 42                  # the random choices; drawn (and logged) when absent
//	enforceRetryAfter: true   # the default
//	rules:
//	  - name: throttle item writes
//	    match: {method: PUT, path: /v1.0/external/connections/*/items/*, appId: ..., connection: ...}
//	    rate: 0.2             # or first: N, or every: N; every matching request when none
//	    status: 429           # 429, 500, 502, 503, 504 or 507, with Graph's body
//	    retryAfter: 2         # seconds, on 429 and 503 (default 1)
//	    latency: 200ms        # or {min: 50ms, max: 2s}, or {mean: 200ms, stddev: 50ms}
//	    drop: before          # or after (the handler runs, its answer is lost); true is before
//	    registration:         # schema registrations only: how the next one ends
//	      error: {code: ..., message: ..., target: ..., details: [{code, message, target}]}
//	      delay: 10m
//
// Each rule counts the requests it matches, whatever the other rules do,
// and decides from its own count, so that with the same seed the same
// sequence of requests meets the same faults.

// FaultPlan is a parsed fault plan; ParseFaultPlan makes one.
type FaultPlan struct {
	seed       uint64
	randomSeed bool // the plan named no seed
	enforce    bool // enforceRetryAfter
	rules      []*faultRule
	source     []byte
}

// Seed is the seed of the plan's random choices: the plan's, or one drawn
// at random when it names none.
func (p *FaultPlan) Seed() uint64 { return p.seed }

// Rules is how many rules the plan has.
func (p *FaultPlan) Rules() int { return len(p.rules) }

// faultStatuses are the statuses a rule may answer with, with Graph's code
// and message for each; those that carry Retry-After say so.
var faultStatuses = map[int]struct {
	code, message string
	retryAfter    bool
}{
	http.StatusTooManyRequests:     {"activityLimitReached", "The request has been throttled; retry after %s.", true},
	http.StatusInternalServerError: {"generalException", internalMessage, false},
	http.StatusBadGateway:          {"generalException", "The gateway received an invalid response from the service.", false},
	http.StatusServiceUnavailable:  {"serviceNotAvailable", "The service is temporarily unavailable; retry after %s.", true},
	http.StatusGatewayTimeout:      {"serviceNotAvailable", "The gateway timed out waiting for the service.", false},
	http.StatusInsufficientStorage: {"quotaLimitReached", "The storage quota has been reached.", false},
}

// faultRule is one rule of a plan.
type faultRule struct {
	name string
	line int
	// What it matches; an empty list matches anything.
	methods, operationIDs, appIDs, connections []string
	paths                                      [][]string // patterns, split at "/"
	// When it fires: one of these, or on every matching request.
	rate         float64
	first, every uint64
	// What it does.
	status       int
	code, msg    string
	retryAfter   int // seconds; -1 when the status carries none
	latency      latency
	drop         dropWhen
	registration *registrationFault
}

type dropWhen int

const (
	noDrop dropWhen = iota
	dropBefore
	dropAfter
)

// latency is a fixed delay (min == max, no stddev), uniform between min and
// max, or normal with mean and stddev (clipped at zero).
type latency struct {
	min, max     time.Duration
	mean, stddev time.Duration
}

func (l latency) zero() bool { return l == latency{} }

// draw returns the delay for the uniform numbers u and v in [0, 1).
func (l latency) draw(u, v float64) time.Duration {
	if l.stddev > 0 {
		// Box-Muller.
		z := math.Sqrt(-2*math.Log(1-u)) * math.Cos(2*math.Pi*v)
		return max(0, l.mean+time.Duration(z*float64(l.stddev)))
	}
	return l.min + time.Duration(u*float64(l.max-l.min))
}

// registrationFault is how a schema registration ends: failed with
// failure (when not nil) after delay (when set), instead of completed
// after the server's operation delay.
type registrationFault struct {
	failure  *store.ErrorDetail
	delay    time.Duration
	hasDelay bool
}

// ParseFaultPlan parses a fault plan. Its errors name the line at fault.
func ParseFaultPlan(data []byte) (*FaultPlan, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("line 1: the plan is empty; a plan with no rules is `rules: []`")
	}
	fields, err := mapping(doc.Content[0], "the plan", "seed", "enforceRetryAfter", "rules")
	if err != nil {
		return nil, err
	}
	p := &FaultPlan{enforce: true, source: data}
	if n := fields["seed"]; n != nil {
		if err := n.Decode(&p.seed); err != nil || n.Tag != "!!int" {
			return nil, errAt(n, "seed must be a whole number from 0 to %d", uint64(math.MaxUint64))
		}
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		p.seed, p.randomSeed = binary.LittleEndian.Uint64(b[:]), true
	}
	if n := fields["enforceRetryAfter"]; n != nil {
		if p.enforce, err = boolean(n, "enforceRetryAfter"); err != nil {
			return nil, err
		}
	}
	rules := fields["rules"]
	if rules == nil {
		return nil, errAt(doc.Content[0], "the plan has no rules; a plan with no rules is `rules: []`")
	}
	if rules.Kind != yaml.SequenceNode {
		return nil, errAt(rules, "rules must be a list of rules")
	}
	ops, err := operationIDs()
	if err != nil {
		return nil, err
	}
	names := map[string]int{} // the line of each rule's name
	for i, n := range rules.Content {
		r, err := parseRule(n, i, ops)
		if err != nil {
			return nil, err
		}
		// Each rule's metrics are labelled with its name.
		if line, ok := names[r.name]; ok {
			return nil, errAt(n, "another rule is named %q, on line %d", r.name, line)
		}
		names[r.name] = n.Line
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// operationIDs are the operationIds of the embedded openapi.yaml.
var operationIDs = sync.OnceValues(func() (map[string]bool, error) {
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			ids[op.OperationID] = true
		}
	}
	return ids, nil
})

var ruleFields = []string{"name", "match", "rate", "first", "every", "status", "code", "message", "retryAfter", "latency", "drop", "registration"}

func parseRule(n *yaml.Node, i int, ops map[string]bool) (*faultRule, error) {
	r := &faultRule{name: fmt.Sprintf("rule %d", i+1), line: n.Line, retryAfter: -1}
	fields, err := mapping(n, r.name, ruleFields...)
	if err != nil {
		return nil, err
	}
	label := r.name
	if f := fields["name"]; f != nil {
		if r.name, err = str(f, "name", 100); err != nil {
			return nil, err
		}
		label = fmt.Sprintf("rule %q", r.name)
	}
	in := func(err error) error { return fmt.Errorf("%w (in %s)", err, label) }
	if f := fields["match"]; f != nil {
		if err := r.parseMatch(f, ops); err != nil {
			return nil, in(err)
		}
	}

	var when []*yaml.Node
	if f := fields["rate"]; f != nil {
		when = append(when, f)
		if err := f.Decode(&r.rate); err != nil || f.Kind != yaml.ScalarNode || !(r.rate > 0 && r.rate <= 1) {
			return nil, in(errAt(f, "rate must be a number above 0 and at most 1, the fraction of matching requests"))
		}
	}
	for _, k := range []string{"first", "every"} {
		f := fields[k]
		if f == nil {
			continue
		}
		when = append(when, f)
		var v uint64
		if err := f.Decode(&v); err != nil || f.Tag != "!!int" || v == 0 {
			return nil, in(errAt(f, "%s must be a whole number of at least 1", k))
		}
		if k == "first" {
			r.first = v
		} else {
			r.every = v
		}
	}
	if len(when) > 1 {
		return nil, in(errAt(when[1], "a rule has one of rate, first and every, not several"))
	}

	if f := fields["status"]; f != nil {
		if err := f.Decode(&r.status); err != nil || f.Tag != "!!int" {
			r.status = -1
		}
		if _, ok := faultStatuses[r.status]; !ok {
			return nil, in(errAt(f, "status must be one of 429, 500, 502, 503, 504 and 507, not %s", f.Value))
		}
		if faultStatuses[r.status].retryAfter {
			r.retryAfter = 1
		}
	}
	if f := fields["retryAfter"]; f != nil {
		if r.retryAfter < 0 {
			return nil, in(errAt(f, "retryAfter goes with status 429 or 503, which Graph sends it with"))
		}
		if err := f.Decode(&r.retryAfter); err != nil || f.Tag != "!!int" || r.retryAfter < 0 || r.retryAfter > 86400 {
			return nil, in(errAt(f, "retryAfter must be a whole number of seconds from 0 to 86400"))
		}
	}
	for _, k := range []string{"code", "message"} {
		f := fields[k]
		if f == nil {
			continue
		}
		if r.status == 0 {
			return nil, in(errAt(f, "%s goes with a status", k))
		}
		limit := 128
		if k == "message" {
			limit = 4096
		}
		v, err := str(f, k, limit)
		if err != nil {
			return nil, in(err)
		}
		if k == "code" {
			r.code = v
		} else {
			r.msg = v
		}
	}
	if f := fields["latency"]; f != nil {
		if r.latency, err = parseLatency(f); err != nil {
			return nil, in(err)
		}
	}
	if f := fields["drop"]; f != nil {
		switch {
		case f.Kind == yaml.ScalarNode && (f.Value == "before" || f.Tag == "!!bool" && f.Value == "true"):
			r.drop = dropBefore
		case f.Kind == yaml.ScalarNode && f.Value == "after":
			r.drop = dropAfter
		case f.Kind == yaml.ScalarNode && f.Tag == "!!bool" && f.Value == "false":
		default:
			return nil, in(errAt(f, "drop must be before (or true), after or false"))
		}
		if r.drop != noDrop && r.status != 0 {
			return nil, in(errAt(f, "a rule answers with a status or drops the connection, not both"))
		}
	}
	if f := fields["registration"]; f != nil {
		if r.status != 0 || r.drop != noDrop {
			return nil, in(errAt(f, "a registration fault lets the registration through: it cannot go with a status or drop"))
		}
		if r.registration, err = parseRegistration(f); err != nil {
			return nil, in(err)
		}
	}
	if r.status == 0 && r.drop == noDrop && r.registration == nil && r.latency.zero() {
		return nil, errAt(n, "%s does nothing: give it a status, latency, drop or registration", label)
	}
	return r, nil
}

var faultMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func (r *faultRule) parseMatch(n *yaml.Node, ops map[string]bool) error {
	fields, err := mapping(n, "match", "method", "operationId", "path", "appId", "connection")
	if err != nil {
		return err
	}
	for k, f := range fields {
		list, err := strs(f, k)
		if err != nil {
			return err
		}
		switch k {
		case "method":
			for i, m := range list {
				list[i] = strings.ToUpper(m)
				if !slices.Contains(faultMethods, list[i]) {
					return errAt(f, "method %q is none of openapi.yaml's (%s)", m, strings.Join(faultMethods, ", "))
				}
			}
			r.methods = list
		case "operationId":
			for _, id := range list {
				if !ops[id] {
					return errAt(f, "operationId %q is not in openapi.yaml", id)
				}
			}
			r.operationIDs = list
		case "path":
			for _, p := range list {
				segs := strings.Split(p, "/")
				if !strings.HasPrefix(p, "/") {
					return errAt(f, "path %q must begin with /", p)
				}
				for i, s := range segs {
					if _, err := path.Match(s, ""); err != nil || (s == "**" && i != len(segs)-1) {
						return errAt(f, "path %q is not a pattern: * matches one segment, a final /** the rest", p)
					}
				}
				r.paths = append(r.paths, segs)
			}
		case "appId":
			r.appIDs = list
		case "connection":
			r.connections = list
		}
	}
	return nil
}

func parseLatency(n *yaml.Node) (latency, error) {
	const what = "latency must be a duration (250ms), {min: 50ms, max: 2s} or {mean: 200ms, stddev: 50ms}"
	if n.Kind == yaml.ScalarNode {
		d, err := duration(n, "latency")
		if err != nil {
			return latency{}, errAt(n, what)
		}
		return latency{min: d, max: d}, nil
	}
	fields, err := mapping(n, "latency", "min", "max", "mean", "stddev")
	if err != nil {
		return latency{}, err
	}
	var l latency
	for k, f := range fields {
		d, err := duration(f, k)
		if err != nil {
			return latency{}, err
		}
		switch k {
		case "min":
			l.min = d
		case "max":
			l.max = d
		case "mean":
			l.mean = d
		case "stddev":
			l.stddev = d
		}
	}
	switch {
	case fields["min"] != nil && fields["max"] != nil && fields["mean"] == nil && fields["stddev"] == nil:
		if l.max < l.min {
			return latency{}, errAt(fields["max"], "latency's max is below its min")
		}
	case fields["mean"] != nil && fields["stddev"] != nil && fields["min"] == nil && fields["max"] == nil:
	default:
		return latency{}, errAt(n, what)
	}
	return l, nil
}

func parseRegistration(n *yaml.Node) (*registrationFault, error) {
	fields, err := mapping(n, "registration", "error", "delay")
	if err != nil {
		return nil, err
	}
	rf := &registrationFault{}
	if f := fields["delay"]; f != nil {
		if rf.delay, err = duration(f, "delay"); err != nil {
			return nil, err
		}
		rf.hasDelay = true
	}
	if f := fields["error"]; f != nil {
		if rf.failure, err = parseFailure(f); err != nil {
			return nil, err
		}
	}
	if rf.failure == nil && !rf.hasDelay {
		return nil, errAt(n, "registration needs an error, a delay or both")
	}
	return rf, nil
}

// parseFailure reads a publicError: code, message, target and details.
func parseFailure(n *yaml.Node) (*store.ErrorDetail, error) {
	fields, err := mapping(n, "error", "code", "message", "target", "details")
	if err != nil {
		return nil, err
	}
	e := &store.ErrorDetail{Code: "generalException", Message: "Server error, something went wrong"}
	if f := fields["code"]; f != nil {
		if e.Code, err = str(f, "code", 128); err != nil {
			return nil, err
		}
	}
	if f := fields["message"]; f != nil {
		if e.Message, err = str(f, "message", 4096); err != nil {
			return nil, err
		}
	}
	if f := fields["target"]; f != nil {
		if e.Target, err = str(f, "target", 256); err != nil {
			return nil, err
		}
	}
	if f := fields["details"]; f != nil {
		if f.Kind != yaml.SequenceNode || len(f.Content) > 10 {
			return nil, errAt(f, "details must be a list of at most 10 {code, message, target}")
		}
		for _, d := range f.Content {
			df, err := mapping(d, "a detail", "code", "message", "target")
			if err != nil {
				return nil, err
			}
			var detail store.InnerErrorDetail
			for k, v := range map[string]*string{"code": &detail.Code, "message": &detail.Message, "target": &detail.Target} {
				if df[k] == nil {
					continue
				}
				limit := 128
				switch k {
				case "message":
					limit = 4096
				case "target":
					limit = 256
				}
				if *v, err = str(df[k], k, limit); err != nil {
					return nil, err
				}
			}
			e.Details = append(e.Details, detail)
		}
	}
	return e, nil
}

// errAt is an error of the plan at n's line.
func errAt(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", n.Line, fmt.Sprintf(format, args...))
}

// mapping returns the fields of n, a mapping of what, refusing keys other
// than known and keys given twice.
func mapping(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "%s must be a mapping of %s", what, strings.Join(known, ", "))
	}
	fields := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			return nil, errAt(k, "unknown field %q in %s; known: %s", k.Value, what, strings.Join(known, ", "))
		}
		if fields[k.Value] != nil {
			return nil, errAt(k, "%q is given twice in %s", k.Value, what)
		}
		fields[k.Value] = n.Content[i+1]
	}
	return fields, nil
}

// str is n as a non-empty string of at most limit bytes.
func str(n *yaml.Node, what string, limit int) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" || len(n.Value) > limit {
		return "", errAt(n, "%s must be a string of 1 to %d characters", what, limit)
	}
	return n.Value, nil
}

// strs is n as a list of strings: one, or a list of them.
func strs(n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := str(n, what, 256)
		return []string{s}, err
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, errAt(n, "%s must be a string or a list of strings", what)
	}
	var out []string
	for _, c := range n.Content {
		s, err := str(c, what, 256)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func boolean(n *yaml.Node, what string) (bool, error) {
	var b bool
	if err := n.Decode(&b); err != nil || n.Tag != "!!bool" {
		return false, errAt(n, "%s must be true or false", what)
	}
	return b, nil
}

// duration is n as a Go duration of at most a day (250ms, 2s, 10m).
func duration(n *yaml.Node, what string) (time.Duration, error) {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d < 0 || d > 24*time.Hour {
		return 0, errAt(n, "%s must be a duration such as 250ms, 2s or 10m, at most 24h", what)
	}
	return d, nil
}
