// Command driver runs graphconn's load benchmark; bench/run.sh builds what
// it needs and starts it. It starts graphconn (SQLite, and PostgreSQL when
// --postgres names a database), with and without validation, and the bare
// Echo ceiling, all at once on loopback ports; drives each in turn with wrk
// and bench/load.lua, round after round so that a change in the machine's
// load falls on all of them alike; and prints a Markdown report.
//
// Every measured response must be 200: wrk counts the answers outside 2xx
// and 3xx itself, and the driver reads graphconn's access log to check that
// every request on the benchmark's operation was answered 200. Any other
// status, or any socket error, fails the run.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	bin, ceiling, lua, wrk string
	postgres               string
	duration, warmup       time.Duration
	probe                  time.Duration
	rounds, conns, threads int
	startups               int
	strict                 bool
	startupOnly, patchOnly bool
	serverEnv              []string
	variants               []build
}

// build is a graphconn binary under test.
type build struct {
	label string // "" for --bin
	bin   string
	env   []string
	// prefix goes before the path of the PATCH, as "/v1.0": the same
	// operation on another version's path.
	prefix string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "bin/graphconn", "the graphconn binary")
	flag.StringVar(&cfg.ceiling, "ceiling", "bin/bench-ceiling", "the ceiling binary (bench/ceiling)")
	flag.StringVar(&cfg.lua, "lua", "bench/load.lua", "the wrk script")
	flag.StringVar(&cfg.wrk, "wrk", "wrk", "the wrk binary")
	flag.StringVar(&cfg.postgres, "postgres", os.Getenv("GRAPHCONN_TEST_POSTGRES"), "PostgreSQL URL; each server gets a fresh schema in it (env GRAPHCONN_TEST_POSTGRES; empty: SQLite only)")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of one measured run")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "length of the warm-up run of each workload")
	flag.DurationVar(&cfg.probe, "probe", 2*time.Second, "length of each run that looks for half the saturating load")
	flag.IntVar(&cfg.rounds, "rounds", 5, "measured runs of each workload")
	flag.IntVar(&cfg.conns, "conns", 64, "wrk connections for the saturating runs")
	flag.IntVar(&cfg.threads, "threads", 2, "wrk threads")
	flag.IntVar(&cfg.startups, "startups", 5, "start-ups timed per server kind")
	flag.BoolVar(&cfg.strict, "strict", false, "have wrk's script check every status itself (slower load generator)")
	flag.BoolVar(&cfg.startupOnly, "startup-only", false, "only time the start-ups")
	flag.BoolVar(&cfg.patchOnly, "patch-only", false, "measure only the ceiling and each server's validated PATCH at saturation (for comparing variants)")
	flag.Func("variant", "another graphconn binary (or the same with another environment) whose validated PATCH on SQLite is measured in the same rounds: LABEL=PATH [NAME=VALUE...] (environment after the path); repeatable", func(v string) error {
		label, rest, ok := strings.Cut(v, "=")
		f := strings.Fields(rest)
		if !ok || label == "" || len(f) == 0 {
			return errors.New("want LABEL=PATH [NAME=VALUE...]")
		}
		cfg.variants = append(cfg.variants, build{label: label, bin: f[0], env: f[1:]})
		return nil
	})
	flag.Func("path-variant", "the -bin binary's validated PATCH on SQLite under another version's path, measured in the same rounds: LABEL=PREFIX (e.g. v1.0=/v1.0); repeatable", func(v string) error {
		label, prefix, ok := strings.Cut(v, "=")
		if !ok || label == "" || !strings.HasPrefix(prefix, "/") {
			return errors.New("want LABEL=/PREFIX")
		}
		cfg.variants = append(cfg.variants, build{label: label, prefix: prefix}) // bin: -bin, once parsed
		return nil
	})
	flag.Func("server-env", "an environment variable NAME=VALUE for graphconn (e.g. GOGC=400, to measure a proposal); repeatable", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want NAME=VALUE")
		}
		cfg.serverEnv = append(cfg.serverEnv, v)
		return nil
	})
	flag.Parse()
	for i := range cfg.variants {
		if cfg.variants[i].bin == "" {
			cfg.variants[i].bin = cfg.bin // a -path-variant
		}
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
}

// server is one process under test.
type server struct {
	name    string // "graphconn SQLite", "graphconn SQLite, no validation", "ceiling"...
	build   build
	store   string // "sqlite", "postgres", "" for the ceiling
	valid   bool
	cmd     *exec.Cmd
	base    string
	dir     string
	logPath string
	schema  string // PostgreSQL schema to drop at the end
	startup time.Duration
	token   string
	opPath  string
	// itemsPath is where PUT workloads create items: the items of the
	// connection, and the beginning of their ids; runs makes each run's
	// ids new.
	itemsPath string
	runs      int
	ingesting bool // the server of the PUT workload
	items     int  // the items its access log shows created
	// userToken is a user's, for the search workloads of the ingesting
	// server; searched counts the items it held when they ran.
	userToken string
	searched  int
}

// workload is one row of the report.
type workload struct {
	srv    *server
	method string
	conns  int
	runs   []result
	half   bool // the half-load run of a PATCH workload
	target float64
}

func (w *workload) label() string {
	what := w.method + " operation"
	switch {
	case w.srv.store == "" && w.method == "PUT":
		what = "ceiling (no-op Echo handler), PUT of a new ~1 KB item"
	case w.srv.store == "":
		what = "ceiling (no-op Echo handler), " + w.method
	case w.method == "PUT":
		what = "PUT of a new ~1 KB item (checked against the schema)"
	case strings.HasPrefix(w.method, "SEARCH") && w.half:
		what = fmt.Sprintf("search of %s word(s), 25 hits, at about half load (-c %d)", w.method[len("SEARCH"):], w.conns)
	case strings.HasPrefix(w.method, "SEARCH"):
		what = fmt.Sprintf("search of %s word(s), 25 hits", w.method[len("SEARCH"):])
	case w.half:
		what = fmt.Sprintf("PATCH at about half load (-c %d)", w.conns)
	}
	return what
}

type result struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	P50        int64   `json:"p50_us"`
	P90        int64   `json:"p90_us"`
	P99        int64   `json:"p99_us"`
	Max        int64   `json:"max_us"`
	Strict     bool    `json:"strict"`
	Non200     int64   `json:"non200"`
	Non2xx3xx  int64   `json:"non2xx3xx"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Timeout    int64   `json:"timeout"`
	others     float64 // CPU used by other processes during the run, in cores
	serverCPU  float64 // CPU used by the server (and PostgreSQL), in cores
}

func (r result) rps() float64 { return float64(r.Requests) / (float64(r.DurationUS) / 1e6) }

// roundOrder is the order of the workloads in a round: as given in even
// rounds; in odd ones, each server's PATCH with validation swaps places
// with the PATCH without, which runs right after it. The validation cost
// is taken from these pairs, round by round: measured next to each other,
// and first one then the other first (ABBA), the machine's drift falls on
// both sides alike instead of on one.
func roundOrder(ws []*workload, round int) []*workload {
	out := slices.Clone(ws)
	if round%2 == 0 {
		return out
	}
	for i := 0; i+1 < len(out); i++ {
		a, b := out[i], out[i+1]
		if a.method == "PATCH" && b.method == "PATCH" && !a.half && !b.half &&
			a.srv.valid && !b.srv.valid && a.srv.store == b.srv.store && a.srv.build.label == b.srv.build.label {
			out[i], out[i+1] = b, a
			i++
		}
	}
	return out
}

func run(cfg config) (err error) {
	for _, p := range []string{cfg.bin, cfg.ceiling, cfg.lua} {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "graphconn-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(tmp)
		} else {
			progress("kept the servers' data and logs in %s", tmp)
		}
	}()

	main := build{bin: cfg.bin}
	report := &bytes.Buffer{}
	host, _ := os.Hostname()
	fmt.Fprintf(report, "Run %s on %s: %s, %d CPUs, %s RAM, Linux %s; %s; load average at start %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cpuModel(), runtime.NumCPU(), memTotal(), kernel(),
		runtime.Version(), loadavg())
	fmt.Fprintf(report, "Disk: a 4 KiB write and fsync in the data directory's file system takes %s (median, worst of 50). CPU pressure (PSI, some avg60) at start: %s.\n\n",
		fsyncLatency(tmp), pressure("cpu"))
	if len(cfg.serverEnv) > 0 {
		fmt.Fprintf(report, "graphconn ran with %s in its environment.\n\n", strings.Join(cfg.serverEnv, " "))
	}
	for _, b := range cfg.variants {
		fmt.Fprintf(report, "Variant %q: %s %s.\n\n", b.label, b.bin, strings.Join(b.env, " "))
	}
	fmt.Fprintf(report, "wrk -t %d, -c %d for saturation; %d runs of %s per workload after a %s warm-up, taken round-robin across the servers.\n\n",
		cfg.threads, cfg.conns, cfg.rounds, cfg.duration, cfg.warmup)

	// Start-up to ready, each from a fresh data directory (or schema).
	startups := map[string][]time.Duration{}
	kinds := []struct{ name, store string }{{"ceiling", ""}, {"graphconn, SQLite", "sqlite"}}
	if cfg.postgres != "" {
		kinds = append(kinds, struct{ name, store string }{"graphconn, PostgreSQL", "postgres"})
	}
	for _, k := range kinds {
		for i := range cfg.startups {
			s, err := start(cfg, main, tmp, k.store, true, fmt.Sprintf("startup-%s-%d", k.store, i))
			if err != nil {
				return err
			}
			startups[k.name] = append(startups[k.name], s.startup)
			if err := s.stop(cfg); err != nil {
				return err
			}
		}
		progress("start-up of %s: %v", k.name, startups[k.name])
	}
	if cfg.startupOnly {
		return nil
	}

	// The servers under test, all running for the whole benchmark.
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop(cfg)
		}
	}()
	ceiling, err := start(cfg, main, tmp, "", true, "ceiling")
	if err != nil {
		return err
	}
	servers = append(servers, ceiling)
	stores := []string{"sqlite"}
	if cfg.postgres != "" {
		stores = append(stores, "postgres")
	}
	type target struct {
		build   build
		store   string
		variant bool // measured on the validated PATCH only
	}
	var targets []target
	for _, st := range stores {
		targets = append(targets, target{main, st, false})
	}
	for _, b := range cfg.variants {
		targets = append(targets, target{b, "sqlite", true})
	}
	workloads := []*workload{{srv: ceiling, method: "PATCH", conns: cfg.conns}}
	var ingest []*workload // each store's PUT of items, on a server of its own
	if !cfg.patchOnly {
		workloads = append(workloads, &workload{srv: ceiling, method: "PUT", conns: cfg.conns})
	}
	var patches []*workload
	for i, t := range targets {
		st := t.store
		only := cfg.patchOnly || t.variant
		var gets []*workload // after both PATCHes, which stay next to each other
		for _, valid := range []bool{true, false} {
			if !valid && only {
				continue
			}
			s, err := start(cfg, t.build, tmp, st, valid, fmt.Sprintf("%d-%s-%t", i, st, valid))
			if err != nil {
				return err
			}
			servers = append(servers, s)
			if err := s.setup(); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			w := &workload{srv: s, method: "PATCH", conns: cfg.conns}
			workloads = append(workloads, w)
			if valid && !only {
				patches = append(patches, w)
				gets = append(gets, &workload{srv: s, method: "GET", conns: cfg.conns})
			}
		}
		workloads = append(workloads, gets...)
		if only {
			continue
		}
		// Bulk ingestion, on a server of its own, so that the items it
		// holds weigh on no other workload (nor on their peak RSS).
		s, err := start(cfg, t.build, tmp, st, true, fmt.Sprintf("%d-%s-items", i, st))
		if err != nil {
			return err
		}
		s.name += ", ingesting"
		s.ingesting = true
		servers = append(servers, s)
		if err := s.setup(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		ingest = append(ingest, &workload{srv: s, method: "PUT", conns: cfg.conns})
	}
	workloads = append(workloads, ingest...)

	// The ceiling gets the very same requests as graphconn.
	ceiling.token, ceiling.opPath, ceiling.itemsPath = servers[1].token, servers[1].opPath, benchItemsPath
	for _, w := range workloads {
		progress("warm-up: %s, %s", w.srv.name, w.label())
		if _, err := drive(cfg, w.srv, w.method, w.conns, cfg.warmup); err != nil {
			return err
		}
	}
	for round := range cfg.rounds {
		for _, w := range roundOrder(workloads, round) {
			r, err := drive(cfg, w.srv, w.method, w.conns, cfg.duration)
			if err != nil {
				return err
			}
			progress("round %d: %-32s %-28s %8.0f req/s  p50 %5.2f ms  p99 %6.2f ms  others' CPU %.2f cores",
				round+1, w.srv.name, w.label(), r.rps(), ms(r.P50), ms(r.P99), r.others)
			progress("round %d: %-32s server CPU %.1f µs per request", round+1, w.srv.name, r.serverCPU/r.rps()*1e6)
			w.runs = append(w.runs, r)
		}
	}

	// About half the saturating load: wrk keeps a fixed number of requests
	// in flight, so fewer connections offer less load. Probe for the most
	// connections whose rate stays within 55% of the saturating rate (one
	// connection if even that is more).
	var halves []*workload
	for _, p := range patches {
		h, err := halfLoad(cfg, p)
		if err != nil {
			return err
		}
		halves = append(halves, h)
	}
	for round := range cfg.rounds {
		for _, h := range halves {
			r, err := drive(cfg, h.srv, h.method, h.conns, cfg.duration)
			if err != nil {
				return err
			}
			progress("round %d: %-32s %-28s %8.0f req/s  p50 %5.2f ms  p99 %6.2f ms  others' CPU %.2f cores",
				round+1, h.srv.name, h.label(), r.rps(), ms(r.P50), ms(r.P99), r.others)
			h.runs = append(h.runs, r)
		}
	}

	// Search over what the ingesting servers hold (topped up to
	// minSearchItems): saturated, then at about half load, for one word
	// and for two.
	var searches []*workload
	for _, w := range ingest {
		s := w.srv
		n, err := s.ingested()
		if err != nil {
			return err
		}
		for n < minSearchItems {
			progress("%s holds %d items: more, up to %d, before searching", s.name, n, minSearchItems)
			if _, err := drive(cfg, s, "PUT", cfg.conns, cfg.duration); err != nil {
				return err
			}
			if n, err = s.ingested(); err != nil {
				return err
			}
		}
		s.searched = n
		for _, m := range []string{"SEARCH1", "SEARCH2"} {
			sat := &workload{srv: s, method: m, conns: cfg.conns}
			if _, err := drive(cfg, s, m, cfg.conns, cfg.warmup); err != nil {
				return err
			}
			for round := range cfg.rounds {
				r, err := drive(cfg, s, m, cfg.conns, cfg.duration)
				if err != nil {
					return err
				}
				progress("round %d: %-32s %-28s %8.0f req/s  p50 %5.2f ms  p99 %6.2f ms  others' CPU %.2f cores",
					round+1, s.name, sat.label(), r.rps(), ms(r.P50), ms(r.P99), r.others)
				sat.runs = append(sat.runs, r)
			}
			h, err := halfLoad(cfg, sat)
			if err != nil {
				return err
			}
			for round := range cfg.rounds {
				r, err := drive(cfg, s, m, h.conns, cfg.duration)
				if err != nil {
					return err
				}
				progress("round %d: %-32s %-28s %8.0f req/s  p50 %5.2f ms  p99 %6.2f ms  others' CPU %.2f cores",
					round+1, s.name, h.label(), r.rps(), ms(r.P50), ms(r.P99), r.others)
				h.runs = append(h.runs, r)
			}
			searches = append(searches, sat, h)
		}
	}

	rss := map[*server]float64{}
	wal := map[*server]float64{} // MiB: the WAL file of SQLite's ingesting servers after the searches
	for _, s := range servers {
		rss[s] = vmHWM(s.cmd.Process.Pid)
		if s.ingesting && s.store == "sqlite" {
			if fi, err := os.Stat(filepath.Join(s.dir, "graphconn.db-wal")); err == nil {
				wal[s] = float64(fi.Size()) / (1 << 20)
			}
		}
	}
	checked := map[*server]string{}
	for _, s := range servers {
		if err := s.stop(cfg); err != nil {
			return err
		}
		if s.store != "" {
			n, abandoned, err := s.checkLog()
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			checked[s] = fmt.Sprintf("%d requests on the benchmark's operation, every one answered 200 (and %d abandoned by wrk at the end of a run)", n, abandoned)
			if s.ingesting {
				checked[s] = fmt.Sprintf("%d PUTs of new items, every one answered 200 (and %d abandoned by wrk at the end of a run)", n, abandoned)
				if mib, ok := wal[s]; ok {
					checked[s] += fmt.Sprintf("; its WAL file held %.1f MiB after the searches", mib)
				}
				s.items = n
			}
		}
	}

	// The report.
	fmt.Fprintln(report, "| server | workload | req/s (median) | spread (min–max) | × ceiling | p50 | p99 (median, worst) | server CPU per request | others' CPU | peak RSS |")
	fmt.Fprintln(report, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	ratio := func(w *workload) float64 {
		ceilingRuns := workloads[0].runs
		for _, c := range workloads {
			if c.srv == ceiling && c.method == w.method {
				ceilingRuns = c.runs // the ceiling's answer to the same requests
			}
		}
		if w.half || len(w.runs) != len(ceilingRuns) {
			return median(rates(w.runs)) / median(rates(ceilingRuns))
		}
		// Round by round, so that a change in load cancels out.
		var rs []float64
		for i, r := range w.runs {
			rs = append(rs, r.rps()/ceilingRuns[i].rps())
		}
		return median(rs)
	}
	for _, w := range append(append(workloads, halves...), searches...) {
		rs := rates(w.runs)
		p50s, p99s, others := lat(w.runs, func(r result) int64 { return r.P50 }), lat(w.runs, func(r result) int64 { return r.P99 }), []float64{}
		var cpus []float64 // µs of the server's CPU per request
		for _, r := range w.runs {
			others = append(others, r.others)
			cpus = append(cpus, r.serverCPU/r.rps()*1e6)
		}
		fmt.Fprintf(report, "| %s | %s | %.0f | %.0f–%.0f | %.2f | %.2f ms | %.2f ms, %.2f ms | %.1f µs | %.2f cores | %.1f MiB |\n",
			w.srv.name, w.label(), median(rs), slices.Min(rs), slices.Max(rs), ratio(w),
			median(p50s), median(p99s), slices.Max(p99s), median(cpus), median(others), rss[w.srv])
	}
	fmt.Fprintln(report)
	if cfg.startups > 0 {
		fmt.Fprintln(report, "| server | start-up to ready (median, worst of", cfg.startups, ") |")
		fmt.Fprintln(report, "|---|---:|")
	}
	for _, k := range kinds {
		d := startups[k.name]
		if len(d) == 0 {
			continue
		}
		fs := make([]float64, len(d))
		for i := range d {
			fs[i] = float64(d[i].Microseconds()) / 1000
		}
		fmt.Fprintf(report, "| %s | %.1f ms, %.1f ms |\n", k.name, median(fs), slices.Max(fs))
	}
	fmt.Fprintln(report)
	for _, s := range servers {
		if n, ok := checked[s]; ok {
			fmt.Fprintf(report, "- %s: its access log holds %s.\n", s.name, n)
		}
	}
	fmt.Fprintln(report)

	// The targets.
	fmt.Fprintln(report, "| target | measured | met |")
	fmt.Fprintln(report, "|---|---:|:---:|")
	verdict := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	find := func(b build, store string, valid bool, method string) *workload {
		for _, w := range workloads {
			if w.srv.build.label == b.label && w.srv.store == store && w.srv.valid == valid && w.method == method {
				return w
			}
		}
		return nil
	}
	for _, t := range targets {
		on, off := find(t.build, t.store, true, "PATCH"), find(t.build, t.store, false, "PATCH")
		r := ratio(on)
		switch {
		case t.variant:
			fmt.Fprintf(report, "| %s: validated PATCH / ceiling (a variant, for comparison) | %.2f× | – |\n", on.srv.name, r)
		case t.store == "sqlite":
			fmt.Fprintf(report, "| %s: validated, durable PATCH ≥ 0.40× ceiling | %.2f× | %s |\n", on.srv.name, r, verdict(r >= 0.40))
		default:
			fmt.Fprintf(report, "| %s: validated PATCH / ceiling (no target) | %.2f× | – |\n", on.srv.name, r)
		}
		if off == nil {
			continue // -patch-only
		}
		var cost []float64
		for i := range on.runs {
			cost = append(cost, 1-on.runs[i].rps()/off.runs[i].rps())
		}
		c := median(cost)
		// The same cost in the server's CPU per request, which the
		// machine's noise moves less than a run's throughput.
		var cpuCost []float64
		for i := range on.runs {
			cpuCost = append(cpuCost, 1-(off.runs[i].serverCPU/off.runs[i].rps())/(on.runs[i].serverCPU/on.runs[i].rps()))
		}
		fmt.Fprintf(report, "| %s: validation costs ≤ 20%% of PATCH throughput | %.0f%% (%.0f%% to %.0f%%; of the server's CPU per request: %.0f%%) | %s |\n",
			on.srv.name, 100*c, 100*slices.Min(cost), 100*slices.Max(cost), 100*median(cpuCost), verdict(c <= 0.20))
	}
	for _, w := range ingest {
		r := ratio(w)
		if w.srv.store == "sqlite" {
			fmt.Fprintf(report, "| %s: validated, durable PUT of new ~1 KB items ≥ 0.30× ceiling (its PUT) | %.2f× | %s |\n", w.srv.name, r, verdict(r >= 0.30))
		} else {
			fmt.Fprintf(report, "| %s: validated PUT of new items / ceiling (no target) | %.2f× | – |\n", w.srv.name, r)
		}
	}
	for _, h := range searches {
		if !h.half {
			continue
		}
		p99 := median(lat(h.runs, func(r result) int64 { return r.P99 }))
		if h.srv.store == "sqlite" {
			fmt.Fprintf(report, "| %s: %s over %d items: p99 < 20 ms | p50 %.2f ms, p99 %.2f ms (%.0f req/s) | %s |\n", h.srv.name, h.label(), h.srv.searched,
				median(lat(h.runs, func(r result) int64 { return r.P50 })), p99, median(rates(h.runs)), verdict(p99 < 20))
		} else {
			fmt.Fprintf(report, "| %s: %s over %d items (no target) | p50 %.2f ms, p99 %.2f ms (%.0f req/s) | – |\n", h.srv.name, h.label(), h.srv.searched,
				median(lat(h.runs, func(r result) int64 { return r.P50 })), p99, median(rates(h.runs)))
		}
	}
	for _, h := range halves {
		p99 := median(lat(h.runs, func(r result) int64 { return r.P99 }))
		fmt.Fprintf(report, "| %s: p99 < 5 ms at about half load (%.0f req/s, %.0f%% of saturation) | %.2f ms | %s |\n",
			h.srv.name, median(rates(h.runs)), 100*median(rates(h.runs))/(2*h.target), p99, verdict(p99 < 5))
	}
	for _, s := range servers {
		switch {
		case s.ingesting:
			fmt.Fprintf(report, "| %s: peak RSS < 150 MiB after %d items | %.1f MiB | %s |\n", s.name, s.items, rss[s], verdict(rss[s] < 150))
		case s.store != "":
			fmt.Fprintf(report, "| %s: peak RSS < 100 MiB | %.1f MiB | %s |\n", s.name, rss[s], verdict(rss[s] < 100))
		}
	}
	for _, k := range kinds[1:] {
		if len(startups[k.name]) == 0 {
			continue // -startups 0
		}
		d := slices.Max(startups[k.name])
		fmt.Fprintf(report, "| %s: start-up to ready < 200 ms (worst of %d) | %.1f ms | %s |\n",
			k.name, cfg.startups, float64(d.Microseconds())/1000, verdict(d < 200*time.Millisecond))
	}
	fmt.Fprintf(report, "\nLoad average at the end: %s; CPU pressure (PSI, some avg60): %s.\n", loadavg(), pressure("cpu"))
	_, err = os.Stdout.Write(report.Bytes())
	return err
}

// start starts a server and waits until it answers HTTP; startup is the time
// from exec to that first answer.
func start(cfg config, b build, tmp, store string, valid bool, id string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &server{build: b, store: store, valid: valid, base: "http://" + addr, dir: filepath.Join(tmp, id)}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return nil, err
	}
	var argv []string
	ready := "/"
	switch store {
	case "":
		s.name = "ceiling"
		argv = []string{cfg.ceiling, "--addr", addr}
	default:
		s.name = "graphconn " + map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[store]
		if b.label != "" {
			s.name = b.label + ": " + s.name
		}
		argv = []string{b.bin, "serve", "--addr", addr, "--data-dir", s.dir}
		if store == "postgres" {
			dsn, schema, err := freshSchema(cfg.postgres, id)
			if err != nil {
				return nil, err
			}
			s.schema = schema
			argv = append(argv, "--db", dsn)
		}
		if !valid {
			s.name += ", no validation"
			argv = append(argv, "--no-validation")
		}
		ready = "/openapi.yaml"
	}
	s.logPath = filepath.Join(s.dir, "server.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if store != "" {
		s.cmd.Env = append(append(os.Environ(), cfg.serverEnv...), b.env...)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	for {
		resp, err := client.Get(s.base + ready)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.startup = time.Since(t0)
				return s, nil
			}
		}
		if time.Since(t0) > 10*time.Second {
			s.cmd.Process.Kill()
			s.cmd.Wait()
			log, _ := os.ReadFile(s.logPath)
			return nil, fmt.Errorf("%s did not answer within 10s (last error %v); its log:\n%s", s.name, err, log)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop stops the server with SIGTERM, as an operator would.
func (s *server) stop(cfg config) error {
	if s.cmd == nil || s.cmd.ProcessState != nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		err = <-done
	}
	if s.schema != "" {
		if out, perr := exec.Command("psql", cfg.postgres, "-q", "-v", "ON_ERROR_STOP=1", "-c",
			"DROP SCHEMA "+s.schema+" CASCADE").CombinedOutput(); perr != nil {
			return fmt.Errorf("drop schema %s: %v: %s", s.schema, perr, out)
		}
		s.schema = ""
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && s.store == "" {
		return nil // the ceiling does not handle SIGTERM
	}
	return err
}

// freshSchema creates a new schema and returns the URL whose search_path
// names it.
func freshSchema(dsn, id string) (string, string, error) {
	schema := fmt.Sprintf("graphconn_bench_%d_%s", os.Getpid(), strings.NewReplacer("-", "_").Replace(id))
	if out, err := exec.Command("psql", dsn, "-q", "-v", "ON_ERROR_STOP=1", "-c", "CREATE SCHEMA "+schema).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("create schema %s: %v: %s", schema, err, out)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", fmt.Errorf("--postgres: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// setup mints a token and creates the connection and the operation that
// the load works on, over HTTP.
func (s *server) setup() error {
	out, err := exec.Command(s.build.bin, "token", "--data-dir", s.dir, "--app-id", "bench",
		"--roles", "ExternalConnection.ReadWrite.All,ExternalItem.ReadWrite.All").Output()
	if err != nil {
		return fmt.Errorf("graphconn token: %w", err)
	}
	s.token = strings.TrimSpace(string(out))
	if _, err := s.call("POST", "/external/connections", `{"id":"bench","name":"Bench","description":"Load benchmark"}`, http.StatusCreated); err != nil {
		return err
	}
	body, err := s.call("POST", "/external/connections/bench/operations", `{}`, http.StatusCreated)
	if err != nil {
		return err
	}
	var op struct{ ID string }
	if err := json.Unmarshal(body, &op); err != nil || op.ID == "" {
		return fmt.Errorf("create operation: %s", body)
	}
	s.opPath = s.build.prefix + "/external/connections/bench/operations/" + op.ID
	if _, err = s.call("PATCH", s.opPath, `{"status":"inprogress"}`, http.StatusOK); err != nil {
		return err
	}
	if !s.ingesting {
		return nil
	}
	// The items' schema, registered before any item comes.
	if _, err := s.call("PATCH", "/v1.0/external/connections/bench/schema", benchSchema, http.StatusAccepted); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		body, err := s.call("GET", "/v1.0/external/connections/bench", "", http.StatusOK)
		if err != nil {
			return err
		}
		if bytes.Contains(body, []byte(`"state":"ready"`)) {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the schema's registration did not complete within 30s")
		}
	}
	s.itemsPath = benchItemsPath
	out, err = exec.Command(s.build.bin, "token", "--data-dir", s.dir, "--app-id", "bench",
		"--scopes", "ExternalItem.Read.All", "--user-id", "e811976d-83df-4cbd-8b9b-5215b18aa874").Output()
	if err != nil {
		return fmt.Errorf("graphconn token: %w", err)
	}
	s.userToken = strings.TrimSpace(string(out))
	return nil
}

// minSearchItems is how many items the search workloads search at least.
const minSearchItems = 100_000

// halfLoad finds about half the saturating load of w: wrk keeps a fixed
// number of requests in flight, so fewer connections offer less load. It
// probes for the most connections whose rate stays within 55% of w's
// saturating rate (one connection if even that is more).
func halfLoad(cfg config, w *workload) (*workload, error) {
	target := median(rates(w.runs)) / 2
	best := 1
	for _, c := range []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 32} {
		r, err := drive(cfg, w.srv, w.method, c, cfg.probe)
		if err != nil {
			return nil, err
		}
		progress("probe: %s %s -c %d: %.0f req/s (target %.0f)", w.srv.name, w.method, c, r.rps(), target)
		if r.rps() > 1.1*target {
			break
		}
		best = c
	}
	return &workload{srv: w.srv, method: w.method, conns: best, half: true, target: target}, nil
}

// ingested is how many items the server's connection holds (beta's
// ingestedItemsCount).
func (s *server) ingested() (int, error) {
	body, err := s.call("GET", "/beta/external/connections/bench?$select=ingestedItemsCount", "", http.StatusOK)
	if err != nil {
		return 0, err
	}
	var c struct{ IngestedItemsCount int }
	if err := json.Unmarshal(body, &c); err != nil {
		return 0, fmt.Errorf("ingestedItemsCount: %w: %s", err, body)
	}
	return c.IngestedItemsCount, nil
}

// benchItemsPath is where the PUT workloads create items.
const benchItemsPath = "/v1.0/external/connections/bench/items/"

// benchSchema is the schema of the items that bench/load.lua puts.
const benchSchema = `{"baseType":"microsoft.graph.externalItem","properties":[
	{"name":"title","type":"string","isSearchable":true,"isRetrievable":true,"labels":["title"]},
	{"name":"priority","type":"int64","isQueryable":true,"isRetrievable":true,"isRefinable":true},
	{"name":"tags","type":"stringCollection","isSearchable":true,"isQueryable":true,"isRetrievable":true},
	{"name":"created","type":"dateTime","isQueryable":true,"isRetrievable":true},
	{"name":"owner","type":"string","isQueryable":true,"isRetrievable":true,"isRefinable":true}]}`

func (s *server) call(method, path, body string, want int) ([]byte, error) {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s = %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	return data, nil
}

// drive runs wrk against s for d and checks that every answer was a success.
func drive(cfg config, s *server, method string, conns int, d time.Duration) (result, error) {
	path, token := s.opPath, s.token
	var extra []string
	switch {
	case method == "PUT":
		// Ids no run has used: every request creates an item.
		s.runs++
		path = s.itemsPath + "r" + strconv.Itoa(s.runs)
	case strings.HasPrefix(method, "SEARCH"):
		extra = []string{strings.TrimPrefix(method, "SEARCH")}
		path, token, method = "/v1.0/search/query", s.userToken, "SEARCH"
	}
	threads := min(cfg.threads, conns)
	cmd := exec.Command(cfg.wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds()))), "--timeout", "5s", "-s", cfg.lua, s.base, "--", method, path, token)
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = os.Environ()
	if cfg.strict {
		cmd.Env = append(cmd.Env, "BENCH_STRICT=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	busy0, _ := cpuBusy()
	srv0 := procCPU(s.cmd.Process.Pid) + postgresCPU()
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	wall := time.Since(t0).Seconds()
	busy1, _ := cpuBusy()
	srv1 := procCPU(s.cmd.Process.Pid) + postgresCPU()
	var r result
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("wrk's result %q: %w", rest, err)
			}
		}
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("wrk gave no result:\n%s", out.String())
	}
	if r.Non200+r.Non2xx3xx+r.Connect+r.Read+r.Write+r.Timeout > 0 {
		return r, fmt.Errorf("%s %s: answers other than 200 or socket errors: %+v\n%s", s.name, method, r, out.String())
	}
	wrkCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	r.serverCPU = (srv1 - srv0) / wall
	r.others = max(0, (busy1-busy0)/wall-r.serverCPU-wrkCPU/wall)
	return r, nil
}

// checkLog reads the server's access log: every request on the benchmark's
// operation must have been answered 200. It returns how many were, and how
// many the client abandoned: wrk closes its connections when a run ends, and
// a request still in flight then fails with "context canceled"; nobody
// receives that answer, so it is not a measured one.
func (s *server) checkLog() (n, abandoned int, err error) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	bad := map[int]int{}
	var examples []string
	canceled := map[string]bool{} // request-ids of requests whose client went away
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`"level":"ERROR"`)) && bytes.Contains(line, []byte("context canceled")) {
			var l struct {
				ID string `json:"request-id"`
			}
			if json.Unmarshal(line, &l) == nil {
				canceled[l.ID] = true
			}
			continue
		}
		if !bytes.Contains(line, []byte(`"msg":"request"`)) || !bytes.Contains(line, []byte(s.opPath)) &&
			(s.itemsPath == "" || !bytes.Contains(line, []byte(s.itemsPath))) {
			continue
		}
		var l struct {
			ID     string `json:"request-id"`
			URI    string
			Status int
		}
		if err := json.Unmarshal(line, &l); err != nil {
			return n, abandoned, fmt.Errorf("access log line %q: %w", line, err)
		}
		switch {
		case l.URI != s.opPath && (s.itemsPath == "" || !strings.HasPrefix(l.URI, s.itemsPath)):
		case l.Status == http.StatusOK:
			n++
		case canceled[l.ID]:
			abandoned++
		default:
			bad[l.Status]++
			if len(examples) < 3 {
				examples = append(examples, string(line))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, abandoned, err
	}
	if len(bad) > 0 {
		return n, abandoned, fmt.Errorf("answers other than 200 in the access log %s (status: count): %v; for example:\n%s",
			s.logPath, bad, strings.Join(examples, "\n"))
	}
	if n == 0 {
		return 0, 0, errors.New(`the access log has no "request" line for the benchmark's operation: cannot check the statuses`)
	}
	return n, abandoned, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cpuBusy returns the CPU time, in seconds, that all CPUs spent running
// processes (user, nice and system). Interrupts are left out: the loopback
// traffic of the benchmark itself is handled there, and it is charged to no
// process.
func cpuBusy() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 4 {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy float64
	for _, v := range f[1:4] {
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks, nil
}

// clockTicks is USER_HZ, which is 100 on every Linux that Go supports.
const clockTicks = 100

// procCPU returns the CPU time, in seconds, that a process has used.
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / clockTicks
}

// postgresCPU returns the CPU time, in seconds, that PostgreSQL's processes
// have used: they serve the server under test.
func postgresCPU() float64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	var sum float64
	for _, d := range dirs {
		comm, err := os.ReadFile(d)
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		sum += procCPU(pid)
	}
	return sum
}

// vmHWM returns a process's peak resident set size in MiB.
func vmHWM(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "?"
}

func kernel() string {
	data, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(data))
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// fsyncLatency times 50 writes of 4 KiB, each followed by fsync, in dir.
func fsyncLatency(dir string) string {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return "?"
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []float64
	for range 50 {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return "?"
		}
		if err := f.Sync(); err != nil {
			return "?"
		}
		ds = append(ds, float64(time.Since(t0).Microseconds())/1000)
	}
	return fmt.Sprintf("%.2f ms, %.2f ms", median(ds), slices.Max(ds))
}

// pressure returns the share of the last minute in which some task waited
// for the resource (Linux pressure stall information).
func pressure(resource string) string {
	data, err := os.ReadFile("/proc/pressure/" + resource)
	if err != nil {
		return "?"
	}
	for _, f := range strings.Fields(string(data)) {
		if v, ok := strings.CutPrefix(f, "avg60="); ok {
			return v + "%"
		}
	}
	return "?"
}

func rates(rs []result) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.rps()
	}
	return out
}

func lat(rs []result, f func(result) int64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = ms(f(r))
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(us int64) float64 { return float64(us) / 1000 }

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
