package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A module whose packages pass, skip, fail and have no tests, run through
// real go test commands.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo " + strings.TrimPrefix(runtime.Version(), "go") + "\n",
		"a/a_test.go": `package a

import "testing"

func TestPass(t *testing.T) { t.Log("a passing test's log") }

func TestSkip(t *testing.T) {
	t.Log("looking for the tool")
	t.Skip("skipped: tool is not installed; install it")
}

func TestSub(t *testing.T) {
	t.Run("db", func(t *testing.T) { t.Skip("DB is not set") })
	t.Run("ok", func(t *testing.T) {})
}
`,
		"b/b_test.go": `package b

import "testing"

func TestFail(t *testing.T) { t.Error("boom") }

func TestPassInB(t *testing.T) { t.Log("b's passing log") }
`,
		"c/c.go": "package c\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	notes := []string{"contract tests on PostgreSQL: DB is not set"}

	tests := []struct {
		name     string
		lines    []string
		ok       bool
		want     []string
		dontWant []string
	}{
		{
			name:  "a failure",
			lines: []string{"go test -count=1 -json ./..."},
			want: []string{
				"== go test -count=1 -json ./...",
				"ok  \texample.com/m/a",
				"?   \texample.com/m/c\t[no test files]",
				"--- FAIL: TestFail", "boom", "FAIL\texample.com/m/b",
				"skipped:\n",
				"  a: TestSkip: tool is not installed; install it\n",
				"  a: TestSub/db: DB is not set\n",
				"  contract tests on PostgreSQL: DB is not set\n",
				"FAIL: b, go test -count=1 -json ./... (exit status 1)\n",
			},
			dontWant: []string{"a passing test's log", "b's passing log", "looking for the tool", "=== RUN", "ok: "},
		},
		{
			name:  "two commands that pass",
			lines: []string{"go test -count=1 -json ./a", "NAME=value go test -count=1 -json ./c"},
			ok:    true,
			want: []string{
				"== go test -count=1 -json ./a\n", "== NAME=value go test -count=1 -json ./c\n",
				"ok  \texample.com/m/a", "  a: TestSkip: tool is not installed; install it\n",
				"ok: every test that ran passed\n",
			},
			dontWant: []string{"FAIL"},
		},
		{
			name:  "a command that reports nothing and fails",
			lines: []string{"echo 'go: no such flag' >&2; exit 2"},
			want:  []string{"FAIL: echo 'go: no such flag' >&2; exit 2 (exit status 2)\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			ok := run(dir, tt.lines, notes, &stdout, &stderr)
			out := stdout.String()
			if ok != tt.ok {
				t.Errorf("run(%q) = %t, want %t; output:\n%s\nstderr:\n%s", tt.lines, ok, tt.ok, out, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("run(%q) output lacks %q:\n%s", tt.lines, w, out)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(out, w) {
					t.Errorf("run(%q) output holds %q:\n%s", tt.lines, w, out)
				}
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"TestA"}, "TestA"},
		{[]string{"TestSub/db"}, "TestSub/db"},
		{[]string{"TestC/x", "TestD", "TestC/y"}, "TestC (2 subtests), TestD"},
		{[]string{"TestA", "TestB", "TestC", "TestD/x", "TestD/y", "TestE"}, "TestA, TestB, TestC and 2 more"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			if got := names(tt.in); got != tt.want {
				t.Errorf("names(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
