package clients

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// appID is that of README's walk-through. The token that `graphconn token`
// mints with roles is accepted by every operation of the lifecycle: the
// connections' role of the walk-through, and the items' (external groups'
// and activities') for the connections the app owns, as a connector asks
// for it.
const (
	appID = "11111111-2222-3333-4444-555555555555"
	roles = "ExternalConnection.ReadWrite.All,ExternalItem.ReadWrite.OwnedBy"
)

// binary is the graphconn binary the tests run: $GRAPHCONN_BIN when set
// (make test-clients builds bin/graphconn once for both clients), else one
// built from the repository root by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if bin := os.Getenv("GRAPHCONN_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		binary = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "graphconn-clients-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "graphconn")
	// The server's own module, three levels up: its go.mod, not this one.
	build := exec.Command("go", "build", "-o", binary, "./cmd/graphconn")
	build.Dir = filepath.Join("..", "..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building graphconn:", err)
		return 1
	}
	return m.Run()
}

// server is a `graphconn serve --tls` process on a free loopback port.
type server struct {
	base   string // https://127.0.0.1:PORT
	caFile string // the development CA that signed its certificate
	token  string // minted by `graphconn token` for its data directory

	mu   sync.Mutex
	logs strings.Builder
}

// startServer starts graphconn serve --tls with a fresh data directory,
// waits for its "listening" and "tls" log lines, mints a token, and stops
// the server (and prints its log if the test failed) when the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "serve", "--tls", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		// A registration stays in progress briefly, so that the poll
		// sees it move.
		"--operation-delay", "500ms")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{}
	cmd.Stderr = writerFunc(s.log)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type line struct{ Msg, Addr, CA string }
	lines := make(chan line, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.log(append(sc.Bytes(), '\n'))
			var l line
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				select {
				case lines <- l:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		// A clean stop on SIGINT: Wait reports the context's end only.
		if err := cmd.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("graphconn serve: %v", err)
		}
		if t.Failed() {
			t.Logf("graphconn serve's log:\n%s", s.logText())
		}
	})

	timeout := time.After(30 * time.Second)
	for s.base == "" || s.caFile == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("graphconn serve stopped before listening:\n%s", s.logText())
			}
			switch l.Msg {
			case "listening":
				s.base = "https://" + l.Addr
			case "tls":
				s.caFile = l.CA
			}
		case <-timeout:
			t.Fatalf("graphconn serve logged no \"listening\" and \"tls\" lines within 30s:\n%s", s.logText())
		}
	}
	// The rest of the log goes on being read into s.logs.
	go func() {
		for range lines {
		}
	}()

	out, err := exec.Command(binary, "token", "--data-dir", dataDir, "--app-id", appID, "--roles", roles).Output()
	if err != nil {
		t.Fatalf("graphconn token: %v", err)
	}
	s.token = strings.TrimSpace(string(out))
	return s
}

func (s *server) log(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)
