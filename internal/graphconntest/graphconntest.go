// Package graphconntest starts the real graphconn binary for tests that
// drive it from outside, with tools that live outside Go (Prism, Chromium).
package graphconntest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AppID is the client application id of the tokens that Token mints.
const AppID = "5f0c3c56-2f8b-4d4e-9d64-0f9f0c0ffee0"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/graphconn once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "graphconn-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "graphconn")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/graphconn/graphconn/cmd/graphconn")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/graphconn: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// Server is a running `graphconn serve`, listening on a loopback port.
type Server struct {
	URL     string // http://127.0.0.1:port
	Addr    string // 127.0.0.1:port
	DataDir string
	logs    *LogBuffer
}

// Start runs `graphconn serve --addr 127.0.0.1:0 --data-dir <new temp dir>`
// with the extra args, waits until it logs where it listens, and stops it
// when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{DataDir: t.TempDir(), logs: new(LogBuffer)}
	cmd := exec.Command(Binary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", s.DataDir}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start graphconn: %v", err)
	}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("graphconn logs:\n%s", s.logs)
		}
	})
	select {
	case s.Addr = <-addr:
		s.URL = "http://" + s.Addr
	case err := <-done:
		t.Fatalf("graphconn exited before listening: %v\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("graphconn did not listen within 30s:\n%s", s.logs)
	}
	return s
}

// Token mints an application token for AppID with the given roles
// (comma-separated), signed by the development key in the server's data dir,
// with `graphconn token`.
func (s *Server) Token(t testing.TB, roles string) string {
	t.Helper()
	return s.token(t, "--roles", roles)
}

// UserToken mints a user's (delegated) token for AppID: the user whose
// object id is userID, with the given scopes (comma-separated), as search
// needs.
func (s *Server) UserToken(t testing.TB, userID, scopes string) string {
	t.Helper()
	return s.token(t, "--scopes", scopes, "--user-id", userID)
}

func (s *Server) token(t testing.TB, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(Binary(t), append([]string{"token", "--data-dir", s.DataDir, "--app-id", AppID}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	what := "graphconn token " + strings.Join(args, " ")
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, stderr.String())
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		t.Fatalf("%s printed no token", what)
	}
	return tok
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// Tool returns the absolute path of an executable that a test needs from
// outside Go. When it is missing, the test is skipped, except under CI (the
// CI environment variable is set), where it fails: CI must run every check.
func Tool(t testing.TB, path, install string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(abs); err == nil && fi.Mode()&0o111 == 0 {
			err = os.ErrPermission
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI, and missing (%v); %s", path, err, install)
		}
		if errors.Is(err, fs.ErrNotExist) {
			t.Skipf("skipped: %s is not installed; %s", path, install)
		}
		t.Skipf("skipped: %s is not installed (%v); %s", path, err, install)
	}
	return abs
}

// LogBuffer collects what a process logs, safe for concurrent use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
