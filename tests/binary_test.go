package tests

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/internal/graphconntest"
)

// binary builds cmd/graphconn once per test run.
func binary(t testing.TB) string { return graphconntest.Binary(t) }

// process is a running graphconn binary.
type process struct {
	cmd   *exec.Cmd
	url   string
	token string // minted by `graphconn token` with the server's development key
	logs  *graphconntest.LogBuffer
	done  chan error
}

// mintToken runs `graphconn token` on a data dir.
func mintToken(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary(t), append([]string{"token", "--data-dir", dataDir}, args...)...).Output()
	if err != nil {
		t.Fatalf("graphconn token %q: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// startBinary runs `graphconn serve` on dataDir with args and env, waits
// until it says where it listens, and mints a token for it.
func startBinary(t *testing.T, dataDir string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start graphconn: %v", err)
	}
	p := &process{cmd: cmd, logs: new(graphconntest.LogBuffer), done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
		p.token = mintToken(t, dataDir, "--app-id", testApp, "--roles", "ExternalConnection.ReadWrite.All")
	case err := <-p.done:
		t.Fatalf("graphconn exited before listening: %v\n%s", err, p.logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("graphconn did not listen within 20s:\n%s", p.logs)
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("graphconn exited with %v after SIGTERM, want 0\n%s", err, p.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("graphconn did not exit within 15s of SIGTERM")
	}
	if !strings.Contains(p.logs.String(), `"msg":"stopped"`) {
		t.Errorf("logs lack the shutdown line:\n%s", p.logs)
	}
}

// The binary as a user runs it: the README's walk-through, a clean stop on
// SIGTERM, and the data still there after a restart.
func TestBinaryServesAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	// Configured by the environment the first time, by flags the second.
	p := startBinary(t, dir, []string{"GRAPHCONN_ADDR=127.0.0.1:0", "GRAPHCONN_DATA_DIR=" + dir})
	if r := do(t, p.url, p.token, call{method: "POST", path: "/external/connections",
		body: map[string]any{"id": "contosohr", "name": "Contoso HR", "description": "Connection to index Contoso HR system"}}); r.status != http.StatusCreated {
		t.Fatalf("POST connection = %d %s", r.status, r.body)
	}
	r := do(t, p.url, p.token, call{method: "POST", path: "/external/connections/contosohr/operations", body: map[string]any{}})
	if r.status != http.StatusCreated {
		t.Fatalf("POST operation = %d %s", r.status, r.body)
	}
	op := r.json(t)["id"].(string)
	r = do(t, p.url, p.token, call{method: "PATCH", path: "/connections/contosohr/operations/" + op, body: map[string]any{"status": "inprogress"}})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	r = do(t, p.url, p.token, call{method: "PATCH", path: "/external/connections/contosohr/operations/" + op,
		body: map[string]any{"status": "failed", "error": map[string]any{"errorCode": "E", "message": "m"}}})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	want := r.entity(t)
	rid := r.header.Get("request-id")
	p.stop(t)
	if !strings.Contains(p.logs.String(), `"request-id":"`+rid+`"`) {
		t.Errorf("no log line carries request-id %s:\n%s", rid, p.logs)
	}

	p = startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	r = do(t, p.url, p.token, call{method: "GET", path: "/external/connections/contosohr/operations/" + op})
	if diff := cmp.Diff(want, r.entity(t)); r.status != http.StatusOK || diff != "" {
		t.Errorf("GET after restart = %d, mismatch (-before +after):\n%s", r.status, diff)
	}
	p.stop(t)
}

// Exit statuses: 2 for a command line or setting that could never work,
// 1 for a failure at run time, each with a message on stderr that says
// which; 0 for a request for help.
func TestBinaryExitStatus(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(args ...string) []string {
		return append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)
	}
	tests := []struct {
		name     string
		args     []string
		env      []string
		want     int
		wantErrs []string // each on stderr
	}{
		{"no command", nil, nil, 2, []string{"usage: graphconn", "graphconn: no command given"}},
		{"unknown command", []string{"bogus"}, nil, 2, []string{"usage: graphconn", `graphconn: unknown command "bogus"`}},
		{"unknown flag", []string{"serve", "--no-such-flag"}, nil, 2,
			[]string{"Usage of serve", "graphconn: serve: flag provided but not defined: -no-such-flag"}},
		{"bad flag value", serve("--read-timeout", "soon"), nil, 2, []string{`graphconn: serve: invalid value "soon" for flag -read-timeout`}},
		{"unexpected argument", []string{"serve", "extra"}, nil, 2, []string{`graphconn: serve: unexpected arguments ["extra"]`}},
		{"bad environment value", serve(), []string{"GRAPHCONN_OPERATION_DELAY=soon"}, 2, []string{`graphconn: GRAPHCONN_OPERATION_DELAY: time: invalid duration "soon"`}},
		{"bad synchronous", serve("--sqlite-synchronous", "OFF"), nil, 2,
			[]string{`graphconn: serve: --sqlite-synchronous must be FULL or NORMAL, not "OFF"`}},
		{"empty synchronous", serve("--sqlite-synchronous", ""), nil, 2,
			[]string{`graphconn: serve: --sqlite-synchronous must be FULL or NORMAL, not ""`}},
		// Checked with PostgreSQL too, before any connection is tried.
		{"bad synchronous with PostgreSQL", serve("--db", "postgres://127.0.0.1:1/none", "--sqlite-synchronous", "OFF"), nil, 2,
			[]string{`graphconn: serve: --sqlite-synchronous must be FULL or NORMAL, not "OFF"`}},
		{"token without app id", []string{"token", "--data-dir", t.TempDir()}, nil, 2, []string{"graphconn: token: --app-id is required"}},
		{"token with an argument", []string{"token", "--app-id", "a", "extra"}, nil, 2, []string{`graphconn: token: unexpected arguments ["extra"]`}},
		{"token with a bad flag value", []string{"token", "--app-id", "a", "--ttl", "long"}, nil, 2,
			[]string{`graphconn: token: invalid value "long" for flag -ttl`}},

		{"address in use", []string{"serve", "--addr", busy.Addr().String(), "--data-dir", t.TempDir()}, nil, 1,
			[]string{"graphconn: listen tcp " + busy.Addr().String() + ": bind: address already in use"}},
		{"data dir is a file", []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", file}, nil, 1,
			[]string{"graphconn: create data dir: mkdir " + file + ": not a directory"}},
		{"database unreachable", serve("--db", "postgres://postgres@127.0.0.1:1/none?sslmode=disable"), nil, 1,
			[]string{"graphconn: postgres: ", "connect: connection refused"}},
		{"missing key set", serve("--jwks", filepath.Join(t.TempDir(), "none.json")), nil, 1, []string{"graphconn: read JWKS: open ", "none.json: no such file or directory"}},
		{"token without a key", []string{"token", "--app-id", "a", "--data-dir", file}, nil, 1, []string{"graphconn: read development key: open " + file}},

		{"help", []string{"help"}, nil, 0, nil},
		{"serve's flags", []string{"serve", "-h"}, nil, 0, []string{"Usage of serve", "-read-timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary(t), tt.args...)
			cmd.Env = append(os.Environ(), tt.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			got := 0
			if ee, ok := err.(*exec.ExitError); ok {
				got = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("graphconn %q: %v", tt.args, err)
			}
			if got != tt.want {
				t.Errorf("graphconn %q exit status = %d, want %d\nstderr:\n%s", tt.args, got, tt.want, stderr.String())
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("graphconn %q stderr lacks %q:\n%s", tt.args, want, stderr.String())
				}
			}
			if tt.want == 0 && strings.Contains(stderr.String(), "graphconn: ") {
				t.Errorf("graphconn %q reported an error:\n%s", tt.args, stderr.String())
			}
		})
	}
}
