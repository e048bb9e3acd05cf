// Command graphconn serves the Microsoft Graph external-connections API.
//
//	graphconn serve [--addr 127.0.0.1:8080] [--data-dir ./data] [--tls | --tls-cert FILE --tls-key FILE] [--jwks FILE|URL] ...
//	graphconn token --app-id APP [--roles R,...] [--scopes S,...] [--user-id OID] [--groups G,...] [--tenant-id T] [--ttl 1h] [--data-dir ./data]
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/internal/devtls"
	"github.com/graphconn/graphconn/internal/logbuf"
	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/postgres"
	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

// exitCode reports err on stderr and returns the exit status for it: 0 for
// none (or -h, which asks for the flags' usage), 2 for a usage error (a
// command line or setting that could never work), 1 for a failure at run
// time (a database that cannot be opened, an address in use).
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "graphconn:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError is a mistake in how graphconn was invoked: an unknown command
// or flag, a malformed value, a missing argument.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// parseFlags parses args with fs, which reports a bad flag on its own
// output; every failure is a usage error, except flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Errorf("%s: %w", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return nil
}

const usage = `usage: graphconn <command> [flags]

commands:
  serve   serve the API (graphconn serve -h for its flags)
  token   print a token signed by the development key (graphconn token -h)
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return token(args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", args[0])
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("GRAPHCONN_ADDR", "127.0.0.1:8080"), "listen address (env GRAPHCONN_ADDR)")
	dataDir := fs.String("data-dir", env("GRAPHCONN_DATA_DIR", "./data"), "directory of the SQLite database (env GRAPHCONN_DATA_DIR)")
	dbURL := fs.String("db", env("GRAPHCONN_DB", ""), "PostgreSQL URL (postgres://...) to keep the data in; SQLite under --data-dir when empty (env GRAPHCONN_DB)")
	// NORMAL, as SQLite advises for WAL mode: a commit is in the WAL file
	// before it is acknowledged, so no crash or kill of graphconn loses
	// it, and syncs come at checkpoints only. FULL also syncs every commit
	// (BENCHMARKS.md measures what that costs).
	synchronous := fs.String("sqlite-synchronous", env("GRAPHCONN_SQLITE_SYNCHRONOUS", sqlite.DefaultSynchronous),
		"NORMAL: an acknowledged write survives any crash of graphconn, not a crash of the machine or a power loss; FULL: it survives those too, and writes are slower (env GRAPHCONN_SQLITE_SYNCHRONOUS)")
	maxBody := fs.Int64("max-body-bytes", server.DefaultMaxBodyBytes, "largest request body accepted, as sent and after decompression")
	bodyBudget := fs.Int64("body-budget-bytes", server.DefaultBodyBudgetBytes,
		"request body bytes held at once across the server (bodies over 4 KiB); past it requests wait up to 2s, then get 503 with Retry-After")
	delay, err := time.ParseDuration(env("GRAPHCONN_OPERATION_DELAY", server.DefaultOperationDelay.String()))
	if err != nil {
		return usageError{fmt.Errorf("GRAPHCONN_OPERATION_DELAY: %w", err)}
	}
	fs.DurationVar(&delay, "operation-delay", delay, "how long a schema registration stays in progress (env GRAPHCONN_OPERATION_DELAY)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests may take to finish on SIGINT or SIGTERM")
	jwks := fs.String("jwks", env("GRAPHCONN_JWKS", ""), "file or http(s) URL of a JSON Web Key Set whose keys sign accepted tokens, besides the development key (env GRAPHCONN_JWKS)")
	audiences := fs.String("audience", env("GRAPHCONN_AUDIENCE", auth.DefaultAudience), "accepted token audiences, comma-separated (env GRAPHCONN_AUDIENCE)")
	issuers := fs.String("issuers", env("GRAPHCONN_ISSUERS", auth.DevIssuer), "accepted token issuers, comma-separated (env GRAPHCONN_ISSUERS)")
	maxItems := fs.Int64("max-items-per-connection", server.DefaultMaxItemsPerConnection, "items a connection holds at most: a new item past it gets 507, and beta's quota counts down to it")
	rateLimit := fs.Float64("rate-limit", 0, "requests per second each app may send, 429 past it, as Graph throttles; 0 turns throttling off")
	rateBurst := fs.Int("rate-burst", 0, "requests an app may send at once above --rate-limit (default: one second's worth)")
	faultsFile := fs.String("faults", env("GRAPHCONN_FAULTS", ""),
		"YAML fault plan served from the start: Graph's errors with Retry-After, latency, dropped connections and failed schema registrations, on demand (README, Faults on demand) (env GRAPHCONN_FAULTS)")
	adminToken := fs.String("admin-token", env("GRAPHCONN_ADMIN_TOKEN", ""),
		"the secret that opens the admin endpoint /_graphconn/faults, sent in the "+server.AdminTokenHeader+" header; default: the one in --data-dir's "+auth.AdminTokenFile+", made on first use (env GRAPHCONN_ADMIN_TOKEN)")
	noValidation := fs.Bool("no-validation", false, "turn off the contract checks of request and response bodies and parameters (for benchmarks only)")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	readTimeout := fs.Duration("read-timeout", 60*time.Second, "how long a client may take to send a whole request")
	writeTimeout := fs.Duration("write-timeout", 60*time.Second, "how long writing a response may take")
	idleTimeout := fs.Duration("idle-timeout", 120*time.Second, "how long an idle keep-alive connection stays open")
	publicURL := fs.String("public-url", env("GRAPHCONN_PUBLIC_URL", ""),
		"scheme, host and optional path of the absolute URLs in responses (Location, @odata.context, @odata.nextLink); default: http:// (https:// with TLS) and the listen address, localhost for a wildcard one (env GRAPHCONN_PUBLIC_URL)")
	trustedProxies := fs.String("trusted-proxies", env("GRAPHCONN_TRUSTED_PROXIES", ""),
		"IP addresses and CIDR ranges, comma-separated, of the reverse proxies whose Host, X-Forwarded-Proto, X-Forwarded-Host and Forwarded headers set the scheme and host of those URLs; from any other peer they are ignored (env GRAPHCONN_TRUSTED_PROXIES)")
	useDevTLS := false
	if v := getenv("GRAPHCONN_TLS"); v != "" {
		if useDevTLS, err = strconv.ParseBool(v); err != nil {
			return usageError{fmt.Errorf("GRAPHCONN_TLS: %w", err)}
		}
	}
	fs.BoolVar(&useDevTLS, "tls", useDevTLS,
		"serve HTTPS (and HTTP/2) with a certificate signed by a development CA, both made in --data-dir on first use (env GRAPHCONN_TLS)")
	tlsCert := fs.String("tls-cert", env("GRAPHCONN_TLS_CERT", ""), "serve HTTPS with this PEM certificate (chain) instead; needs --tls-key (env GRAPHCONN_TLS_CERT)")
	tlsKey := fs.String("tls-key", env("GRAPHCONN_TLS_KEY", ""), "the PEM private key of --tls-cert (env GRAPHCONN_TLS_KEY)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("serve: --tls-cert and --tls-key go together (env GRAPHCONN_TLS_CERT, GRAPHCONN_TLS_KEY)")
	}
	useTLS := useDevTLS || *tlsCert != ""
	// Checked whichever the store, so that a mistyped setting never passes
	// unnoticed.
	sync, err := sqlite.ParseSynchronous(*synchronous)
	if err != nil || *synchronous == "" {
		return usagef("serve: --sqlite-synchronous must be FULL or NORMAL, not %q", *synchronous)
	}
	var plan *server.FaultPlan
	if *faultsFile != "" {
		data, err := os.ReadFile(*faultsFile)
		if err != nil {
			return usagef("serve: --faults: %v", err)
		}
		if plan, err = server.ParseFaultPlan(data); err != nil {
			return usagef("serve: --faults %s: %v", *faultsFile, err)
		}
	}
	// Log lines go out together, every logbuf.Interval at most.
	logOut := logbuf.New(stdout, logbuf.Interval, logbuf.Size)
	defer logOut.Close()
	log := slog.New(slog.NewJSONHandler(logOut, nil))
	// A request allocates little and briefly: a larger GC target trades
	// heap for GC work (BENCHMARKS.md, "What the rounds changed"). GOGC,
	// when set, still decides.
	if getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	// And a soft ceiling, so that the larger target never costs much memory.
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}

	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	db, engine, err := openStore(ctx, *dbURL, *dataDir, sqlite.Options{Synchronous: sync})
	if err != nil {
		return err
	}
	defer db.Close()
	devKey, err := auth.LoadOrCreateDevKey(*dataDir)
	if err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{
		DevKey: devKey, JWKS: *jwks, Audiences: splitList(*audiences), Issuers: splitList(*issuers),
	})
	if err != nil {
		return err
	}
	adminTokenFile := ""
	if *adminToken == "" {
		adminTokenFile = filepath.Join(*dataDir, auth.AdminTokenFile)
		if *adminToken, err = auth.LoadOrCreateAdminToken(*dataDir); err != nil {
			return err
		}
	}
	work := worker.New(db, log, worker.DefaultPoll)
	// Listening first, so that the default public URL has the real port.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *publicURL == "" {
		*publicURL = baseURL(ln.Addr().String())
		if useTLS {
			*publicURL = "https" + strings.TrimPrefix(*publicURL, "http")
		}
	}
	handler, err := server.New(server.Config{
		Store: db, Verifier: verifier, Logger: log, MaxBodyBytes: *maxBody, BodyBudgetBytes: *bodyBudget, OperationDelay: delay, Notify: work.Notify,
		NoValidation: *noValidation, RateLimit: *rateLimit, RateBurst: *rateBurst,
		PublicURL: *publicURL, TrustedProxies: splitList(*trustedProxies), MaxItemsPerConnection: *maxItems,
		Faults: plan, AdminToken: *adminToken,
	})
	if err != nil {
		ln.Close()
		return err
	}
	var tlsConfig *tls.Config
	if useTLS {
		if tlsConfig, err = serverTLS(log, *tlsCert, *tlsKey, *dataDir, []string{hostOf(*addr), hostOf(ln.Addr().String()), urlHost(*publicURL)}); err != nil {
			ln.Close()
			return err
		}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: *readHeaderTimeout,
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       *idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// ServeTLS offers h2 and http/1.1 (TLSNextProto stays nil).
		TLSConfig: tlsConfig,
	}
	attrs := []slog.Attr{slog.String("addr", ln.Addr().String()), slog.String("data-dir", *dataDir), slog.String("store", engine),
		slog.String("max-body-bytes", strconv.FormatInt(*maxBody, 10)), slog.String("public-url", *publicURL)}
	if engine == "sqlite" {
		attrs = append(attrs, slog.String("sqlite-synchronous", sync))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "listening", attrs...)
	// The token itself is never logged.
	log.Info("admin", slog.String("faults", strings.TrimSuffix(*publicURL, "/")+"/_graphconn/faults"),
		slog.String("header", server.AdminTokenHeader), slog.String("token-file", adminTokenFile))
	logFirstSteps(log, os.Args[0], strings.TrimSuffix(*publicURL, "/"), *dataDir, splitList(*issuers), splitList(*audiences))

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		work.Run(workCtx)
	}()

	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down", slog.Duration("timeout", *shutdownTimeout))
		sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
		if err = srv.Shutdown(sctx); err != nil {
			err = fmt.Errorf("shutdown: %w", err)
		}
		cancel()
	}
	// The worker stops after the last request, before the database closes.
	stopWork()
	<-workDone
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// serverTLS is the TLS configuration of serve: the pair of certFile and
// keyFile when given, else the development certificate of dataDir for
// hosts (and the local names). It logs which, and for the development CA
// how clients come to trust it.
func serverTLS(log *slog.Logger, certFile, keyFile, dataDir string, hosts []string) (*tls.Config, error) {
	var cert tls.Certificate
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err == nil && c.Leaf == nil { // GODEBUG=x509keypairleaf=0
			c.Leaf, err = x509.ParseCertificate(c.Certificate[0])
		}
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
		}
		cert = c
		log.Info("tls", slog.String("cert", certFile), slog.Any("names", certNames(c.Leaf)), slog.Time("expires", c.Leaf.NotAfter))
	} else {
		s, err := devtls.LoadOrCreate(dataDir, hosts, time.Now())
		if err != nil {
			return nil, fmt.Errorf("development TLS certificate in %s: %w", dataDir, err)
		}
		cert = s.Certificate
		// SSL_CERT_FILE replaces the system's roots (README, HTTPS).
		log.Info("tls", slog.String("ca", s.CAFile), slog.String("cert", s.CertFile), slog.Bool("issued", s.Issued),
			slog.Any("names", certNames(cert.Leaf)), slog.Time("expires", cert.Leaf.NotAfter),
			slog.String("NODE_EXTRA_CA_CERTS", s.CAFile), slog.String("SSL_CERT_FILE", s.CAFile))
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// certNames lists the DNS names and IP addresses of c.
func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// hostOf is the host of a host:port, "" when addr is not one.
func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// urlHost is the host of rawURL without its port, "" when it has none.
func urlHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// openStore opens PostgreSQL when dbURL is set, and SQLite in dataDir
// otherwise.
func openStore(ctx context.Context, dbURL, dataDir string, o sqlite.Options) (store.Store, string, error) {
	if dbURL != "" {
		db, err := postgres.Open(ctx, dbURL)
		return db, "postgres", err
	}
	db, err := sqlite.OpenWith(ctx, dataDir, o)
	return db, "sqlite", err
}

// token prints a development token: what Microsoft's identity platform would
// issue to an application (with --roles) or for a user (with --scopes).
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", firstNonEmpty(getenv("GRAPHCONN_DATA_DIR"), "./data"), "data directory of the server whose development key signs the token (env GRAPHCONN_DATA_DIR)")
	appID := fs.String("app-id", "", "the client application's id (appid); required")
	roles := fs.String("roles", "", "application permissions, comma-separated, e.g. ExternalConnection.ReadWrite.All")
	scopes := fs.String("scopes", "", "delegated permissions, comma-separated: makes a user's token")
	userID := fs.String("user-id", "", "a user's token's object id (oid), a GUID; a new one when empty (with --scopes)")
	groups := fs.String("groups", "", "a user's token's Entra groups (groups claim), comma-separated (with --scopes)")
	tenantID := fs.String("tenant-id", auth.DevTenantID, "the tenant (tid)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	audience := fs.String("audience", auth.DefaultAudience, "the audience (aud)")
	issuer := fs.String("issuer", auth.DevIssuer, "the issuer (iss)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *appID == "" {
		return usagef("token: --app-id is required")
	}
	key, err := auth.LoadOrCreateDevKey(*dataDir)
	if err != nil {
		return err
	}
	tok, err := key.Mint(auth.TokenOptions{
		AppID: *appID, TenantID: *tenantID, Roles: splitList(*roles), Scopes: splitList(*scopes),
		UserID: *userID, Groups: splitList(*groups), TTL: *ttl, Audience: *audience, Issuer: *issuer,
	}, time.Now())
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
