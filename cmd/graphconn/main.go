// Command graphconn serves the Microsoft Graph external-connections API.
//
//	graphconn serve [--addr 127.0.0.1:8080] [--data-dir ./data] [--operation-delay 2s] [--max-body-bytes N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "graphconn:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: graphconn <command> [flags]

commands:
  serve   serve the API (graphconn serve -h for its flags)
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
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
	maxBody := fs.Int64("max-body-bytes", server.DefaultMaxBodyBytes, "largest request body accepted, after decompression")
	delay, err := time.ParseDuration(env("GRAPHCONN_OPERATION_DELAY", server.DefaultOperationDelay.String()))
	if err != nil {
		return fmt.Errorf("GRAPHCONN_OPERATION_DELAY: %w", err)
	}
	fs.DurationVar(&delay, "operation-delay", delay, "how long a schema registration stays in progress (env GRAPHCONN_OPERATION_DELAY)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests may take to finish on SIGINT or SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))

	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	db, err := sqlite.Open(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	work := worker.New(db, log, worker.DefaultPoll)
	handler, err := server.New(server.Config{
		Store: db, Logger: log, MaxBodyBytes: *maxBody, OperationDelay: delay, Notify: work.Notify,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("data-dir", *dataDir),
		slog.String("max-body-bytes", strconv.FormatInt(*maxBody, 10)))

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		work.Run(workCtx)
	}()
	// The worker stops after the last request, before the database closes.
	defer func() {
		stopWork()
		<-workDone
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", *shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	stopWork()
	<-workDone
	log.Info("stopped")
	return nil
}
