package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/internal/graphconntest"
)

// serve logs where the docs are and a token command; the docs answer there,
// and the token that the command mints creates a connection on that server.
func TestServeLogsFirstSteps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dataDir := t.TempDir()
	var logs graphconntest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, func(string) string { return "" }, &logs, &logs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve = %v", err)
		}
	}()

	var docs, openapi, command string
	for deadline := time.Now().Add(10 * time.Second); command == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Docs, OpenAPI, Command string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "docs":
				docs, openapi = line.Docs, line.OpenAPI
			case "mint a token":
				command = line.Command
			}
		}
	}
	if docs == "" || command == "" {
		t.Fatalf("serve logged no docs or no token command:\n%s", logs.String())
	}

	for _, url := range []string{docs, openapi} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", url, res.StatusCode)
		}
	}

	args := strings.Fields(command)
	if args[0] != os.Args[0] {
		t.Errorf("command %q runs %q, want this binary, %q", command, args[0], os.Args[0])
	}
	var out strings.Builder
	if err := run(ctx, args[1:], func(string) string { return "" }, &out, &logs); err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	base := strings.TrimSuffix(docs, "/docs")
	req, _ := http.NewRequest("POST", base+"/external/connections", strings.NewReader(`{"id":"contosohr","name":"Contoso HR"}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out.String()))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("POST /external/connections with the token of %q = %d, want 201", command, res.StatusCode)
	}
}

func TestTokenArgs(t *testing.T) {
	base := []string{"token", "--data-dir", "./data", "--app-id", newcomerAppID, "--roles", "ExternalConnection.ReadWrite.All"}
	tests := []struct {
		name               string
		issuers, audiences []string
		want               []string
	}{
		{"defaults", nil, nil, base},
		{"dev issuer among others", []string{"https://sts.example/", "graphconn-dev"}, []string{"https://graph.microsoft.com"}, base},
		{"dev key not trusted", []string{"https://sts.example/"}, nil, nil},
		{"other audience", nil, []string{"api://mine"}, append(base[:len(base):len(base)], "--audience", "api://mine")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokenArgs("./data", tt.issuers, tt.audiences)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tokenArgs() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://localhost:8080"},
		{"[::]:8080", "http://localhost:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := baseURL(tt.addr); got != tt.want {
				t.Errorf("baseURL(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

// A shell splits shellJoin's line back into the arguments.
func TestShellJoin(t *testing.T) {
	args := []string{"./bin/graphconn", "token", "--data-dir", filepath.Join("my data", "it's here"), "--roles", "a,b", "$HOME", `back\slash`, "*"}
	line := shellJoin(args)
	out, err := exec.Command("sh", "-c", `set -- `+line+`; for a in "$@"; do printf '%s\n' "$a"; done`).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	if diff := cmp.Diff(args, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")); diff != "" {
		t.Errorf("shellJoin(%q) = %s, which sh splits otherwise (-want +got):\n%s", args, line, diff)
	}
}
