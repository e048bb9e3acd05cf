// Command ceiling is the benchmark's upper bound: a bare Echo server whose
// one handler answers 200 with no body to every request, served with the
// same net/http settings as graphconn. Nothing real can be faster on the
// same machine, so graphconn's figures are reported as a fraction of it.
//
//	ceiling --addr 127.0.0.1:8081
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Any("/*", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
