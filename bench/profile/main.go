// Command profile serves graphconn as graphconn serve does (SQLite, the
// development key, JSON logs on stdout, the background worker), plus a
// net/http/pprof listener, for profiling under bench/'s load:
//
//	go run ./bench/profile --addr 127.0.0.1:8080 --pprof 127.0.0.1:6060 --data-dir /tmp/prof > /tmp/prof.log &
//	go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
//
// It is not the product: cmd/graphconn is. Only for finding where the time
// goes.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // on the default mux, served on --pprof only
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/graphconn/graphconn/auth"
	"github.com/graphconn/graphconn/internal/logbuf"
	"github.com/graphconn/graphconn/server"
	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/worker"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address of the API")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "listen address of net/http/pprof")
	dataDir := flag.String("data-dir", "./data", "directory of the SQLite database")
	sync := flag.String("sync", "NORMAL", "SQLite synchronous setting: NORMAL (graphconn serve's default) or FULL")
	noValidation := flag.Bool("no-validation", false, "as graphconn serve --no-validation")
	flag.Parse()
	if err := run(*addr, *pprofAddr, *dataDir, *sync, *noValidation); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

func run(addr, pprofAddr, dataDir, sync string, noValidation bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// As graphconn serve: buffered log lines, the same GC target.
	logOut := logbuf.New(os.Stdout, logbuf.Interval, logbuf.Size)
	defer logOut.Close()
	log := slog.New(slog.NewJSONHandler(logOut, nil))
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return err
	}
	db, err := sqlite.OpenWith(ctx, dataDir, sqlite.Options{Synchronous: sync})
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := auth.LoadOrCreateDevKey(dataDir)
	if err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{DevKey: key})
	if err != nil {
		return err
	}
	work := worker.New(db, log, worker.DefaultPoll)
	go work.Run(ctx)
	handler, err := server.New(server.Config{Store: db, Verifier: verifier, Logger: log, Notify: work.Notify, NoValidation: noValidation})
	if err != nil {
		return err
	}
	go func() {
		if err := http.ListenAndServe(pprofAddr, nil); err != nil {
			log.Error("pprof", slog.Any("error", err))
		}
	}()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
